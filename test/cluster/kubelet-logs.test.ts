/**
 * The stand-in kubelet (test/cluster/kubelet-server.ts) serves container logs through the real API
 * server's pods/log, as enrich (issue 21) will read them: the previous instance, its tail, a byte limit.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { UnavailableError } from '../../functions/_kit/errors.js';
import { kubeCluster } from '../../functions/_kit/k8s.js';
import { admin, adminKubeconfigPath, eventually, freshNamespace } from './kube.js';
import { createDeployment, createNode } from './kubelet.js';
import { startKubeletServer, type KubeletServer } from './kubelet-server.js';

const a = admin();
let ns: string;
let kubelet: KubeletServer;
let pod: V1Pod;

beforeAll(async () => {
  ns = await freshNamespace('logs');
  kubelet = await startKubeletServer();
  const node = await createNode(`${ns}-node`);
  await kubelet.serve(node.metadata!.name!);
  await createDeployment(ns, 'web');
  const p = await eventually('the pod', async () => (await a.core.listNamespacedPod({ namespace: ns })).items[0]);
  await a.core.createNamespacedPodBinding({
    name: p.metadata!.name!,
    namespace: ns,
    body: { metadata: { name: p.metadata!.name! }, target: { apiVersion: 'v1', kind: 'Node', name: node.metadata!.name! } },
  });
  pod = await a.core.readNamespacedPod({ name: p.metadata!.name!, namespace: ns });
});

afterAll(async () => {
  await kubelet?.close();
  await a.core.deleteNamespace({ name: ns });
});

describe('pods/log through the API server', () => {
  it('reads the previous instance of a container, its tail only', async () => {
    kubelet.setLog(ns, pod.metadata!.name!, 'app', 'one\ntwo\nthree\npanic: boom\n', true);
    const text = await a.core.readNamespacedPodLog({
      name: pod.metadata!.name!,
      namespace: ns,
      container: 'app',
      previous: true,
      tailLines: 2,
    });
    expect(text).toBe('three\npanic: boom\n');
    expect(
      kubelet.requests.some((r) => r.startsWith(`/containerLogs/${ns}/${pod.metadata!.name}/app?`) && r.includes('previous=true')),
    ).toBe(true);
  });

  it('the current instance, cut at a byte limit', async () => {
    kubelet.setLog(ns, pod.metadata!.name!, 'app', 'x'.repeat(5000));
    const text = await a.core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: ns, container: 'app', limitBytes: 100 });
    expect(text).toBe('x'.repeat(100));
  });

  it('a container with no previous instance is a 404 from the kubelet, passed on', async () => {
    kubelet.setLog(ns, pod.metadata!.name!, 'app', 'only now');
    kubelet.setLog(ns, pod.metadata!.name!, 'app', undefined, true);
    const err = await a.core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: ns, container: 'app', previous: true }).then(
      () => undefined,
      (e: unknown) => e as { code?: number },
    );
    expect(err?.code).toBeGreaterThanOrEqual(400);
  });
});

describe('the Cluster port reads container logs, bounded (what enrich will use)', () => {
  const cluster = kubeCluster({ file: adminKubeconfigPath() });
  const ref = () => ({ namespace: ns, name: pod.metadata!.name! });

  it('the previous instance: its tail, as the kubelet cut it', async () => {
    kubelet.misbehave({});
    kubelet.setLog(ns, pod.metadata!.name!, 'app', 'a\nb\nc\nexit 1\n', true);
    expect(await cluster.podLog(ref(), 'app', { previous: true, tailLines: 2, limitBytes: 1024, timeoutMs: 5000 })).toBe('c\nexit 1\n');
  });

  it('a 50 MB log from a kubelet that ignores limitBytes: only limitBytes are read', async () => {
    kubelet.misbehave({ ignoreLimits: true });
    kubelet.setLog(ns, pod.metadata!.name!, 'app', 'y'.repeat(50 * 1024 * 1024));
    const text = await cluster.podLog(ref(), 'app', { limitBytes: 16_384, timeoutMs: 10_000 });
    expect(text).toBe('y'.repeat(16_384));
  });

  it('a kubelet that does not answer: UnavailableError once the time bound passes', async () => {
    kubelet.misbehave({ delayMs: 5000 });
    kubelet.setLog(ns, pod.metadata!.name!, 'app', 'late');
    const err = await cluster.podLog(ref(), 'app', { limitBytes: 1024, timeoutMs: 500 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(/within 500 ms/);
  });

  it('no previous instance, no such container: undefined', async () => {
    kubelet.misbehave({});
    kubelet.setLog(ns, pod.metadata!.name!, 'app', undefined, true);
    expect(await cluster.podLog(ref(), 'app', { previous: true, limitBytes: 1024, timeoutMs: 5000 })).toBeUndefined();
    expect(await cluster.podLog(ref(), 'nope', { limitBytes: 1024, timeoutMs: 5000 })).toBeUndefined();
  });
});
