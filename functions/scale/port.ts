/**
 * scale/port — the only place scale reaches the cluster: the shared target port (state, audit),
 * the /scale subresource, the HPA and KEDA ScaledObject that may own the replicas.
 */
import { createHash } from 'node:crypto';
import { autoscalersOf } from '../_act/autoscalers.js';
import { orUndefined, targetPort, type TargetPort } from '../_act/target.js';
import { apiStatus, fromKubeError, type KubeFactory } from '../_kit/k8s.js';
import type { Target } from '../_signals/model.js';
import { STATE_ANNOTATION, type Owners, type ScaleStep } from './decide.js';

export interface ScalePort extends TargetPort {
  replicas(target: Target): Promise<number | undefined>;
  owners(target: Target): Promise<Owners>;
  apply(target: Target, step: ScaleStep): Promise<string>;
  /** Workloads scale has acted on (they carry its state annotation): what a tick looks at. */
  scaled(): Promise<Target[]>;
  /**
   * Remembers a target of another kind than Deployment/StatefulSet, which ticks could not find
   * by listing: the ConfigMap reflex-scale-targets in the function's own namespace.
   */
  remember(target: Target): Promise<void>;
}

async function call<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw fromKubeError(err, what);
  }
}

/** Where custom-kind targets are remembered (in the function's own namespace). */
export const REGISTRY = 'reflex-scale-targets';

