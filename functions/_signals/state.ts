/**
 * _signals/state — pure: the *state* of a Pod, Deployment, Node, Job or PersistentVolumeClaim ->
 * findings. Some problems are never Events (or their Events are gone after an hour): a container
 * OOM kill shows only in `lastState.terminated.reason`, a missing Secret only in
 * `state.waiting.reason`, a stalled rollout only as the Deployment condition
 * Progressing=False/ProgressDeadlineExceeded, a failed Job as its condition Failed=True, a lost
 * volume as the claim's phase.
 */
import type { Involved, SignalClass } from '../_contracts/events.js';
import { countOf, reasonOf, timeOf, truncate, type Finding } from './model.js';

interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  creationTimestamp?: string;
  annotations?: Record<string, string>;
}
interface ContainerState {
  waiting?: { reason?: string; message?: string };
  terminated?: { reason?: string; message?: string; exitCode?: number; finishedAt?: string; startedAt?: string };
  running?: { startedAt?: string };
}
interface ContainerStatus {
  name: string;
  ready?: boolean;
  restartCount?: number;
  state?: ContainerState;
  lastState?: ContainerState;
}
interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  lastUpdateTime?: string;
  lastHeartbeatTime?: string;
}

export interface Pod {
  apiVersion?: string;
  kind: 'Pod';
  metadata: Meta;
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    startTime?: string;
    conditions?: Condition[];
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
    ephemeralContainerStatuses?: ContainerStatus[];
  };
}
export interface Deployment {
  apiVersion?: string;
  kind: 'Deployment';
  metadata: Meta;
  status?: { conditions?: Condition[]; observedGeneration?: number };
}
export interface Node {
  apiVersion?: string;
  kind: 'Node';
  metadata: Meta;
  status?: { conditions?: Condition[] };
}
export interface Job {
  apiVersion?: string;
  kind: 'Job';
  metadata: Meta;
  status?: { conditions?: Condition[]; failed?: number };
}
export interface PersistentVolumeClaim {
  apiVersion?: string;
  kind: 'PersistentVolumeClaim';
  metadata: Meta;
  spec?: { storageClassName?: string | null; volumeName?: string };
  status?: { phase?: string; conditions?: Condition[]; allocatedResourceStatuses?: Record<string, string> };
}

const CRASHLOOP_RESTARTS = 3;
const PRESSURE = new Set(['MemoryPressure', 'DiskPressure', 'PIDPressure']);
/**
 * The kubelet's image errors, as state.waiting.reason (kubelet/images/types.go; RegistryUnavailable
 * and SignatureValidationFailed from cri-api pkg/errors, passed on by images/image_manager.go).
 * Signalled on first sight, as the imagepull Event rules are: a wrong image does not fix itself.
 */
const IMAGE_PULL = new Set([
  'ImagePullBackOff',
  'ErrImagePull',
  'InvalidImageName',
  'ErrImageNeverPull',
  'ImageInspectError',
  'RegistryUnavailable',
  'SignatureValidationFailed',
]);
/**
 * Start-up failures the kubelet records only as state.waiting.reason: the error of the container's
 * last start attempt (kuberuntime/kuberuntime_container.go startContainer: ErrCreateContainerConfig
 * when a referenced ConfigMap, Secret or key is missing, ErrPreCreateHook, ErrCreateContainer,
 * ErrPreStartHook, ErrPostStartHook; container/sync_result.go ErrRunContainer), copied into the
 * status from its reasonCache (kubelet_pods.go convertToAPIContainerStatuses). A Map, not an
 * object literal: a reason is input, and `constructor` is not a class.
 */
