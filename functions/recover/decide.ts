/**
 * recover/decide — pure: signal + what the cluster looks like + recover's own history on the
 * target + policy + now -> a guard verdict and a plan, each with its reason. No I/O, no clock.
 */
import type { Plan as ActPlan } from '../_act/act.js';
import { scaledDownBy, type Autoscaler } from '../_act/autoscalers.js';
import { parseState, type ActionRecord as ActRecord, type ActState } from '../_act/guard.js';
import type { SignalData } from '../_contracts/events.js';
import { amountOf } from '../_kit/config.js';
import { bytesOf } from '../_kit/quantity.js';
import type { Policy } from './config.js';
import { escalation } from './escalate.js';

/** recover's history on its target, in the annotation reflex.dev/recover. */
export type RecoverState = ActState<Step>;
export type ActionRecord = ActRecord<Step>;

export const STATE_ANNOTATION = 'reflex.dev/recover';

export const parseRecoverState = (annotations: Readonly<Record<string, string>> | undefined): RecoverState =>
  parseState<Step>(annotations, STATE_ANNOTATION);

export type Step =
  | { readonly do: 'rollback'; readonly toReplicaSet: string; readonly revision: string }
  | { readonly do: 'cordon'; readonly node: string }
  | { readonly do: 'evict'; readonly namespace: string; readonly pod: string }
  | { readonly do: 'delete-pod'; readonly pod: string; readonly uid?: string }
  | { readonly do: 'set-memory'; readonly container: string; readonly limit: string; readonly request: string | undefined };

export interface ReplicaSetView {
  readonly name: string;
  readonly uid: string;
  readonly revision: number;
  readonly readyReplicas: number;
}

/** A container of the involved pod, as its status says now. */
export interface ContainerView {
  readonly name: string;
  readonly restartCount: number;
  /** state.waiting.reason, e.g. CrashLoopBackOff. */
  readonly waiting?: string;
  readonly terminated?: string;
  /** lastState.terminated.reason, e.g. OOMKilled. */
  readonly lastTerminated?: string;
}

export interface Observed {
  /** Who controls the involved pod: the target (by uid, through its ReplicaSet for a Deployment), another controller, or nobody. */
  readonly podOwnedBy?: 'target' | 'another' | 'nobody';
  /** uid of the pod's controller (its ReplicaSet for a Deployment's pod). */
  readonly podController?: string;
  readonly podTerminating?: boolean;
  readonly containers?: readonly ContainerView[];
  /** Recent probe-failure Events about the pod. */
  readonly probeFailures?: number;
  /** The node's Ready condition now, and since when it has been so (nodenotready). */
  readonly node?: { readonly ready: string; readonly since?: string };
  /** Pods on the node that no controller would recreate: never evicted. */
  readonly unmanagedOnNode?: readonly { readonly namespace: string; readonly name: string }[];
  /** The Deployment's own Progressing condition says ProgressDeadlineExceeded (rolloutstalled). */
  readonly rolloutStalled?: boolean;
  /** The Deployment's ReplicaSets (crashloop, rolloutstalled). */
  readonly replicaSets?: readonly ReplicaSetView[];
  /** The container's current memory limit and request (oomkilled). */
  readonly memory?: { readonly limit: string | undefined; readonly request: string | undefined };
  /** The HPAs and KEDA ScaledObjects that own the target's replicas (oomkilled). */
  readonly autoscalers?: readonly Autoscaler[];
  /** The involved Pod's uid, when it still exists. */
  readonly podUid?: string;
  /** For a Node: how many nodes there are and how many are NotReady, and the pods to evict. */
  readonly nodes?: { readonly total: number; readonly notReady: number };
  readonly podsOnNode?: readonly { readonly namespace: string; readonly name: string }[];
  /** The target's pods that failed with reason Evicted, with their age (evicted). */
  readonly evictedPods?: readonly { readonly name: string; readonly uid: string; readonly ageSeconds: number }[];
}

export type Plan = ActPlan<Step>;

