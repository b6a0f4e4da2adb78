/**
 * scale/handler — accepts loadhigh / loadlow signals and PingSource ticks -> guards and decides
 * (pure) -> claims the change in the workload's state -> scales through /scale (or moves the
 * HPA's minReplicas) -> audit Event -> replies dev.reflex.action.scaled.
 */
import { complete, MAX_CONFLICTS } from '../_act/complete.js';
import { guard, withRecord, type ActionRecord } from '../_act/guard.js';
import { ConflictError, type Handler, type HandlerContext, type Reply } from '../_kit/index.js';
import type { SignalData, Target } from '../_signals/model.js';
import { actionReply, type Outcome, type StepReport } from '../_act/reply.js';
import type { ScaleConfig } from './config.js';
import { decide, limitsFor, parseScaleState, type ScaleStep } from './decide.js';
import { kubeScalePort, type ScalePort } from './port.js';

export const PING_TYPE = 'dev.knative.sources.ping';
type Kind = 'loadhigh' | 'loadlow' | 'tick';

export function createHandler(
  portFor: (ctx: HandlerContext<ScaleConfig>) => ScalePort = (ctx) => kubeScalePort(ctx.kube),
): Handler<ScaleConfig> {
  return async (event, ctx) => {
    const port = portFor(ctx);
    if (event.type === PING_TYPE) {
      // Each workload scale has state on gets a tick of its own; replies go to the Broker.
      for (const t of await port.scaled()) {
        const r = await scaleOne(ctx, port, t, 'tick', `${event.id}/${t.namespace}/${t.name}`, {
          key: `tick:${t.namespace}/${t.name}`,
          type: event.type,
          reason: 'Tick',
        });
        if (r && ctx.emit) await ctx.emit(r);
      }
      return undefined;
    }
    const s = event.data as SignalData;
    return scaleOne(ctx, port, s.target, s.class === 'loadhigh' ? 'loadhigh' : 'loadlow', event.id, {
      key: s.key,
      type: event.type,
      reason: s.reason,
      class: s.class,
    });
  };
}

async function scaleOne(
  ctx: HandlerContext<ScaleConfig>,
  port: ScalePort,
  target: Target,
  kind: Kind,
  id: string,
  signal: { key: string; type: string; reason: string; class?: string },
): Promise<Reply | undefined> {
  const about = { target, signal: { id, ...signal } };
  const reply = (outcome: Outcome, reason: string, steps: readonly StepReport[], dryRun = false): Reply =>
    actionReply(ctx, about, 'scaled', outcome, reason, steps, dryRun);
  const finish = async (outcome: Outcome, reason: string, steps: readonly StepReport[] = [], dryRun = false): Promise<Reply> => {
    await port.audit(target, { signalId: id, outcome, verb: 'scaled', note: `${outcome}: ${reason}`, warning: outcome === 'failed' });
    ctx.log.info('scale decided', { outcome, why: reason });
    return reply(outcome, reason, steps, dryRun);
  };
  const describe = (s: ScaleStep): string => (s.do === 'hpa-min' ? `set HPA ${s.hpa} minReplicas to ${s.to}` : `scale to ${s.to} replicas`);
  const run = async (record: ActionRecord<ScaleStep>, reason: string): Promise<Reply> => {
    const { steps, first } = await complete({
      port,
      target,
      record,
      parse: parseScaleState,
      apply: (step) => port.apply(target, step),
      signalId: id,
      describe,
    });
    return first ? finish('applied', reason, steps) : reply('skipped', 'another delivery of this signal applied it', steps);
  };

  for (let attempt = 1; attempt <= MAX_CONFLICTS; attempt++) {
    const loaded = await port.load(target);
    if (!loaded) return reply('skipped', `${target.kind} ${target.namespace}/${target.name} does not exist (any more)`, []);
    const state = parseScaleState(loaded.view.annotations);
    const mine = state.actions.find((a) => a.signal === id);
    if (mine?.state === 'applying') return run(mine, `completing the change claimed at ${mine.at}`);
    const now = ctx.now();
    const verdict = guard(id, loaded.view, state, ctx.config.policy, now);
    if (verdict.kind !== 'pass') return kind === 'tick' ? undefined : finish('skipped', verdict.reason);
    const limits = limitsFor(ctx.config.policy.scaling, loaded.view.annotations);
    if ('error' in limits) return finish('skipped', `${limits.error}; the workload is left alone`);
    const replicas = await port.replicas(target);
    if (replicas === undefined) return reply('skipped', `${target.kind} ${target.namespace}/${target.name} has no scale subresource`, []);
    const d = decide(kind, replicas, limits, await port.owners(target), state, now);
    const next = kind === 'loadhigh' ? { ...state, lastHigh: now.toISOString() } : state;
    if (d.kind === 'skip') {
      // A loadhigh is remembered even when it changes nothing: scale-down waits for quiet.
      if (kind === 'loadhigh')
        await port.writeState(target, loaded.resourceVersion, JSON.stringify(next)).catch((err: unknown) => {
          if (!(err instanceof ConflictError)) throw err;
        });
      return kind === 'tick' ? undefined : finish('skipped', d.reason);
    }
    if (verdict.dryRun) return finish('dryrun', `${verdict.why}: would ${d.reason}`, [{ do: d.step.do, detail: describe(d.step) }], true);
    const record: ActionRecord<ScaleStep> = {
      at: now.toISOString(),
      signal: id,
      key: signal.key,
      verb: 'scaled',
      state: 'applying',
      steps: [d.step],
    };
    try {
      await port.writeState(target, loaded.resourceVersion, withRecord(next, record));
    } catch (err) {
      if (err instanceof ConflictError) continue;
      throw err;
    }
    if (target.kind !== 'Deployment' && target.kind !== 'StatefulSet') await port.remember(target);
    return run(record, d.reason);
  }
  throw new ConflictError(`${target.kind} ${target.namespace}/${target.name} kept changing; scale gave up after ${MAX_CONFLICTS} attempts`);
}
