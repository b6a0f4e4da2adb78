/**
 * test/cluster/incident — a recorded incident (examples/incident/checkout.ndjson) made real on the
 * test control plane: the state it starts from built by the real controllers (Deployments, their
 * ReplicaSets and Pods; a rollout to a second revision), the kubelet's and scheduler's parts played
 * (bindings, pod status, node conditions), then each recorded change written as the component that
 * recorded it writes it (core/v1 Events created then PATCHed with count, events.k8s.io Events with
 * their series, Pod status through the status subresource), its times moved to now with their
 * spacing kept. The recording's names (namespace, pods, ReplicaSets, nodes, uids) map to the real
 * ones, so what the functions decide can be compared with what they decided on the recording.
 */
import { PatchStrategy, setHeaderOptions, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import type { K8sObject } from '../../dev/mesh/apiserversource.js';
import { ownTimeOf, type Recorded, type WatchRecord } from '../../dev/mesh/replay.js';
import { admin, eventually } from './kube.js';

const a = admin();
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Recorded name or uid -> the real one. */
export type NameMap = Map<string, string>;

/** Replaces every recorded name in `text` in one pass (longest first, never a replacement again). */
export function mapNames(text: string, names: NameMap): string {
  const keys = [...names.keys()].sort((x, y) => y.length - x.length);
  if (keys.length === 0) return text;
  const re = new RegExp(keys.map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  return text.replace(re, (k) => names.get(k)!);
}

const ISO = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.(\d+))?Z$/;

/** Every timestamp in `o` moved by `offsetMs`, its precision kept (a MicroTime stays six digits). */
export function shifted<T>(o: T, offsetMs: number): T {
  if (typeof o === 'string') {
    const m = ISO.exec(o);
    if (!m) return o;
    const t = new Date(new Date(o).getTime() + offsetMs).toISOString(); // …T..:..:..sssZ
    const digits = m[3]?.length ?? 0;
    if (digits === 0) return `${t.slice(0, 19)}Z` as T;
    const frac = (t.slice(20, 23) + (m[3] ?? '').slice(3)).padEnd(digits, '0').slice(0, digits);
    return `${t.slice(0, 19)}.${frac}Z` as T;
  }
  if (Array.isArray(o)) return o.map((x: unknown) => shifted(x, offsetMs)) as T;
  if (o && typeof o === 'object') return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, shifted(v, offsetMs)])) as T;
  return o;
}

const byName = (list: { metadata?: { name?: string; creationTimestamp?: Date } }[]): typeof list =>
  [...list].sort((x, y) => (x.metadata?.name ?? '').localeCompare(y.metadata?.name ?? ''));

async function podsOf(ns: string, rs: string, n: number): Promise<V1Pod[]> {
  return eventually(`${n} pod(s) of ReplicaSet ${rs}`, async () => {
    const list = (await a.core.listNamespacedPod({ namespace: ns })).items.filter(
      (p) => !p.metadata?.deletionTimestamp && p.metadata?.ownerReferences?.some((o) => o.name === rs),
    );
    return list.length === n ? (byName(list) as V1Pod[]) : undefined;
  });
}

async function replicaSet(ns: string, deployment: string, revision: string): Promise<string> {
  return eventually(`revision ${revision} of ${deployment}`, async () => {
    const list = await a.apps.listNamespacedReplicaSet({ namespace: ns });
    return list.items.find(
      (r) =>
        r.metadata?.ownerReferences?.some((o) => o.name === deployment) &&
        r.metadata?.annotations?.['deployment.kubernetes.io/revision'] === revision,
    )?.metadata?.name;
  });
}

async function bind(pod: V1Pod, node: string): Promise<void> {
  await a.core.createNamespacedPodBinding({
    name: pod.metadata!.name!,
    namespace: pod.metadata!.namespace!,
    body: { metadata: { name: pod.metadata!.name! }, target: { apiVersion: 'v1', kind: 'Node', name: node } },
  });
}