/** Classes with no safe playbook: a person is told what is wrong and what to fix (escalate.ts has the precise causes). */
const ESCALATE_ONLY: Record<string, string> = {
  imagepull: 'an image that cannot be pulled needs a person: fix the image reference or the pull secret',
  mountfailed: 'a volume that cannot be mounted needs a person',
  unschedulable: 'a pod that cannot be scheduled needs capacity or different requests, not a restart',
  createfailed: 'pods cannot be created (quota, admission or policy): a person must look',
  nodepressure: 'node pressure is reported, not acted on',
};
/** The sentence for a class recover only escalates; undefined for the classes it has playbooks for. */
export const escalateOnly = (s: SignalData): string | undefined => escalation(s) ?? ESCALATE_ONLY[s.class];

const ACTS_ON_POD = new Set(['crashloop', 'probefailed', 'oomkilled']);

/**
 * Pure: does the live cluster confirm what the signal claims, now? Undefined if so; otherwise why
 * not. A signal is a claim (anyone who reaches the function can send one, and a true one may be
 * stale): recover changes nothing it has not seen for itself. Escalations change nothing, so
 * they need no confirmation.
 */
export function confirm(signal: SignalData, o: Observed): string | undefined {
  const t = `${signal.target.kind} ${signal.target.namespace ? `${signal.target.namespace}/` : ''}${signal.target.name}`;
  if (escalateOnly(signal) || signal.target.kind === 'Pod' || (signal.class === 'oomkilled' && signal.target.kind === 'Node'))
    return undefined;
  if (ACTS_ON_POD.has(signal.class) && signal.involved.kind === 'Pod') {
    const pod = `pod ${signal.involved.name}`;
    if (!o.podUid) return `${pod} does not exist`;
    if (signal.involved.uid && signal.involved.uid !== o.podUid)
      return `${pod} is not the pod the signal names (uid ${signal.involved.uid})`;
    if (o.podTerminating) return `${pod} is already terminating`;
    if (o.podOwnedBy !== 'target') return `${pod} is not controlled by ${t}`;
    const containers = o.containers ?? [];
    if (
      signal.class === 'crashloop' &&
      !containers.some((c) => c.waiting === 'CrashLoopBackOff' || (c.restartCount > 0 && c.lastTerminated))
    )
      return `no container of ${pod} is crash-looping (no CrashLoopBackOff, no restarts)`;
    if (signal.class === 'oomkilled') {
      const c = containers.find((x) => x.name === signal.container);
      if (!c) return `${pod} has no container ${signal.container ?? '(none named)'}`;
      if (c.lastTerminated !== 'OOMKilled' && c.terminated !== 'OOMKilled') return `container ${c.name} of ${pod} was not OOM-killed`;
    }
    if (signal.class === 'probefailed' && !o.probeFailures) return `no recent probe failure is recorded for ${pod}`;
  }
  if (signal.class === 'nodenotready') {
    if (!o.node) return `node ${signal.target.name} does not exist`;
    if (o.node.ready === 'True') return `node ${signal.target.name} is Ready`;
  }
  if (signal.class === 'rolloutstalled' && !o.rolloutStalled) return `${t} reports no ProgressDeadlineExceeded: its rollout is not stalled`;
  return undefined;
}

