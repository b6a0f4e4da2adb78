/**
 * enrich/handler — accepts a failure signal -> gathers the evidence around it within its time
 * bound (enrich/gather: reads only) -> replies the same signal as dev.reflex.enriched.<class>,
 * with `enrichment`. What could not be read is said in `enrichment.notes`, never a failure: a
 * partial message now beats a complete one too late. Its Trigger's dead-letter sink is notify,
 * so if enrich itself fails, notify still tells people, with the raw signal.
 */
import { ENRICHED_SCHEMA, enrichedType, signalExtensions, subjectOf, type SignalData } from '../_contracts/events.js';
import { counter, type Deps, type Handler } from '../_kit/index.js';
import type { EnrichConfig } from './config.js';
import { gather } from './gather.js';
import { MAX_MESSAGE } from '../_signals/model.js';
import { trimEvidence } from '../_signals/signal.js';

export function enrichHandler(config: EnrichConfig, deps: Deps): Handler<EnrichConfig> {
  const gathered = counter(deps.registry, 'reflex_enrich_total', 'Signals enriched, by class and completeness (complete, partial)', [
    'class',
    'result',
  ]);
  return async (event, ctx) => {
    const signal = event.data as SignalData;
    const enrichment = await gather(signal, deps.cluster, config, ctx.now);
    const result = enrichment.complete ? 'complete' : 'partial';
    gathered.inc({ class: signal.class, result });
    ctx.log.info('enriched', {
      class: signal.class,
      result,
      tookMs: enrichment.tookMs,
      logs: enrichment.logs?.length ?? 0,
      events: enrichment.events?.length ?? 0,
      redactions: enrichment.logs?.reduce((n, l) => n + Object.values(l.redactions).reduce((a, b) => a + b, 0), 0) ?? 0,
      ...(enrichment.notes.length > 0 ? { notes: enrichment.notes } : {}),
    });
    // A raw signal carrying an `enrichment` of its own is not trusted: enrich's replaces it. The
    // evidence is bounded as classify bounds it (depth, size): a sender's 100,000 nested arrays
    // must not overflow the stack when the reply is written.
    const { enrichment: _forged, evidence, ...raw } = signal;
    const object = evidence?.object ? trimEvidence(evidence.object, MAX_MESSAGE) : undefined;
    return ctx.reply({
      // The same signal delivered again is the same enriched event.
      id: `${event.id}-enriched`,
      type: enrichedType(signal.class),
      // Its target's, as every event about it (not whatever subject the sender wrote).
      subject: subjectOf(signal.target),
      dataschema: ENRICHED_SCHEMA,
      data: { ...raw, ...(evidence ? { evidence: { api: evidence.api, ...(object ? { object } : {}) } } : {}), enrichment },
      extensions: { ...signalExtensions(signal), enrichment: result },
    });
  };
}
