/**
 * _signals/state — pure: the *state* of a Pod, Deployment or Node -> findings. Some problems are
 * never Events: a container OOM kill shows only in `lastState.terminated.reason`, a stalled
 * rollout only as the Deployment condition Progressing=False/ProgressDeadlineExceeded.
 */
import { type Involved } from '../_contracts/events.js';
import { countOf, reasonOf, timeOf, truncate, type Finding } from './model.js';

interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  generation?: number;
  creationTimestamp?: string;
}
interface ContainerState {
  waiting?: { reason?: string; message?: string };
  terminated?: { reason?: string; message?: string; exitCode?: number; finishedAt?: string; startedAt?: string };
  running?: { startedAt?: string };
}
interface ContainerStatus {
  name: string;
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
    conditions?: Condition[];
    containerStatuses?: ContainerStatus[];
    initContainerStatuses?: ContainerStatus[];
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

const CRASHLOOP_RESTARTS = 3;
const PRESSURE = new Set(['MemoryPressure', 'DiskPressure', 'PIDPressure']);
const IMAGE_PULL = new Set(['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'ErrImageNeverPull']);

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

/** One container's status: an OOM kill (lastState), a crash loop or an image pull (state.waiting). */
function containerFindings(c: ContainerStatus, x: PodContext): Finding[] {
  const restarts = c.restartCount ?? 0;
  const last = c.lastState?.terminated;
  const waiting = c.state?.waiting;
  const base = { involved: x.involved, container: c.name, evidence: x.evidence, severity: 'warning' as const };
  const out: Finding[] = [];
  if (last?.reason === 'OOMKilled') {
    const when = at(last.finishedAt, x.now);
    out.push({
      ...base,
      class: 'oomkilled',
      reason: 'OOMKilled',
      message: truncate(`container ${c.name} was OOM-killed (exit code ${last.exitCode ?? 137}; ${restarts} restarts)`),
      occurrences: countOf(restarts),
      firstSeen: at(last.startedAt, when),
      lastSeen: when,
      // One finding per kill: the restart count moves on with the next one.
      occurrence: `${x.uid}/${c.name}/oom#${restarts}`,
    });
  } else if (waiting?.reason === 'CrashLoopBackOff' && restarts >= CRASHLOOP_RESTARTS) {
    // A loop of OOM kills is reported as oomkilled only (above): the fix is memory, not a restart.
    out.push({
      ...base,
      class: 'crashloop',
      reason: 'CrashLoopBackOff',
      message: truncate(waiting.message ?? `container ${c.name} is in CrashLoopBackOff after ${restarts} restarts`),
      occurrences: countOf(restarts),
      firstSeen: at(x.pod.metadata.creationTimestamp, x.now),
      lastSeen: at(last?.finishedAt, x.now),
      occurrence: `${x.uid}/${c.name}/crash#${restarts}`,
    });
  }
  if (waiting?.reason && IMAGE_PULL.has(waiting.reason)) {
    out.push({
      ...base,
      class: 'imagepull',
      reason: waiting.reason,
      message: truncate(waiting.message ?? `container ${c.name}: ${waiting.reason}`),
      occurrences: 1,
      firstSeen: at(x.pod.metadata.creationTimestamp, x.now),
      lastSeen: x.now,
      occurrence: `${x.uid}/${c.name}/pull`,
    });
  }
  return out;
}

/** Findings from a Pod's status: OOM kills, crash loops, image pulls, evictions, unschedulable. */
export function podFindings(pod: Pod, now: Date, object: Record<string, unknown>): Finding[] {
  const involved = ref(pod, 'v1');
  const uid = pod.metadata.uid ?? involved.name;
  const evidence = { api: 'Pod' as const, object };
  const x: PodContext = { pod, involved, uid, now, evidence };
  const out = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].flatMap((c) =>
    containerFindings(c, x),
  );
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
  if (pod.status?.phase === 'Pending' && scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
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
