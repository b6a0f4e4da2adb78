/** _signals/model — the vocabulary shared by classify, sweep and every signal consumer. */

export const SIGNAL_CLASSES = [
  'crashloop',
  'oomkilled',
  'probefailed',
  'imagepull',
  'unschedulable',
  'mountfailed',
  'evicted',
  'rolloutstalled',
  'nodenotready',
  'nodepressure',
  'createfailed',
  'loadhigh',
  'loadlow',
] as const;
export type SignalClass = (typeof SIGNAL_CLASSES)[number];
export type Severity = 'info' | 'warning' | 'critical';

/** CloudEvent type of a signal class. */
export const signalType = (c: SignalClass): string => `dev.reflex.signal.${c}`;
export const SIGNAL_SCHEMA = 'https://reflex.dev/schemas/dev.reflex.signal.json';

/**
 * Verbs of dev.reflex.action.<verb>: what recover (and scale) reply with. One list, so the
 * functions that emit them and notify, which takes them, cannot drift apart.
 */
export const ACTION_VERBS = [
  'rolledback',
  'restarted',
  'resized',
  'replaced',
  'drained',
  'cleaned',
  'escalated',
  'skipped',
  'scaled',
] as const;
export type ActionVerb = (typeof ACTION_VERBS)[number];
export const ACTION_SCHEMA = 'https://reflex.dev/schemas/dev.reflex.action.json';
/** sweep's follow-up when a problem it found is over (schemas/dev.reflex.resolved.json). */
export const RESOLVED_TYPE = 'dev.reflex.resolved';
export const RESOLVED_SCHEMA = 'https://reflex.dev/schemas/dev.reflex.resolved.json';

/** Reports written by Reflex itself carry this prefix (reportingController); classify ignores them. */
export const REFLEX_CONTROLLER_PREFIX = 'reflex.dev/';

export interface ObjectRef {
  readonly apiVersion?: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly uid?: string;
}

export interface Target {
  readonly apiVersion?: string;
  readonly kind: string;
  /** "" for cluster-scoped targets. */
  readonly namespace: string;
  readonly name: string;
  readonly resolvedBy: 'ownerReferences' | 'name' | 'self';
}

export type EvidenceApi = 'core/v1 Event' | 'events.k8s.io/v1 Event' | 'Pod' | 'Deployment' | 'Node';

/** The data of a dev.reflex.signal.* CloudEvent (schemas/dev.reflex.signal.json). */
export interface SignalData {
  readonly class: SignalClass;
  readonly severity: Severity;
  readonly reason: string;
  readonly message: string;
  readonly rule?: string;
  readonly target: Target;
  readonly involved: ObjectRef;
  readonly container?: string;
  readonly occurrences: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly detectedBy: 'classify' | 'sweep';
  readonly key: string;
  readonly evidence?: { readonly api: EvidenceApi; readonly object?: Record<string, unknown> };
}

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
  readonly involved: ObjectRef;
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
