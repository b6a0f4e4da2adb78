/**
 * recover/handler — accepts a failure signal -> guards and plans (pure) -> claims the action in
 * the target's state (resourceVersion precondition: one replica wins) -> applies it -> records an
 * audit Event -> replies dev.reflex.action.<verb> with the outcome and the reason.
 */
import type { Handler, HandlerContext, ValidEvent } from '../_kit/index.js';
import { ConflictError, type Reply } from '../_kit/index.js';
import type { ActionVerb, SignalData } from '../_signals/model.js';
import { actionReply, type Outcome, type StepReport } from '../_act/reply.js';
import type { RecoverConfig } from './config.js';
import { complete as completeAction, MAX_CONFLICTS } from '../_act/complete.js';
import { guard, withRecord } from '../_act/guard.js';
import { parseRecoverState as parseState, plan, type ActionRecord, type Step } from './decide.js';
import { kubeRecoverPort, type RecoverPort } from './port.js';

function describe(s: Step): string {
  switch (s.do) {
    case 'rollback':
      return `roll back to revision ${s.revision} (${s.toReplicaSet})`;
    case 'delete-pod':
      return `delete pod ${s.pod}`;
    case 'set-memory':
      return `set ${s.container} memory limit ${s.limit}${s.request ? `, request ${s.request}` : ''}`;
    case 'cordon':
      return `cordon node ${s.node}`;
    case 'evict':
      return `evict pod ${s.namespace}/${s.pod}`;
  }
}

export function createHandler(
  portFor: (ctx: HandlerContext<RecoverConfig>) => RecoverPort = (ctx) => kubeRecoverPort(ctx.kube),
): Handler<RecoverConfig> {
  return async (event: ValidEvent, ctx) => {
    const signal = event.data as SignalData;
    const port = portFor(ctx);
    const target = signal.target;
    const about = { target, signal: { id: event.id, type: event.type, key: signal.key, class: signal.class, reason: signal.reason } };
    const reply = (verb: ActionVerb, outcome: Outcome, reason: string, steps: readonly StepReport[], dryRun = false): Reply =>
      actionReply(ctx, about, verb, outcome, reason, steps, dryRun);
    const finish = async (
      verb: ActionVerb,
      outcome: Outcome,
      reason: string,
      steps: readonly StepReport[],
      dryRun = false,
    ): Promise<Reply> => {
      await port.audit(target, {
        signalId: event.id,
        outcome,
        verb,
        note: `${outcome}: ${reason}${steps.length ? ` — ${steps.map((s) => s.detail).join('; ')}` : ''}`,
        warning: outcome === 'failed' || outcome === 'escalated',
      });
      ctx.log.info('recover decided', { outcome, verb, why: reason });
      return reply(verb, outcome, reason, steps, dryRun);
    };

    for (let attempt = 1; attempt <= MAX_CONFLICTS; attempt++) {
      const loaded = await port.load(target);
      if (!loaded) return reply('skipped', 'skipped', `${target.kind} ${target.namespace}/${target.name} does not exist (any more)`, []);
      const state = parseState(loaded.view.annotations);
      const mine = state.actions.find((a) => a.signal === event.id);
      // A redelivery of a signal whose plan was claimed but not finished: complete it, never repeat it.
      if (mine?.state === 'applying') return complete(mine);
      const now = ctx.now();
      const verdict = guard(event.id, loaded.view, state, ctx.config.policy, now);
      if (verdict.kind === 'skip')
        return mine ? reply(mine.verb, 'skipped', verdict.reason, []) : finish('skipped', 'skipped', verdict.reason, []);
      if (verdict.kind === 'escalate') return finish('escalated', 'escalated', verdict.reason, []);
      const p = plan(signal, await port.observe(signal), state, ctx.config.policy, now);
      if (p.kind === 'escalate') return finish(p.verb, 'escalated', p.reason, []);
      if (p.kind === 'nothing') return finish(p.verb, 'skipped', p.reason, []);
      const steps = p.steps.map((s) => ({ do: s.do, detail: describe(s) }));
      if (verdict.dryRun) return finish(p.verb, 'dryrun', `${verdict.why}: would ${p.reason}`, steps, true);
      const record: ActionRecord = {
        at: now.toISOString(),
        signal: event.id,
        key: signal.key,
        verb: p.verb,
        state: 'applying',
        steps: p.steps,
      };
      try {
        await port.writeState(target, loaded.resourceVersion, withRecord(state, record));
      } catch (err) {
        if (err instanceof ConflictError) {
          ctx.log.debug('target changed while deciding; re-reading', { attempt });
          continue;
        }
        throw err;
      }
      return complete(record, p.reason);
    }
    throw new ConflictError(
      `${target.kind} ${target.namespace}/${target.name} kept changing; recover gave up after ${MAX_CONFLICTS} attempts`,
    );

    /** Applies every step (each is idempotent), then marks the record done. */
    async function complete(record: ActionRecord, reason = `completing ${record.verb} claimed at ${record.at}`): Promise<Reply> {
      const { steps, first } = await completeAction({
        port,
        target,
        record,
        parse: parseState,
        apply: (step) => port.apply(target, step),
        signalId: event.id,
        describe: (step) => step.do,
      });
      return first
        ? finish(record.verb, 'applied', reason, steps)
        : reply(record.verb, 'skipped', 'another delivery of this signal applied it', steps);
    }
  };
}