const START_FAILURES: ReadonlyMap<string, SignalClass> = new Map<string, SignalClass>([
  ['CreateContainerConfigError', 'configerror'],
  ['CreateContainerError', 'startfailed'],
  ['RunContainerError', 'startfailed'],
  ['PreCreateHookError', 'startfailed'],
  ['PreStartHookError', 'startfailed'],
  ['PostStartHookError', 'startfailed'],
]);
/**
 * A start-up failure is a problem once the container has been waiting this long. The kubelet sets
 * CreateContainerConfigError the moment a referenced Secret is missing, and a Secret being issued
 * (cert-manager, external-secrets) is missing for seconds; the kubelet retries a failed pod sync
 * every 10-15 s (kubelet.go backOffPeriod 10 s, pod_workers.go jitter 0.5), so two minutes is about
 * ten failed attempts: what is still failing then is not waiting for someone else's controller.
 * A Pod is delivered again only when its status changes, which a persisting failure does not do:
 * classify sees the first seconds (and skips them), sweep's next tick sees it persist.
 */
export const WAITING_PERSISTS_SECONDS = 120;

/** A time from the object's status; a missing or unusable one (see timeOf) is the fallback. */
const at = (s: string | undefined, fallback: Date): Date => timeOf(s) ?? fallback;

function ref(o: { apiVersion?: string; kind: string; metadata: Meta }, defaultApiVersion: string): Involved {
  return {
    apiVersion: o.apiVersion ?? defaultApiVersion,
    kind: o.kind,
    name: o.metadata.name ?? '',
    ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
    ...(o.metadata.uid ? { uid: o.metadata.uid } : {}),
  };
}

interface PodContext {
  readonly pod: Pod;
  readonly involved: Involved;
  readonly uid: string;
  readonly now: Date;
  readonly evidence: Finding['evidence'];
}

/** Where a container sits in its Pod: which condition records when it could start. */
type Role = 'init' | 'app' | 'ephemeral';

/**
 * Since when a container has been waiting, as far as the Pod's status tells: the latest of the
 * times before which it cannot have been waiting to start this time — the pod's start
 * (status.startTime), the moment its kind of containers stopped being ready (ContainersReady, or
 * Initialized for init containers, when not True), the end of its own last run, and, for an init
 * container, the end (or a sidecar's start) of the init containers before it, which run one by one.
 * The latest is the shortest wait the status proves. An ephemeral container has no time of its own
 * in the status: the pod's times bound it, so a debug container's failure may be signalled sooner.
 * Every candidate is a time the kubelet wrote once, so the same status gives the same answer.
 */
function waitingSince(c: ContainerStatus, role: Role, x: PodContext): Date | undefined {
  const status = x.pod.status;
  const gate = { app: 'ContainersReady', init: 'Initialized', ephemeral: undefined }[role];
  const condition = status?.conditions?.find((k) => k.type === gate && k.status !== 'True');
  const inits = status?.initContainerStatuses ?? [];
  const before = role === 'init' ? inits.slice(0, inits.indexOf(c)) : [];
  const candidates = [
    status?.startTime,
    condition?.lastTransitionTime,
    c.lastState?.terminated?.finishedAt,
    ...before.flatMap((b) => [b.state?.terminated?.finishedAt, b.state?.running?.startedAt]),
  ];
  const times = candidates.map((t) => timeOf(t)?.getTime()).filter((t): t is number => t !== undefined);
  return times.length > 0 ? new Date(Math.max(...times)) : timeOf(x.pod.metadata.creationTimestamp);
}

/** One container's status: an OOM kill (lastState), a crash loop, an image pull or a start-up failure (state.waiting). */
function containerFindings(c: ContainerStatus, role: Role, x: PodContext): Finding[] {
  const base = { involved: x.involved, container: c.name, evidence: x.evidence, severity: 'warning' as const };
  return [...restartFindings(c, x, base), ...imagePullFindings(c, x, base), ...startFailureFindings(c, role, x, base)];
}

type ContainerBase = Pick<Finding, 'involved' | 'container' | 'evidence' | 'severity'>;

