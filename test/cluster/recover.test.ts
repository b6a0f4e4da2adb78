/**
 * recover on the real control plane, as its own ServiceAccount with only the RBAC in knative/:
 * each playbook really changes the cluster and leaves an audit Event; each guard stops with a
 * reason and changes nothing; three concurrent deliveries act once.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import recover from '../../functions/recover/index.js';
import { startServer, type RunningServer } from '../../functions/_kit/index.js';
import { STATE_ANNOTATION } from '../../functions/recover/decide.js';
import { postEvent } from './sink.js';
import { admin, apiServerHop, asFunction, eventually, freshNamespace } from './kube.js';
import { createDeployment, oomKilledStatus, recordEvent, setPodStatus } from './kubelet.js';

const a = admin();
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
let ns: string;
let closed: string;
let server: RunningServer;

async function deploy(
  namespace: string,
  name: string,
  extra: Partial<V1Deployment['metadata']> = {},
  memory = '128Mi',
): Promise<V1Deployment> {
  return createDeployment(namespace, name, {
    metadata: extra,
    resources: { limits: { memory: memory }, requests: { memory: '64Mi' } },
  });
}

async function podsOf(namespace: string, app: string): Promise<V1Pod[]> {
  return (await a.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items.filter((p) => !p.metadata?.deletionTimestamp);
}

/** The one pod of a Deployment, once its ReplicaSet has made it. */
async function onlyPod(namespace: string, app: string): Promise<V1Pod> {
  return eventually(`the ${app} pod`, async () => {
    const pods = await podsOf(namespace, app);
    return pods.length === 1 ? pods[0] : undefined;
  });
}

/** Plays the kubelet: the container keeps crashing (CrashLoopBackOff after 3 restarts). */
async function crashing(pod: V1Pod): Promise<V1Pod> {
  return setPodStatus(pod, {
    phase: 'Running',
    containerStatuses: [
      {
        name: 'app',
        image: pod.spec!.containers[0]!.image!,
        imageID: '',
        ready: false,
        restartCount: 3,
        state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } },
        lastState: { terminated: { reason: 'Error', exitCode: 1 } },
      },
    ],
  });
}

/** A Deployment's pod whose container the kernel OOM-killed (what kubelet reports in its status); returns its name. */
async function oomKilled(namespace: string, app: string): Promise<string> {
  const pod = await onlyPod(namespace, app);
  await setPodStatus(pod, oomKilledStatus('app', 1));
  return pod.metadata!.name!;
}

/** Plays the kubelet: the pod is Running and Ready, so its ReplicaSet counts it ready. */
async function makeReady(pod: V1Pod): Promise<void> {
  const now = new Date();
  await setPodStatus(pod, { phase: 'Running', conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }], startTime: now });
}

function signal(
  cls: string,
  target: { namespace: string; name: string },
  involved: string,
  extra: Record<string, unknown> = {},
  id = `sig-${randomBytes(6).toString('hex')}`,
  url = server.url,
): Promise<Response> {
  const data = {
    class: cls,
    severity: 'warning',
    reason: cls === 'oomkilled' ? 'OOMKilled' : 'BackOff',
    message: 'test',
    target: { apiVersion: 'apps/v1', kind: 'Deployment', ...target, resolvedBy: 'ownerReferences' },
    involved: { apiVersion: 'v1', kind: 'Pod', namespace: target.namespace, name: involved },
    occurrences: 3,
    firstSeen: new Date().toISOString(),
    lastSeen: new Date().toISOString(),
    detectedBy: 'classify',
    key: randomBytes(8).toString('hex'),
    ...extra,
  };
  return postEvent(url, { id: id, source: '/reflex/classify', type: `dev.reflex.signal.${cls}`, data: data });
}

async function outcome(res: Response): Promise<{ type: string | null; outcome: string; reason: string; data: Record<string, unknown> }> {
  expect(res.status).toBe(200);
  const data = (await res.json()) as { outcome: string; reason: string };
  return { type: res.headers.get('ce-type'), outcome: data.outcome, reason: data.reason, data };
}