function deployment(o: K8sObject, image: string, strategy?: V1Deployment['spec']): V1Deployment {
  const spec = (o as unknown as V1Deployment).spec!;
  const template = structuredClone(spec.template);
  template.spec!.containers[0]!.image = image;
  return {
    metadata: { name: o.metadata.name },
    spec: {
      replicas: spec.replicas!,
      selector: spec.selector,
      template,
      progressDeadlineSeconds: spec.progressDeadlineSeconds!,
      ...strategy,
    },
  };
}

/**
 * The incident's starting state, by the real controllers, before any source watches (the adapter
 * emits nothing for what already exists): nodes; Deployment web rolled from its revision 1 (whose
 * pods the kubelet made Ready) to revision 2 (one pod on a node, crash-looping later; one the
 * scheduler cannot place); Deployment worker with its pods Ready. Returns the name map.
 */
export async function setUpIncident(records: readonly Recorded[], ns: string, markReady: (pod: V1Pod) => Promise<V1Pod>): Promise<NameMap> {
  const names: NameMap = new Map([['shop', ns]]);
  const watch = records.filter((r): r is WatchRecord => r.type !== 'CLOUDEVENT');
  const find = (kind: string, name: string): K8sObject =>
    watch.find((r) => r.object.kind === kind && r.object.metadata.name === name)!.object;
  const web = find('Deployment', 'web');
  const worker = find('Deployment', 'worker');

  for (const [n, ready] of [
    ['node-1', 'True'],
    ['node-2', 'True'],
    ['node-3', 'False'],
  ] as const) {
    const name = `${ns}-${n}`;
    names.set(n, name);
    // Opted in (annotation reflex.dev/enabled=true): the recording carries no Node, and the development
    // broker stands in for one opted in (dev/mesh/recorded.ts), so the same incident has it so.
    const node = await a.core.createNode({
      body: { metadata: { name, labels: { 'kubernetes.io/hostname': name }, annotations: { 'reflex.dev/enabled': 'true' } } },
    });
    const now = new Date();
    await a.core.patchNodeStatus(
      {
        name,
        body: {
          status: {
            conditions: [
              {
                type: 'Ready',
                status: ready,
                reason: ready === 'True' ? 'KubeletReady' : 'NodeStatusUnknown',
                message: ready === 'True' ? 'kubelet is posting ready status' : 'Kubelet stopped posting node status.',
                lastHeartbeatTime: now,
                lastTransitionTime: now,
              },
            ],
          },
        },
      },
      merge,
    );
    names.set(`n-${n.slice(5)}`, node.metadata!.uid!);
  }

  // web, revision 1 (its image before the rollout, from the recorded ReplicaSet), three pods Ready.
  const rs1Image = (find('ReplicaSet', 'web-5d7c9b8a6') as unknown as { spec: { template: { spec: { containers: { image: string }[] } } } })
    .spec.template.spec.containers[0]!.image;
  // maxSurge 2, maxUnavailable 0: the rollout makes both recorded revision-2 pods and keeps revision 1 whole.
  const created = await a.apps.createNamespacedDeployment({
    namespace: ns,
    body: deployment(web, rs1Image, { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 2, maxUnavailable: 0 } } } as never),
  });
  names.set('d-web', created.metadata!.uid!);
  const rs1 = await replicaSet(ns, 'web', '1');
  names.set('web-5d7c9b8a6', rs1);
  for (const p of await podsOf(ns, rs1, 3)) {
    await bind(p, names.get('node-1')!);
    await markReady(p);
  }
  await eventually('web revision 1 available', async () => {
    const d = await a.apps.readNamespacedDeployment({ name: 'web', namespace: ns });
    return d.status?.readyReplicas === 3 ? true : undefined;
  });
  // The rollout to the recorded image: revision 2.
  const image = (web as unknown as V1Deployment).spec!.template.spec!.containers[0]!.image!;
  await a.apps.patchNamespacedDeployment(
    { name: 'web', namespace: ns, body: { spec: { template: { spec: { containers: [{ name: 'web', image }] } } } } },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );
  const rs2 = await replicaSet(ns, 'web', '2');
  names.set('web-6f9d8c7b5', rs2);
  const [crashing, pending] = await podsOf(ns, rs2, 2);
  names.set('web-6f9d8c7b5-q7x2m', crashing!.metadata!.name!);
  names.set('p-q7x2m', crashing!.metadata!.uid!);
  names.set('web-6f9d8c7b5-z9k4t', pending!.metadata!.name!);
  names.set('p-z9k4t', pending!.metadata!.uid!);
  const rsObj = await a.apps.readNamespacedReplicaSet({ name: rs2, namespace: ns });
  names.set('rs-web-6f9d8c7b5', rsObj.metadata!.uid!);
  await bind(crashing!, names.get('node-2')!);
  // Started, not yet ready: what the kubelet shows before the crash loop the recording then writes.
  const now = new Date();
  await a.core.patchNamespacedPodStatus(
    {
      name: crashing!.metadata!.name!,
      namespace: ns,
      body: {
        status: {
          phase: 'Running',
          podIP: '10.244.1.20',
          containerStatuses: [
            { name: 'web', image, imageID: '', ready: false, restartCount: 0, started: true, state: { running: { startedAt: now } } },
          ],
        },
      },
    },
    merge,
  );

  const w = await a.apps.createNamespacedDeployment({
    namespace: ns,
    body: deployment(worker, (worker as unknown as V1Deployment).spec!.template.spec!.containers[0]!.image!),
  });
  names.set('d-worker', w.metadata!.uid!);
  const wrs = await replicaSet(ns, 'worker', '1');
  names.set('worker-5c8d7f9b6', wrs);
  names.set('rs-worker', (await a.apps.readNamespacedReplicaSet({ name: wrs, namespace: ns })).metadata!.uid!);
  const workers = await podsOf(ns, wrs, 2);
  names.set('worker-5c8d7f9b6-n4t8w', workers[0]!.metadata!.name!);
  names.set('p-n4t8w', workers[0]!.metadata!.uid!);
  for (const p of workers) {
    await bind(p, names.get('node-1')!);
    await markReady(p);
  }
  await eventually('worker available', async () => {
    const d = await a.apps.readNamespacedDeployment({ name: 'worker', namespace: ns });
    return d.status?.readyReplicas === 2 ? true : undefined;
  });
  return names;
}