/** An OOM kill (lastState.terminated), else a crash loop (state.waiting CrashLoopBackOff). */
function restartFindings(c: ContainerStatus, x: PodContext, base: ContainerBase): Finding[] {
  const restarts = c.restartCount ?? 0;
  const last = c.lastState?.terminated;
  const waiting = c.state?.waiting;
  if (last?.reason === 'OOMKilled') {
    const when = at(last.finishedAt, x.now);
    return [
      {
        ...base,
        class: 'oomkilled',
        reason: 'OOMKilled',
        message: truncate(`container ${c.name} was OOM-killed (exit code ${last.exitCode ?? 137}; ${restarts} restarts)`),
        occurrences: countOf(restarts),
        firstSeen: at(last.startedAt, when),
        lastSeen: when,
        // One finding per kill: the restart count moves on with the next one.
        occurrence: `${x.uid}/${c.name}/oom#${restarts}`,
      },
    ];
  }
  // A loop of OOM kills is reported as oomkilled only (above): the fix is memory, not a restart.
  if (waiting?.reason !== 'CrashLoopBackOff' || restarts < CRASHLOOP_RESTARTS) return [];
  return [
    {
      ...base,
      class: 'crashloop',
      reason: 'CrashLoopBackOff',
      message: truncate(waiting.message ?? `container ${c.name} is in CrashLoopBackOff after ${restarts} restarts`),
      occurrences: countOf(restarts),
      firstSeen: at(x.pod.metadata.creationTimestamp, x.now),
      lastSeen: at(last?.finishedAt, x.now),
      occurrence: `${x.uid}/${c.name}/crash#${restarts}`,
    },
  ];
}

function imagePullFindings(c: ContainerStatus, x: PodContext, base: ContainerBase): Finding[] {
  const waiting = c.state?.waiting;
  if (!waiting?.reason || !IMAGE_PULL.has(waiting.reason)) return [];
  return [
    {
      ...base,
      class: 'imagepull',
      reason: waiting.reason,
      message: truncate(waiting.message ?? `container ${c.name}: ${waiting.reason}`),
      occurrences: 1,
      firstSeen: at(x.pod.metadata.creationTimestamp, x.now),
      lastSeen: x.now,
      occurrence: `${x.uid}/${c.name}/pull`,
    },
  ];
}

/** A start-up failure that has lasted WAITING_PERSISTS_SECONDS. */
function startFailureFindings(c: ContainerStatus, role: Role, x: PodContext, base: ContainerBase): Finding[] {
  const reason = c.state?.waiting?.reason;
  const failure = reason ? START_FAILURES.get(reason) : undefined;
  if (!reason || !failure) return [];
  const since = waitingSince(c, role, x);
  if (!since || x.now.getTime() - since.getTime() < WAITING_PERSISTS_SECONDS * 1000) return [];
  return [
    {
      ...base,
      class: failure,
      reason,
      // The kubelet's message names what is missing: `configmap "app" not found`, `couldn't find key K in Secret ns/s`.
      message: truncate(c.state?.waiting?.message || `container ${c.name}: ${reason}`),
      occurrences: 1,
      firstSeen: since,
      lastSeen: x.now,
      // One finding per wait: the same status gives the same time; a new wait (after a run) a new one.
      occurrence: `${x.uid}/${c.name}/${reason}@${since.toISOString()}`,
    },
  ];
}