/** The playbook for a signal class: a plan with its reason, or an escalation with why. */
export function plan(
  signal: SignalData,
  observed: Observed,
  state: RecoverState,
  policy: Policy,
  now: Date = new Date(signal.lastSeen),
): Plan {
  const esc = escalateOnly(signal);
  if (esc) return { kind: 'escalate', verb: 'escalated', reason: esc };
  // Nothing recreates a pod without a controller: restarting it would delete it for good.
  if (signal.target.kind === 'Pod')
    return {
      kind: 'escalate',
      verb: 'escalated',
      reason: `pod ${signal.target.name} has no controller: deleting or evicting it would lose it; a person must look`,
    };
  switch (signal.class) {
    case 'crashloop':
      return crashloop(signal, observed, state);
    case 'rolloutstalled':
      return (
        rollback(observed, 'the rollout stalled') ?? {
          kind: 'escalate',
          verb: 'escalated',
          reason: 'the rollout stalled and there is no earlier revision to return to',
        }
      );
    case 'oomkilled':
      return signal.target.kind === 'Node'
        ? {
            kind: 'escalate',
            verb: 'escalated',
            reason: `the kernel OOM-killed a process on node ${signal.target.name} (${signal.reason}): no container limit to raise; look at the node's memory`,
          }
        : oomkilled(signal, observed, policy);
    case 'evicted':
      return cleanup(observed, policy);
    case 'nodenotready':
      return drain(signal, observed, policy, now);
    case 'probefailed':
      return signal.involved.kind === 'Pod'
        ? {
            kind: 'act',
            verb: 'replaced',
            steps: [deletePod(signal, observed)],
            reason: `probes keep failing on ${signal.involved.name}: its controller replaces it`,
          }
        : { kind: 'escalate', verb: 'escalated', reason: 'probe failures not tied to a pod' };
    default:
      return { kind: 'escalate', verb: 'escalated', reason: `recover has no playbook for ${signal.class}` };
  }
}

const deletePod = (signal: SignalData, observed: Observed): Step => ({
  do: 'delete-pod',
  pod: signal.involved.name,
  ...(observed.podUid ? { uid: observed.podUid } : {}),
});

/** Back to the newest earlier revision that is serving (ready replicas), as `kubectl rollout undo` would. */
function rollback(observed: Observed, why: string, requireReady = false): Plan | undefined {
  const sets = [...(observed.replicaSets ?? [])].sort((a, b) => b.revision - a.revision);
  const [newest, ...older] = sets;
  const previous = older.find((r) => !requireReady || r.readyReplicas > 0);
  if (!newest || !previous) return undefined;
  return {
    kind: 'act',
    verb: 'rolledback',
    steps: [{ do: 'rollback', toReplicaSet: previous.name, revision: String(previous.revision) }],
    reason: `${why} with revision ${newest.revision}; revision ${previous.revision} (${previous.name})${requireReady ? ` has ${previous.readyReplicas} ready` : ''}`,
  };
}

function crashloop(signal: SignalData, observed: Observed, state: RecoverState): Plan {
  const sets = [...(observed.replicaSets ?? [])].sort((a, b) => b.revision - a.revision);
  const newest = sets[0];
  // The loop began with the newest rollout when the failing pod belongs to the newest ReplicaSet (by uid).
  if (newest && signal.involved.kind === 'Pod' && observed.podController === newest.uid) {
    const back = rollback(observed, 'the crash loop began', true);
    if (back) return back;
  }
  const restarted = state.actions.some((a) => a.key === signal.key && a.verb === 'restarted');
  if (restarted)
    return { kind: 'escalate', verb: 'escalated', reason: 'recover restarted the pod once already and the crash loop goes on' };
  if (signal.involved.kind !== 'Pod') return { kind: 'escalate', verb: 'escalated', reason: 'no failing pod is named to restart' };
  return {
    kind: 'act',
    verb: 'restarted',
    steps: [deletePod(signal, observed)],
    reason: `no healthy earlier revision to return to: restarting ${signal.involved.name} once`,
  };
}

const MI = 1024 * 1024;
const mi = (bytes: number): string => `${Math.ceil(bytes / MI)}Mi`;