/** The records the incident writes live (Events and Pod status); the rest is its starting state. */
export function changes(records: readonly Recorded[]): WatchRecord[] {
  return records.filter(
    (r): r is WatchRecord => 'object' in r && (r.object.kind === 'Event' || (r.object.kind === 'Pod' && r.type === 'MODIFIED')),
  );
}

/**
 * Writes one recorded change as its writer would, names mapped and times moved so that the record
 * happens now. Returns the object's namespace and name (what the source's CloudEvent names).
 */
export async function writeChange(r: WatchRecord, names: NameMap): Promise<{ namespace: string; name: string }> {
  const at = ownTimeOf(r.object) ?? new Date();
  const o = JSON.parse(mapNames(JSON.stringify(shifted(r.object, Date.now() - at.getTime())), names)) as K8sObject &
    Record<string, unknown>;
  const namespace = o.metadata.namespace ?? 'default';
  const name = o.metadata.name;
  const metadata = { name, namespace };
  if (o.kind === 'Pod') {
    // The kubelet: status only, through the status subresource.
    await a.core.patchNamespacedPodStatus({ name, namespace, body: { status: o['status'] } }, merge);
  } else if (o.apiVersion === 'events.k8s.io/v1') {
    const { apiVersion: _v, kind: _k, metadata: _m, ...rest } = o;
    await a.events.createNamespacedEvent({ namespace, body: { metadata, ...rest } as never });
  } else if (r.type === 'ADDED') {
    const { apiVersion: _v, kind: _k, metadata: _m, ...rest } = o;
    await a.core.createNamespacedEvent({ namespace, body: { metadata, ...rest } as never });
  } else {
    // client-go's EventCorrelator on a repeat: PATCH count, lastTimestamp and message.
    await a.core.patchNamespacedEvent(
      { name, namespace, body: { count: o['count'], lastTimestamp: o['lastTimestamp'], message: o['message'] } },
      merge,
    );
  }
  return { namespace, name };
}