/** Findings from a Pod's status: OOM kills, crash loops, image pulls, start-up failures, evictions, unschedulable. */
export function podFindings(pod: Pod, now: Date, object: Record<string, unknown>): Finding[] {
  const involved = ref(pod, 'v1');
  const uid = pod.metadata.uid ?? involved.name;
  const evidence = { api: 'Pod' as const, object };
  const x: PodContext = { pod, involved, uid, now, evidence };
  const of = (statuses: ContainerStatus[] | undefined, role: Role): Finding[] =>
    (statuses ?? []).flatMap((c) => containerFindings(c, role, x));
  const out = [
    ...of(pod.status?.initContainerStatuses, 'init'),
    ...of(pod.status?.containerStatuses, 'app'),
    ...of(pod.status?.ephemeralContainerStatuses, 'ephemeral'),
  ];
  if (pod.status?.phase === 'Failed' && pod.status.reason === 'Evicted') {
    out.push({
      class: 'evicted',
      severity: 'info',
      reason: 'Evicted',
      message: truncate(pod.status.message ?? 'the pod was evicted'),
      involved,
      occurrences: 1,
      firstSeen: at(pod.metadata.creationTimestamp, now),
      lastSeen: now,
      occurrence: `${uid}/evicted`,
      evidence,
    });
  }
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  // As FailedScheduling's rule: a pod waiting for a PVC to bind or a node to join is briefly
  // Unschedulable; one still Unschedulable two minutes on (sweep's tick sees it) is a problem.
  const unschedulableSince = timeOf(scheduled?.lastTransitionTime);
  if (
    pod.status?.phase === 'Pending' &&
    scheduled?.status === 'False' &&
    scheduled.reason === 'Unschedulable' &&
    (!unschedulableSince || now.getTime() - unschedulableSince.getTime() >= WAITING_PERSISTS_SECONDS * 1000)
  ) {
    out.push({
      class: 'unschedulable',
      severity: 'warning',
      reason: 'Unschedulable',
      message: truncate(scheduled.message ?? 'the pod cannot be scheduled'),
      involved,
      occurrences: 1,
      firstSeen: at(scheduled.lastTransitionTime, now),
      lastSeen: now,
      occurrence: `${uid}/unschedulable@${scheduled.lastTransitionTime ?? ''}`,
      evidence,
    });
  }
  return out;
}

/** A rollout past its progress deadline: Progressing=False, reason ProgressDeadlineExceeded. */
export function deploymentFindings(d: Deployment, now: Date, object: Record<string, unknown>): Finding[] {
  const c = d.status?.conditions?.find((x) => x.type === 'Progressing');
  if (c?.status !== 'False' || c.reason !== 'ProgressDeadlineExceeded') return [];
  return [
    {
      class: 'rolloutstalled',
      severity: 'warning',
      reason: 'ProgressDeadlineExceeded',
      message: truncate(c.message ?? 'the rollout exceeded its progress deadline'),
      involved: ref(d, 'apps/v1'),
      occurrences: 1,
      firstSeen: at(c.lastTransitionTime, now),
      lastSeen: at(c.lastUpdateTime, now),
      // One finding per stalled generation: a new rollout is a new problem.
      occurrence: `${d.metadata.uid ?? d.metadata.name}/stalled@${d.metadata.generation ?? 0}`,
      evidence: { api: 'Deployment', object },
    },
  ];
}

/** NotReady (Ready False or Unknown) and pressure conditions of a Node. */
export function nodeFindings(n: Node, now: Date, object: Record<string, unknown>): Finding[] {
  const involved = ref(n, 'v1');
  const uid = n.metadata.uid ?? involved.name;
  const out: Finding[] = [];
  for (const c of n.status?.conditions ?? []) {
    const since = at(c.lastTransitionTime, now);
    if (c.type === 'Ready' && c.status !== 'True') {
      out.push({
        class: 'nodenotready',
        severity: 'critical',
        // An empty reason (a kubelet or a hand-written status may leave it so) is no reason.
        reason: reasonOf(c.reason, 'NodeNotReady'),
        message: truncate(c.message ?? `node ${involved.name} is not ready (${c.status})`),
        involved,
        occurrences: 1,
        firstSeen: since,
        lastSeen: at(c.lastHeartbeatTime, now),
        occurrence: `${uid}/notready@${c.lastTransitionTime ?? ''}`,
        evidence: { api: 'Node', object },
      });
    } else if (PRESSURE.has(c.type) && c.status === 'True') {
      out.push({
        class: 'nodepressure',
        severity: 'warning',
        reason: reasonOf(c.reason, c.type),
        message: truncate(c.message ?? `node ${involved.name} has ${c.type}`),
        involved,
        occurrences: 1,
        firstSeen: since,
        lastSeen: at(c.lastHeartbeatTime, now),
        occurrence: `${uid}/${c.type}@${c.lastTransitionTime ?? ''}`,
        evidence: { api: 'Node', object },
      });
    }
  }
  return out;
}

