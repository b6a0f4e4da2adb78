/**
 * scale/handler — accepts loadhigh / loadlow signals and PingSource ticks -> the acting loop
 * (_act/act) with scale's own parts: the replicas and the autoscalers that own them, the pure
 * decision (scale/decide), the last loadhigh remembered -> replies dev.reflex.action.scaled
 * (ticks: one event per workload to K_SINK, and only for a change).
 */
import { ForbiddenError } from '../_kit/errors.js';
import { act, type Actor } from '../_act/act.js';
import { alertmanagerPort, type AlertmanagerPort } from '../_act/alertmanager.js';
import { confirmAlert, confirmEvent } from '../_act/evidence.js';
import type { Refusal } from '../_act/guard.js';
import { refusals } from '../_act/refusals.js';
import { PING_TYPE, type SignalData } from '../_contracts/events.js';
import type { Deps, Handler } from '../_kit/index.js';
import { where, type ObjectReader } from '../_kit/k8s.js';
import type { ScaleConfig } from './config.js';
import { decide, limitsFor, parseScaleState, type ScaleState, type ScaleStep } from './decide.js';
import { scalePort, type ScalePort } from './port.js';

type Kind = 'loadhigh' | 'loadlow' | 'tick';

export const describe = (s: ScaleStep): string =>
  s.do === 'hpa-min' ? `set HPA ${s.hpa} minReplicas to ${s.to}` : `scale to ${s.to} replicas`;

function scaler(
  config: ScaleConfig,
  port: ScalePort,
  kind: Kind,
  options: { reader: ObjectReader; alertmanager: AlertmanagerPort | undefined; refused: (why: Refusal) => void; signal?: SignalData },
): Actor<ScaleStep, ScaleState> {
  return {
    name: 'scale',
    policy: config.policy,
    port,
    verb: 'scaled',
    parse: parseScaleState,
    describe,
    refused: options.refused,
    async plan(target, loaded, state, now) {
      // A load signal changes replicas only if its Event is really there, recent and about this
      // target; one made from an alert, only if the alert names it and (with an Alertmanager to ask) is active there.
      const s = options.signal;
      const unconfirmed =
        s &&
        (s.evidence?.api === 'Alertmanager alert'
          ? await confirmAlert(s, options.alertmanager)
          : await confirmEvent(options.reader, s, loaded.uid, now, config.policy.maxSignalAgeSeconds));
      if (unconfirmed) return { kind: 'nothing', verb: 'scaled', reason: `not confirmed: ${unconfirmed}`, unconfirmed: true };
      const limits = limitsFor(config.policy.scaling, loaded.view.annotations);
      if ('error' in limits) return { kind: 'nothing', verb: 'scaled', reason: `${limits.error}; the workload is left alone` };
      const replicas = await port.replicas(target);
      if (replicas === undefined) return { kind: 'nothing', verb: 'scaled', reason: `${where(target)} has no scale subresource` };
      const d = decide(kind, replicas, limits, await port.owners(target), state, now);
      return d.kind === 'skip'
        ? { kind: 'nothing', verb: 'scaled', reason: d.reason }
        : { kind: 'act', verb: 'scaled', reason: d.reason, steps: [d.step] };
    },
    // A loadhigh is remembered even when it changes nothing: scale-down waits for quiet.
    ...(kind === 'loadhigh' ? { remember: (state: ScaleState, now: Date): ScaleState => ({ ...state, lastHigh: now.toISOString() }) } : {}),
    claimed: async (t) => {
      if (t.kind !== 'Deployment' && t.kind !== 'StatefulSet') await port.remember(t);
    },
  };
}

export function scaleHandler(config: ScaleConfig, deps: Deps): Handler<ScaleConfig> {
  const port = scalePort(deps.cluster);
  const alertmanager = config.alertmanagerUrl ? alertmanagerPort(config.alertmanagerUrl) : undefined;
  const base = { reader: deps.cluster, alertmanager, refused: refusals(deps.registry) };
  const tick = scaler(config, port, 'tick', base);
  return async (event, ctx) => {
    if (event.type === PING_TYPE) {
      // Each workload scale has state on gets a tick of its own; replies go to the Broker. One
      // workload's refusal (RBAC, a namespace being deleted: the API server forbids new Events
      // there) does not stop the others; it is logged, and retrying would not help. Any other
      // fault is thrown after the rest had their turn, so the Broker retries the tick (each
      // workload's step is idempotent).
      let retry: unknown;
      for (const t of await port.scaled()) {
        const cause = {
          id: `${event.id}/${t.namespace}/${t.name}`,
          type: event.type,
          key: `tick:${t.namespace}/${t.name}`,
          reason: 'Tick',
        };
        try {
          const r = await act(tick, { target: t, cause, quiet: true }, ctx);
          if (r && ctx.emit) await ctx.emit(r);
        } catch (err) {
          if (!(err instanceof ForbiddenError)) {
            retry ??= err;
            continue;
          }
          ctx.log.warn('scale could not tick a workload: the API server refused', {
            target: `${t.kind} ${t.namespace}/${t.name}`,
            why: err.message,
          });
        }
      }
      if (retry) throw retry;
      return undefined;
    }
    const s = event.data as SignalData;
    const cause = { id: event.id, type: event.type, key: s.key, class: s.class, reason: s.reason };
    const actor = scaler(config, port, s.class === 'loadhigh' ? 'loadhigh' : 'loadlow', { ...base, signal: s });
    return act(actor, { target: s.target, cause, seenAt: s.lastSeen }, ctx);
  };
}
