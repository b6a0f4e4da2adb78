/**
 * enrich on the real API server (issue 21's acceptance): a crash-looping pod of a Deployment that
 * just rolled out, its container logs served by the stand-in kubelet through pods/log. The signal
 * goes through enrich, acting as its own ServiceAccount with knative/enrich/rbac.yaml, and its
 * reply through notify to a webhook sink: the message carries the previous log tail (redacted), the
 * exit code, the recent Events and the rollout diff. Then the bounds: a 50 MB log, a kubelet that
 * does not answer, an API server that answers slowly.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PatchStrategy, setHeaderOptions, type V1Pod, type V1ReplicaSet } from '@kubernetes/client-node';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EnrichedData, SignalData } from '../../functions/_contracts/events.js';
import enrich from '../../functions/enrich/index.js';
import notify from '../../functions/notify/index.js';
import { startServer, type RunningServer } from '../../functions/_kit/index.js';
import { admin, apiServerHop, asFunction, eventually, freshNamespace, kubectl } from './kube.js';
import { createDeployment, createNode, crashLoopingStatus, recordBackOff, setPodStatus } from './kubelet.js';
import { startKubeletServer, type KubeletServer } from './kubelet-server.js';
import { startSink, type Sink } from './sink.js';

const a = admin();
let ns: string;
let kubelet: KubeletServer;
let nodeName: string;
let pod: V1Pod;
let enricher: RunningServer;
let notifier: RunningServer;
let hook: Sink;

const TOKEN = 'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c2hvcDp3ZWIifQ.c2lnbmF0dXJl';
const ENV_SECRET = 'env-value-that-must-never-leave';
const previousLog = [
  '2026-11-30T10:00:00Z INFO starting web 2.0',
  '2026-11-30T10:00:01Z INFO loading configuration from /etc/web',
  `2026-11-30T10:00:01Z DEBUG calling https://payments.internal/api with Authorization: Bearer ${TOKEN}`,
  '2026-11-30T10:00:02Z ERROR payments answered 401',
  'panic: runtime error: invalid memory address or nil pointer dereference',
  '[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4b2f1a]',
  '',
].join('\n');

/** The signal classify would send for this pod's BackOff Events. */
const signal = (over: Partial<SignalData> = {}): SignalData => ({
  class: 'crashloop',
  severity: 'warning',
  reason: 'BackOff',
  message: `Back-off restarting failed container app in pod ${pod.metadata!.name}_${ns}(${pod.metadata!.uid})`,
  rule: 'crashloop-backoff',
  target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name: 'web', resolvedBy: 'ownerReferences' },
  involved: { apiVersion: 'v1', kind: 'Pod', namespace: ns, name: pod.metadata!.name!, uid: pod.metadata!.uid! },
  container: 'app',
  occurrences: 5,
  firstSeen: new Date(Date.now() - 120_000).toISOString(),
  lastSeen: new Date().toISOString(),
  detectedBy: 'classify',
  key: '0123456789abcdef',
  ...over,
});

/** What docs/install.md#logs-in-messages has an operator run: enrich may read logs in this namespace. */
const bindLogs = (): void =>
  void kubectl(
    '-n',
    ns,
    'create',
    'rolebinding',
    'reflex-enrich-logs',
    '--clusterrole=reflex-enrich-logs',
    '--serviceaccount=reflex:reflex-enrich',
  );

/** A binary CloudEvent to `url`; the answer's status, headers and body. */
async function post(
  url: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; headers: Headers; body: string }> {
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

const asSignal = (data: SignalData, id: string): [Record<string, string>, string] => [
  {
    'content-type': 'application/json',
    'ce-specversion': '1.0',
    'ce-id': id,
    'ce-source': '/reflex/classify',
    'ce-type': `dev.reflex.signal.${data.class}`,
    'ce-reflexclass': data.class,
  },
  JSON.stringify(data),
];

/** enrich's reply, as the Broker would take it (the reply's ce-* headers and body). */
async function enriched(
  data: SignalData,
  server: RunningServer = enricher,
): Promise<{ took: number; headers: Record<string, string>; body: string; data: EnrichedData }> {
  const started = Date.now();
  const res = await post(server.url, ...asSignal(data, `sig-${Math.random().toString(16).slice(2)}`));
  const took = Date.now() - started;
  expect([res.status, res.body.slice(0, 300)]).toEqual([200, expect.any(String)]);
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    if (k.startsWith('ce-') || k === 'content-type') headers[k] = v;
  });
  return { took, headers, body: res.body, data: JSON.parse(res.body) as EnrichedData };
}