/**
 * A failed Job stays Failed until it is deleted (a CronJob keeps its last failedJobsHistoryLimit),
 * so its failure is news for as long as sweep treats a Warning Event as news
 * (REFLEX_SWEEP_EVENT_LOOKBACK_SECONDS' default): the job controller's Warning Event about the
 * same failure tells the same story for that long, and an old failure is not signalled every window.
 */
export const FAILED_JOB_NEWS_SECONDS = 900;

/**
 * A Job that failed: condition Failed=True, or FailureTarget=True while its pods still terminate
 * (the job controller adds FailureTarget first, then Failed with the same reason and message:
 * pkg/controller/job/job_controller.go, reasons BackoffLimitExceeded, DeadlineExceeded,
 * PodFailurePolicy, MaxFailedIndexesExceeded, FailedIndexes). Both are the one failure of this Job.
 */
export function jobFindings(j: Job, now: Date, object: Record<string, unknown>): Finding[] {
  const conditions = j.status?.conditions ?? [];
  const failed =
    conditions.find((c) => c.type === 'Failed' && c.status === 'True') ??
    conditions.find((c) => c.type === 'FailureTarget' && c.status === 'True');
  if (!failed) return [];
  const when = at(failed.lastTransitionTime, now);
  if (now.getTime() - when.getTime() > FAILED_JOB_NEWS_SECONDS * 1000) return [];
  const involved = ref(j, 'batch/v1');
  return [
    {
      class: 'jobfailed',
      severity: 'warning',
      reason: reasonOf(failed.reason, 'JobFailed'),
      message: truncate(failed.message || `job ${involved.name} failed`),
      involved,
      occurrences: countOf(j.status?.failed),
      firstSeen: when,
      lastSeen: when,
      // A Job fails once; the next run of a CronJob is another Job (another uid).
      occurrence: `${j.metadata.uid ?? involved.name}/failed`,
      evidence: { api: 'Job', object },
    },
  ];
}

/** A claim still Pending this long after its creation, once binding has begun (see bindingBegun), is a problem. */
export const CLAIM_PENDING_SECONDS = 300;
/** Annotations the PV controller and scheduler write on a claim (k8s.io/component-helpers storage/volume/pv_helpers.go). */
const SELECTED_NODE = 'volume.kubernetes.io/selected-node';
const PROVISIONERS = ['volume.kubernetes.io/storage-provisioner', 'volume.beta.kubernetes.io/storage-provisioner'];
/** PVC conditions that say a resize or a modification failed (core/v1 PersistentVolumeClaimConditionType). */
const CLAIM_ERRORS = new Set(['ControllerResizeError', 'NodeResizeError', 'ModifyVolumeError']);
/** allocatedResourceStatuses that say a resize will never succeed (core/v1 ClaimResourceStatus). */
const CLAIM_INFEASIBLE = new Set(['ControllerResizeInfeasible', 'NodeResizeInfeasible']);

/**
 * Whether a Pending claim is waiting for storage rather than for a consumer. A claim of a
 * WaitForFirstConsumer class stays Pending, rightly, until a pod using it is scheduled, and the
 * claim alone does not say its class's binding mode. It does say when binding has begun: a volume
 * asked for by name, no class at all (only a pre-made volume can bind it), the node the scheduler
 * chose (selected-node), or the provisioner the PV controller handed it to
 * (pkg/controller/volume/persistentvolume/pv_controller.go syncUnboundClaim, setClaimProvisioner).
 * A claim of a missing class shows none of these; the PV controller's ProvisioningFailed Event says so.
 */
