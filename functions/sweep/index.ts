/** sweep/index — wiring: PingSource ticks in; signals to K_SINK; a summary reply. */
import { defineFunction } from '../_kit/index.js';
import { parseSweepConfig } from './config.js';
import { createHandler } from './handler.js';

/** @see https://knative.dev/docs/eventing/sources/ping-source/ — its data is whatever the PingSource says. */
export const PING_TYPE = 'dev.knative.sources.ping';

const sweep = defineFunction({
  name: 'sweep',
  accepts: [{ type: PING_TYPE, schema: null }],
  configure: parseSweepConfig,
  handle: createHandler(),
});
export default sweep;
