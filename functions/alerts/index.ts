/** alerts/index — wiring: Alertmanager's webhook (POST /alertmanager, not a CloudEvent) in, dev.reflex.alert.* to K_SINK out. */
import { defineFunction } from '../_kit/index.js';
import { parseAlertsConfig } from './config.js';
import { alertsRoutes } from './handler.js';

const alerts = defineFunction({
  name: 'alerts',
  // No CloudEvents: Alertmanager posts its own JSON to the route below.
  accepts: [],
  configure: parseAlertsConfig,
  handler: () => () => Promise.resolve(undefined),
  routes: alertsRoutes,
  // A notification carries up to max_alerts alerts (0: all of a group); 4 MiB holds thousands.
  runtimeDefaults: { maxBodyBytes: 4 * 1024 * 1024 },
});
export default alerts;
