/**
 * _act/autoscalers — the other owners of a workload's replicas: the HorizontalPodAutoscalers and
 * KEDA ScaledObjects that target it (read through the port), and the pure check every acting
 * function shares: would a change we plan make one of them scale the workload down?
 */
import type { V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import type { Cluster } from '../_kit/k8s.js';
import type { Target } from '../_contracts/events.js';

export interface Autoscaler {
  readonly kind: 'HorizontalPodAutoscaler' | 'ScaledObject';
  readonly name: string;
  /**
   * Resources it measures as a percentage of the pods' requests ('cpu', 'memory'), optionally for
   * one container: raising such a request lowers the utilization it sees, so it scales down.
   */
  readonly utilization: readonly { readonly resource: string; readonly container?: string }[];
  readonly minReplicas?: number;
  readonly maxReplicas?: number;
  /** HPA condition ScalingActive=False/ScalingDisabled: the workload is at zero, the HPA is off. */
  readonly scalingDisabled?: boolean;
  /** Which of KEDA's autoscaling.keda.sh/paused* annotations pauses it, when one does. */
  readonly paused?: string;
}

const KEDA_PAUSED = ['autoscaling.keda.sh/paused', 'autoscaling.keda.sh/paused-replicas'];

interface MetricTarget {
  type?: string;
}
interface ScaledObject {
  metadata?: { name?: string; annotations?: Record<string, string> };
  spec?: {
    scaleTargetRef?: { name?: string; kind?: string };
    triggers?: { type?: string; metricType?: string; metadata?: Record<string, string> }[];
  };
}

/** Every HPA and ScaledObject in the target's namespace whose scaleTargetRef is the target. */
export async function autoscalersOf(cluster: Cluster, t: Target): Promise<Autoscaler[]> {
  const out: Autoscaler[] = [];
  for (const h of await cluster.list<V2HorizontalPodAutoscaler>('autoscaling/v2', 'HorizontalPodAutoscaler', { namespace: t.namespace })) {
    if (h.spec?.scaleTargetRef.kind !== t.kind || h.spec.scaleTargetRef.name !== t.name) continue;
    const utilization: { resource: string; container?: string }[] = [];
    for (const m of h.spec.metrics ?? []) {
      const r = m.resource as { name: string; target: MetricTarget } | undefined;
      const c = m.containerResource as { name: string; container: string; target: MetricTarget } | undefined;
      if (m.type === 'Resource' && r?.target.type === 'Utilization') utilization.push({ resource: r.name });
      if (m.type === 'ContainerResource' && c?.target.type === 'Utilization')
        utilization.push({ resource: c.name, container: c.container });
    }
    // autoscaling/v2 defaults an HPA without metrics to 80% CPU utilization.
    if (!h.spec.metrics?.length) utilization.push({ resource: 'cpu' });
    out.push({
      kind: 'HorizontalPodAutoscaler',
      name: h.metadata?.name ?? '',
      utilization,
      minReplicas: h.spec.minReplicas ?? 1,
      maxReplicas: h.spec.maxReplicas,
      scalingDisabled:
        h.status?.conditions?.some((c) => c.type === 'ScalingActive' && c.status === 'False' && c.reason === 'ScalingDisabled') ?? false,
    });
  }
  // No KEDA installed: its API is not served, and the list is empty.
  for (const so of await cluster.list<ScaledObject>('keda.sh/v1alpha1', 'ScaledObject', { namespace: t.namespace })) {
    if (so.spec?.scaleTargetRef?.name !== t.name || (so.spec.scaleTargetRef.kind ?? 'Deployment') !== t.kind) continue;
    const pausedBy = KEDA_PAUSED.find((a) => so.metadata?.annotations?.[a] !== undefined && so.metadata.annotations[a] !== 'false');
    out.push({
      kind: 'ScaledObject',
      name: so.metadata?.name ?? '',
      // KEDA's cpu/memory scalers: metricType (or the older metadata.type) defaults to Utilization.
      utilization: (so.spec.triggers ?? [])
        .filter(
          (tr) =>
            (tr.type === 'cpu' || tr.type === 'memory') && (tr.metricType ?? tr.metadata?.['type'] ?? 'Utilization') === 'Utilization',
        )
        .map((tr) => ({ resource: tr.type!, ...(tr.metadata?.['containerName'] ? { container: tr.metadata['containerName'] } : {}) })),
      ...(pausedBy ? { paused: pausedBy } : {}),
    });
  }
  return out;
}

/**
 * Pure. Why raising `resource`'s request of `container` would make an autoscaler of the target
 * scale it down (it measures that resource as utilization of the request), or undefined.
 */
export function scaledDownBy(autoscalers: readonly Autoscaler[], resource: string, container: string): string | undefined {
  const a = autoscalers.find((x) => x.utilization.some((u) => u.resource === resource && (u.container ?? container) === container));
  if (!a) return undefined;
  return `${a.kind} ${a.name} scales this workload on ${resource} utilization, a percentage of the request: a larger ${resource} request would make it scale the workload down`;
}
