/** scale/index — wiring: loadhigh / loadlow signals and ticks in; dev.reflex.action.scaled out. */
import { defineFunction } from '../_kit/index.js';
import { SIGNAL_SCHEMA, signalType } from '../_signals/model.js';
import { parseScaleConfig } from './config.js';
import { createHandler, PING_TYPE } from './handler.js';

const scale = defineFunction({
  name: 'scale',
  accepts: [
    { type: signalType('loadhigh'), schema: SIGNAL_SCHEMA },
    { type: signalType('loadlow'), schema: SIGNAL_SCHEMA },
    { type: PING_TYPE, schema: null },
  ],
  configure: parseScaleConfig,
  handle: createHandler(),
});
export default scale;
