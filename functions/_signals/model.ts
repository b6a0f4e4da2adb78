/** _signals/model — what classify and sweep share before a signal exists (the signal itself: _contracts/events). */
import type { EvidenceApi, Involved, Severity, SignalClass } from '../_contracts/events.js';

/**
 * A problem found in the evidence, before its target is resolved: what a classifier (of Events
 * or of object state) hands to the signal builder.
 */
export interface Finding {
  readonly class: SignalClass;
  readonly severity: Severity;
  readonly reason: string;
  readonly message: string;
  readonly rule?: string;
  readonly involved: Involved;
  readonly container?: string;
  readonly occurrences: number;
  readonly firstSeen: Date;
  readonly lastSeen: Date;
  /**
   * Identifies this occurrence of the evidence (e.g. Event uid + count, pod uid + restartCount):
   * the same occurrence delivered twice has the same value, so it yields the same signal id.
   */
  readonly occurrence: string;
  readonly evidence: { readonly api: EvidenceApi; readonly object?: Record<string, unknown> };
}

/** Messages can be huge (a 2 MB one is a test case): signals carry at most this much. */
export const MAX_MESSAGE = 4096;

export function truncate(text: string, max = MAX_MESSAGE): string {
  return text.length <= max ? text : text.slice(0, max - 1) + '…';
}