async function auditNotes(namespace: string, name: string): Promise<string[]> {
  const list = await a.events.listNamespacedEvent({ namespace });
  return list.items
    .filter((e) => e.reportingController === 'reflex.dev/recover' && e.regarding?.name === name)
    .map((e) => `${e.reason}: ${e.note}`);
}

beforeAll(async () => {
  ns = await freshNamespace('recover', { 'reflex.dev/enabled': 'true' });
  closed = await freshNamespace('recover-off');
  const kubeconfig = await asFunction('recover');
  server = await startServer(recover, { env: { PORT: '0', REFLEX_HOST: '127.0.0.1', KUBECONFIG: kubeconfig }, logSink: () => {} });
}, 60_000);

afterAll(async () => {
  await server?.shutdown();
  await a.core.deleteNamespace({ name: ns });
  await a.core.deleteNamespace({ name: closed });
});

describe('playbooks', () => {
  it('crashloop after a rollout: rolls the Deployment back to the ready revision, with an audit Event', async () => {
    await deploy(ns, 'web');
    const [v1] = await eventually('the first pod', async () => ((await podsOf(ns, 'web')).length === 1 ? podsOf(ns, 'web') : undefined));
    await makeReady(v1!);
    await eventually('revision 1 ready', async () => {
      const rs = (await a.apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: 'app=web' })).items;
      return rs[0]?.status?.readyReplicas === 1 ? true : undefined;
    });
    await a.apps.patchNamespacedDeployment(
      {
        name: 'web',
        namespace: ns,
        body: {
          spec: {
            template: {
              spec: { containers: [{ name: 'app', image: 'registry.example/web:2.0', resources: { limits: { memory: '128Mi' } } }] },
            },
          },
        },
      },
      merge,
    );
    const bad = await eventually('a pod of revision 2', async () =>
      (await podsOf(ns, 'web')).find((p) => p.spec?.containers[0]?.image === 'registry.example/web:2.0'),
    );
    await crashing(bad);
    const res = await outcome(await signal('crashloop', { namespace: ns, name: 'web' }, bad.metadata!.name!));
    expect([res.type, res.outcome]).toEqual(['dev.reflex.action.rolledback', 'applied']);
    expect(res.reason).toMatch(/crash loop began with revision 2; revision 1 .* has 1 ready/);
    const d = await a.apps.readNamespacedDeployment({ name: 'web', namespace: ns });
    expect(d.spec?.template.spec?.containers[0]?.image).toBe('registry.example/web:1.0');
    expect(d.spec?.template.metadata?.labels?.['pod-template-hash']).toBeUndefined();
    expect(JSON.parse(d.metadata!.annotations![STATE_ANNOTATION]!)).toMatchObject({ actions: [{ verb: 'rolledback', state: 'done' }] });
    expect(await auditNotes(ns, 'web')).toEqual([expect.stringMatching(/^ReflexApplied: applied: the crash loop began/)]);
  });

  it('oomkilled: raises the memory limit (and request) by the factor; three concurrent deliveries act once', async () => {
    await deploy(ns, 'worker', {}, '128Mi');
    const pod = await oomKilled(ns, 'worker');
    const id = 'sig-oom-concurrent';
    const all = await Promise.all(
      [1, 2, 3].map(() => signal('oomkilled', { namespace: ns, name: 'worker' }, pod, { container: 'app' }, id).then(outcome)),
    );
    expect(all.map((r) => r.outcome).sort()).toEqual(['applied', 'skipped', 'skipped']);
    const d = await a.apps.readNamespacedDeployment({ name: 'worker', namespace: ns });
    // 128Mi x 1.5 once: not 288Mi (twice) nor 432Mi (three times).
    expect(d.spec?.template.spec?.containers[0]?.resources).toEqual({ limits: { memory: '192Mi' }, requests: { memory: '96Mi' } });
    // A later redelivery of the same signal is still a no-op.
    expect((await outcome(await signal('oomkilled', { namespace: ns, name: 'worker' }, pod, { container: 'app' }, id))).outcome).toBe(
      'skipped',
    );
  });

  it('evicted: deletes Failed/Evicted pods older than the threshold', async () => {
    await deploy(ns, 'batch');
    const [pod] = await eventually('a batch pod', async () => ((await podsOf(ns, 'batch')).length === 1 ? podsOf(ns, 'batch') : undefined));
    await setPodStatus(pod!, {
      phase: 'Failed',
      reason: 'Evicted',
      message: 'The node was low on resource: memory.',
      startTime: new Date(Date.now() - 3_600_000),
    });
    const res = await outcome(await signal('evicted', { namespace: ns, name: 'batch' }, pod!.metadata!.name!));
    expect([res.outcome, res.type]).toEqual(['applied', 'dev.reflex.action.cleaned']);
    await eventually('the evicted pod to go', async () =>
      (await podsOf(ns, 'batch')).some((p) => p.metadata?.uid === pod!.metadata!.uid) ? undefined : true,
    );
  });

  it('crashloop with no healthy earlier revision: restarts the failing pod once, then escalates', async () => {
    await deploy(ns, 'solo');
    const pod = await crashing(await onlyPod(ns, 'solo'));
    const first = await outcome(await signal('crashloop', { namespace: ns, name: 'solo' }, pod.metadata!.name!));
    expect([first.type, first.outcome]).toEqual(['dev.reflex.action.restarted', 'applied']);
    await eventually('a replacement pod', async () => {
      const pods = await podsOf(ns, 'solo');
      return pods.length === 1 && pods[0]!.metadata?.uid !== pod.metadata!.uid ? true : undefined;
    });
    // Past the cooldown, the same problem again: restarting twice would not help.
    const d = await a.apps.readNamespacedDeployment({ name: 'solo', namespace: ns });
    const st = JSON.parse(d.metadata!.annotations![STATE_ANNOTATION]!) as { actions: { at: string }[] };
    st.actions[0]!.at = new Date(Date.now() - 3_000_000).toISOString();
    await a.apps.patchNamespacedDeployment(
      { name: 'solo', namespace: ns, body: { metadata: { annotations: { [STATE_ANNOTATION]: JSON.stringify(st) } } } },
      merge,
    );
    const { key } = first.data['signal'] as { key: string };
    const replacement = await crashing(await onlyPod(ns, 'solo'));
    const again = await outcome(await signal('crashloop', { namespace: ns, name: 'solo' }, replacement.metadata!.name!, { key }));
    expect([again.outcome, again.reason]).toEqual(['escalated', 'recover restarted the pod once already and the crash loop goes on']);
  });

  it('probefailed: deletes the pod so its controller replaces it', async () => {
    await deploy(ns, 'probe');
    const pod = await onlyPod(ns, 'probe');
    // What kubelet's prober records: the failure is on the pod's own Events.
    await recordEvent({
      namespace: ns,
      involved: { kind: 'Pod', name: pod.metadata!.name!, namespace: ns, uid: pod.metadata!.uid!, fieldPath: 'spec.containers{app}' },
      reason: 'Unhealthy',
      message: 'Liveness probe failed: HTTP probe failed with statuscode: 500',
    });
    const res = await outcome(await signal('probefailed', { namespace: ns, name: 'probe' }, pod.metadata!.name!));
    expect([res.type, res.outcome]).toEqual(['dev.reflex.action.replaced', 'applied']);
    await eventually('the pod to be replaced', async () =>
      (await podsOf(ns, 'probe')).some((p) => p.metadata?.uid === pod.metadata!.uid) ? undefined : true,
    );
  });

  it('rolloutstalled (declared by the real deployment controller): rolls back to the previous revision', async () => {
    await a.apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'stall' },
        spec: {
          replicas: 1,
          progressDeadlineSeconds: 1,
          selector: { matchLabels: { app: 'stall' } },
          template: {
            metadata: { labels: { app: 'stall' } },
            spec: { containers: [{ name: 'app', image: 'registry.example/stall:1.0' }] },
          },
        },
      },
    });
    await eventually('revision 1', async () =>
      (await a.apps.listNamespacedReplicaSet({ namespace: ns, labelSelector: 'app=stall' })).items.length === 1 ? true : undefined,
    );
    await a.apps.patchNamespacedDeployment(
      {
        name: 'stall',
        namespace: ns,
        body: { spec: { template: { spec: { containers: [{ name: 'app', image: 'registry.example/stall:2.0' }] } } } },
      },
      merge,
    );
    await eventually(
      'ProgressDeadlineExceeded',
      async () =>
        (await a.apps.readNamespacedDeployment({ name: 'stall', namespace: ns })).status?.conditions?.some(
          (c) => c.reason === 'ProgressDeadlineExceeded',
        )
          ? true
          : undefined,
      45_000,
    );
    const res = await outcome(
      await signal('rolloutstalled', { namespace: ns, name: 'stall' }, 'stall', {
        involved: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name: 'stall' },
        reason: 'ProgressDeadlineExceeded',
      }),
    );
    expect([res.type, res.outcome]).toEqual(['dev.reflex.action.rolledback', 'applied']);
    expect((await a.apps.readNamespacedDeployment({ name: 'stall', namespace: ns })).spec?.template.spec?.containers[0]?.image).toBe(
      'registry.example/stall:1.0',
    );
  });

  it('a crash-looping pod without a controller: escalated, never deleted (nothing would recreate it)', async () => {
    const bare = await a.core.createNamespacedPod({
      namespace: ns,
      body: { metadata: { name: 'bare' }, spec: { containers: [{ name: 'app', image: 'registry.example/bare:1' }] } },
    });
    await crashing(bare);
    const res = await outcome(
      await signal('crashloop', { namespace: ns, name: 'bare' }, 'bare', {
        target: { apiVersion: 'v1', kind: 'Pod', namespace: ns, name: 'bare', resolvedBy: 'self' },
      }),
    );
    expect([res.type, res.outcome, res.reason]).toEqual([
      'dev.reflex.action.escalated',
      'escalated',
      'pod bare has no controller: deleting or evicting it would lose it; a person must look',
    ]);
    expect((await a.core.readNamespacedPod({ name: 'bare', namespace: ns })).metadata?.deletionTimestamp).toBeUndefined();
  });

  it('imagepull: no action, escalated with the reason', async () => {
    await deploy(ns, 'img');
    const res = await outcome(await signal('imagepull', { namespace: ns, name: 'img' }, 'img-7d9c8b5f4-x2x7q'));
    expect([res.type, res.outcome]).toEqual(['dev.reflex.action.escalated', 'escalated']);
    expect(await auditNotes(ns, 'img')).toEqual([expect.stringMatching(/^ReflexEscalated: escalated: an image that cannot be pulled/)]);
  });
});

