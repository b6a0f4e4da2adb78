/** sweep/index — wiring: PingSource ticks in; signals to K_SINK; a summary reply. */
import { defineFunction } from '../_kit/index.js';
import { parseSweepConfig } from './config.js';
import { sweepHandler } from './handler.js';
import { PING_TYPE } from '../_contracts/events.js';

const sweep = defineFunction({
  name: 'sweep',
  accepts: [{ type: PING_TYPE, schema: null }],
  configure: parseSweepConfig,
  handler: sweepHandler,
  usesCluster: () => true,
});
export default sweep;
