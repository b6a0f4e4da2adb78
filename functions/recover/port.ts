/**
 * recover/port — the only place recover reaches the cluster: the shared target port (state,
 * audit) plus what the playbooks read and the steps they apply, idempotently (absolute values,
 * uid preconditions). API errors become kit errors here.
 */
import { autoscalersOf } from '../_act/autoscalers.js';
import { orUndefined, targetPort, type TargetPort } from '../_act/target.js';
import { apiStatus, fromKubeError, type Kube, type KubeFactory } from '../_kit/k8s.js';
import type { SignalData, Target } from '../_signals/model.js';
import { STATE_ANNOTATION, type Observed, type ReplicaSetView, type Step } from './decide.js';

export interface RecoverPort extends TargetPort {
  observe(signal: SignalData): Promise<Observed>;
  apply(target: Target, step: Step): Promise<string>;
}

async function call<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw fromKubeError(err, what);
  }
}

export function kubeRecoverPort(kube: KubeFactory): RecoverPort {
  const target = targetPort(kube, { annotation: STATE_ANNOTATION, controller: 'reflex.dev/recover' });
  const jsonPatch = async (k: Kube) => k.lib.setHeaderOptions('Content-Type', k.lib.PatchStrategy.JsonPatch);

  return {
    load: (t) => target.load(t),
    writeState: (t, rv, state) => target.writeState(t, rv, state),
    audit: (t, a) => target.audit(t, a),

    async observe(signal) {
      const k = await kube();
      const t = signal.target;
      const out: { -readonly [K in keyof Observed]: Observed[K] } = {};
      if (signal.involved.kind === 'Pod' && signal.involved.namespace) {
        const pod = await orUndefined(`get pod ${signal.involved.name}`, () =>
          k.core.readNamespacedPod({ name: signal.involved.name, namespace: signal.involved.namespace! }),
        );
        if (pod?.metadata?.uid) out.podUid = pod.metadata.uid;
      }
      if (t.kind === 'Node' && signal.class === 'nodenotready') {
        const nodes = await call('list nodes', () => k.core.listNode());
        const notReady = nodes.items.filter((n) => n.status?.conditions?.find((c) => c.type === 'Ready')?.status !== 'True').length;
        out.nodes = { total: nodes.items.length, notReady };
        const pods = await call(`list pods on ${t.name}`, () =>
          k.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${t.name}` }),
        );
        // DaemonSet pods would come straight back, mirror pods cannot be evicted; terminating ones are on their way.
        out.podsOnNode = pods.items
          .filter(
            (p) =>
              !p.metadata?.deletionTimestamp &&
              !p.metadata?.annotations?.['kubernetes.io/config.mirror'] &&
              !p.metadata?.ownerReferences?.some((o) => o.kind === 'DaemonSet'),
          )
          .map((p) => ({ namespace: p.metadata?.namespace ?? '', name: p.metadata?.name ?? '' }));
        return out;
      }
      if (t.kind !== 'Deployment') return out;
      const d = await call(`get Deployment ${t.namespace}/${t.name}`, () =>
        k.apps.readNamespacedDeployment({ name: t.name, namespace: t.namespace }),
      );
      if (signal.class === 'crashloop' || signal.class === 'rolloutstalled') {
        const list = await call(`list replicasets in ${t.namespace}`, () => k.apps.listNamespacedReplicaSet({ namespace: t.namespace }));
        out.replicaSets = list.items
          .filter((r) => r.metadata?.ownerReferences?.some((o) => o.uid === d.metadata?.uid))
          .map((r): ReplicaSetView => ({
            name: r.metadata?.name ?? '',
            revision: Number(r.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? 0),
            readyReplicas: r.status?.readyReplicas ?? 0,
          }));
      }
      if (signal.class === 'oomkilled') {
        const c = d.spec?.template.spec?.containers.find((x) => x.name === signal.container);
        out.memory = { limit: c?.resources?.limits?.['memory'], request: c?.resources?.requests?.['memory'] };
        out.autoscalers = await autoscalersOf(k, t);
      }
      if (signal.class === 'evicted') {
        const selector = Object.entries(d.spec?.selector.matchLabels ?? {})
          .map(([a, b]) => `${a}=${b}`)
          .join(',');
        const pods = await call(`list pods in ${t.namespace}`, () =>
          k.core.listNamespacedPod({ namespace: t.namespace, labelSelector: selector }),
        );
        const now = Date.now();
        out.evictedPods = pods.items
          .filter((p) => p.status?.phase === 'Failed' && p.status.reason === 'Evicted')
          .map((p) => ({
            name: p.metadata?.name ?? '',
            uid: p.metadata?.uid ?? '',
            ageSeconds: (now - new Date(p.status?.startTime ?? p.metadata?.creationTimestamp ?? now).getTime()) / 1000,
          }));
      }
      return out;
    },

    async apply(t, step) {
      const k = await kube();
      switch (step.do) {
        case 'rollback': {
          const rs = await call(`get ReplicaSet ${step.toReplicaSet}`, () =>
            k.apps.readNamespacedReplicaSet({ name: step.toReplicaSet, namespace: t.namespace }),
          );
          const template = structuredClone(rs.spec?.template ?? {});
          // As `kubectl rollout undo`: the controller's pod-template-hash label is not part of the template.
          delete template.metadata?.labels?.['pod-template-hash'];
          await call(`roll back Deployment ${t.namespace}/${t.name}`, async () =>
            k.apps.patchNamespacedDeployment(
              { name: t.name, namespace: t.namespace, body: [{ op: 'replace', path: '/spec/template', value: template }] },
              await jsonPatch(k),
            ),
          );
          return `Deployment ${t.namespace}/${t.name} back to the template of revision ${step.revision} (${step.toReplicaSet})`;
        }
        case 'delete-pod': {
          const gone = await orUndefined(`delete pod ${step.pod}`, () =>
            k.core.deleteNamespacedPod({
              name: step.pod,
              namespace: t.namespace,
              body: step.uid ? { preconditions: { uid: step.uid } } : {},
            }),
          );
          return gone === undefined ? `pod ${step.pod} was already gone` : `deleted pod ${step.pod}; its controller replaces it`;
        }
        case 'cordon': {
          const merge = k.lib.setHeaderOptions('Content-Type', k.lib.PatchStrategy.MergePatch);
          await call(`cordon node ${step.node}`, () =>
            k.core.patchNode({ name: step.node, body: { spec: { unschedulable: true } } }, merge),
          );
          return `cordoned node ${step.node}`;
        }
        case 'evict': {
          try {
            await k.core.createNamespacedPodEviction({
              name: step.pod,
              namespace: step.namespace,
              body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: step.pod, namespace: step.namespace } },
            });
            return `evicted pod ${step.namespace}/${step.pod}`;
          } catch (err) {
            // 429: a PodDisruptionBudget says not now. Never forced; a later signal tries again.
            if (apiStatus(err) === 429) return `pod ${step.namespace}/${step.pod} held by its PodDisruptionBudget`;
            if (apiStatus(err) === 404) return `pod ${step.namespace}/${step.pod} was already gone`;
            throw fromKubeError(err, `evict pod ${step.namespace}/${step.pod}`);
          }
        }
        case 'set-memory': {
          const d = await call(`get Deployment ${t.namespace}/${t.name}`, () =>
            k.apps.readNamespacedDeployment({ name: t.name, namespace: t.namespace }),
          );
          const i = d.spec?.template.spec?.containers.findIndex((c) => c.name === step.container) ?? -1;
          if (i < 0) throw fromKubeError(new Error(`container ${step.container} is not in the template`), `resize ${t.name}`);
          const res = d.spec!.template.spec!.containers[i]!.resources ?? {};
          const value = {
            ...res,
            limits: { ...res.limits, memory: step.limit },
            ...(step.request ? { requests: { ...res.requests, memory: step.request } } : {}),
          };
          await call(`resize Deployment ${t.namespace}/${t.name}`, async () =>
            k.apps.patchNamespacedDeployment(
              { name: t.name, namespace: t.namespace, body: [{ op: 'add', path: `/spec/template/spec/containers/${i}/resources`, value }] },
              await jsonPatch(k),
            ),
          );
          return `container ${step.container} memory limit ${step.limit}${step.request ? `, request ${step.request}` : ''}`;
        }
      }
    },
  };
}