describe('outages and half-applied plans', () => {
  it('an API server outage answers 503 (retryable) and changes nothing; the retry applies once', async () => {
    const hop = await apiServerHop(await asFunction('recover'));
    const flaky = await startServer(recover, {
      env: { PORT: '0', REFLEX_HOST: '127.0.0.1', KUBECONFIG: hop.kubeconfig },
      logSink: () => {},
    });
    try {
      await deploy(ns, 'outage');
      const pod = await oomKilled(ns, 'outage');
      const send = () => signal('oomkilled', { namespace: ns, name: 'outage' }, pod, { container: 'app' }, 'sig-outage', flaky.url);
      hop.cut(true);
      const res = await send();
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toMatch(/problem\+json/);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      const d = await a.apps.readNamespacedDeployment({ name: 'outage', namespace: ns });
      expect(d.spec?.template.spec?.containers[0]?.resources?.limits?.['memory']).toBe('128Mi');
      expect(d.metadata?.annotations?.[STATE_ANNOTATION]).toBeUndefined();
      hop.cut(false);
      expect((await outcome(await send())).outcome).toBe('applied');
      expect((await outcome(await send())).outcome).toBe('skipped');
      const after = await a.apps.readNamespacedDeployment({ name: 'outage', namespace: ns });
      expect(after.spec?.template.spec?.containers[0]?.resources?.limits?.['memory']).toBe('192Mi');
    } finally {
      await flaky.shutdown();
      hop.close();
    }
  });

  it('a plan claimed by a replica that died before applying it is completed by the redelivery, not repeated', async () => {
    const claimed = {
      at: new Date().toISOString(),
      signal: 'sig-claimed',
      key: 'k',
      verb: 'resized',
      state: 'applying',
      steps: [{ do: 'set-memory', container: 'app', limit: '192Mi', request: '96Mi' }],
    };
    await deploy(ns, 'claimed', { annotations: { [STATE_ANNOTATION]: JSON.stringify({ actions: [claimed] }) } });
    const send = () =>
      signal('oomkilled', { namespace: ns, name: 'claimed' }, 'claimed-5c8d7f9b6-x2x7q', { container: 'app' }, 'sig-claimed');
    const first = await outcome(await send());
    expect([first.outcome, first.reason]).toEqual(['applied', expect.stringMatching(/^completing resized claimed at/)]);
    expect((await outcome(await send())).outcome).toBe('skipped');
    const d = await a.apps.readNamespacedDeployment({ name: 'claimed', namespace: ns });
    // The claimed values, once: not re-planned from the new limit (288Mi).
    expect(d.spec?.template.spec?.containers[0]?.resources).toEqual({ limits: { memory: '192Mi' }, requests: { memory: '96Mi' } });
    expect(JSON.parse(d.metadata!.annotations![STATE_ANNOTATION]!)).toMatchObject({ actions: [{ signal: 'sig-claimed', state: 'done' }] });
  });
});

