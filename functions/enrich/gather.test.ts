/** enrich/gather against an in-memory Cluster: what is read for which signal, the time bound, and what a forged signal gets. */
import { describe, expect, it } from '@jest/globals';
import type { SignalData } from '../_contracts/events.js';
import { ForbiddenError } from '../_kit/errors.js';
import type { Cluster, KubeObject, ListOptions, ObjectRef, PodLogOptions } from '../_kit/k8s.js';
import { parseEnrichConfig } from './config.js';
import { gather } from './gather.js';

interface Calls {
  readonly reads: string[];
}

/** Objects by `Kind/ns/name`; logs by `ns/pod/container[/previous]`; `slow` delays the reads it names. */
function fakeCluster(
  objects: Record<string, KubeObject>,
  logs: Record<string, string> = {},
  options: { slow?: (what: string) => number; forbidden?: (what: string) => boolean } = {},
): Cluster & Calls {
  const reads: string[] = [];
  const answer = async <T>(what: string, value: () => T): Promise<T> => {
    reads.push(what);
    const delay = options.slow?.(what) ?? 0;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay).unref());
    if (options.forbidden?.(what)) throw new ForbiddenError(`${what}: forbidden`);
    return value();
  };
  const no = (): never => {
    throw new Error('enrich must never write');
  };
  return {
    reads,
    get: <T extends object>(ref: ObjectRef) =>
      answer(
        `get ${ref.kind}/${ref.namespace ?? ''}/${ref.name}`,
        () => objects[`${ref.kind}/${ref.namespace ?? ''}/${ref.name}`] as T | undefined,
      ),
    list: <T extends object>(_v: string, kind: string, o: ListOptions = {}) =>
      answer(`list ${kind}/${o.namespace ?? ''} ${o.fieldSelector ?? ''}${o.labelSelector ?? ''}`, () =>
        Object.entries(objects)
          .filter(([k]) => k.startsWith(`${kind}/${o.namespace ?? ''}`))
          .map(([, v]) => v as T),
      ),
    podLog: (pod: { namespace: string; name: string }, container: string, o: PodLogOptions) =>
      answer(`log ${pod.namespace}/${pod.name}/${container}${o.previous ? '/previous' : ''}`, () => {
        const text = logs[`${pod.namespace}/${pod.name}/${container}${o.previous ? '/previous' : ''}`];
        return text === undefined ? undefined : Buffer.from(text).subarray(0, o.limitBytes).toString();
      }),
    patch: no,
    create: no,
    delete: no,
    evict: no,
    replicas: no,
    setReplicas: no,
  };
}

const NOW = new Date('2026-11-22T10:04:00Z');
const signal = (over: Partial<SignalData> = {}): SignalData => ({
  class: 'crashloop',
  severity: 'warning',
  reason: 'BackOff',
  message: 'Back-off restarting failed container web',
  target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', resolvedBy: 'ownerReferences' },
  involved: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-2-abc', uid: 'p1' },
  container: 'web',
  occurrences: 3,
  firstSeen: NOW.toISOString(),
  lastSeen: NOW.toISOString(),
  detectedBy: 'classify',
  key: '0123456789abcdef',
  ...over,
});

const world = (labels: Record<string, string> = { 'reflex.dev/enabled': 'true' }): Record<string, KubeObject> => ({
  'Namespace//shop': { metadata: { name: 'shop', labels } },
  'Pod/shop/web-2-abc': {
    metadata: {
      name: 'web-2-abc',
      namespace: 'shop',
      uid: 'p1',
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-2', uid: 'rs2', controller: true }],
    },
    spec: { nodeName: 'node-a', containers: [{ name: 'web', image: 'web:2.5.0' }] },
    status: {
      phase: 'Running',
      containerStatuses: [
        {
          name: 'web',
          image: 'web:2.5.0',
          ready: false,
          restartCount: 4,
          state: { waiting: { reason: 'CrashLoopBackOff' } },
          lastState: { terminated: { exitCode: 2, reason: 'Error' } },
        },
      ],
    },
  },
  'Node//node-a': { metadata: { name: 'node-a' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } },
  'Deployment/shop/web': { metadata: { name: 'web', namespace: 'shop', uid: 'd1' }, spec: { selector: { matchLabels: { app: 'web' } } } },
  'ReplicaSet/shop/web-1': {
    metadata: {
      name: 'web-1',
      annotations: { 'deployment.kubernetes.io/revision': '1' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd1', controller: true }],
    },
    spec: { template: { spec: { containers: [{ name: 'web', image: 'web:2.4.0' }] } } },
  },
  'ReplicaSet/shop/web-2': {
    metadata: {
      name: 'web-2',
      annotations: { 'deployment.kubernetes.io/revision': '2' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'd1', controller: true }],
    },
    spec: { template: { spec: { containers: [{ name: 'web', image: 'web:2.5.0' }] } } },
  },
  'Event/shop/e1': {
    metadata: { name: 'e1', uid: 'e1' },
    involvedObject: { kind: 'Pod', name: 'web-2-abc' },
    reason: 'BackOff',
    message: 'Back-off',
    type: 'Warning',
    count: 3,
    lastTimestamp: '2026-11-22T10:03:00Z',
  },
});

