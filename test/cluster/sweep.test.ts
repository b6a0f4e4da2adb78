/**
 * sweep on the real control plane, as its own ServiceAccount: what the edge-triggered bridge
 * missed (state that existed before, conditions that are never Events) is found and signalled
 * once per window, only in opted-in namespaces.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { KubernetesObject, V1Node } from '@kubernetes/client-node';
import sweep from '../../functions/sweep/index.js';
import { startServer, type RunningServer } from '../../functions/_kit/index.js';
import { admin, asFunction, eventually, freshNamespace } from './kube.js';
import { createNode, recordEvent, setPodStatus } from './kubelet.js';
import { postEvent, startSink, type Sink } from './sink.js';

const a = admin();
let optedIn: string;
let other: string;
let node: V1Node;
let server: RunningServer;
let sink: Sink;

async function deploy(namespace: string, name: string, progressDeadlineSeconds?: number): Promise<void> {
  await a.apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name },
      spec: {
        replicas: 1,
        ...(progressDeadlineSeconds ? { progressDeadlineSeconds } : {}),
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: `registry.example/${name}:1.0` }] } },
      },
    },
  });
}

async function crashLoop(namespace: string, app: string): Promise<void> {
  const pod = await eventually(
    `a pod of ${app}`,
    async () => (await a.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items[0],
  );
  await setPodStatus(pod, {
    phase: 'Running',
    containerStatuses: [
      {
        name: app,
        image: `registry.example/${app}:1.0`,
        imageID: '',
        ready: false,
        restartCount: 5,
        state: {
          waiting: {
            reason: 'CrashLoopBackOff',
            message: `back-off 2m40s restarting failed container=${app} pod=${pod.metadata!.name}_${namespace}(${pod.metadata!.uid})`,
          },
        },
        lastState: { terminated: { reason: 'Error', exitCode: 1, startedAt: new Date(), finishedAt: new Date() } },
      },
    ],
  });
}

/**
 * A Pod whose container cannot start, as the kubelet leaves it: the waiting reason of its last
 * start attempt (kuberuntime_container.go startContainer), started and not ready for `seconds`.
 */
async function cannotStart(namespace: string, name: string, seconds: number): Promise<void> {
  const pod = await a.core.createNamespacedPod({
    namespace,
    body: { metadata: { name }, spec: { containers: [{ name: 'app', image: 'registry.example/api:1.0' }] } },
  });
  const since = new Date(Date.now() - seconds * 1000);
  await setPodStatus(pod, {
    phase: 'Pending',
    startTime: since,
    conditions: [
      { type: 'Initialized', status: 'True', lastTransitionTime: since },
      { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', lastTransitionTime: since },
    ],
    containerStatuses: [
      {
        name: 'app',
        image: 'registry.example/api:1.0',
        imageID: '',
        ready: false,
        restartCount: 0,
        state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "api-tls" not found' } },
      },
    ],
  });
}

/**
 * A Job of a CronJob that the real job controller fails (activeDeadlineSeconds: 1 ->
 * DeadlineExceeded), and a claim the real PV controller marks Lost (bound to a volume that is gone).
 */
async function failedJobAndLostClaim(namespace: string): Promise<void> {
  const cron = await a.objects.create({
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: { name: 'report', namespace },
    spec: {
      schedule: '0 0 1 1 *',
      suspend: true,
      jobTemplate: { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'r', image: 'registry.example/r:1' }] } } } },
    },
  } as KubernetesObject);
  await a.objects.create({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: 'report-29412360',
      namespace,
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'report', uid: cron.metadata!.uid!, controller: true }],
    },
    spec: {
      activeDeadlineSeconds: 1,
      backoffLimit: 0,
      template: { spec: { restartPolicy: 'Never', containers: [{ name: 'r', image: 'registry.example/r:1' }] } },
    },
  } as KubernetesObject);
  await a.core.createNamespacedPersistentVolumeClaim({
    namespace,
    body: {
      metadata: { name: 'data', annotations: { 'pv.kubernetes.io/bind-completed': 'yes' } },
      spec: {
        storageClassName: 'manual',
        volumeName: 'pv-gone',
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: '1Gi' } },
      },
    },
  });
  await eventually(
    'the job controller to fail the Job and the PV controller to lose the claim',
    async () => {
      const job = (await a.objects.read({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'report-29412360', namespace } })) as {
        status?: { conditions?: { type: string; status: string }[] };
      };
      const claim = await a.core.readNamespacedPersistentVolumeClaim({ name: 'data', namespace });
      return job.status?.conditions?.some((c) => c.type === 'Failed' && c.status === 'True') && claim.status?.phase === 'Lost'
        ? true
        : undefined;
    },
    45_000,
  );
}

