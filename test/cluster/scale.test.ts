/**
 * scale on the real control plane, as its own ServiceAccount: steps through /scale with the
 * stabilization window, stops at max, steps down on ticks after the quiet window, moves an HPA's
 * minReplicas instead of fighting it, changes replicas once for concurrent duplicates.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import scale from '../../functions/scale/index.js';
import { startServer, type RunningServer } from '../../functions/_kit/index.js';
import { admin, asFunction, eventually, freshNamespace, kubectl } from './kube.js';
import { postEvent, startSink, type Sink } from './sink.js';

const a = admin();
let ns: string;
let server: RunningServer;
let sink: Sink;
const T0 = Date.now();
let clock = new Date(T0);
const at = (seconds: number): void => {
  clock = new Date(T0 + seconds * 1000);
};

async function deploy(name: string, replicas: number, annotations: Record<string, string> = {}): Promise<void> {
  await a.apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name, annotations },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: `registry.example/${name}:1` }] } },
      },
    },
  });
}

const replicas = async (name: string): Promise<number | undefined> =>
  (await a.apps.readNamespacedDeployment({ name, namespace: ns })).spec?.replicas;

/**
 * The application's own load Event about a workload, at the server's clock (what classify would
 * have seen), as evidence for a signal: scale reads it back before it changes anything.
 */
async function evidence(
  reason: string,
  involved: { apiVersion: string; kind: string; name: string },
): Promise<{ api: string; object: Record<string, unknown> }> {
  const live = (await a.objects.read({
    apiVersion: involved.apiVersion,
    kind: involved.kind,
    metadata: { name: involved.name, namespace: ns },
  })) as {
    metadata?: { uid?: string };
  };
  const e = await a.core.createNamespacedEvent({
    namespace: ns,
    body: {
      metadata: { name: `${involved.name}.${randomBytes(4).toString('hex')}`, namespace: ns },
      involvedObject: { ...involved, namespace: ns, uid: live.metadata!.uid! },
      reason,
      message: 'orders backlog',
      type: 'Warning',
      source: { component: 'orders' },
      count: 1,
      firstTimestamp: clock,
      lastTimestamp: clock,
    },
  });
  return { api: 'core/v1 Event', object: JSON.parse(JSON.stringify(e)) as Record<string, unknown> };
}

async function load(cls: 'loadhigh' | 'loadlow', name: string, id = `sig-${randomBytes(6).toString('hex')}`): Promise<Response> {
  const reason = cls === 'loadhigh' ? 'QueueBacklogHigh' : 'QueueBacklogLow';
  const data = {
    class: cls,
    severity: 'info',
    reason,
    message: 'orders backlog',
    target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name, resolvedBy: 'self' },
    involved: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name },
    occurrences: 1,
    firstSeen: clock.toISOString(),
    lastSeen: clock.toISOString(),
    detectedBy: 'classify',
    key: createHash('sha256').update(name).digest('hex').slice(0, 16),
    evidence: await evidence(reason, { apiVersion: 'apps/v1', kind: 'Deployment', name }),
  };
  return postEvent(server.url, { id: id, source: '/reflex/classify', type: `dev.reflex.signal.${cls}`, data: data });
}

async function outcome(res: Response): Promise<{ outcome: string; reason: string; data: Record<string, unknown> }> {
  expect(res.status).toBe(200);
  expect(res.headers.get('ce-type')).toBe('dev.reflex.action.scaled');
  const data = (await res.json()) as { outcome: string; reason: string };
  return { outcome: data.outcome, reason: data.reason, data };
}

/** A PingSource tick; a refusal says why (its problem body) in the failure. */
const tick = async (id: string): Promise<{ status: number; body?: string }> => {
  const res = await postEvent(server.url, {
    id: id,
    source: '/apis/v1/namespaces/reflex/pingsources/reflex-scale',
    type: 'dev.knative.sources.ping',
    data: {},
  });
  return res.status === 202 ? { status: 202 } : { status: res.status, body: await res.text() };
};

beforeAll(async () => {
  ns = await freshNamespace('scale', { 'reflex.dev/enabled': 'true' });
  sink = await startSink();
  const kubeconfig = await asFunction('scale');
  server = await startServer(scale, {
    env: { PORT: '0', REFLEX_HOST: '127.0.0.1', KUBECONFIG: kubeconfig, K_SINK: sink.url },
    now: () => clock,
    logSink: () => {},
  });
}, 60_000);

afterAll(async () => {
  await server?.shutdown();
  await sink?.close();
  await a.core.deleteNamespace({ name: ns });
});

