/** _act/reply — the dev.reflex.action.<verb> reply of every acting function: routable, and saying why. */
import type { Reply, ReplySpec } from '../_kit/reply.js';
import { ACTION_SCHEMA, type ActionVerb, type Target } from '../_signals/model.js';

export type Outcome = 'applied' | 'dryrun' | 'skipped' | 'failed' | 'escalated';

export interface StepReport {
  readonly do: string;
  readonly detail: string;
  readonly done?: boolean;
}

/** What the action is about: the target, and the signal (or tick) that caused it. */
export interface About {
  readonly target: Target;
  readonly signal: { readonly id: string; readonly type: string; readonly key: string; readonly class?: string; readonly reason: string };
}

export function actionReply(
  ctx: { reply(spec: ReplySpec): Reply },
  about: About,
  verb: ActionVerb,
  outcome: Outcome,
  reason: string,
  steps: readonly StepReport[],
  dryRun = false,
): Reply {
  const { target: t, signal: s } = about;
  return ctx.reply({
    type: `dev.reflex.action.${verb}`,
    subject: `${t.kind}/${t.namespace}/${t.name}`,
    dataschema: ACTION_SCHEMA,
    data: {
      verb,
      outcome,
      reason,
      target: { kind: t.kind, namespace: t.namespace, name: t.name },
      signal: { id: s.id, type: s.type, key: s.key, ...(s.class ? { class: s.class } : {}) },
      steps,
      dryRun,
    },
    extensions: { reflexaction: verb, outcome, targetkind: t.kind, targetns: t.namespace, targetname: t.name, reason: s.reason },
  });
}
