/** scale/index — wiring: loadhigh / loadlow signals and ticks in; dev.reflex.action.scaled out. */
import { defineFunction } from '../_kit/index.js';
import { PING_TYPE, SIGNAL_SCHEMA, signalType } from '../_contracts/events.js';
import { parseScaleConfig } from './config.js';
import { scaleHandler } from './handler.js';

const scale = defineFunction({
  name: 'scale',
  accepts: [
    { type: signalType('loadhigh'), schema: SIGNAL_SCHEMA },
    { type: signalType('loadlow'), schema: SIGNAL_SCHEMA },
    { type: PING_TYPE, schema: null },
  ],
  configure: parseScaleConfig,
  handler: scaleHandler,
  usesCluster: () => true,
});
export default scale;
