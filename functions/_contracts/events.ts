/**
 * _contracts/events — the events Reflex's functions send each other: every type, its schema, its
 * data shape, how its subject and routing extensions are written, and the builders. One module,
 * so a producer and its consumers cannot drift apart; test/unit/contracts.test.ts holds these
 * types to schemas/.
 */
import { createHash } from 'node:crypto';
import type { ReplySpec } from '../_kit/reply.js';

const SCHEMAS = 'https://reflex.dev/schemas/';

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
  'configerror',
  'startfailed',
  'sandboxfailed',
  'jobfailed',
  'autoscalerfailed',
  'storagefailed',
  'nodeproblem',
  'loadhigh',
  'loadlow',
] as const;
export type SignalClass = (typeof SIGNAL_CLASSES)[number];
/** Load signals go to scale; every other class is a failure, for recover. */
export const LOAD_CLASSES: readonly SignalClass[] = ['loadhigh', 'loadlow'];
export const FAILURE_CLASSES: readonly SignalClass[] = SIGNAL_CLASSES.filter((c) => !LOAD_CLASSES.includes(c));
/** Problems of a node rather than a pod: their evidence is the node's. */
export const NODE_CLASSES: readonly SignalClass[] = ['nodenotready', 'nodepressure', 'nodeproblem'];
export type Severity = 'info' | 'warning' | 'critical';

/** CloudEvent type of a signal class. */
export const signalType = (c: SignalClass): string => `dev.reflex.signal.${c}`;
export const SIGNAL_SCHEMA = `${SCHEMAS}dev.reflex.signal.json`;

/**
 * enrich's reply: the signal with its `enrichment`, as dev.reflex.enriched.<class>. notify takes
 * these for failure classes; recover keeps acting on the raw signal, so enrichment never delays
 * a remediation.
 */
export const ENRICHED_PREFIX = 'dev.reflex.enriched.';
export const enrichedType = (c: SignalClass): string => `${ENRICHED_PREFIX}${c}`;
export const ENRICHED_SCHEMA = `${SCHEMAS}dev.reflex.enriched.json`;
/** Load signals carry no evidence worth gathering: they go to notify as they are. */
export const ENRICHED_CLASSES: readonly SignalClass[] = FAILURE_CLASSES;

/** Verbs of dev.reflex.action.<verb>: what the acting functions reply, and notify takes. */
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
export const ACTION_PREFIX = 'dev.reflex.action.';
export const actionType = (v: ActionVerb): string => `${ACTION_PREFIX}${v}`;
export const ACTION_SCHEMA = `${SCHEMAS}dev.reflex.action.json`;

/** The follow-up when a problem is over: sweep no longer finds it, or Alertmanager resolved the alert it came from (classify). */
export const RESOLVED_TYPE = 'dev.reflex.resolved';
export const RESOLVED_SCHEMA = `${SCHEMAS}dev.reflex.resolved.json`;

/** sweep's reply to each tick. */
export const SWEEP_COMPLETED_TYPE = 'dev.reflex.sweep.completed';
export const SWEEP_COMPLETED_SCHEMA = `${SCHEMAS}dev.reflex.sweep.completed.json`;

/** An Alertmanager alert, forwarded by the alerts function: one type per status. */
export const ALERT_STATUSES = ['firing', 'resolved'] as const;
export type AlertStatus = (typeof ALERT_STATUSES)[number];
export const ALERT_PREFIX = 'dev.reflex.alert.';
export const alertType = (s: AlertStatus): string => `${ALERT_PREFIX}${s}`;
export const ALERT_SCHEMA = `${SCHEMAS}dev.reflex.alert.json`;

/** A Knative PingSource tick: its data is whatever the PingSource says. @see https://knative.dev/docs/eventing/sources/ping-source/ */
export const PING_TYPE = 'dev.knative.sources.ping';

/** An object a signal is about (the Event's involvedObject / regarding). */
export interface Involved {
  readonly apiVersion?: string;
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
  readonly uid?: string;
}

/** The workload (or node) a problem belongs to, and what acting functions act on. */
export interface Target {
  readonly apiVersion?: string;
  readonly kind: string;
  /** "" for cluster-scoped targets. */
  readonly namespace: string;
  readonly name: string;
  readonly resolvedBy: 'ownerReferences' | 'name' | 'self';
}

export type EvidenceApi =
  'core/v1 Event' | 'events.k8s.io/v1 Event' | 'Pod' | 'Deployment' | 'Node' | 'Job' | 'PersistentVolumeClaim' | 'Alertmanager alert';

/**
 * What enrich found around a signal, for the person reading the message: bounded in size (logs
 * by bytes and lines, Events and pods by count) and gathered within a time bound; `notes` say
 * plainly what is missing and why (no metrics API, a log not readable, a read that timed out).
 */
export interface Enrichment {
  readonly gatheredAt: string;
  readonly tookMs: number;
  /** False when a read failed or ran out of time: the notes say which. */
  readonly complete: boolean;
  readonly notes: readonly string[];
  readonly pod?: PodFacts;
  readonly containers?: readonly ContainerFacts[];
  readonly logs?: readonly LogTail[];
  readonly events?: readonly EventFacts[];
  readonly node?: NodeFacts;
  readonly rollout?: RolloutDiff;
}