const logs = {
  'shop/web-2-abc/web/previous': 'starting\nusing Authorization: Bearer abcdefghijklmnop\npanic: config missing\n',
  'shop/web-2-abc/web': 'starting again\n',
};

const config = (env: Record<string, string> = {}) => parseEnrichConfig(env);
const clock = () => new Date();

describe('a crash loop in an opted-in namespace', () => {
  it('the termination, both logs (redacted), the Events, the node, the rollout; complete', async () => {
    const cluster = fakeCluster(world(), logs);
    const e = await gather(signal(), cluster, config(), clock);
    expect(e.complete).toBe(true);
    expect(e.notes).toEqual([]);
    expect(e.containers?.[0]).toMatchObject({ name: 'web', restartCount: 4, lastTermination: { exitCode: 2, reason: 'Error' } });
    expect(e.logs?.map((l) => [l.container, l.previous, l.lines.at(-1)])).toEqual([
      ['web', true, 'panic: config missing'],
      ['web', false, 'starting again'],
    ]);
    expect(JSON.stringify(e)).not.toContain('abcdefghijklmnop');
    expect(e.events?.map((x) => x.reason)).toContain('BackOff');
    expect(e.node?.name).toBe('node-a');
    expect(e.rollout?.changes).toEqual([{ container: 'web', field: 'image', before: 'web:2.4.0', after: 'web:2.5.0' }]);
    expect(e.pod).toMatchObject({ name: 'web-2-abc', node: 'node-a', owner: 'ReplicaSet web-2' });
    expect(cluster.reads.some((r) => r.startsWith('get Secret') || r.startsWith('list ConfigMap'))).toBe(false);
  });
});

describe('whose logs', () => {
  it('a namespace that did not opt in: no log is read, and the message says why', async () => {
    const cluster = fakeCluster(world({}), logs);
    const e = await gather(signal(), cluster, config(), clock);
    expect(cluster.reads.filter((r) => r.startsWith('log '))).toEqual([]);
    expect(e.logs).toBeUndefined();
    expect(e.notes).toEqual(['logs are not read in namespace shop: it is not opted in (label reflex.dev/enabled=true)']);
    expect(e.containers?.[0]?.lastTermination?.exitCode).toBe(2);
  });

  it('a protected namespace: never, whatever REFLEX_ENRICH_LOGS says', async () => {
    const objects = Object.fromEntries(Object.entries(world()).map(([k, v]) => [k.replace('/shop/', '/kube-system/'), v]));
    const cluster = fakeCluster(objects, {});
    const s = signal({
      target: { kind: 'Deployment', namespace: 'kube-system', name: 'web', resolvedBy: 'ownerReferences' },
      involved: { kind: 'Pod', namespace: 'kube-system', name: 'web-2-abc', uid: 'p1' },
    });
    const e = await gather(s, cluster, config({ REFLEX_ENRICH_LOGS: 'all' }), clock);
    expect(cluster.reads.filter((r) => r.startsWith('log '))).toEqual([]);
    expect(e.notes).toEqual([expect.stringContaining('kube-system: it is protected (kube-system)')]);
  });

  it('another incarnation of the pod than the one signalled: its state, not its logs', async () => {
    const cluster = fakeCluster(world(), logs);
    const e = await gather(
      signal({ involved: { kind: 'Pod', namespace: 'shop', name: 'web-2-abc', uid: 'older' } }),
      cluster,
      config(),
      clock,
    );
    expect(cluster.reads.filter((r) => r.startsWith('log '))).toEqual([]);
    expect(e.notes[0]).toMatch(/another incarnation/);
  });

  it('RBAC refuses pods/log: the note says which ClusterRole to bind', async () => {
    const cluster = fakeCluster(world(), logs, { forbidden: (w) => w.startsWith('log ') });
    const e = await gather(signal(), cluster, config(), clock);
    expect(e.complete).toBe(false);
    expect(e.notes).toContain(
      'previous log of container web: enrich may not read logs in shop: bind the ClusterRole reflex-enrich-logs there (docs/install.md#logs-in-messages)',
    );
  });
});

