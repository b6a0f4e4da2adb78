/**
 * recover/observe — pure: the objects recover read for a signal -> what its playbooks need to
 * know. Shared by the cluster port and by replays of a recording (dev/mesh/recorded.ts).
 */
import type { CoreV1Event, V1Deployment, V1Node, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { Autoscaler } from '../_act/autoscalers.js';
import type { SignalData } from '../_contracts/events.js';
import type { ContainerView, Observed, ReplicaSetView } from './decide.js';

/** What was read: any of it may be missing (not asked for, or not in a recording). */
export interface Seen {
  /** The target's uid as just read: ownership is by uid, never by name. */
  targetUid?: string;
  pod?: V1Pod | undefined;
  /** The ReplicaSet that controls the pod, when one does. */
  podOwner?: V1ReplicaSet | undefined;
  /** The node a nodenotready signal names. */
  node?: V1Node | undefined;
  /** Recent probe-failure Events (reason Unhealthy) about the pod. */
  probeEvents?: readonly CoreV1Event[];
  deployment?: V1Deployment;
  /** The namespace's ReplicaSets (only the Deployment's own are used). */
  replicaSets?: readonly V1ReplicaSet[];
  autoscalers?: readonly Autoscaler[];
  nodes?: readonly V1Node[];
  /** nodenotready: the pods on the node; evicted: the Deployment's pods. */
  pods?: readonly V1Pod[];
}

const controllerOf = (o: { metadata?: { ownerReferences?: { controller?: boolean; kind: string; name: string; uid: string }[] } }) =>
  o.metadata?.ownerReferences?.find((r) => r.controller === true);

/** Does the target control the pod, through the uids of the chain (Pod -> ReplicaSet -> Deployment, or Pod -> StatefulSet/DaemonSet/Job)? */
function ownership(signal: SignalData, seen: Seen): NonNullable<Observed['podOwnedBy']> {
  const pod = seen.pod;
  const c = pod && controllerOf(pod);
  if (!c) return 'nobody';
  const t = signal.target;
  if (c.kind === t.kind && c.uid === seen.targetUid) return 'target';
  if (c.kind === 'ReplicaSet' && t.kind === 'Deployment') {
    const rs = seen.podOwner;
    if (rs?.metadata?.uid === c.uid && controllerOf(rs)?.uid === seen.targetUid && seen.targetUid) return 'target';
  }
  return 'another';
}

function containersOf(pod: V1Pod): ContainerView[] {
  return (pod.status?.containerStatuses ?? []).map((c) => ({
    name: c.name,
    restartCount: c.restartCount,
    ...(c.state?.waiting?.reason ? { waiting: c.state.waiting.reason } : {}),
    ...(c.state?.terminated?.reason ? { terminated: c.state.terminated.reason } : {}),
    ...(c.lastState?.terminated?.reason ? { lastTerminated: c.lastState.terminated.reason } : {}),
  }));
}

export function observedFrom(signal: SignalData, seen: Seen, now: Date = new Date()): Observed {
  const out: { -readonly [K in keyof Observed]: Observed[K] } = {};
  const pod = seen.pod;
  if (pod?.metadata?.uid) {
    out.podUid = pod.metadata.uid;
    out.podOwnedBy = ownership(signal, seen);
    const c = controllerOf(pod);
    if (c) out.podController = c.uid;
    out.containers = containersOf(pod);
    if (pod.metadata.deletionTimestamp) out.podTerminating = true;
  }
  if (seen.probeEvents) out.probeFailures = seen.probeEvents.length;
  if (seen.node) {
    const ready = seen.node.status?.conditions?.find((c) => c.type === 'Ready');
    out.node = {
      ready: ready?.status ?? 'Unknown',
      ...(ready?.lastTransitionTime ? { since: String(ready.lastTransitionTime) } : {}),
    };
  }
  if (signal.target.kind === 'Node' && signal.class === 'nodenotready') {
    const nodes = seen.nodes ?? [];
    const notReady = nodes.filter((n) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True').length;
    out.nodes = { total: nodes.length, notReady };
    // As `kubectl drain`: DaemonSet pods would come straight back, mirror pods cannot be evicted,
    // terminating ones are on their way, and a pod no controller recreates is left in place.
    const candidates = (seen.pods ?? []).filter(
      (p) =>
        !p.metadata?.deletionTimestamp &&
        !p.metadata?.annotations?.['kubernetes.io/config.mirror'] &&
        !p.metadata?.ownerReferences?.some((o) => o.kind === 'DaemonSet'),
    );
    const ref = (p: V1Pod) => ({ namespace: p.metadata?.namespace ?? '', name: p.metadata?.name ?? '' });
    out.podsOnNode = candidates.filter((p) => controllerOf(p)).map(ref);
    out.unmanagedOnNode = candidates.filter((p) => !controllerOf(p)).map(ref);
    return out;
  }
  const d = seen.deployment;
  if (!d) return out;
  if (seen.replicaSets)
    out.replicaSets = seen.replicaSets
      .filter((r) => r.metadata?.ownerReferences?.some((o) => o.uid === d.metadata?.uid))
      .map((r): ReplicaSetView => ({
        name: r.metadata?.name ?? '',
        uid: r.metadata?.uid ?? '',
        revision: Number(r.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0),
        readyReplicas: r.status?.readyReplicas ?? 0,
      }));
  if (signal.class === 'oomkilled') {
    const c = d.spec?.template.spec?.containers.find((x) => x.name === signal.container);
    out.memory = { limit: c?.resources?.limits?.['memory'], request: c?.resources?.requests?.['memory'] };
    out.autoscalers = seen.autoscalers ?? [];
  }
  if (signal.class === 'evicted') {
    // Only pods the Deployment's own ReplicaSets control: matching labels are not ownership.
    const mine = new Set(
      (seen.replicaSets ?? []).filter((r) => controllerOf(r)?.uid === d.metadata?.uid && d.metadata?.uid).map((r) => r.metadata?.uid),
    );
    out.evictedPods = (seen.pods ?? [])
      .filter((p) => p.status?.phase === 'Failed' && p.status.reason === 'Evicted' && mine.has(controllerOf(p)?.uid))
      .map((p) => ({
        name: p.metadata?.name ?? '',
        uid: p.metadata?.uid ?? '',
        ageSeconds: (now.getTime() - new Date(p.status?.startTime ?? p.metadata?.creationTimestamp ?? now).getTime()) / 1000,
      }));
  }
  if (signal.class === 'rolloutstalled')
    out.rolloutStalled = (d.status?.conditions ?? []).some(
      (c) => c.type === 'Progressing' && c.status === 'False' && c.reason === 'ProgressDeadlineExceeded',
    );
  return out;
}