export interface PodFacts {
  readonly name: string;
  readonly phase?: string;
  readonly node?: string;
  readonly startedAt?: string;
  readonly owner?: string;
}

/** A container's last termination, as the kubelet reported it in the pod's status. */
export interface Termination {
  readonly exitCode: number;
  readonly signal?: number;
  readonly reason?: string;
  readonly message?: string;
  readonly startedAt?: string;
  readonly finishedAt?: string;
}

export interface ContainerFacts {
  readonly name: string;
  readonly image?: string;
  readonly restartCount: number;
  readonly ready?: boolean;
  /** `running`, `waiting: CrashLoopBackOff`, `terminated: Error`. */
  readonly state?: string;
  readonly lastTermination?: Termination;
  readonly limits?: Readonly<Record<string, string>>;
  readonly requests?: Readonly<Record<string, string>>;
  /** From metrics.k8s.io, when it is served. */
  readonly usage?: Readonly<Record<string, string>>;
}

/** The tail of a container's log, redacted. */
export interface LogTail {
  readonly container: string;
  /** The instance before the last restart (`kubectl logs --previous`). */
  readonly previous: boolean;
  readonly lines: readonly string[];
  /** More log came before these lines (cut by lines or bytes). */
  readonly truncated: boolean;
  /** How many secrets each redaction rule removed. */
  readonly redactions: Readonly<Record<string, number>>;
}

export interface EventFacts {
  /** `Pod web-7d9c8b5f4-x2x7q`, `Deployment web`. */
  readonly regarding: string;
  readonly type: string;
  readonly reason: string;
  readonly message: string;
  readonly count: number;
  readonly lastSeen?: string;
}

export interface NodeCondition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
  readonly since?: string;
}

export interface NodeFacts {
  readonly name: string;
  readonly conditions: readonly NodeCondition[];
  readonly taints: readonly string[];
  readonly unschedulable?: boolean;
  readonly allocatable?: Readonly<Record<string, string>>;
  /** The sum of the requests of the pods bound to it that are not finished. */
  readonly requested?: Readonly<Record<string, string>>;
  /** Pods bound to it (node problems): how many, and the first names. */
  readonly pods?: { readonly count: number; readonly names: readonly string[] };
}

/** What a Deployment's last rollout changed in the pod template: never an env value. */
export interface RolloutChange {
  readonly container: string;
  readonly field: 'image' | 'env' | 'resources' | 'command' | 'container';
  readonly before?: string;
  readonly after?: string;
}

export interface RolloutDiff {
  readonly from: { readonly replicaSet: string; readonly revision: number };
  readonly to: { readonly replicaSet: string; readonly revision: number };
  readonly changes: readonly RolloutChange[];
}

/** The data of a dev.reflex.signal.* CloudEvent. */
export interface SignalData {
  readonly class: SignalClass;
  readonly severity: Severity;
  readonly reason: string;
  readonly message: string;
  readonly rule?: string;
  readonly target: Target;
  readonly involved: Involved;
  readonly container?: string;
  readonly occurrences: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly detectedBy: 'classify' | 'sweep';
  readonly key: string;
  readonly evidence?: { readonly api: EvidenceApi; readonly object?: Record<string, unknown> };
  /** Only on dev.reflex.enriched.<class> (enrich's reply); consumers ignore it on a raw signal. */
  readonly enrichment?: Enrichment;
}

/** The data of a dev.reflex.enriched.<class> CloudEvent: the signal, and what enrich gathered around it. */
export interface EnrichedData extends SignalData {
  readonly enrichment: Enrichment;
}

export type Outcome = 'applied' | 'dryrun' | 'skipped' | 'failed' | 'escalated';

export interface StepReport {
  readonly do: string;
  readonly detail: string;
  readonly done?: boolean;
}

/** The signal (or tick) an action answers. */
export interface Cause {
  readonly id: string;
  readonly type: string;
  readonly key: string;
  readonly class?: string;
}

/** The data of a dev.reflex.action.<verb> CloudEvent. */
export interface ActionData {
  readonly verb: ActionVerb;
  readonly outcome: Outcome;
  readonly reason: string;
  readonly target: { readonly kind: string; readonly namespace: string; readonly name: string };
  readonly signal: Cause;
  readonly steps: readonly StepReport[];
  readonly dryRun?: boolean;
}

/** The data of a dev.reflex.resolved CloudEvent. */
export interface ResolvedData {
  readonly key: string;
  readonly class: string;
  readonly severity: Severity;
  readonly reason?: string;
  readonly target: { readonly apiVersion?: string; readonly kind: string; readonly namespace: string; readonly name: string };
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly resolvedAt: string;
  /** Who saw it end: sweep's ticks, or Alertmanager resolving the alert it came from. */
  readonly resolvedBy?: 'sweep' | 'alertmanager';
}

