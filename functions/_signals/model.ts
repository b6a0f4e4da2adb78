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
/** dev.reflex.signal.json: a reason is 1 to 128 characters. */
export const MAX_REASON = 128;

/** Cut to at most `max` UTF-16 units, never between the halves of a surrogate pair. */
export function truncate(text: string, max = MAX_MESSAGE): string {
  if (text.length <= max) return text;
  const end = /[\uD800-\uDBFF]/.test(text.charAt(max - 2)) ? max - 2 : max - 1;
  return text.slice(0, end) + '…';
}

/** The first non-empty candidate, cut to MAX_REASON: a signal's reason is never empty. */
export function reasonOf(...candidates: (string | null | undefined)[]): string {
  const reason = candidates.map((c) => c?.trim()).find((c): c is string => !!c) ?? 'Unknown';
  return truncate(reason, MAX_REASON);
}

/**
 * Times a signal can carry: RFC 3339 needs a four-digit year (toISOString writes `+010000-…`
 * past 9999), and nothing in Kubernetes happened before 1970 (a zero time is "unknown").
 */
const EARLIEST = Date.UTC(1970, 0, 1);
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** A time from an object, or undefined when it is missing, unparseable or outside 1970-9999: callers fall back as for a missing one. */
export function timeOf(value: string | null | undefined): Date | undefined {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return ms >= EARLIEST && ms <= LATEST ? new Date(ms) : undefined;
}

/**
 * Occurrence count: the largest candidate (core/v1 `count`, `series.count`, restartCount), as the
 * schema accepts it: a safe integer, at least 1.
 */
export function countOf(...candidates: (number | null | undefined)[]): number {
  const counts = candidates.filter((c): c is number => typeof c === 'number' && Number.isFinite(c));
  return Math.min(Number.MAX_SAFE_INTEGER, Math.max(1, ...counts.map(Math.floor)));
}

/**
 * Why an object reference cannot name a Kubernetes object, or undefined when it can. Names end up
 * in CloudEvent headers, subjects and commands: one that no API server would store (longer than
 * 253, a slash, a control character or space, `.`/`..`) is evidence of nothing.
 */
export function refFault(r: {
  readonly apiVersion?: string | undefined;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string | undefined;
}): string | undefined {
  // group/version: a DNS subdomain (at most 253) and a version; anything longer cannot be served.
  if (r.apiVersion !== undefined && (r.apiVersion.length > 253 || !/^([a-z0-9.-]+\/)?[a-z0-9]+$/.test(r.apiVersion)))
    return `${JSON.stringify(truncate(r.apiVersion, 64))} is not an API version`;
  if (!/^[A-Za-z][A-Za-z0-9]{0,62}$/.test(r.kind)) return `${JSON.stringify(truncate(r.kind, 64))} is not a Kubernetes kind`;
  if (r.name.length > 253 || !/^[^\s/%\p{Cc}]+$/u.test(r.name) || r.name === '.' || r.name === '..')
    return `${JSON.stringify(truncate(r.name, 64))} is not a Kubernetes object name`;
  if (r.namespace && !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(r.namespace))
    return `${JSON.stringify(truncate(r.namespace, 64))} is not a namespace`;
  return undefined;
}