export function kubeScalePort(kube: KubeFactory, namespace = 'reflex'): ScalePort {
  const target = targetPort(kube, { annotation: STATE_ANNOTATION, controller: 'reflex.dev/scale' });
  /** group, version and plural of a kind outside apps/v1, for the generic /scale endpoints. */
  const custom = async (t: Target): Promise<{ group: string; version: string; plural: string; namespace: string; name: string }> => {
    const k = await kube();
    const [group, version] = (t.apiVersion ?? '').includes('/') ? (t.apiVersion as string).split('/') : ['', t.apiVersion ?? ''];
    const plural = await call(`discover ${t.apiVersion} ${t.kind}`, () => k.plural(t.apiVersion ?? '', t.kind));
    if (!plural) throw fromKubeError(new Error(`the API server does not serve ${t.apiVersion} ${t.kind}`), `scale ${t.kind} ${t.name}`);
    return { group: group!, version: version!, plural, namespace: t.namespace, name: t.name };
  };
  const readScale = async (t: Target): Promise<{ spec?: { replicas?: number } } | undefined> => {
    const k = await kube();
    const where = `${t.kind} ${t.namespace}/${t.name}`;
    if (t.kind === 'StatefulSet')
      return orUndefined(`get scale of ${where}`, () => k.apps.readNamespacedStatefulSetScale({ name: t.name, namespace: t.namespace }));
    if (t.kind === 'Deployment')
      return orUndefined(`get scale of ${where}`, () => k.apps.readNamespacedDeploymentScale({ name: t.name, namespace: t.namespace }));
    const ref = await custom(t);
    return orUndefined(
      `get scale of ${where}`,
      async () => (await k.custom.getNamespacedCustomObjectScale(ref)) as { spec?: { replicas?: number } },
    );
  };
  return {
    load: (t) => target.load(t),
    writeState: (t, rv, s) => target.writeState(t, rv, s),
    audit: (t, a) => target.audit(t, a),

    async replicas(t) {
      return (await readScale(t))?.spec?.replicas;
    },

    async owners(t) {
      const found = await autoscalersOf(await kube(), t);
      const h = found.find((a) => a.kind === 'HorizontalPodAutoscaler');
      const paused = found.find((a) => a.kind === 'ScaledObject' && a.paused);
      return {
        ...(h
          ? {
              hpa: {
                name: h.name,
                minReplicas: h.minReplicas ?? 1,
                maxReplicas: h.maxReplicas ?? 1,
                scalingDisabled: h.scalingDisabled ?? false,
              },
            }
          : {}),
        ...(paused ? { kedaPaused: `ScaledObject ${paused.name}: ${paused.paused}` } : {}),
      };
    },

    async apply(t, step) {
      const k = await kube();
      if (step.do === 'hpa-min') {
        const merge = k.lib.setHeaderOptions('Content-Type', k.lib.PatchStrategy.MergePatch);
        await call(`set minReplicas of HPA ${step.hpa}`, () =>
          k.autoscaling.patchNamespacedHorizontalPodAutoscaler(
            { name: step.hpa, namespace: t.namespace, body: { spec: { minReplicas: step.to } } },
            merge,
          ),
        );
        return `HPA ${t.namespace}/${step.hpa} minReplicas ${step.to}`;
      }
      // The /scale subresource, with an absolute value: the claim on the state annotation
      // (resourceVersion precondition) already made this change ours, and the controller's
      // status writes would make a replace with a resourceVersion fail for nothing.
      const scale = await readScale(t);
      if (!scale) throw fromKubeError(new Error('gone'), `scale ${t.kind} ${t.namespace}/${t.name}`);
      if (scale.spec?.replicas === step.to) return `${t.kind} ${t.namespace}/${t.name} already at ${step.to} replicas`;
      const merge = k.lib.setHeaderOptions('Content-Type', k.lib.PatchStrategy.MergePatch);
      const body = { spec: { replicas: step.to } };
      await call(`scale ${t.kind} ${t.namespace}/${t.name}`, async () =>
        t.kind === 'StatefulSet'
          ? k.apps.patchNamespacedStatefulSetScale({ name: t.name, namespace: t.namespace, body }, merge)
          : t.kind === 'Deployment'
            ? k.apps.patchNamespacedDeploymentScale({ name: t.name, namespace: t.namespace, body }, merge)
            : k.custom.patchNamespacedCustomObjectScale({ ...(await custom(t)), body }, merge),
      );
      return `${t.kind} ${t.namespace}/${t.name} to ${step.to} replicas`;
    },

    async remember(t) {
      const k = await kube();
      const key = createHash('sha256').update(`${t.apiVersion}|${t.kind}|${t.namespace}|${t.name}`).digest('hex').slice(0, 16);
      const entry = JSON.stringify({ apiVersion: t.apiVersion, kind: t.kind, namespace: t.namespace, name: t.name, resolvedBy: 'self' });
      const merge = k.lib.setHeaderOptions('Content-Type', k.lib.PatchStrategy.MergePatch);
      const add = () => k.core.patchNamespacedConfigMap({ name: REGISTRY, namespace, body: { data: { [key]: entry } } }, merge);
      try {
        // A merge patch adds one key: writers of other keys cannot lose each other's.
        await add();
      } catch (err) {
        if (apiStatus(err) !== 404) throw fromKubeError(err, `remember ${t.kind} ${t.name}`);
        try {
          await k.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: REGISTRY }, data: { [key]: entry } } });
        } catch (e) {
          // Another replica created it first: add our key to theirs.
          if (apiStatus(e) !== 409) throw fromKubeError(e, `create ConfigMap ${REGISTRY}`);
          await call(`remember ${t.kind} ${t.name}`, add);
        }
      }
    },

    async scaled() {
      const k = await kube();
      const carries = (o: { metadata?: { annotations?: Record<string, string>; namespace?: string; name?: string } }): boolean =>
        o.metadata?.annotations?.[STATE_ANNOTATION] !== undefined;
      const target =
        (kind: string) =>
        (o: { metadata?: { namespace?: string; name?: string } }): Target => ({
          apiVersion: 'apps/v1',
          kind,
          namespace: o.metadata?.namespace ?? '',
          name: o.metadata?.name ?? '',
          resolvedBy: 'self',
        });
      const deployments = await call('list deployments', () => k.apps.listDeploymentForAllNamespaces());
      const statefulsets = await call('list statefulsets', () => k.apps.listStatefulSetForAllNamespaces());
      const cm = await orUndefined(`get ConfigMap ${REGISTRY}`, () => k.core.readNamespacedConfigMap({ name: REGISTRY, namespace }));
      const custom = Object.values(cm?.data ?? {}).map((v) => JSON.parse(v) as Target);
      return [
        ...deployments.items.filter(carries).map(target('Deployment')),
        ...statefulsets.items.filter(carries).map(target('StatefulSet')),
        ...custom,
      ];
    },
  };
}