describe('bounds', () => {
  it('a read that does not answer in time: the rest goes out within the bound, partial, saying what is missing', async () => {
    const cluster = fakeCluster(world(), logs, { slow: (w) => (w.startsWith('list ReplicaSet') ? 5000 : 0) });
    const started = Date.now();
    const e = await gather(signal(), cluster, config({ REFLEX_ENRICH_TIMEOUT_MS: '300' }), clock);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(e.complete).toBe(false);
    expect(e.notes).toEqual(['ReplicaSets of Deployment web: no answer within the 300 ms bound (REFLEX_ENRICH_TIMEOUT_MS)']);
    expect(e.rollout).toBeUndefined();
    expect(e.logs).toHaveLength(2);
  });

  it('Events are cut to REFLEX_ENRICH_EVENTS; 0 reads none into the message', async () => {
    const objects = world();
    for (let i = 0; i < 30; i++)
      objects[`Event/shop/x${i}`] = {
        metadata: { name: `x${i}`, uid: `x${i}` },
        involvedObject: { kind: 'Pod', name: 'web-2-abc' },
        reason: `R${i}`,
        message: 'm',
        count: 1,
      };
    expect((await gather(signal(), fakeCluster(objects, logs), config({ REFLEX_ENRICH_EVENTS: '4' }), clock)).events).toHaveLength(4);
    expect((await gather(signal(), fakeCluster(objects, logs), config({ REFLEX_ENRICH_EVENTS: '0' }), clock)).events).toBeUndefined();
  });
});

describe('what a forged signal gets', () => {
  it('names that could not exist are never read (no URL is made of them)', async () => {
    const cluster = fakeCluster(world(), logs);
    const e = await gather(
      signal({
        target: { kind: 'Deployment', namespace: 'shop', name: '..', resolvedBy: 'name' },
        involved: { kind: 'Pod', namespace: 'shop/../kube-system', name: 'x' },
      }),
      cluster,
      config(),
      clock,
    );
    expect(cluster.reads).toEqual([]);
    expect(e.complete).toBe(false);
    expect(e.notes).toHaveLength(2);
  });

  it('a pod that is gone: said plainly; its Events still come', async () => {
    const cluster = fakeCluster(world(), logs);
    const e = await gather(
      signal({ involved: { kind: 'Pod', namespace: 'shop', name: 'web-2-gone', uid: 'p9' } }),
      cluster,
      config(),
      clock,
    );
    expect(e.notes).toContain('Pod web-2-gone is gone: no container state or logs (its Events are kept for a while)');
    expect(e.containers).toBeUndefined();
    expect(e.complete).toBe(true);
  });
});

describe('oomkilled and node problems', () => {
  it('no metrics API: said plainly', async () => {
    const e = await gather(signal({ class: 'oomkilled' }), fakeCluster(world(), logs), config(), clock);
    expect(e.notes).toContain(
      'no memory usage: metrics.k8s.io is not served in this cluster (no metrics-server), or has no sample for this pod',
    );
  });

  it("with metrics: the container's usage", async () => {
    const objects = { ...world(), 'PodMetrics/shop/web-2-abc': { containers: [{ name: 'web', usage: { memory: '400Mi', cpu: '20m' } }] } };
    const e = await gather(signal({ class: 'oomkilled' }), fakeCluster(objects, logs), config(), clock);
    expect(e.containers?.[0]?.usage).toEqual({ memory: '400Mi', cpu: '20m' });
  });

  it('a node: conditions and the pods on it, its Events in default', async () => {
    const objects = {
      ...world(),
      'Pod//p-on-a': {
        metadata: { name: 'p-on-a', namespace: 'shop' },
        spec: { nodeName: 'node-a', containers: [] },
        status: { phase: 'Running' },
      },
      'Event/default/n1': {
        metadata: { name: 'n1', uid: 'n1' },
        involvedObject: { kind: 'Node', name: 'node-a' },
        reason: 'NodeNotReady',
        message: 'Node node-a status is now: NodeNotReady',
        count: 1,
      },
    };
    const cluster = fakeCluster(objects);
    const e = await gather(
      signal({
        class: 'nodenotready',
        target: { kind: 'Node', namespace: '', name: 'node-a', resolvedBy: 'self' },
        involved: { kind: 'Node', name: 'node-a' },
      }),
      cluster,
      config(),
      clock,
    );
    expect(e.node?.pods?.count).toBeGreaterThanOrEqual(1);
    expect(e.events?.map((x) => x.reason)).toEqual(['NodeNotReady']);
    expect(cluster.reads).toContain('list Event/default involvedObject.kind=Node,involvedObject.name=node-a');
  });
});

it('the clock it is given times it', async () => {
  let t = NOW.getTime();
  const e = await gather(signal(), fakeCluster(world(), logs), config(), () => new Date((t += 5)));
  expect(e.tookMs).toBeGreaterThan(0);
  expect(Date.parse(e.gatheredAt)).toBeGreaterThan(NOW.getTime());
});
