/** sweep/port — the narrow read-only port sweep needs: opted-in namespaces and what is in them. */
import { fromKubeError, type KubeFactory } from '../_kit/k8s.js';

export type Plain = Record<string, unknown>;

export interface SweepPort {
  namespaces(selector: string): Promise<string[]>;
  pods(namespace: string): Promise<Plain[]>;
  deployments(namespace: string): Promise<Plain[]>;
  /** Warning Events of both APIs are the same objects; core/v1 is read (it always exists). */
  warningEvents(namespace: string): Promise<Plain[]>;
  nodes(): Promise<Plain[]>;
}

/** List items come without apiVersion/kind, and client-node turns timestamps into Dates. */
const plain =
  (apiVersion: string, kind: string) =>
  (items: readonly object[]): Plain[] =>
    items.map((i) => ({ apiVersion, kind, ...(JSON.parse(JSON.stringify(i)) as Plain) }));

export function kubeSweepPort(kube: KubeFactory): SweepPort {
  const call = async <T>(what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      throw fromKubeError(err, what);
    }
  };
  return {
    namespaces: async (selector) => {
      const k = await kube();
      const list = await call('list namespaces', () => k.core.listNamespace({ labelSelector: selector }));
      return list.items.map((n) => n.metadata?.name ?? '').filter((n) => n !== '');
    },
    pods: async (ns) => {
      const k = await kube();
      return plain('v1', 'Pod')((await call(`list pods in ${ns}`, () => k.core.listNamespacedPod({ namespace: ns }))).items);
    },
    deployments: async (ns) => {
      const k = await kube();
      return plain(
        'apps/v1',
        'Deployment',
      )((await call(`list deployments in ${ns}`, () => k.apps.listNamespacedDeployment({ namespace: ns }))).items);
    },
    warningEvents: async (ns) => {
      const k = await kube();
      return plain(
        'v1',
        'Event',
      )((await call(`list events in ${ns}`, () => k.core.listNamespacedEvent({ namespace: ns, fieldSelector: 'type=Warning' }))).items);
    },
    nodes: async () => {
      const k = await kube();
      return plain('v1', 'Node')((await call('list nodes', () => k.core.listNode())).items);
    },
  };
}
