/** enrich/index — wiring: failure signals in; the same signals with the evidence around them out (dev.reflex.enriched.<class>). */
import { defineFunction } from '../_kit/index.js';
import { ENRICHED_CLASSES, SIGNAL_SCHEMA, signalType } from '../_contracts/events.js';
import { parseEnrichConfig } from './config.js';
import { enrichHandler } from './handler.js';

const enrich = defineFunction({
  name: 'enrich',
  accepts: ENRICHED_CLASSES.map((c) => ({ type: signalType(c), schema: SIGNAL_SCHEMA })),
  configure: parseEnrichConfig,
  init: async (config, log) => {
    log.info('enrich bounds', {
      timeoutMs: config.timeoutMs,
      logLines: config.logLines,
      logBytes: config.logBytes,
      events: config.maxEvents,
      logs: config.logs,
      redactionRules: config.extraRules,
    });
  },
  handler: enrichHandler,
  usesCluster: () => true,
});
export default enrich;
