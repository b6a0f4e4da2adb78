/**
 * recover/port — the only place recover reaches the cluster: the shared target port (state,
 * audit) plus what the playbooks read and the steps they apply, idempotently (absolute values,
 * uid preconditions). API errors become kit errors here.
 */
import { autoscalersOf } from '../_act/autoscalers.js';
import { orUndefined, targetPort, type TargetPort } from '../_act/target.js';
import { apiStatus, fromKubeError, type Kube, type KubeFactory } from '../_kit/k8s.js';
import type { SignalData, Target } from '../_signals/model.js';
import { STATE_ANNOTATION, type Observed, type Step } from './decide.js';
import { observedFrom, type Seen } from './observe.js';

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
      const seen: Seen = {};
      if (signal.involved.kind === 'Pod' && signal.involved.namespace) {
        seen.pod = await orUndefined(`get pod ${signal.involved.name}`, () =>
          k.core.readNamespacedPod({ name: signal.involved.name, namespace: signal.involved.namespace! }),
        );
      }
      if (t.kind === 'Node' && signal.class === 'nodenotready') {
        seen.nodes = (await call('list nodes', () => k.core.listNode())).items;
        seen.pods = (
          await call(`list pods on ${t.name}`, () => k.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${t.name}` }))
        ).items;
        return observedFrom(signal, seen);
      }
      if (t.kind !== 'Deployment') return observedFrom(signal, seen);
      const d = await call(`get Deployment ${t.namespace}/${t.name}`, () =>
        k.apps.readNamespacedDeployment({ name: t.name, namespace: t.namespace }),
      );
      seen.deployment = d;
      if (signal.class === 'crashloop' || signal.class === 'rolloutstalled')
        seen.replicaSets = (
          await call(`list replicasets in ${t.namespace}`, () => k.apps.listNamespacedReplicaSet({ namespace: t.namespace }))
        ).items;
      if (signal.class === 'oomkilled') seen.autoscalers = await autoscalersOf(k, t);
      if (signal.class === 'evicted') {
        const selector = Object.entries(d.spec?.selector.matchLabels ?? {})
          .map(([a, b]) => `${a}=${b}`)
          .join(',');
        seen.pods = (
          await call(`list pods in ${t.namespace}`, () => k.core.listNamespacedPod({ namespace: t.namespace, labelSelector: selector }))
        ).items;
      }
      return observedFrom(signal, seen);
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
