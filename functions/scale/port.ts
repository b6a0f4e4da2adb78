/**
 * scale/port — what scale reads and changes, over the kit's Cluster port: the shared target port
 * (state, audit), the /scale subresource, the HPA and KEDA ScaledObject that may own the replicas,
 * and the registry of custom-kind targets that ticks could not find by listing.
 */
import { createHash } from 'node:crypto';
import type { ActingPort } from '../_act/act.js';
import { autoscalersOf } from '../_act/autoscalers.js';
import { refOf, targetPort } from '../_act/target.js';
import type { Target } from '../_contracts/events.js';
import { InternalError } from '../_kit/errors.js';
import { where, type Cluster, type KubeObject } from '../_kit/k8s.js';
import { STATE_ANNOTATION, type Owners, type ScaleStep } from './decide.js';

export interface ScalePort extends ActingPort<ScaleStep> {
  /** spec.replicas through /scale; undefined when the target has no scale subresource. */
  replicas(target: Target): Promise<number | undefined>;
  owners(target: Target): Promise<Owners>;
  /** Workloads scale has acted on (they carry its state annotation): what a tick looks at. */
  scaled(): Promise<Target[]>;
  /**
   * Remembers a target of another kind than Deployment/StatefulSet, which ticks could not find
   * by listing: the ConfigMap reflex-scale-targets in the function's own namespace.
   */
  remember(target: Target): Promise<void>;
}

/** Where custom-kind targets are remembered (in the function's own namespace). */
export const REGISTRY = 'reflex-scale-targets';

export function scalePort(cluster: Cluster, namespace = 'reflex'): ScalePort {
  const ref = (t: Target) => {
    const r = refOf(t);
    if (!r) throw new InternalError(`${where(t)}: a target of a custom kind needs its apiVersion`);
    return r;
  };
  const registry = { apiVersion: 'v1', kind: 'ConfigMap', namespace, name: REGISTRY };
  return {
    ...targetPort(cluster, { annotation: STATE_ANNOTATION, fn: 'scale' }),

    replicas: (t) => cluster.replicas(ref(t)),

    async owners(t) {
      const found = await autoscalersOf(cluster, t);
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
      if (step.do === 'hpa-min') {
        const hpa = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', namespace: t.namespace, name: step.hpa };
        if (!(await cluster.patch(hpa, { spec: { minReplicas: step.to } }, 'merge')))
          throw new InternalError(`HPA ${t.namespace}/${step.hpa} is gone`);
        return `HPA ${t.namespace}/${step.hpa} minReplicas ${step.to}`;
      }
      // The /scale subresource, with an absolute value: the claim on the state annotation
      // (resourceVersion precondition) already made this change ours, and the controller's
      // status writes would make a replace with a resourceVersion fail for nothing.
      const now = await cluster.replicas(ref(t));
      if (now === step.to) return `${where(t)} already at ${step.to} replicas`;
      if (now === undefined || !(await cluster.setReplicas(ref(t), step.to))) throw new InternalError(`${where(t)} is gone`);
      return `${where(t)} to ${step.to} replicas`;
    },

    async remember(t) {
      const key = createHash('sha256').update(`${t.apiVersion}|${t.kind}|${t.namespace}|${t.name}`).digest('hex').slice(0, 16);
      const data = {
        [key]: JSON.stringify({ apiVersion: t.apiVersion, kind: t.kind, namespace: t.namespace, name: t.name, resolvedBy: 'self' }),
      };
      // A merge patch adds one key: writers of other keys cannot lose each other's. If the
      // ConfigMap is not there yet, create it; if another replica created it first, patch theirs.
      if (await cluster.patch(registry, { data }, 'merge')) return;
      if (await cluster.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: REGISTRY, namespace }, data })) return;
      await cluster.patch(registry, { data }, 'merge');
    },

    async scaled() {
      const carrying = async (kind: string): Promise<Target[]> =>
        (await cluster.list('apps/v1', kind))
          .filter((o) => o.metadata?.annotations?.[STATE_ANNOTATION] !== undefined)
          .map((o) => ({
            apiVersion: 'apps/v1',
            kind,
            namespace: o.metadata?.namespace ?? '',
            name: o.metadata?.name ?? '',
            resolvedBy: 'self',
          }));
      const cm = await cluster.get<KubeObject & { data?: Record<string, string> }>(registry);
      const custom = Object.values(cm?.data ?? {}).map((v) => JSON.parse(v) as Target);
      return [...(await carrying('Deployment')), ...(await carrying('StatefulSet')), ...custom];
    },
  };
}
