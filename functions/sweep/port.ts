/**
 * sweep/port — the narrow port sweep needs: opted-in namespaces and what is in them (read-only),
 * and its one piece of state, the problems still open, in a ConfigMap in its own namespace.
 */
import { ConflictError } from '../_kit/errors.js';
import type { Cluster, KubeObject } from '../_kit/k8s.js';
import type { OpenState } from './resolve.js';

export type Plain = KubeObject;

export interface SweepPort {
  namespaces(selector: string): Promise<string[]>;
  pods(namespace: string): Promise<Plain[]>;
  deployments(namespace: string): Promise<Plain[]>;
  jobs(namespace: string): Promise<Plain[]>;
  claims(namespace: string): Promise<Plain[]>;
  /** Warning Events of both APIs are the same objects; core/v1 is read (it always exists). */
  warningEvents(namespace: string): Promise<Plain[]>;
  nodes(): Promise<Plain[]>;
  /** Warning Events about Nodes, which the kubelet and node-problem-detector write in `default`. */
  nodeWarningEvents(): Promise<Plain[]>;
  /** The open problems and the ConfigMap's resourceVersion (undefined: not created yet). */
  openProblems(): Promise<{ state: OpenState; resourceVersion: string | undefined }>;
  /** Writes them if the ConfigMap is still at `resourceVersion`; ConflictError if not. */
  saveOpen(state: OpenState, resourceVersion: string | undefined): Promise<void>;
}

/**
 * Where the kubelet and node-problem-detector write Events about Nodes: client-go's recorder puts an
 * Event about a cluster-scoped object in `default` (tools/record/event.go makeEvent).
 */
export const NODE_EVENTS_NAMESPACE = 'default';

/** Where sweep keeps the problems it has found and not yet seen resolved. */
export const OPEN_CONFIGMAP = 'reflex-sweep-open';
const OPEN_KEY = 'open.json';

export function sweepPort(cluster: Cluster, namespace = 'reflex'): SweepPort {
  const open = { apiVersion: 'v1', kind: 'ConfigMap', namespace, name: OPEN_CONFIGMAP };
  return {
    namespaces: async (labelSelector) =>
      (await cluster.list('v1', 'Namespace', { labelSelector })).map((n) => n.metadata?.name ?? '').filter((n) => n !== ''),
    pods: (ns) => cluster.list('v1', 'Pod', { namespace: ns }),
    deployments: (ns) => cluster.list('apps/v1', 'Deployment', { namespace: ns }),
    jobs: (ns) => cluster.list('batch/v1', 'Job', { namespace: ns }),
    claims: (ns) => cluster.list('v1', 'PersistentVolumeClaim', { namespace: ns }),
    warningEvents: (ns) => cluster.list('v1', 'Event', { namespace: ns, fieldSelector: 'type=Warning' }),
    nodes: () => cluster.list('v1', 'Node'),
    nodeWarningEvents: () =>
      cluster.list('v1', 'Event', { namespace: NODE_EVENTS_NAMESPACE, fieldSelector: 'type=Warning,involvedObject.kind=Node' }),
    openProblems: async () => {
      const cm = await cluster.get<KubeObject & { data?: Record<string, string> }>(open);
      if (!cm) return { state: {}, resourceVersion: undefined };
      let state: OpenState = {};
      try {
        state = JSON.parse(cm.data?.[OPEN_KEY] ?? '{}') as OpenState;
      } catch {
        // A hand-edited, broken value must not stop sweep; the next write replaces it.
      }
      return { state, resourceVersion: cm.metadata?.resourceVersion };
    },
    saveOpen: async (state, resourceVersion) => {
      const data = { [OPEN_KEY]: JSON.stringify(state) };
      // Created by the first tick; afterwards a merge patch carrying the resourceVersion read, so
      // another tick's write in between is a 409. Gone or already there: someone else won.
      const done =
        resourceVersion === undefined
          ? (await cluster.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: OPEN_CONFIGMAP, namespace }, data })) !==
            undefined
          : await cluster.patch(open, { metadata: { resourceVersion }, data }, 'merge');
      if (!done) throw new ConflictError(`ConfigMap ${OPEN_CONFIGMAP} changed while sweeping`);
    },
  };
}
