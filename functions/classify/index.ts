/** classify/index — wiring: ApiServerSource events (Resource mode) and Alertmanager alerts in, dev.reflex.signal.* (and dev.reflex.resolved) out. */
import { ALERT_SCHEMA, ALERT_STATUSES, alertType } from '../_contracts/events.js';
import { defineFunction } from '../_kit/index.js';
import { parseClassifyConfig } from './config.js';
import { classifyHandler } from './handler.js';

const RESOURCE = 'https://reflex.dev/schemas/dev.knative.apiserver.resource.json';
const REF = 'https://reflex.dev/schemas/dev.knative.apiserver.ref.json';

const classify = defineFunction({
  name: 'classify',
  accepts: [
    { type: 'dev.knative.apiserver.resource.add', schema: RESOURCE },
    { type: 'dev.knative.apiserver.resource.update', schema: RESOURCE },
    { type: 'dev.knative.apiserver.resource.delete', schema: RESOURCE },
    { type: 'dev.knative.apiserver.ref.add', schema: REF },
    { type: 'dev.knative.apiserver.ref.update', schema: REF },
    { type: 'dev.knative.apiserver.ref.delete', schema: REF },
    // From the alerts function (Alertmanager's webhook): one event per alert.
    ...ALERT_STATUSES.map((s) => ({ type: alertType(s), schema: ALERT_SCHEMA })),
  ],
  configure: parseClassifyConfig,
  handler: classifyHandler,
  usesCluster: (config) => config.owners === 'cluster',
  // Any object the API server can store (etcd's limit is 1.5 MiB) must fit, with JSON to spare.
  runtimeDefaults: { maxBodyBytes: 3 * 1024 * 1024 },
});
export default classify;