describe('nodes', () => {
  it('nodenotready past its grace: cordons the node and evicts its pods, honouring a PodDisruptionBudget', async () => {
    const nodeName = `drain-${ns}`;
    await a.core.createNode({ body: { metadata: { name: nodeName, annotations: { 'reflex.dev/enabled': 'true' } } } });
    await a.core.patchNodeStatus(
      {
        name: nodeName,
        body: {
          status: {
            conditions: [
              {
                type: 'Ready',
                status: 'Unknown',
                reason: 'NodeStatusUnknown',
                message: 'Kubelet stopped posting node status.',
                lastHeartbeatTime: new Date(),
                // NotReady for 15 minutes, past the 300 s grace.
                lastTransitionTime: new Date(Date.now() - 900_000),
              },
            ],
          },
        },
      },
      merge,
    );
    // Two workloads bound to the node: `free` has no budget; `guarded` has a PDB that allows no disruption.
    for (const name of ['free', 'guarded']) {
      await a.apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name },
          spec: {
            replicas: 1,
            selector: { matchLabels: { app: name } },
            template: {
              metadata: { labels: { app: name } },
              spec: { nodeName, containers: [{ name: 'app', image: `registry.example/${name}:1` }] },
            },
          },
        },
      });
    }
    await a.policy.createNamespacedPodDisruptionBudget({
      namespace: ns,
      body: { metadata: { name: 'guarded' }, spec: { minAvailable: 1, selector: { matchLabels: { app: 'guarded' } } } },
    });
    const free = await eventually('the free pod', async () => (await podsOf(ns, 'free'))[0]);
    const guarded = await eventually('the guarded pod', async () => (await podsOf(ns, 'guarded'))[0]);
    // Pending pods are evictable whatever the budget says: the guarded one runs and is ready.
    await makeReady(guarded);
    await eventually('the PDB to count the guarded pod healthy', async () => {
      const pdb = await a.policy.readNamespacedPodDisruptionBudget({ name: 'guarded', namespace: ns });
      return pdb.status?.currentHealthy === 1 && pdb.status.disruptionsAllowed === 0 ? true : undefined;
    });
    const notReady = {
      target: { apiVersion: 'v1', kind: 'Node', namespace: '', name: nodeName, resolvedBy: 'self' },
      involved: { apiVersion: 'v1', kind: 'Node', name: nodeName },
      firstSeen: new Date(Date.now() - 900_000).toISOString(),
    };
    // The bed's nodes are all NotReady (no kubelets): the default 20% guard refuses to drain.
    const refused = await outcome(await signal('nodenotready', { namespace: '', name: nodeName }, nodeName, notReady));
    expect([refused.outcome, refused.reason]).toEqual([
      'escalated',
      expect.stringMatching(/nodes are NotReady, more than the 20% of \d+ = \d+ recover may drain: not draining/),
    ]);
    expect((await a.core.readNode({ name: nodeName })).spec?.unschedulable).toBeFalsy();
    // With a policy that allows it, the same problem is drained.
    const dir = mkdtempSync(join(tmpdir(), 'reflex-policy-'));
    writeFileSync(join(dir, 'policy.yaml'), 'nodes: { graceSeconds: 300, maxUnhealthy: "100" }\ncooldownSeconds: 0\n');
    const kubeconfig = await asFunction('recover');
    const lenient = await startServer(recover, {
      env: { PORT: '0', REFLEX_HOST: '127.0.0.1', KUBECONFIG: kubeconfig, REFLEX_RECOVER_POLICY: join(dir, 'policy.yaml') },
      logSink: () => {},
    });
    const res = await outcome(await signal('nodenotready', { namespace: '', name: nodeName }, nodeName, notReady, undefined, lenient.url));
    await lenient.shutdown();
    expect([res.type, res.outcome]).toEqual(['dev.reflex.action.drained', 'applied']);
    expect((await a.core.readNode({ name: nodeName })).spec?.unschedulable).toBe(true);
    const details = (res.data['steps'] as { detail: string }[]).map((s) => s.detail);
    expect(details).toEqual(
      expect.arrayContaining([
        `cordoned node ${nodeName}`,
        `evicted pod ${ns}/${free.metadata!.name}`,
        `pod ${ns}/${guarded.metadata!.name} held by its PodDisruptionBudget`,
      ]),
    );
    // Evicted means deleted through the Eviction API (graceful: no kubelet here to finish it).
    expect(
      (await a.core.readNamespacedPod({ name: free.metadata!.name!, namespace: ns }).catch(() => undefined))?.metadata?.deletionTimestamp ??
        'gone',
    ).toBeTruthy();
    expect((await a.core.readNamespacedPod({ name: guarded.metadata!.name!, namespace: ns })).metadata?.deletionTimestamp).toBeUndefined();
    expect(await auditNotes('default', nodeName)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^ReflexEscalated: escalated: \d+ of \d+ nodes are NotReady/),
        expect.stringMatching(/^ReflexApplied: applied: node .* NotReady/),
      ]),
    );
    await a.core.deleteNode({ name: nodeName });
  });

  /** A node opted in, whose Ready condition is `status` since `secondsAgo`. */
  async function node(name: string, status: 'True' | 'False' | 'Unknown', secondsAgo: number): Promise<void> {
    await a.core.createNode({ body: { metadata: { name, annotations: { 'reflex.dev/enabled': 'true' } } } });
    const since = new Date(Date.now() - secondsAgo * 1000);
    await a.core.patchNodeStatus(
      {
        name,
        body: {
          status: { conditions: [{ type: 'Ready', status, reason: 'R', lastHeartbeatTime: new Date(), lastTransitionTime: since }] },
        },
      },
      merge,
    );
  }

  it.each<[string, 'True' | 'False' | 'Unknown', number, RegExp]>([
    // The signal claims the node has been down for an hour; its own condition says a minute.
    [
      'a node whose Ready condition changed less than the grace ago is not drained',
      'Unknown',
      60,
      /^node .* NotReady for 6\ds, within the 300s grace period$/,
    ],
    ['a Ready node is never drained, whatever the signal says', 'True', 9000, /^not confirmed: node .* is Ready$/],
  ])('%s', async (_name, status, secondsAgo, reason) => {
    const name = `n${secondsAgo}-${ns}`;
    await node(name, status, secondsAgo);
    const policy = join(mkdtempSync(join(tmpdir(), 'reflex-policy-')), 'policy.yaml');
    writeFileSync(policy, 'nodes: { graceSeconds: 300, maxUnhealthy: "100" }\n');
    const lenient = await startServer(recover, {
      env: { PORT: '0', REFLEX_HOST: '127.0.0.1', KUBECONFIG: await asFunction('recover'), REFLEX_RECOVER_POLICY: policy },
      logSink: () => {},
    });
    try {
      const claim = {
        target: { apiVersion: 'v1', kind: 'Node', namespace: '', name, resolvedBy: 'self' },
        involved: { apiVersion: 'v1', kind: 'Node', name },
        firstSeen: new Date(Date.now() - 3_600_000).toISOString(),
      };
      const res = await outcome(await signal('nodenotready', { namespace: '', name }, name, claim, undefined, lenient.url));
      expect([res.outcome, res.reason]).toEqual(['skipped', expect.stringMatching(reason)]);
      expect((await a.core.readNode({ name })).spec?.unschedulable).toBeFalsy();
    } finally {
      await lenient.shutdown();
      await a.core.deleteNode({ name });
    }
  });
});