beforeAll(async () => {
  ns = await freshNamespace('enrich', { 'reflex.dev/enabled': 'true' });
  kubelet = await startKubeletServer();
  nodeName = `${ns}-node`;
  await createNode(nodeName);
  await kubelet.serve(nodeName);
  // Revision 1, then a rollout that changes the image, adds an env variable and lowers the limit.
  await createDeployment(ns, 'web', { image: 'registry.example/web:1.0', resources: { limits: { memory: '256Mi' } } });
  await a.apps.patchNamespacedDeployment(
    {
      name: 'web',
      namespace: ns,
      body: [
        { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'registry.example/web:2.0' },
        { op: 'add', path: '/spec/template/spec/containers/0/env', value: [{ name: 'PAYMENTS_TOKEN', value: ENV_SECRET }] },
        { op: 'replace', path: '/spec/template/spec/containers/0/resources/limits/memory', value: '128Mi' },
      ],
    },
    setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
  );
  const rs2 = await eventually('revision 2', async () =>
    (await a.apps.listNamespacedReplicaSet({ namespace: ns })).items.find(
      (r: V1ReplicaSet) => r.metadata?.annotations?.['deployment.kubernetes.io/revision'] === '2',
    ),
  );
  const p = await eventually('a pod of revision 2', async () =>
    (await a.core.listNamespacedPod({ namespace: ns })).items.find((x) =>
      x.metadata?.ownerReferences?.some((o) => o.uid === rs2.metadata?.uid),
    ),
  );
  await a.core.createNamespacedPodBinding({
    name: p.metadata!.name!,
    namespace: ns,
    body: { metadata: { name: p.metadata!.name! }, target: { apiVersion: 'v1', kind: 'Node', name: nodeName } },
  });
  pod = await setPodStatus(p, crashLoopingStatus('registry.example/web:2.0', 5));
  await recordBackOff(pod, 'app', nodeName);
  kubelet.setLog(ns, pod.metadata!.name!, 'app', previousLog, true);
  kubelet.setLog(ns, pod.metadata!.name!, 'app', '2026-11-30T10:01:20Z INFO starting web 2.0\n');

  // As docs/install.md says: logs only where the ClusterRole reflex-enrich-logs is bound.
  const kubeconfig = await asFunction('enrich');
  bindLogs();
  enricher = await startServer(enrich, {
    env: { PORT: '0', REFLEX_HOST: '127.0.0.1', KUBECONFIG: kubeconfig, REFLEX_ENRICH_TIMEOUT_MS: '2000' },
    logSink: () => {},
  });

  hook = await startSink(200);
  const routes = join(mkdtempSync(join(tmpdir(), 'reflex-enrich-')), 'routes.yaml');
  writeFileSync(
    routes,
    `defaults: { groupWindowSeconds: 0, timeoutMs: 2000 }
sinks:
  - { name: audit, type: webhook, urlEnv: HOOK_URL, secretEnv: HOOK_SECRET }
routes:
  - { name: everything, sinks: [audit] }
`,
  );
  notifier = await startServer(notify, {
    env: { PORT: '0', REFLEX_HOST: '127.0.0.1', REFLEX_NOTIFY_ROUTES: routes, HOOK_URL: hook.url, HOOK_SECRET: 'whsec-enrich-test' },
    logSink: () => {},
  });
}, 90_000);

afterAll(async () => {
  await enricher?.shutdown();
  await notifier?.shutdown();
  await hook?.close();
  await kubelet?.close();
  await a.core.deleteNode({ name: nodeName }).catch(() => undefined);
  await a.core.deleteNamespace({ name: ns }).catch(() => undefined);
});