function oomkilled(signal: SignalData, observed: Observed, policy: Policy): Plan {
  const container = signal.container;
  const limit = observed.memory?.limit ? bytesOf(observed.memory.limit) : undefined;
  if (!container || limit === undefined)
    return {
      kind: 'escalate',
      verb: 'escalated',
      reason: container
        ? `container ${container} has no memory limit to raise`
        : 'the signal names no container, so there is no memory limit to raise',
    };
  const ceiling = policy.oomkilled.ceilingBytes;
  if (limit >= ceiling)
    return { kind: 'escalate', verb: 'escalated', reason: `memory limit ${observed.memory?.limit} is at the ceiling (${mi(ceiling)})` };
  const next = Math.min(Math.ceil(limit * policy.oomkilled.factor), ceiling);
  const request = observed.memory?.request ? bytesOf(observed.memory.request) : undefined;
  const nextRequest = request !== undefined && request < next ? Math.min(Math.ceil(request * policy.oomkilled.factor), next) : undefined;
  // Respect the other owners of the replicas: a container without a request gets its limit as
  // request, so raising either can make an autoscaler measuring memory utilization scale down.
  const owner = (nextRequest !== undefined || request === undefined) && scaledDownBy(observed.autoscalers ?? [], 'memory', container);
  if (owner)
    return {
      kind: 'escalate',
      verb: 'escalated',
      reason: `container ${container} was OOM-killed at ${observed.memory?.limit}, but ${owner}; recover leaves the resize to a person (raise the limit alone, or retarget the autoscaler)`,
    };
  return {
    kind: 'act',
    verb: 'resized',
    steps: [{ do: 'set-memory', container, limit: mi(next), request: nextRequest === undefined ? undefined : mi(nextRequest) }],
    reason: `container ${container} was OOM-killed at ${observed.memory?.limit}: limit to ${mi(next)} (x${policy.oomkilled.factor}, ceiling ${mi(ceiling)})`,
  };
}

/** Failed/Evicted pods linger until someone deletes them: delete those older than the threshold. */
function cleanup(observed: Observed, policy: Policy): Plan {
  const old = (observed.evictedPods ?? []).filter((p) => p.ageSeconds >= policy.evicted.olderThanSeconds);
  if (old.length === 0)
    return { kind: 'nothing', verb: 'cleaned', reason: `no evicted pod is older than ${policy.evicted.olderThanSeconds}s yet` };
  return {
    kind: 'act',
    verb: 'cleaned',
    steps: old.map((p) => ({ do: 'delete-pod' as const, pod: p.name, uid: p.uid })),
    reason: `${old.length} evicted pod${old.length === 1 ? '' : 's'} older than ${policy.evicted.olderThanSeconds}s`,
  };
}

/**
 * A node NotReady past its grace period is cordoned and its pods evicted through the Eviction API
 * (PodDisruptionBudgets decide; never forced), unless too many nodes are unhealthy at once: then
 * the problem is the cluster, and draining would make it worse.
 */
function drain(signal: SignalData, observed: Observed, policy: Policy, now: Date): Plan {
  const node = signal.target.name;
  // Measured from the node's own Ready condition, never from what the signal says.
  const since = Date.parse(observed.node?.since ?? '');
  const waited = Number.isNaN(since) ? 0 : (now.getTime() - since) / 1000;
  if (waited < policy.nodes.graceSeconds)
    return {
      kind: 'nothing',
      verb: 'drained',
      reason: `node ${node} NotReady for ${Math.round(waited)}s, within the ${policy.nodes.graceSeconds}s grace period`,
    };
  const { total, notReady } = observed.nodes ?? { total: 0, notReady: 0 };
  const max = amountOf(policy.nodes.maxUnhealthy, total, Math.floor);
  if (notReady > max) {
    const limit = 'count' in policy.nodes.maxUnhealthy ? `${max}` : `${policy.nodes.maxUnhealthy.percent}% of ${total} = ${max}`;
    return {
      kind: 'escalate',
      verb: 'escalated',
      reason: `${notReady} of ${total} nodes are NotReady, more than the ${limit} recover may drain: not draining`,
    };
  }
  const pods = observed.podsOnNode ?? [];
  const left = observed.unmanagedOnNode?.length ?? 0;
  return {
    kind: 'act',
    verb: 'drained',
    steps: [{ do: 'cordon', node }, ...pods.map((p) => ({ do: 'evict' as const, namespace: p.namespace, pod: p.name }))],
    reason: `node ${node} NotReady for ${Math.round(waited)}s (grace ${policy.nodes.graceSeconds}s); ${notReady} of ${total} nodes NotReady: cordon and evict ${pods.length} pod${pods.length === 1 ? '' : 's'}${left ? ` (${left} without a controller left in place: nothing would recreate them)` : ''}`,
  };
}