function bindingBegun(c: PersistentVolumeClaim): string | undefined {
  const a = c.metadata.annotations ?? {};
  const provisioner = PROVISIONERS.map((k) => a[k]).find((v) => v);
  if (c.spec?.volumeName) return `it asks for PersistentVolume ${c.spec.volumeName}`;
  if (!c.spec?.storageClassName) return 'it has no storageClassName, so only an existing PersistentVolume can bind it';
  if (provisioner) return `storageClassName ${c.spec.storageClassName}, provisioner ${provisioner}`;
  if (a[SELECTED_NODE]) return `storageClassName ${c.spec.storageClassName}, node ${a[SELECTED_NODE]}`;
  return undefined;
}

type ClaimBase = Pick<Finding, 'class' | 'involved' | 'occurrences' | 'evidence'>;

/**
 * A claim whose volume is lost (phase Lost: the PV is gone or bound to another claim), one that
 * stays Pending while binding has begun, and a resize or modification that failed.
 */
export function claimFindings(c: PersistentVolumeClaim, now: Date, object: Record<string, unknown>): Finding[] {
  const involved = ref(c, 'v1');
  const uid = c.metadata.uid ?? involved.name;
  const base: ClaimBase = { class: 'storagefailed', involved, occurrences: 1, evidence: { api: 'PersistentVolumeClaim', object } };
  return [...phaseFindings(c, uid, now, base), ...resizeFindings(c, uid, now, base)];
}

function phaseFindings(c: PersistentVolumeClaim, uid: string, now: Date, base: ClaimBase): Finding[] {
  const name = base.involved.name;
  if (c.status?.phase === 'Lost')
    return [
      {
        ...base,
        severity: 'critical',
        reason: 'ClaimLost',
        message: truncate(
          `claim ${name} lost its PersistentVolume${c.spec?.volumeName ? ` ${c.spec.volumeName}` : ''}: the volume is gone or bound to another claim`,
        ),
        firstSeen: now,
        lastSeen: now,
        // Lost is final for a claim.
        occurrence: `${uid}/lost`,
      },
    ];
  const created = timeOf(c.metadata.creationTimestamp);
  const begun = c.status?.phase === 'Pending' ? bindingBegun(c) : undefined;
  if (!begun || !created || now.getTime() - created.getTime() < CLAIM_PENDING_SECONDS * 1000) return [];
  return [
    {
      ...base,
      severity: 'warning',
      reason: 'ClaimPending',
      message: truncate(`claim ${name} is not bound ${CLAIM_PENDING_SECONDS / 60} minutes after its creation (${begun})`),
      firstSeen: created,
      lastSeen: now,
      // A claim is Pending once: when it binds it never goes back.
      occurrence: `${uid}/pending`,
    },
  ];
}

function resizeFindings(c: PersistentVolumeClaim, uid: string, now: Date, base: ClaimBase): Finding[] {
  const errors = (c.status?.conditions ?? []).filter((k) => CLAIM_ERRORS.has(k.type) && k.status === 'True');
  if (errors.length > 0)
    return errors.map((k) => ({
      ...base,
      severity: 'warning',
      reason: k.type,
      message: truncate(k.message || `claim ${base.involved.name}: ${k.type}`),
      firstSeen: at(k.lastTransitionTime, now),
      lastSeen: at(k.lastTransitionTime, now),
      occurrence: `${uid}/${k.type}@${k.lastTransitionTime ?? ''}`,
    }));
  // The resizer marks a resize it gave up on in allocatedResourceStatuses, usually with an error condition (above).
  const infeasible = c.status?.allocatedResourceStatuses?.['storage'];
  if (!infeasible || !CLAIM_INFEASIBLE.has(infeasible)) return [];
  return [
    {
      ...base,
      severity: 'warning',
      reason: infeasible,
      message: truncate(`claim ${base.involved.name}: the resize of its storage is infeasible (${infeasible})`),
      firstSeen: now,
      lastSeen: now,
      occurrence: `${uid}/${infeasible}`,
    },
  ];
}