describe('a crash-looping pod, through enrich and notify to a webhook', () => {
  it('the message carries the previous log tail (the bearer token redacted), the exit code, the recent Events and the rollout diff', async () => {
    kubelet.misbehave({});
    const reply = await enriched(signal());
    expect(reply.headers['ce-type']).toBe('dev.reflex.enriched.crashloop');
    expect(reply.headers['ce-enrichment']).toBe('complete');
    const e = reply.data.enrichment;
    expect([e.complete, e.notes]).toEqual([true, []]);

    const told = await post(notifier.url, reply.headers, reply.body);
    expect(told.status).toBe(202);
    expect(hook.received).toHaveLength(1);
    const message = hook.received[0]!.body;
    const body = JSON.parse(message) as { data: EnrichedData };
    const got = body.data.enrichment;

    const previous = got.logs?.find((l) => l.previous && l.container === 'app');
    expect(previous?.lines.slice(-2)).toEqual([
      'panic: runtime error: invalid memory address or nil pointer dereference',
      '[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x4b2f1a]',
    ]);
    expect(previous?.lines.join('\n')).toContain('Authorization: [REDACTED:authorization]');
    expect(got.logs?.find((l) => !l.previous)?.lines).toEqual(['2026-11-30T10:01:20Z INFO starting web 2.0']);
    expect(got.containers?.[0]).toMatchObject({
      name: 'app',
      restartCount: 5,
      state: 'waiting: CrashLoopBackOff',
      lastTermination: { exitCode: 1, reason: 'Error' },
    });
    expect(got.events?.map((x) => [x.regarding, x.reason])).toContainEqual([`Pod ${pod.metadata!.name}`, 'BackOff']);
    // The Deployment controller's own Events about the rollout (ScalingReplicaSet) come too.
    expect(got.events?.some((x) => x.regarding === 'Deployment web' && x.reason === 'ScalingReplicaSet')).toBe(true);
    expect(got.rollout).toMatchObject({ from: { revision: 1 }, to: { revision: 2 } });
    expect(got.rollout?.changes).toEqual(
      expect.arrayContaining([
        { container: 'app', field: 'image', before: 'registry.example/web:1.0', after: 'registry.example/web:2.0' },
        { container: 'app', field: 'env', after: 'PAYMENTS_TOKEN' },
        { container: 'app', field: 'resources', before: 'limits.memory=256Mi', after: 'limits.memory=128Mi' },
      ]),
    );
    expect(got.node).toMatchObject({
      name: nodeName,
      conditions: expect.arrayContaining([expect.objectContaining({ type: 'Ready', status: 'True' })]),
    });
    // Secrets never leave the cluster: not the token, not the env value.
    for (const secret of [TOKEN, TOKEN.split('.')[1]!, ENV_SECRET])
      expect([secret.slice(0, 12), message.includes(secret)]).toEqual([secret.slice(0, 12), false]);
  });

  it('without the RoleBinding for logs: everything else, and the note says what to bind', async () => {
    kubectl('-n', ns, 'delete', 'rolebinding', 'reflex-enrich-logs');
    try {
      const e = (await enriched(signal())).data.enrichment;
      expect(e.logs).toBeUndefined();
      expect(e.complete).toBe(false);
      expect(e.notes).toContain(
        `previous log of container app: enrich may not read logs in ${ns}: bind the ClusterRole reflex-enrich-logs there (docs/install.md#logs-in-messages)`,
      );
      expect(e.containers?.[0]?.lastTermination?.exitCode).toBe(1);
    } finally {
      bindLogs();
    }
    await eventually('logs readable again', async () => ((await enriched(signal())).data.enrichment.logs ? true : undefined));
  });
});

describe('bounds: size and time', () => {
  it('a 50 MB log from a kubelet that ignores limitBytes: the tail kept is within the byte bound, quickly', async () => {
    const line = `${'x'.repeat(99)}\n`;
    kubelet.setLog(ns, pod.metadata!.name!, 'app', line.repeat(500_000) + 'the last line\n', true);
    kubelet.misbehave({ ignoreLimits: true });
    try {
      const reply = await enriched(signal());
      const previous = reply.data.enrichment.logs?.find((l) => l.previous);
      expect(previous?.truncated).toBe(true);
      expect(Buffer.byteLength(previous!.lines.join('\n'))).toBeLessThanOrEqual(8192);
      expect(reply.body.length).toBeLessThan(64 * 1024);
      expect(reply.took).toBeLessThan(2000 + 1500);
    } finally {
      kubelet.misbehave({});
      kubelet.setLog(ns, pod.metadata!.name!, 'app', previousLog, true);
    }
  });

  it('a kubelet that does not answer: the reply comes within the bound, with the rest, saying the log did not come', async () => {
    kubelet.misbehave({ delayMs: 30_000 });
    try {
      const reply = await enriched(signal());
      const e = reply.data.enrichment;
      expect(reply.took).toBeLessThan(2000 + 1500);
      expect(e.complete).toBe(false);
      expect(e.notes).toEqual(
        expect.arrayContaining([expect.stringMatching(/^previous log of container app: .*(no answer within|2000 ms)/)]),
      );
      expect(e.containers?.[0]?.lastTermination?.exitCode).toBe(1);
      expect(e.rollout?.changes.length).toBeGreaterThan(0);
    } finally {
      kubelet.misbehave({});
    }
  });

  it('an API server that answers slowly: enrich still answers within its bound, partial, and says so', async () => {
    const hop = await apiServerHop(await asFunction('enrich'));
    const slowly = await startServer(enrich, {
      env: { PORT: '0', REFLEX_HOST: '127.0.0.1', KUBECONFIG: hop.kubeconfig, REFLEX_ENRICH_TIMEOUT_MS: '1000' },
      logSink: () => {},
    });
    try {
      hop.slow(3000);
      const reply = await enriched(signal(), slowly);
      expect(reply.took).toBeLessThan(1000 + 1500);
      expect(reply.data.enrichment.complete).toBe(false);
      expect(reply.data.enrichment.notes.join('\n')).toMatch(/no answer within the 1000 ms bound/);
      // The signal itself is intact: notify tells it whatever enrich could read.
      expect(reply.data).toMatchObject({ class: 'crashloop', key: '0123456789abcdef', target: { name: 'web' } });
    } finally {
      hop.slow(0);
      await slowly.shutdown();
      hop.close();
    }
  });
});