function tick(id: string): Promise<Response> {
  return postEvent(server.url, {
    id: id,
    source: '/apis/v1/namespaces/reflex/pingsources/reflex-sweep',
    type: 'dev.knative.sources.ping',
    data: {},
  });
}

beforeAll(async () => {
  optedIn = await freshNamespace('sweep', { 'reflex.dev/enabled': 'true' });
  other = await freshNamespace('sweep-off');
  await deploy(optedIn, 'web');
  // No kubelet makes pods available, so the real deployment controller declares the rollout stalled.
  await deploy(optedIn, 'stuck', 1);
  await deploy(other, 'web');
  await crashLoop(optedIn, 'web');
  await crashLoop(other, 'web');
  node = await createNode(`sweep-node-${optedIn}`, 'False');
  await cannotStart(optedIn, 'api', 180);
  // The same reason for a few seconds is a Secret being issued: not a problem.
  await cannotStart(optedIn, 'fresh', 5);
  await failedJobAndLostClaim(optedIn);
  // node-problem-detector's Warning about a Node, in `default` (which nobody opted in).
  await recordEvent({
    namespace: 'default',
    involved: { kind: 'Node', name: `sweep-oom-${optedIn}`, uid: `sweep-oom-${optedIn}` },
    reason: 'OOMKilling',
    message: 'Out of memory: Killed process 4242 (java) total-vm:8388608kB',
    component: 'kernel-monitor',
    host: `sweep-oom-${optedIn}`,
  });
  await eventually(
    'the deployment controller to mark stuck ProgressDeadlineExceeded',
    async () => {
      const d = await a.apps.readNamespacedDeployment({ name: 'stuck', namespace: optedIn });
      return d.status?.conditions?.some((c) => c.reason === 'ProgressDeadlineExceeded') ? true : undefined;
    },
    45_000,
  );
  sink = await startSink();
  const kubeconfig = await asFunction('sweep');
  server = await startServer(sweep, {
    env: { PORT: '0', REFLEX_HOST: '127.0.0.1', KUBECONFIG: kubeconfig, K_SINK: sink.url, REFLEX_RESOLVE_OWNERS: 'cluster' },
    logSink: () => {},
  });
}, 90_000);

afterAll(async () => {
  await server?.shutdown();
  await sink?.close();
  await a.core.deleteNode({ name: node.metadata!.name! }).catch(() => undefined);
  await a.core.deleteNamespace({ name: optedIn });
  await a.core.deleteNamespace({ name: other });
});

const subjects = (): string[] => sink.received.map((r) => `${String(r.headers['ce-type'])} ${String(r.headers['ce-subject'])}`);