/** The data of a dev.reflex.alert.<status> CloudEvent: one alert, and the notification it came in. */
export interface AlertData {
  readonly status: AlertStatus;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
  readonly startsAt: string;
  /** When it resolved; absent while it fires. */
  readonly endsAt?: string;
  readonly generatorURL?: string;
  readonly fingerprint: string;
  readonly receiver: string;
  readonly groupKey: string;
  readonly externalURL: string;
}

/** `Kind/namespace/name`, or `Kind/name` for a cluster-scoped target: the subject of every event about it. */
export function subjectOf(t: Pick<Target, 'kind' | 'namespace' | 'name'>): string {
  return t.namespace ? `${t.kind}/${t.namespace}/${t.name}` : `${t.kind}/${t.name}`;
}

/** The routing extensions naming the target, for Trigger filters. */
export function targetExtensions(t: Pick<Target, 'kind' | 'namespace' | 'name'>): Record<string, string> {
  return { targetkind: t.kind, targetns: t.namespace, targetname: t.name };
}

/** The routing extensions of a signal (and of its enriched copy): class, severity, target, reason. */
export function signalExtensions(s: Pick<SignalData, 'class' | 'severity' | 'target' | 'reason'>): Record<string, string> {
  return { reflexclass: s.class, severity: s.severity, ...targetExtensions(s.target), reason: s.reason };
}

/** A dev.reflex.action.<verb> event: routable by verb, outcome and target, and saying why. */
export function actionEvent(
  target: Target,
  cause: Cause & { readonly reason: string },
  decided: { verb: ActionVerb; outcome: Outcome; reason: string; steps: readonly StepReport[]; dryRun?: boolean },
): ReplySpec & { data: ActionData } {
  const { verb, outcome } = decided;
  return {
    type: actionType(verb),
    subject: subjectOf(target),
    dataschema: ACTION_SCHEMA,
    data: {
      verb,
      outcome,
      reason: decided.reason,
      target: { kind: target.kind, namespace: target.namespace, name: target.name },
      signal: { id: cause.id, type: cause.type, key: cause.key, ...(cause.class ? { class: cause.class } : {}) },
      steps: decided.steps,
      dryRun: decided.dryRun ?? false,
    },
    extensions: { reflexaction: verb, outcome, ...targetExtensions(target), reason: cause.reason },
  };
}

/** A dev.reflex.resolved event; `id` derives from the problem and when it began, so a repeat is the same event. */
export function resolvedEvent(id: string, data: ResolvedData): ReplySpec & { data: ResolvedData } {
  return {
    id,
    type: RESOLVED_TYPE,
    subject: subjectOf(data.target),
    dataschema: RESOLVED_SCHEMA,
    data,
    extensions: { reflexclass: data.class, severity: data.severity, ...targetExtensions(data.target) },
  };
}

/**
 * A dev.reflex.alert.<status> event. Its id is the alert's fingerprint and a hash of when it
 * started and its status: Alertmanager's repeats (repeat_interval) and the sends of several
 * Alertmanager replicas carry the same alert, so they are the same event, and consumers fold them
 * by `source` + `id`; the resolution of the same firing is another event.
 */
export function alertEvent(data: AlertData): ReplySpec & { id: string; data: AlertData } {
  const started = Date.parse(data.startsAt);
  const since = Number.isNaN(started) ? data.startsAt : new Date(started).toISOString();
  const name = data.labels['alertname'];
  const severity = data.labels['severity'];
  return {
    id: `${data.fingerprint}-${createHash('sha256').update(`${since}\u0000${data.status}`).digest('hex').slice(0, 16)}`,
    type: alertType(data.status),
    subject: name ? `${name}/${data.fingerprint}` : data.fingerprint,
    dataschema: ALERT_SCHEMA,
    data,
    // Routable without reading data; an extension with an empty value is left out. Not `severity`:
    // a Trigger on signals' severity must not catch alerts, whose severity is any label value.
    extensions: { ...(name ? { alertname: name } : {}), ...(severity ? { alertseverity: severity } : {}) },
  };
}

/** Reports written by Reflex itself (reportingController of its audit Events) carry this prefix; classify ignores them. */
export const REFLEX_CONTROLLER_PREFIX = 'reflex.dev/';
export const controllerOf = (fn: string): string => `${REFLEX_CONTROLLER_PREFIX}${fn}`;

/** The ApiServerSource's types (Resource and Reference modes). @see https://knative.dev/docs/eventing/sources/apiserversource/ */
export const APISERVER_TYPES = ['resource', 'ref'].flatMap((mode) =>
  ['add', 'update', 'delete'].map((op) => `dev.knative.apiserver.${mode}.${op}`),
);

/** Every type that flows between Reflex's functions: what a metric may name as a label (anything else is 'other'). */
export const KNOWN_TYPES: ReadonlySet<string> = new Set([
  ...SIGNAL_CLASSES.map(signalType),
  ...ENRICHED_CLASSES.map(enrichedType),
  ...ACTION_VERBS.map(actionType),
  RESOLVED_TYPE,
  SWEEP_COMPLETED_TYPE,
  ...ALERT_STATUSES.map(alertType),
  PING_TYPE,
  ...APISERVER_TYPES,
]);
