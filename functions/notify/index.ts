/** notify/index — wiring: every signal class in (raw, or enriched by enrich); messages out to Slack, Teams, PagerDuty, webhooks. */
import { defineFunction } from '../_kit/index.js';
import {
  ACTION_SCHEMA,
  ACTION_VERBS,
  actionType,
  ENRICHED_CLASSES,
  ENRICHED_SCHEMA,
  enrichedType,
  RESOLVED_SCHEMA,
  RESOLVED_TYPE,
  SIGNAL_CLASSES,
  SIGNAL_SCHEMA,
  signalType,
} from '../_contracts/events.js';
import { parseNotifyConfig } from './config.js';
import { notifyHandler } from './handler.js';

const notify = defineFunction({
  name: 'notify',
  accepts: [
    ...SIGNAL_CLASSES.map((c) => ({ type: signalType(c), schema: SIGNAL_SCHEMA })),
    // enrich's reply for failure classes; the raw signal still comes for load classes and as enrich's dead letter.
    ...ENRICHED_CLASSES.map((c) => ({ type: enrichedType(c), schema: ENRICHED_SCHEMA })),
    ...ACTION_VERBS.map((v) => ({ type: actionType(v), schema: ACTION_SCHEMA })),
    { type: RESOLVED_TYPE, schema: RESOLVED_SCHEMA },
  ],
  configure: parseNotifyConfig,
  init: async (config, log) => {
    if (config.disabled.size > 0) log.warn('sinks disabled until their URL variable is set', { sinks: [...config.disabled] });
    if (config.cluster === undefined)
      log.warn('messages do not say which cluster they are from: set REFLEX_CLUSTER_NAME or `cluster:` in the routes file');
    log.info('notify state', { ...config.state });
  },
  // Claim records and silences live in the cluster (REFLEX_NOTIFY_STATE=cluster): without credentials it does not start.
  usesCluster: (config) => config.state.grouping === 'cluster' || config.state.silences,
  handler: notifyHandler,
});
export default notify;