describe('guards: no change, and an explanatory outcome', () => {
  const unchanged = async (namespace: string, name: string): Promise<void> => {
    const d = await a.apps.readNamespacedDeployment({ name, namespace });
    expect(d.spec?.template.spec?.containers[0]?.resources?.limits?.['memory']).toBe('128Mi');
  };
  const oom = async (namespace: string, name: string) =>
    outcome(await signal('oomkilled', { namespace, name }, await oomKilled(namespace, name), { container: 'app' }));
  /** What Reflex wrote in a namespace (Events whose reportingController is one of its functions). */
  const writtenIn = async (namespace: string): Promise<string[]> =>
    (await a.events.listNamespacedEvent({ namespace })).items
      .filter((e) => e.reportingController?.startsWith('reflex.dev/'))
      .map((e) => `${e.regarding?.kind} ${e.regarding?.name}`);
  /** The refusals recover recorded in Reflex's own namespace about `name`. */
  const refusalsAbout = async (name: string): Promise<string[]> =>
    (await a.events.listNamespacedEvent({ namespace: 'reflex' })).items
      .filter((e) => e.reportingController === 'reflex.dev/recover' && e.related?.name === name)
      .map((e) => `${e.regarding?.kind} ${e.regarding?.name}: ${e.note}`);

  it('a protected namespace', async () => {
    await deploy('kube-system', `reflex-test-${ns}`);
    const res = await oom('kube-system', `reflex-test-${ns}`);
    expect([res.outcome, res.reason]).toEqual(['skipped', 'namespace kube-system is protected (kube-system)']);
    await unchanged('kube-system', `reflex-test-${ns}`);
    // Nothing written into kube-system; the refusal is recorded at home, regarding recover's Service.
    expect(await writtenIn('kube-system')).toEqual([]);
    expect(await refusalsAbout(`reflex-test-${ns}`)).toEqual([
      'Service recover: skipped: namespace kube-system is protected (kube-system)',
    ]);
    await a.apps.deleteNamespacedDeployment({ name: `reflex-test-${ns}`, namespace: 'kube-system' });
  });

  it('a namespace that has not opted in', async () => {
    await deploy(closed, 'web');
    const res = await oom(closed, 'web');
    expect(res.outcome).toBe('skipped');
    expect(res.reason).toMatch(
      /has not opted in \(label the namespace reflex.dev\/enabled=true or annotate the Deployment reflex.dev\/enabled=true\)/,
    );
    await unchanged(closed, 'web');
    expect(await writtenIn(closed)).toEqual([]);
  });

  it('…unless the workload opts in by annotation', async () => {
    await deploy(closed, 'optin', { annotations: { 'reflex.dev/enabled': 'true' } });
    expect((await oom(closed, 'optin')).outcome).toBe('applied');
  });

  it('pause', async () => {
    await deploy(ns, 'paused', { annotations: { 'reflex.dev/paused': 'true' } });
    expect((await oom(ns, 'paused')).reason).toMatch(/is paused/);
    await unchanged(ns, 'paused');
  });

  it('dry-run per target: the plan is reported and audited, nothing changes', async () => {
    await deploy(ns, 'dry', { annotations: { 'reflex.dev/dry-run': 'true' } });
    const res = await oom(ns, 'dry');
    expect([res.outcome, res.data['dryRun']]).toEqual(['dryrun', true]);
    expect(res.reason).toMatch(/would container app was OOM-killed at 128Mi: limit to 192Mi/);
    expect(res.data['steps']).toEqual([{ do: 'set-memory', detail: 'set app memory limit 192Mi, request 96Mi' }]);
    await unchanged(ns, 'dry');
    expect(await auditNotes(ns, 'dry')).toEqual([expect.stringMatching(/^ReflexDryrun:/)]);
  });

  it('a cooldown after the last action', async () => {
    const at = new Date(Date.now() - 60_000).toISOString();
    await deploy(ns, 'cool', {
      annotations: {
        [STATE_ANNOTATION]: JSON.stringify({ actions: [{ at, signal: 'old', key: 'k', verb: 'restarted', state: 'done', steps: [] }] }),
      },
    });
    const res = await oom(ns, 'cool');
    expect([res.outcome, res.reason]).toEqual([
      'skipped',
      expect.stringMatching(/cooling down: recover restarted Deployment .*\/cool 60s ago \(cooldown 600s\)/),
    ]);
    await unchanged(ns, 'cool');
  });

  it('an HPA-owned target: no resize that would make its HPA scale the workload down', async () => {
    await deploy(ns, 'scaled');
    await a.autoscaling.createNamespacedHorizontalPodAutoscaler({
      namespace: ns,
      body: {
        metadata: { name: 'scaled' },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'scaled' },
          minReplicas: 2,
          maxReplicas: 10,
          metrics: [{ type: 'Resource', resource: { name: 'memory', target: { type: 'Utilization', averageUtilization: 70 } } }],
        },
      },
    });
    const res = await oom(ns, 'scaled');
    expect(res.outcome).toBe('escalated');
    expect(res.reason).toMatch(/HorizontalPodAutoscaler scaled scales this workload on memory utilization/);
    await unchanged(ns, 'scaled');
    expect(await auditNotes(ns, 'scaled')).toEqual([expect.stringMatching(/^ReflexEscalated: escalated: container app was OOM-killed/)]);
  });

  it('an exhausted budget escalates', async () => {
    const ago = (m: number) => new Date(Date.now() - m * 60_000).toISOString();
    const actions = [50, 40, 30].map((m, i) => ({ at: ago(m), signal: `old-${i}`, key: 'k', verb: 'restarted', state: 'done', steps: [] }));
    await deploy(ns, 'spent', { annotations: { [STATE_ANNOTATION]: JSON.stringify({ actions }) } });
    const res = await oom(ns, 'spent');
    expect([res.outcome, res.reason]).toEqual(['escalated', 'action budget spent: 3 of 3 actions in 3600s']);
    await unchanged(ns, 'spent');
  });
});