describe('scale', () => {
  it('steps up on repeated loadhigh, honouring the up-stabilization window, and stops at max', async () => {
    await deploy('worker', 1, { 'reflex.dev/scale-max': '3' });
    at(0);
    expect((await outcome(await load('loadhigh', 'worker'))).outcome).toBe('applied');
    expect(await replicas('worker')).toBe(2);
    at(5);
    const held = await outcome(await load('loadhigh', 'worker'));
    expect([held.outcome, held.reason]).toEqual(['skipped', 'stabilizing: scaled 5s ago (upStabilizationSeconds 30)']);
    expect(await replicas('worker')).toBe(2);
    at(40);
    expect((await outcome(await load('loadhigh', 'worker'))).outcome).toBe('applied');
    expect(await replicas('worker')).toBe(3);
    at(80);
    const top = await outcome(await load('loadhigh', 'worker'));
    expect([top.outcome, top.reason]).toEqual(['skipped', 'replicas 3 is at the maximum (3)']);
    expect(await replicas('worker')).toBe(3);
  });

  it('steps down on a tick only after the quiet window, and says so to the Broker', async () => {
    at(100);
    expect(await tick('tick-1')).toEqual({ status: 202 });
    expect(await replicas('worker')).toBe(3);
    at(80 + 601);
    expect(await tick('tick-2')).toEqual({ status: 202 });
    expect(await replicas('worker')).toBe(2);
    const sent = sink.received.map((r) => JSON.parse(r.body) as { outcome: string; target: { name: string }; reason: string });
    expect(sent).toEqual([
      expect.objectContaining({
        outcome: 'applied',
        target: expect.objectContaining({ name: 'worker' }),
        reason: expect.stringMatching(/^quiet for 601s: replicas 3 -> 2/),
      }),
    ]);
  });

  it('adjusts the HPA minReplicas instead of the replicas when an HPA targets the workload', async () => {
    await deploy('api', 2);
    await a.autoscaling.createNamespacedHorizontalPodAutoscaler({
      namespace: ns,
      body: {
        metadata: { name: 'api' },
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' },
          minReplicas: 2,
          maxReplicas: 6,
          metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
        },
      },
    });
    at(1000);
    const res = await outcome(await load('loadhigh', 'api'));
    expect([res.outcome, res.reason]).toEqual(['applied', 'load is high: HPA api minReplicas 2 -> 3 (max 6)']);
    expect((await a.autoscaling.readNamespacedHorizontalPodAutoscaler({ name: 'api', namespace: ns })).spec?.minReplicas).toBe(3);
    expect(await replicas('api')).toBe(2);
  });

  it('three concurrent deliveries of one signal change replicas once', async () => {
    await deploy('dup', 1);
    at(2000);
    const all = await Promise.all([1, 2, 3].map(() => load('loadhigh', 'dup', 'sig-dup').then(outcome)));
    expect(all.map((r) => r.outcome).sort()).toEqual(['applied', 'skipped', 'skipped']);
    expect(await replicas('dup')).toBe(2);
  });

  it('dry-run reports the plan and changes nothing', async () => {
    await deploy('dry', 1, { 'reflex.dev/dry-run': 'true' });
    at(3000);
    const res = await outcome(await load('loadhigh', 'dry'));
    expect([res.outcome, res.data['steps']]).toEqual(['dryrun', [{ do: 'replicas', detail: 'scale to 2 replicas' }]]);
    expect(await replicas('dry')).toBe(1);
  });

  it('a bad annotation is reported clearly and the workload is left alone', async () => {
    await deploy('bad', 1, { 'reflex.dev/scale-max': 'lots' });
    at(4000);
    const res = await outcome(await load('loadhigh', 'bad'));
    expect([res.outcome, res.reason]).toEqual([
      'skipped',
      'annotation reflex.dev/scale-max: expected a whole number, got "lots"; the workload is left alone',
    ]);
    expect(await replicas('bad')).toBe(1);
  });

  it('never below min, and never to zero unless the policy allows it', async () => {
    await deploy('low', 1);
    at(5000);
    const res = await outcome(await load('loadlow', 'low'));
    expect([res.outcome, res.reason]).toEqual(['skipped', 'replicas 1 is at the minimum (1)']);
  });

  it('any resource with a scale subresource: a custom resource, once its RBAC is granted', async () => {
    const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.test.reflex.dev }
spec:
  group: test.reflex.dev
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget }
  versions:
    - name: v1
      served: true
      storage: true
      subresources:
        scale: { specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas }
        status: {}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: { type: object, properties: { replicas: { type: integer } } }
            status: { type: object, properties: { replicas: { type: integer } } }
---
# What a user adds so that scale may drive their own kind (docs: functions/scale/README.md).
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: reflex-scale-widgets }
rules:
  - { apiGroups: [test.reflex.dev], resources: [widgets], verbs: [get, patch] }
  - { apiGroups: [test.reflex.dev], resources: [widgets/scale], verbs: [get, patch] }
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: reflex-scale-widgets }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: reflex-scale-widgets }
subjects: [{ kind: ServiceAccount, name: reflex-scale, namespace: reflex }]
`;
    const dir = mkdtempSync(join(tmpdir(), 'reflex-crd-'));
    writeFileSync(join(dir, 'crd.yaml'), crd);
    kubectl('apply', '-f', join(dir, 'crd.yaml'));
    kubectl('wait', '--for=condition=Established', 'crd/widgets.test.reflex.dev', '--timeout=30s');
    await eventually('widgets to be served', async () => {
      try {
        await a.objects.create({
          apiVersion: 'test.reflex.dev/v1',
          kind: 'Widget',
          metadata: { name: 'gizmo', namespace: ns },
          spec: { replicas: 1 },
        } as never);
        return true;
      } catch {
        return undefined;
      }
    });
    at(6000);
    const res = await fetch(server.url, {
      method: 'POST',
      headers: {
        'ce-specversion': '1.0',
        'ce-id': 'sig-widget',
        'ce-source': '/reflex/classify',
        'ce-type': 'dev.reflex.signal.loadhigh',
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        class: 'loadhigh',
        severity: 'info',
        reason: 'QueueBacklogHigh',
        message: 'm',
        target: { apiVersion: 'test.reflex.dev/v1', kind: 'Widget', namespace: ns, name: 'gizmo', resolvedBy: 'self' },
        involved: { apiVersion: 'test.reflex.dev/v1', kind: 'Widget', namespace: ns, name: 'gizmo' },
        occurrences: 1,
        firstSeen: clock.toISOString(),
        lastSeen: clock.toISOString(),
        detectedBy: 'classify',
        key: '00000000000000f1',
        evidence: await evidence('QueueBacklogHigh', { apiVersion: 'test.reflex.dev/v1', kind: 'Widget', name: 'gizmo' }),
      }),
    });
    const out = await outcome(res);
    expect([out.outcome, out.reason]).toEqual(['applied', 'load is high: replicas 1 -> 2 (max 10)']);
    const widget = (await a.objects.read({
      apiVersion: 'test.reflex.dev/v1',
      kind: 'Widget',
      metadata: { name: 'gizmo', namespace: ns },
    })) as unknown as { spec: { replicas: number } };
    expect(widget.spec.replicas).toBe(2);
    // Ticks find it again (custom kinds cannot be listed blindly) and step it down after the quiet window.
    at(6000 + 601);
    expect(await tick('tick-widget')).toEqual({ status: 202 });
    const after = (await a.objects.read({
      apiVersion: 'test.reflex.dev/v1',
      kind: 'Widget',
      metadata: { name: 'gizmo', namespace: ns },
    })) as unknown as { spec: { replicas: number } };
    expect(after.spec.replicas).toBe(1);
  });

  it("honours KEDA's pause on a ScaledObject that targets the workload", async () => {
    // A minimal ScaledObject CRD: the bed has no KEDA, the API shape is what matters here.
    const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: scaledobjects.keda.sh }
spec:
  group: keda.sh
  scope: Namespaced
  names: { plural: scaledobjects, singular: scaledobject, kind: ScaledObject }
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema: { openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true } }
`;
    const dir = mkdtempSync(join(tmpdir(), 'reflex-keda-'));
    writeFileSync(join(dir, 'crd.yaml'), crd);
    kubectl('apply', '-f', join(dir, 'crd.yaml'));
    kubectl('wait', '--for=condition=Established', 'crd/scaledobjects.keda.sh', '--timeout=30s');
    await deploy('queue', 1);
    await eventually('ScaledObjects to be served', async () => {
      try {
        await a.objects.create({
          apiVersion: 'keda.sh/v1alpha1',
          kind: 'ScaledObject',
          metadata: { name: 'queue', namespace: ns, annotations: { 'autoscaling.keda.sh/paused': 'true' } },
          spec: { scaleTargetRef: { name: 'queue' } },
        } as never);
        return true;
      } catch {
        return undefined;
      }
    });
    at(7000);
    const res = await outcome(await load('loadhigh', 'queue'));
    expect([res.outcome, res.reason]).toEqual([
      'skipped',
      'KEDA has paused this workload (ScaledObject queue: autoscaling.keda.sh/paused)',
    ]);
    expect(await replicas('queue')).toBe(1);
  });

  it('a bad policy file stops start-up naming the place', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reflex-scale-'));
    writeFileSync(join(dir, 'p.yaml'), 'scaling: { stepUp: "fast" }\n');
    await expect(
      startServer(scale, { env: { PORT: '0', REFLEX_HOST: '127.0.0.1', REFLEX_SCALE_POLICY: join(dir, 'p.yaml') }, logSink: () => {} }),
    ).rejects.toThrow(/p\.yaml: \/scaling\/stepUp must match pattern/);
  });
});
