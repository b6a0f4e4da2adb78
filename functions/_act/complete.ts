/**
 * _act/complete — carry out a claimed action: every step (each idempotent), then move the record
 * from applying to done. Exactly one delivery makes that move, and only it reports "applied";
 * concurrent or repeated deliveries of one signal each ensure the steps, and act once.
 */
import { ConflictError } from '../_kit/errors.js';
import type { Target } from '../_signals/model.js';
import { withRecord, type ActionRecord, type ActState } from './guard.js';
import type { TargetPort } from './target.js';

/** Re-read and re-decide this many times when another replica moved the target first. */
export const MAX_CONFLICTS = 5;

export interface Done {
  readonly do: string;
  readonly detail: string;
  readonly done: boolean;
}

export async function complete<S extends { do: string }>(options: {
  port: TargetPort;
  target: Target;
  record: ActionRecord<S>;
  parse: (annotations: Readonly<Record<string, string>>) => ActState<S>;
  apply: (step: S) => Promise<string>;
  /** The incoming signal's id, for the audit Event of a failed step. */
  signalId: string;
  /** A step in words, for that Event's note. */
  describe: (step: S) => string;
}): Promise<{ steps: Done[]; first: boolean }> {
  const { port, target, record } = options;
  const steps: Done[] = [];
  for (const step of record.steps) {
    try {
      steps.push({ do: step.do, detail: await options.apply(step), done: true });
    } catch (err) {
      // Audited before the error goes up; the record stays applying, so the retry completes it.
      await port.audit(target, {
        signalId: options.signalId,
        outcome: 'failed',
        verb: record.verb,
        note: `failed: ${options.describe(step)}: ${err instanceof Error ? err.message : String(err)}`,
        warning: true,
      });
      throw err;
    }
  }
  for (let attempt = 1; attempt <= MAX_CONFLICTS; attempt++) {
    const now = await port.load(target);
    if (!now) break;
    const current = options.parse(now.view.annotations);
    if (current.actions.find((a) => a.signal === record.signal)?.state === 'done') return { steps, first: false };
    try {
      await port.writeState(target, now.resourceVersion, withRecord(current, { ...record, state: 'done' }));
      break;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  return { steps, first: true };
}
