/**
 * _act/act — the acting loop every function that changes the cluster runs, written once:
 * load the target -> resume a plan this signal already claimed -> guards -> plan (the function's
 * own reading of the live cluster) -> dry-run -> claim the plan in the target's state with a
 * resourceVersion precondition (one replica wins) -> apply every step -> mark it done -> audit
 * Event -> reply dev.reflex.action.<verb>. A function supplies only what is its own (Actor).
 */
import { actionEvent, subjectOf, type ActionVerb, type Cause, type Outcome, type StepReport, type Target } from '../_contracts/events.js';
import { ConflictError, ForbiddenError, retryOnConflict } from '../_kit/errors.js';
import type { Logger } from '../_kit/logger.js';
import type { Reply, ReplySpec } from '../_kit/reply.js';
import { guard, preGuard, withRecord, type ActionRecord, type ActState, type GuardPolicy, type Refusal } from './guard.js';
import type { Loaded, TargetPort } from './target.js';

export interface Step {
  readonly do: string;
}

/** What a function decided, after the guards passed. */
export type Plan<S extends Step> =
  | { readonly kind: 'act'; readonly verb: ActionVerb; readonly reason: string; readonly steps: readonly S[] }
  | {
      readonly kind: 'nothing';
      readonly verb: ActionVerb;
      readonly reason: string;
      /** The live cluster did not confirm the signal: nothing of it is remembered either. */
      readonly unconfirmed?: boolean;
    }
  | { readonly kind: 'escalate'; readonly verb: ActionVerb; readonly reason: string };

export interface ActingPort<S extends Step> extends TargetPort {
  /** Carries out one step, idempotently; says what it did. */
  apply(target: Target, step: S): Promise<string>;
}

export interface Actor<S extends Step, St extends ActState<S> = ActState<S>> {
  /** The function that acts, as reasons and audit notes name it ('recover', 'scale'). */
  readonly name: string;
  readonly policy: GuardPolicy;
  readonly port: ActingPort<S>;
  /**
   * The verb of replies when a guard stops the action. Undefined: the outcome names it
   * (dev.reflex.action.skipped / .escalated), as recover's many verbs need.
   */
  readonly verb?: ActionVerb;
  /** The function's history on the target, from its annotations. */
  parse(annotations: Readonly<Record<string, string>>): St;
  /** Reads what it needs from the live cluster and decides; only called once the guards passed. */
  plan(target: Target, loaded: Loaded, state: St, now: Date): Promise<Plan<S>>;
  /** A step in words, for replies and audit notes. */
  describe(step: S): string;
  /**
   * Hook: the state this delivery leaves on the target whatever it decides (scale remembers the
   * last loadhigh, from which scale-down waits); undefined leaves it as it was.
   */
  readonly remember?: (state: St, now: Date) => St | undefined;
  /** Hook: after a plan is claimed, before its steps (scale registers custom kinds for ticks). */
  readonly claimed?: (target: Target) => Promise<void>;
  /** The kinds it acts on; anything else is refused before any API call. Undefined: any kind. */
  readonly kinds?: ReadonlySet<string>;
  /** Counts a refusal (the function's metric). */
  readonly refused?: (why: Refusal) => void;
}

export interface Request {
  readonly target: Target;
  /** The signal or tick, with the id that makes the action happen once. */
  readonly cause: Cause & { readonly reason: string };
  /** Ticks: a decision to do nothing is neither replied nor audited. */
  readonly quiet?: boolean;
  /** When the problem was last seen (the signal's lastSeen): an old signal is refused. */
  readonly seenAt?: string;
  /**
   * What a person is asked to fix, for a cause that is only escalated: said even when the target
   * is gone (a replay of Events alone has no objects), so the name of what is missing is not lost.
   * Asked only then.
   */
  readonly escalation?: () => string | undefined;
}

export interface ActContext {
  readonly now: () => Date;
  readonly log: Logger;
  reply(spec: ReplySpec): Reply;
}

interface Decided {
  readonly verb: ActionVerb;
  readonly outcome: Outcome;
  readonly reason: string;
  readonly steps?: readonly StepReport[];
  readonly dryRun?: boolean;
}

/** The audit note of a decision: what, why, and each step. */
export function noteOf(d: Decided): string {
  const steps = d.steps ?? [];
  return `${d.outcome}: ${d.reason}${steps.length ? ` — ${steps.map((s) => s.detail).join('; ')}` : ''}`;
}

