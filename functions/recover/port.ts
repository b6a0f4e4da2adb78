/**
 * recover/port — what recover reads and changes, over the kit's Cluster port: the shared target
 * port (state, audit), what the playbooks observe, and the steps they apply, idempotently
 * (absolute values, uid preconditions).
 */
import type { CoreV1Event, V1Deployment, V1Node, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { ActingPort } from '../_act/act.js';
import { autoscalersOf } from '../_act/autoscalers.js';
import { targetPort } from '../_act/target.js';
import type { SignalData, Target } from '../_contracts/events.js';
import { InternalError } from '../_kit/errors.js';
import { where, type Cluster } from '../_kit/k8s.js';
import { STATE_ANNOTATION, type Observed, type Step } from './decide.js';
import { observedFrom, type Seen } from './observe.js';

export interface RecoverPort extends ActingPort<Step> {
  /**
   * What the playbook and its confirmation need, read now. `targetUid`: the target as just
   * loaded; `since`: Events older than this are history.
   */
  observe(signal: SignalData, targetUid: string, since: Date): Promise<Observed>;
}

const deployment = (t: Target) => ({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: t.namespace, name: t.name });

export function recoverPort(cluster: Cluster, now: () => Date): RecoverPort {
  return {
    ...targetPort(cluster, { annotation: STATE_ANNOTATION, fn: 'recover' }),

    async observe(signal, targetUid, since) {
      const t = signal.target;
      const seen: Seen = { targetUid };
      const inv = signal.involved;
      if (inv.kind === 'Pod' && inv.namespace) {
        const pod = await cluster.get<V1Pod>({ apiVersion: 'v1', kind: 'Pod', namespace: inv.namespace, name: inv.name });
        seen.pod = pod;
        const owner = pod?.metadata?.ownerReferences?.find((o) => o.controller === true);
        if (owner?.kind === 'ReplicaSet')
          seen.podOwner = await cluster.get<V1ReplicaSet>({
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            namespace: inv.namespace,
            name: owner.name,
          });
        if (pod?.metadata?.uid && signal.class === 'probefailed')
          seen.probeEvents = (
            await cluster.list<CoreV1Event>('v1', 'Event', {
              namespace: inv.namespace,
              fieldSelector: `involvedObject.uid=${pod.metadata.uid},reason=Unhealthy`,
            })
          ).filter((e) => Date.parse(String(e.lastTimestamp ?? e.eventTime ?? e.series?.lastObservedTime ?? '')) >= since.getTime());
      }
      if (t.kind === 'Node' && signal.class === 'nodenotready') {
        seen.node = await cluster.get<V1Node>({ apiVersion: 'v1', kind: 'Node', name: t.name });
        seen.nodes = await cluster.list<V1Node>('v1', 'Node');
        seen.pods = await cluster.list<V1Pod>('v1', 'Pod', { fieldSelector: `spec.nodeName=${t.name}` });
        return observedFrom(signal, seen, now());
      }
      if (t.kind !== 'Deployment') return observedFrom(signal, seen, now());
      const d = await cluster.get<V1Deployment>(deployment(t));
      if (d) seen.deployment = d;
      if (signal.class === 'crashloop' || signal.class === 'rolloutstalled' || signal.class === 'evicted')
        seen.replicaSets = await cluster.list<V1ReplicaSet>('apps/v1', 'ReplicaSet', { namespace: t.namespace });
      if (signal.class === 'oomkilled') seen.autoscalers = await autoscalersOf(cluster, t);
      if (signal.class === 'evicted' && d) {
        const labelSelector = Object.entries(d.spec?.selector.matchLabels ?? {})
          .map(([a, b]) => `${a}=${b}`)
          .join(',');
        seen.pods = await cluster.list<V1Pod>('v1', 'Pod', { namespace: t.namespace, labelSelector });
      }
      return observedFrom(signal, seen, now());
    },

    async apply(t, step) {
      switch (step.do) {
        case 'rollback': {
          const rs = await cluster.get<V1ReplicaSet>({
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            namespace: t.namespace,
            name: step.toReplicaSet,
          });
          if (!rs) throw new InternalError(`ReplicaSet ${t.namespace}/${step.toReplicaSet} is gone: nothing to roll back to`);
          const template = structuredClone(rs.spec?.template ?? {});
          // As `kubectl rollout undo`: the controller's pod-template-hash label is not part of the template.
          delete template.metadata?.labels?.['pod-template-hash'];
          await cluster.patch(deployment(t), [{ op: 'replace', path: '/spec/template', value: template }], 'json');
          return `${where(t)} back to the template of revision ${step.revision} (${step.toReplicaSet})`;
        }
        case 'delete-pod': {
          const pod = { apiVersion: 'v1', kind: 'Pod', namespace: t.namespace, name: step.pod };
          const deleted = await cluster.delete(pod, step.uid ? { uid: step.uid } : {});
          return deleted ? `deleted pod ${step.pod}; its controller replaces it` : `pod ${step.pod} was already gone`;
        }
        case 'cordon':
          await cluster.patch({ apiVersion: 'v1', kind: 'Node', name: step.node }, { spec: { unschedulable: true } }, 'merge');
          return `cordoned node ${step.node}`;
        case 'evict': {
          // 429: a PodDisruptionBudget says not now. Never forced; a later signal tries again.
          const r = await cluster.evict({ apiVersion: 'v1', kind: 'Pod', namespace: step.namespace, name: step.pod });
          const pod = `pod ${step.namespace}/${step.pod}`;
          return r === 'evicted'
            ? `evicted ${pod}`
            : r === 'blocked'
              ? `${pod} held by its PodDisruptionBudget`
              : `${pod} was already gone`;
        }
        case 'set-memory': {
          const d = await cluster.get<V1Deployment>(deployment(t));
          const i = d?.spec?.template.spec?.containers.findIndex((c) => c.name === step.container) ?? -1;
          if (!d || i < 0) throw new InternalError(`resize ${where(t)}: container ${step.container} is not in the template`);
          const res = d.spec!.template.spec!.containers[i]!.resources ?? {};
          const value = {
            ...res,
            limits: { ...res.limits, memory: step.limit },
            ...(step.request ? { requests: { ...res.requests, memory: step.request } } : {}),
          };
          await cluster.patch(deployment(t), [{ op: 'add', path: `/spec/template/spec/containers/${i}/resources`, value }], 'json');
          return `container ${step.container} memory limit ${step.limit}${step.request ? `, request ${step.request}` : ''}`;
        }
      }
    },
  };
}