describe('sweep', () => {
  it('finds crash loops, stalled rollouts, start-up failures, failed Jobs, lost claims and node problems, and sends their signals to K_SINK', async () => {
    const res = await tick('tick-1');
    expect(res.status).toBe(200);
    expect(res.headers.get('ce-type')).toBe('dev.reflex.sweep.completed');
    const summary = (await res.json()) as { namespaces: string[]; emitted: number };
    expect(summary.namespaces).toContain(optedIn);
    expect(summary.namespaces).not.toContain(other);
    expect(subjects()).toEqual(
      expect.arrayContaining([
        `dev.reflex.signal.crashloop Deployment/${optedIn}/web`,
        `dev.reflex.signal.rolloutstalled Deployment/${optedIn}/stuck`,
        `dev.reflex.signal.nodenotready Node/${node.metadata!.name}`,
      ]),
    );
    // What never stays an Event: a container that has not started for minutes, a failed Job (for
    // its CronJob), a lost claim; and a Node's Warning Event in `default`.
    expect(subjects()).toEqual(
      expect.arrayContaining([
        `dev.reflex.signal.configerror Pod/${optedIn}/api`,
        `dev.reflex.signal.jobfailed CronJob/${optedIn}/report`,
        `dev.reflex.signal.storagefailed PersistentVolumeClaim/${optedIn}/data`,
      ]),
    );
    expect(subjects().some((s) => s.endsWith(` Node/sweep-oom-${optedIn}`))).toBe(true);
    expect(subjects().filter((s) => s.includes(`/${optedIn}/fresh`))).toEqual([]);
    // Nothing from the namespace that did not opt in.
    expect(subjects().filter((s) => s.includes(`/${other}/`))).toEqual([]);
    expect(summary.emitted).toBe(sink.received.length);
    // This test's own crash loop: other files' (running beside it) are in sweep's opted-in namespaces too.
    const crash = sink.received.find(
      (r) => r.headers['ce-type'] === 'dev.reflex.signal.crashloop' && r.headers['ce-subject'] === `Deployment/${optedIn}/web`,
    )!;
    expect(JSON.parse(crash.body)).toMatchObject({ detectedBy: 'sweep', target: { resolvedBy: 'ownerReferences' } });
  });

  it('a second tick in the same window sends nothing again', async () => {
    // What this file made (its namespace, its nodes): other files running beside it may open
    // problems of their own in their opted-in namespaces between the two ticks.
    const mine = (): string[] =>
      subjects().filter(
        (s) => s.includes(`/${optedIn}/`) || s.includes(`Node/${node.metadata!.name}`) || s.endsWith(` Node/sweep-oom-${optedIn}`),
      );
    const before = mine();
    const res = await tick('tick-2');
    const summary = (await res.json()) as { emitted: number; held: number };
    expect(summary.held).toBeGreaterThanOrEqual(3);
    expect(mine()).toEqual(before);
  });

  it('a problem gone for two ticks is resolved once, across a restart of sweep and concurrent ticks', async () => {
    const resolvedOf = (app: string): string[] =>
      sink.received
        .filter((r) => r.headers['ce-type'] === 'dev.reflex.resolved' && r.headers['ce-subject'] === `Deployment/${optedIn}/${app}`)
        .map((r) => String(r.headers['ce-id']));
    // The crash loop ends: the (only) pod of web is running and ready.
    const pod = (await a.core.listNamespacedPod({ namespace: optedIn, labelSelector: 'app=web' })).items[0]!;
    await setPodStatus(pod, {
      phase: 'Running',
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: new Date() }],
      containerStatuses: [
        {
          name: 'web',
          image: 'registry.example/web:1.0',
          imageID: '',
          ready: true,
          restartCount: 5,
          state: { running: { startedAt: new Date() } },
        },
      ],
    });
    // One tick without it is not yet a recovery (REFLEX_SWEEP_RESOLVE_AFTER_TICKS defaults to 2)...
    expect((await tick('tick-3')).status).toBe(200);
    expect(resolvedOf('web')).toEqual([]);
    // ...and the count survives a restart: it is in the ConfigMap, not in the process.
    await server.shutdown();
    server = await startServer(sweep, {
      env: {
        PORT: '0',
        REFLEX_HOST: '127.0.0.1',
        KUBECONFIG: await asFunction('sweep'),
        K_SINK: sink.url,
        REFLEX_RESOLVE_OWNERS: 'cluster',
      },
      logSink: () => {},
    });
    const [r4, r5] = await Promise.all([tick('tick-4'), tick('tick-5')]);
    expect([r4.status, r5.status]).toEqual([200, 200]);
    // Concurrent ticks may both send it, always under one id: one resolution.
    const ids = resolvedOf('web');
    expect(new Set(ids).size).toBe(1);
    const body = JSON.parse(sink.received.find((r) => r.headers['ce-id'] === ids[0])!.body) as Record<string, unknown>;
    expect(body).toMatchObject({
      class: 'crashloop',
      target: { kind: 'Deployment', namespace: optedIn, name: 'web' },
      firstSeen: expect.any(String),
      resolvedAt: expect.any(String),
    });
    // The problems still there stay open: nothing else was resolved.
    expect(resolvedOf('stuck')).toEqual([]);
    const cm = await a.core.readNamespacedConfigMap({ name: 'reflex-sweep-open', namespace: 'reflex' });
    // This namespace's: other test files opt their own namespaces in (a crash-looping `web` too), and
    // sweep keeps one open set for every opted-in namespace.
    const open = Object.values(
      JSON.parse(cm.data!['open.json']!) as Record<string, { class: string; target: { namespace: string; name: string } }>,
    ).map((p) => `${p.class} ${p.target.namespace}/${p.target.name}`);
    expect(open).toEqual(expect.arrayContaining([`rolloutstalled ${optedIn}/stuck`]));
    expect(open).not.toContain(`crashloop ${optedIn}/web`);
    // Later ticks do not resolve it again.
    await tick('tick-6');
    expect(new Set(resolvedOf('web')).size).toBe(1);
  });
});
