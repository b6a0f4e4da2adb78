/**
 * sweep/port — the narrow port sweep needs: opted-in namespaces and what is in them (read-only),
 * and its one piece of state, the problems still open, in a ConfigMap in its own namespace.
 */
import { ConflictError } from '../_kit/errors.js';
import { apiStatus, fromKubeError, type KubeFactory } from '../_kit/k8s.js';
import type { OpenState } from './resolve.js';

export type Plain = Record<string, unknown>;

export interface SweepPort {
  namespaces(selector: string): Promise<string[]>;
  pods(namespace: string): Promise<Plain[]>;
  deployments(namespace: string): Promise<Plain[]>;
  /** Warning Events of both APIs are the same objects; core/v1 is read (it always exists). */
  warningEvents(namespace: string): Promise<Plain[]>;
  nodes(): Promise<Plain[]>;
  /** The open problems and the ConfigMap's resourceVersion (undefined: not created yet). */
  openProblems(): Promise<{ state: OpenState; resourceVersion: string | undefined }>;
  /** Writes them if the ConfigMap is still at `resourceVersion`; ConflictError if not. */
  saveOpen(state: OpenState, resourceVersion: string | undefined): Promise<void>;
}

/** Where sweep keeps the problems it has found and not yet seen resolved. */
export const OPEN_CONFIGMAP = 'reflex-sweep-open';
const OPEN_KEY = 'open.json';

/** List items come without apiVersion/kind, and client-node turns timestamps into Dates. */
const plain =
  (apiVersion: string, kind: string) =>
  (items: readonly object[]): Plain[] =>
    items.map((i) => ({ apiVersion, kind, ...(JSON.parse(JSON.stringify(i)) as Plain) }));

export function kubeSweepPort(kube: KubeFactory, namespace = 'reflex'): SweepPort {
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
    openProblems: async () => {
      const k = await kube();
      try {
        const cm = await k.core.readNamespacedConfigMap({ name: OPEN_CONFIGMAP, namespace });
        let state: OpenState = {};
        try {
          state = JSON.parse(cm.data?.[OPEN_KEY] ?? '{}') as OpenState;
        } catch {
          // A hand-edited, broken value must not stop sweep; the next write replaces it.
        }
        return { state, resourceVersion: cm.metadata?.resourceVersion };
      } catch (err) {
        if (apiStatus(err) === 404) return { state: {}, resourceVersion: undefined };
        throw fromKubeError(err, `read ConfigMap ${OPEN_CONFIGMAP}`);
      }
    },
    saveOpen: async (state, resourceVersion) => {
      const k = await kube();
      const data = { [OPEN_KEY]: JSON.stringify(state) };
      try {
        if (resourceVersion === undefined)
          await k.core.createNamespacedConfigMap({ namespace, body: { metadata: { name: OPEN_CONFIGMAP }, data } });
        // A replace carrying the resourceVersion read: another tick's write in between is a 409.
        else
          await k.core.replaceNamespacedConfigMap({
            name: OPEN_CONFIGMAP,
            namespace,
            body: { metadata: { name: OPEN_CONFIGMAP, resourceVersion }, data },
          });
      } catch (err) {
        if (apiStatus(err) === 409) throw new ConflictError(`ConfigMap ${OPEN_CONFIGMAP} changed while sweeping`);
        throw fromKubeError(err, `write ConfigMap ${OPEN_CONFIGMAP}`);
      }
    },
  };
}
