/** recover/index — wiring: failure signals in; dev.reflex.action.<verb> out. */
import { defineFunction } from '../_kit/index.js';
import { FAILURE_CLASSES, SIGNAL_SCHEMA, signalType, type SignalClass } from '../_contracts/events.js';
import { parseRecoverConfig } from './config.js';
import { recoverHandler } from './handler.js';

/** Failure classes recover answers (load signals belong to scale). */
export const RECOVER_CLASSES: readonly SignalClass[] = FAILURE_CLASSES;

const recover = defineFunction({
  name: 'recover',
  accepts: RECOVER_CLASSES.map((c) => ({ type: signalType(c), schema: SIGNAL_SCHEMA })),
  configure: parseRecoverConfig,
  handler: recoverHandler,
  usesCluster: () => true,
});
export default recover;