export async function act<S extends Step, St extends ActState<S>>(
  actor: Actor<S, St>,
  req: Request,
  ctx: ActContext,
): Promise<Reply | undefined> {
  const { port } = actor;
  const { target, cause } = req;
  const reply = (d: Decided): Reply => ctx.reply(actionEvent(target, cause, { ...d, steps: d.steps ?? [] }));
  /** Audited and replied: every decision that is news. */
  const finish = async (d: Decided): Promise<Reply> => {
    await port.audit(target, {
      signalId: cause.id,
      outcome: d.outcome,
      verb: d.verb,
      note: noteOf(d),
      warning: d.outcome === 'failed' || d.outcome === 'escalated',
    });
    ctx.log.info(`${actor.name} decided`, { outcome: d.outcome, verb: d.verb, why: d.reason });
    return reply(d);
  };
  /** A decision to do nothing: quiet for ticks. */
  const stop = (d: Decided): Promise<Reply | undefined> => (req.quiet ? Promise.resolve(undefined) : finish(d));
  const stopVerb = (outcome: 'skipped' | 'escalated'): ActionVerb => actor.verb ?? outcome;
  /** Refused before the target could be trusted: counted, logged, recorded at home, nothing written on the target. */
  const refuse = async (why: Refusal, reason: string): Promise<Reply | undefined> => {
    actor.refused?.(why);
    ctx.log.warn(`${actor.name} refused`, { refusal: why, why: reason, target: subjectOf(target) });
    if (req.quiet) return undefined;
    const d: Decided = { verb: stopVerb('skipped'), outcome: 'skipped', reason };
    await port.refuse(target, { signalId: cause.id, outcome: 'skipped', verb: d.verb, note: noteOf(d), warning: true });
    return reply(d);
  };
  const pre = preGuard(target, req.seenAt, actor.policy, ctx.now(), actor.kinds);
  if (pre) return refuse(pre.refusal!, pre.reason);

  /** Applies every step (each idempotent), then marks the record done; only the delivery that does so reports "applied". */
  const complete = async (record: ActionRecord<S>, reason: string): Promise<Reply> => {
    const steps: StepReport[] = [];
    for (const step of record.steps) {
      try {
        steps.push({ do: step.do, detail: await port.apply(target, step), done: true });
      } catch (err) {
        const why = `${actor.describe(step)}: ${err instanceof Error ? err.message : String(err)}`;
        await port.audit(target, { signalId: cause.id, outcome: 'failed', verb: record.verb, note: `failed: ${why}`, warning: true });
        // Refused by RBAC or an admission policy: retrying cannot help, so a person is told
        // (outcome failed) and the Broker is not made to retry. Anything else goes up, the record
        // stays applying, and the retry completes it.
        if (err instanceof ForbiddenError) {
          ctx.log.warn(`${actor.name} was refused by the API server`, { why });
          return reply({ verb: record.verb, outcome: 'failed', reason: `refused by the API server: ${why}`, steps });
        }
        throw err;
      }
    }
    const first = await retryOnConflict(`${actor.name}'s state on ${subjectOf(target)}`, async () => {
      const now = await port.load(target);
      if (!now) return true;
      const current = actor.parse(now.view.annotations);
      if (current.actions.find((a) => a.signal === record.signal)?.state === 'done') return false;
      await port.writeState(target, now.resourceVersion, withRecord(current, { ...record, state: 'done' }));
      return true;
    });
    return first
      ? finish({ verb: record.verb, outcome: 'applied', reason, steps })
      : reply({ verb: record.verb, outcome: 'skipped', reason: 'another delivery of this signal applied it', steps });
  };

  return retryOnConflict(`${subjectOf(target)} (${actor.name})`, async (attempt) => {
    const loaded = await port.load(target);
    if (!loaded) {
      const escalation = req.escalation?.();
      const asked = escalation ? `; what the signal asks a person to fix: ${escalation}` : '';
      return reply({ verb: stopVerb('skipped'), outcome: 'skipped', reason: `${subjectOf(target)} does not exist (any more)${asked}` });
    }
    const state = actor.parse(loaded.view.annotations);
    const mine = state.actions.find((a) => a.signal === cause.id);
    // A redelivery of a signal whose plan was claimed but not finished: complete it, never repeat it.
    if (mine?.state === 'applying') return complete(mine, `completing ${mine.verb} claimed at ${mine.at}`);
    const now = ctx.now();
    const verdict = guard(actor.name, cause.id, loaded.view, state, actor.policy, now);
    // Already handled: said before, by the delivery that handled it.
    if (verdict.kind === 'skip' && mine)
      return req.quiet ? undefined : reply({ verb: mine.verb, outcome: 'skipped', reason: verdict.reason });
    if (verdict.kind === 'skip' && verdict.refusal) return refuse(verdict.refusal, verdict.reason);
    if (verdict.kind === 'skip') return stop({ verb: stopVerb('skipped'), outcome: 'skipped', reason: verdict.reason });
    if (verdict.kind === 'escalate') return stop({ verb: stopVerb('escalated'), outcome: 'escalated', reason: verdict.reason });
    const plan = await actor.plan(target, loaded, state, now);
    const kept = actor.remember?.(state, now);
    if (plan.kind !== 'act') {
      // What must be remembered is written even when nothing is done. A conflict (the target's
      // controller updated its status meanwhile, or another delivery wrote) re-runs the whole
      // attempt on the fresh object: dropping it would lose e.g. scale's last high-load time and
      // start its quiet window too early.
      if (kept && !(plan.kind === 'nothing' && plan.unconfirmed))
        await port.writeState(target, loaded.resourceVersion, JSON.stringify(kept));
      return plan.kind === 'escalate'
        ? stop({ verb: plan.verb, outcome: 'escalated', reason: plan.reason })
        : stop({ verb: plan.verb, outcome: 'skipped', reason: plan.reason });
    }
    const described = plan.steps.map((s) => ({ do: s.do, detail: actor.describe(s) }));
    if (verdict.dryRun)
      return finish({ verb: plan.verb, outcome: 'dryrun', reason: `${verdict.why}: would ${plan.reason}`, steps: described, dryRun: true });
    const record: ActionRecord<S> = {
      at: now.toISOString(),
      signal: cause.id,
      key: cause.key,
      verb: plan.verb,
      state: 'applying',
      steps: plan.steps,
    };
    try {
      await port.writeState(target, loaded.resourceVersion, withRecord(kept ?? state, record));
    } catch (err) {
      if (err instanceof ConflictError) ctx.log.debug('target changed while deciding; re-reading', { attempt });
      throw err;
    }
    await actor.claimed?.(target);
    return complete(record, plan.reason);
  });
}
