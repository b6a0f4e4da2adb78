/**
 * recover/observe — pure: the objects recover read for a signal -> what its playbooks need to
 * know. Shared by the cluster port and by replays of a recording (dev/mesh/recorded.ts).
 */
import type { V1Deployment, V1Node, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { Autoscaler } from '../_act/autoscalers.js';
import type { SignalData } from '../_contracts/events.js';
import type { Observed, ReplicaSetView } from './decide.js';

/** What was read: any of it may be missing (not asked for, or not in a recording). */
export interface Seen {
  pod?: V1Pod | undefined;
  deployment?: V1Deployment;
  /** The namespace's ReplicaSets (only the Deployment's own are used). */
  replicaSets?: readonly V1ReplicaSet[];
  autoscalers?: readonly Autoscaler[];
  nodes?: readonly V1Node[];
  /** nodenotready: the pods on the node; evicted: the Deployment's pods. */
  pods?: readonly V1Pod[];
}

export function observedFrom(signal: SignalData, seen: Seen, now: Date = new Date()): Observed {
  const out: { -readonly [K in keyof Observed]: Observed[K] } = {};
  if (seen.pod?.metadata?.uid) out.podUid = seen.pod.metadata.uid;
  if (signal.target.kind === 'Node' && signal.class === 'nodenotready') {
    const nodes = seen.nodes ?? [];
    const notReady = nodes.filter((n) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True').length;
    out.nodes = { total: nodes.length, notReady };
    // DaemonSet pods would come straight back, mirror pods cannot be evicted; terminating ones are on their way.
    out.podsOnNode = (seen.pods ?? [])
      .filter(
        (p) =>
          !p.metadata?.deletionTimestamp &&
          !p.metadata?.annotations?.['kubernetes.io/config.mirror'] &&
          !p.metadata?.ownerReferences?.some((o) => o.kind === 'DaemonSet'),
      )
      .map((p) => ({ namespace: p.metadata?.namespace ?? '', name: p.metadata?.name ?? '' }));
    return out;
  }
  const d = seen.deployment;
  if (!d) return out;
  if (seen.replicaSets)
    out.replicaSets = seen.replicaSets
      .filter((r) => r.metadata?.ownerReferences?.some((o) => o.uid === d.metadata?.uid))
      .map((r): ReplicaSetView => ({
        name: r.metadata?.name ?? '',
        revision: Number(r.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0),
        readyReplicas: r.status?.readyReplicas ?? 0,
      }));
  if (signal.class === 'oomkilled') {
    const c = d.spec?.template.spec?.containers.find((x) => x.name === signal.container);
    out.memory = { limit: c?.resources?.limits?.['memory'], request: c?.resources?.requests?.['memory'] };
    out.autoscalers = seen.autoscalers ?? [];
  }
  if (signal.class === 'evicted')
    out.evictedPods = (seen.pods ?? [])
      .filter((p) => p.status?.phase === 'Failed' && p.status.reason === 'Evicted')
      .map((p) => ({
        name: p.metadata?.name ?? '',
        uid: p.metadata?.uid ?? '',
        ageSeconds: (now.getTime() - new Date(p.status?.startTime ?? p.metadata?.creationTimestamp ?? now).getTime()) / 1000,
      }));
  return out;
}
