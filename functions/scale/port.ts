/**
 * scale/port — the only place scale reaches the cluster: the shared target port (state, audit),
 * the /scale subresource, the HPA and KEDA ScaledObject that may own the replicas.
 */
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
}

async function call<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (err) {
    throw fromKubeError(err, what);
  }
}

const KEDA_PAUSED = ['autoscaling.keda.sh/paused', 'autoscaling.keda.sh/paused-replicas'];

export function kubeScalePort(kube: KubeFactory): ScalePort {
  const target = targetPort(kube, { annotation: STATE_ANNOTATION, controller: 'reflex.dev/scale' });
  const readScale = async (t: Target) => {
    const k = await kube();
    const where = `${t.kind} ${t.namespace}/${t.name}`;
    return t.kind === 'StatefulSet'
      ? orUndefined(`get scale of ${where}`, () => k.apps.readNamespacedStatefulSetScale({ name: t.name, namespace: t.namespace }))
      : orUndefined(`get scale of ${where}`, () => k.apps.readNamespacedDeploymentScale({ name: t.name, namespace: t.namespace }));
  };
  return {
    load: (t) => target.load(t),
    writeState: (t, rv, s) => target.writeState(t, rv, s),
    audit: (t, a) => target.audit(t, a),

    async replicas(t) {
      return (await readScale(t))?.spec?.replicas;
    },

    async owners(t) {
      const k = await kube();
      const hpas = await call(`list HPAs in ${t.namespace}`, () =>
        k.autoscaling.listNamespacedHorizontalPodAutoscaler({ namespace: t.namespace }),
      );
      const h = hpas.items.find((x) => x.spec?.scaleTargetRef.kind === t.kind && x.spec.scaleTargetRef.name === t.name);
      let kedaPaused: string | undefined;
      try {
        const list = (await k.objects.list('keda.sh/v1alpha1', 'ScaledObject', t.namespace)) as {
          items: {
            metadata?: { name?: string; annotations?: Record<string, string> };
            spec?: { scaleTargetRef?: { name?: string; kind?: string } };
          }[];
        };
        const so = list.items.find(
          (o) => o.spec?.scaleTargetRef?.name === t.name && (o.spec.scaleTargetRef.kind ?? 'Deployment') === t.kind,
        );
        const key = KEDA_PAUSED.find((a) => so?.metadata?.annotations?.[a] !== undefined && so.metadata.annotations[a] !== 'false');
        if (key) kedaPaused = `ScaledObject ${so?.metadata?.name}: ${key}`;
      } catch (err) {
        // No KEDA installed: its API is not served (404), or discovery does not know the kind.
        const status = apiStatus(err);
        if (status !== undefined && status !== 404) throw fromKubeError(err, `list ScaledObjects in ${t.namespace}`);
      }
      return {
        ...(h
          ? {
              hpa: {
                name: h.metadata?.name ?? '',
                minReplicas: h.spec?.minReplicas ?? 1,
                maxReplicas: h.spec?.maxReplicas ?? 1,
                scalingDisabled:
                  h.status?.conditions?.some((c) => c.type === 'ScalingActive' && c.status === 'False' && c.reason === 'ScalingDisabled') ??
                  false,
              },
            }
          : {}),
        ...(kedaPaused ? { kedaPaused } : {}),
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
      await call(`scale ${t.kind} ${t.namespace}/${t.name}`, () =>
        t.kind === 'StatefulSet'
          ? k.apps.patchNamespacedStatefulSetScale({ name: t.name, namespace: t.namespace, body }, merge)
          : k.apps.patchNamespacedDeploymentScale({ name: t.name, namespace: t.namespace, body }, merge),
      );
      return `${t.kind} ${t.namespace}/${t.name} to ${step.to} replicas`;
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
      return [
        ...deployments.items.filter(carries).map(target('Deployment')),
        ...statefulsets.items.filter(carries).map(target('StatefulSet')),
      ];
    },
  };
}
