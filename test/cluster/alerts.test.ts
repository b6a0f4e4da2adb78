/**
 * Alertmanager as a source, end to end on the test control plane (issue 22): the development
 * broker routes by the shipped Triggers, each function runs as its own ServiceAccount and acts
 * (not dry-run). The real Alertmanager's notifications (test/wire/fixtures/alertmanager/, moved
 * to this test's namespace) go to the alerts function: a KubeDeploymentReplicasMismatch alert
 * becomes a signal people hear of, and its resolution a follow-up; a custom load alert steps its
 * Deployment's replicas up through /scale, within the policy, once Alertmanager (here its API,
 * served by the test: test/cluster/alertmanager.test.ts runs the real one when it is built) says
 * the alert is active. Alerts about a protected namespace or one that has not opted in go the same
 * way and change nothing: the API server's audit log shows no write by recover or scale there.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMesh, type RunningMesh } from '../../dev/mesh/mesh.js';
import type { BrokerRecord } from '../../dev/mesh/broker.js';
import type { ActiveAlert } from '../../functions/_act/alertmanager.js';
import { admin, adminKubeconfigPath, asFunction, eventually, freshNamespace, writesBy, type AuditedWrite } from './kube.js';
import { crashLoopingStatus, createDeployment, setPodStatus } from './kubelet.js';
import { startSink, type Sink } from './sink.js';

const a = admin();
const TOKEN = 'c0ffee00c0ffee00c0ffee00c0ffee00';
let ns: string;
/** A namespace that has not opted in. */
let closed: string;
let mesh: RunningMesh;
let slack: Sink;
const records: BrokerRecord[] = [];

/** Alertmanager's API v2, as scale asks it: the alerts active now. */
const active: ActiveAlert[] = [];
let am: { url: string; server: Server };

type Notification = { groupKey: string; alerts: { labels: Record<string, string>; fingerprint: string; startsAt: string }[] };
/** A captured notification, about this test's namespace. */
function notification(name: string, change: (n: Notification) => void = () => {}): Notification {
  const n = JSON.parse(readFileSync(new URL(`../wire/fixtures/alertmanager/${name}.json`, import.meta.url), 'utf8')) as Notification;
  for (const alert of n.alerts) if (alert.labels['namespace']) alert.labels['namespace'] = ns;
  n.groupKey = n.groupKey.replace(/namespace="[^"]*"/, `namespace="${ns}"`);
  change(n);
  return n;
}

async function post(n: Notification): Promise<Response> {
  const alerts = mesh.services.get('reflex/alerts')!;
  const res = await fetch(`${alerts.url}/alertmanager`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(n),
  });
  await mesh.broker.idle();
  return res;
}

const accepted = (type: string): Record<string, unknown>[] =>
  records.flatMap((r) => (r.kind === 'accepted' && r.event.type === type ? [r.event as unknown as Record<string, unknown>] : []));
const replicas = async (name: string, namespace = ns): Promise<number | undefined> =>
  (await a.apps.readNamespacedDeployment({ name, namespace })).spec?.replicas;
async function deploy(name: string, count: number, annotations: Record<string, string> = {}): Promise<void> {
  await a.apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name, annotations },
      spec: {
        replicas: count,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: `registry.example/${name}:1` }] } },
      },
    },
  });
}

beforeAll(async () => {
  ns = await freshNamespace('alerts', { 'reflex.dev/enabled': 'true' });
  await deploy('web', 3);
  await deploy('worker', 2);
  await deploy('idle', 2);
  // At most 3 replicas for this one (the policy's max is 10), and it has them.
  await deploy('full', 3, { 'reflex.dev/scale-max': '3' });
  closed = await freshNamespace('alerts-off');
  await createDeployment(closed, 'web', { replicas: 1 });
  await createDeployment(closed, 'worker', { replicas: 2 });
  slack = await startSink(200);
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end(req.url?.startsWith('/api/v2/alerts') ? JSON.stringify(active) : '[]');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  am = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
  // The shipped policy, but a step at once after another (its upStabilizationSeconds is 30).
  const dir = mkdtempSync(join(tmpdir(), 'reflex-alerts-'));
  const policy = join(dir, 'scale-policy.yaml');
  writeFileSync(
    policy,
    readFileSync(new URL('../../knative/config/scale-policy.yaml', import.meta.url), 'utf8').replace(
      'upStabilizationSeconds: 30',
      'upStabilizationSeconds: 0',
    ),
  );
  const [classify, scale, recover] = await Promise.all([asFunction('classify'), asFunction('scale'), asFunction('recover')]);
  mesh = await startMesh({
    port: 0,
    act: true,
    env: { KUBECONFIG: adminKubeconfigPath(), REFLEX_ALERTS_BEARER_TOKEN: TOKEN, REFLEX_SLACK_WEBHOOK_URL: `${slack.url}/services/T/B/X` },
    // Each function as its own ServiceAccount; no sweep ticks here.
    definitions: { sweep: null },
    serviceEnv: {
      classify: { KUBECONFIG: classify },
      scale: { KUBECONFIG: scale, REFLEX_ALERTMANAGER_URL: am.url, REFLEX_SCALE_POLICY: policy },
      recover: { KUBECONFIG: recover },
      notify: { REFLEX_NOTIFY_STATE: 'memory' },
    },
    onRecord: (r) => records.push(r),
  });
}, 120_000);

afterAll(async () => {
  await mesh?.close();
  await slack?.close();
  am?.server.close();
  if (ns) await a.core.deleteNamespace({ name: ns });
  if (closed) await a.core.deleteNamespace({ name: closed });
});

describe('kube-prometheus alerts', () => {
  it('KubeDeploymentReplicasMismatch -> signal rolloutstalled on the Deployment -> Slack; recover acts only on what it confirms', async () => {
    expect((await post(notification('firing-grouped'))).status).toBe(200);
    const [signal] = accepted('dev.reflex.signal.rolloutstalled');
    expect(signal).toMatchObject({ targetkind: 'Deployment', targetns: ns, targetname: 'web', reason: 'KubeDeploymentReplicasMismatch' });
    expect(slack.received.some((r) => r.body.includes('KubeDeploymentReplicasMismatch') && r.body.includes(`${ns}/web`))).toBe(true);
    // The Deployment's own status shows no ProgressDeadlineExceeded: recover does not roll it back.
    const acted = accepted('dev.reflex.action.skipped').map((e) => (e['data'] as { reason: string }).reason);
    expect(acted.join('\n')).toMatch(/not confirmed: .*no ProgressDeadlineExceeded/);
    expect(await replicas('web')).toBe(3);
  });

  it('its resolution -> dev.reflex.resolved with the problem key -> notify follows up', async () => {
    const key = (accepted('dev.reflex.signal.rolloutstalled')[0]!['data'] as { key: string }).key;
    expect((await post(notification('resolved-in-group'))).status).toBe(200);
    const [resolved] = accepted('dev.reflex.resolved');
    expect(resolved!['data']).toMatchObject({ key, class: 'rolloutstalled', reason: 'KubeDeploymentReplicasMismatch' });
    expect(slack.received.some((r) => /Resolved: rolloutstalled/.test(r.body))).toBe(true);
  });
});

describe('a custom load alert drives scale', () => {
  /**
   * The load alert of the fixture, about `deployment`, started two minutes ago. (One problem, a
   * class on a target, is signalled once per its rule's repeatAfterSeconds, 60 s: each case has its own workload.)
   */
  const load = (fingerprint: string, deployment: string): Notification =>
    notification('firing-load', (n) => {
      n.alerts[0]!.fingerprint = fingerprint;
      n.alerts[0]!.labels['deployment'] = deployment;
      n.alerts[0]!.startsAt = new Date(Date.now() - 2 * 60_000).toISOString();
    });
  const listed = (n: Notification): ActiveAlert => {
    const x = n.alerts[0]!;
    return { fingerprint: x.fingerprint, startsAt: x.startsAt, labels: x.labels, status: { state: 'active' } };
  };
  const scaled = (): { outcome: string; reason: string }[] =>
    accepted('dev.reflex.action.scaled').map((e) => e['data'] as { outcome: string; reason: string });

  it('not active in Alertmanager (a forged or stale claim): not confirmed, replicas unchanged', async () => {
    expect((await post(load('00000000000000f1', 'idle'))).status).toBe(200);
    expect(scaled().at(-1)).toMatchObject({
      outcome: 'skipped',
      reason: expect.stringMatching(/not confirmed: .*not active in Alertmanager/),
    });
    expect(await replicas('idle')).toBe(2);
  });

  it('active in Alertmanager: replicas 2 -> 3 through /scale', async () => {
    const n = load('00000000000000f2', 'worker');
    active.push(listed(n));
    expect((await post(n)).status).toBe(200);
    expect(scaled().at(-1)).toMatchObject({ outcome: 'applied', reason: expect.stringMatching(/replicas 2 -> 3/) });
    expect(await replicas('worker')).toBe(3);
  });

  it('a workload at its max (annotation reflex.dev/scale-max 3) stays there', async () => {
    const n = load('00000000000000f3', 'full');
    active.push(listed(n));
    expect((await post(n)).status).toBe(200);
    expect(scaled().at(-1)).toMatchObject({ outcome: 'skipped', reason: expect.stringMatching(/at the maximum \(3\)/) });
    expect(await replicas('full')).toBe(3);
  });
});

describe('alerts about a protected namespace or one that has not opted in change nothing', () => {
  const USERS = { recover: 'system:serviceaccount:reflex:reflex-recover', scale: 'system:serviceaccount:reflex:reflex-scale' };
  /** Writes by recover and scale in kube-system or in `closed`, as the API server's audit log recorded them. */
  const writtenThere = (): AuditedWrite[] =>
    Object.values(USERS).flatMap((u) => writesBy(u, (w) => w.namespace === 'kube-system' || w.namespace === closed));
  /** A workload in kube-system no other test names (refusals are told apart by what they regard). */
  const system = (): string => `reflex-test-${closed}`;
  /** The pod closed/web's ReplicaSet made, crash-looping as its kubelet would report it. */
  const crashLooping = async (): Promise<{ name: string; uid: string }> => {
    const pod = await eventually('the pod of web', async () => {
      const list = (await a.core.listNamespacedPod({ namespace: closed, labelSelector: 'app=web' })).items;
      return list.length === 1 ? list[0] : undefined;
    });
    await setPodStatus(pod, crashLoopingStatus('registry.example/web:1.0', 5));
    return { name: pod.metadata!.name!, uid: pod.metadata!.uid! };
  };
  /** A captured notification cut to its alerts named `labels.alertname` (all if none), relabelled. */
  const alerting = (fixture: string, labels: Record<string, string>, fingerprint: string): Notification =>
    notification(fixture, (n) => {
      n.alerts = n.alerts.filter((x) => !labels['alertname'] || x.labels['alertname'] === labels['alertname']);
      for (const x of n.alerts) {
        Object.assign(x.labels, labels);
        x.fingerprint = fingerprint;
        x.startsAt = new Date(Date.now() - 20 * 60_000).toISOString();
      }
    });
  /** Listed as active by Alertmanager: scale's confirmation would pass, so only the guards stop it. */
  const activeToo = (n: Notification): Notification => {
    const x = n.alerts[0]!;
    active.push({ fingerprint: x.fingerprint, startsAt: x.startsAt, labels: x.labels, status: { state: 'active' } });
    return n;
  };

  type Row = [
    name: string,
    alert: () => Promise<Notification>,
    about: () => { fn: 'recover' | 'scale'; cls: string; namespace: string; name: string },
    reason: RegExp,
  ];
  it.each<Row>([
    [
      'KubePodCrashLooping about a pod in kube-system (protected)',
      async () =>
        alerting(
          'firing-grouped',
          { alertname: 'KubePodCrashLooping', namespace: 'kube-system', pod: `${system()}-6f9d8c7b5-q7x2m`, container: 'app' },
          '00000000000000a1',
        ),
      () => ({ fn: 'recover', cls: 'crashloop', namespace: 'kube-system', name: system() }),
      /^namespace kube-system is protected \(kube-system\)$/,
    ],
    [
      'KubePodCrashLooping about a pod that does crash-loop, of a Deployment in a namespace that has not opted in',
      async () => {
        const pod = await crashLooping();
        const labels = { alertname: 'KubePodCrashLooping', namespace: closed, pod: pod.name, uid: pod.uid, container: 'app' };
        return alerting('firing-grouped', labels, '00000000000000a2');
      },
      () => ({ fn: 'recover', cls: 'crashloop', namespace: closed, name: 'web' }),
      /^Deployment alerts-off-.*\/web has not opted in/,
    ],
    [
      'a reflex_scale load alert about a Deployment in a namespace that has not opted in, active in Alertmanager',
      async () => activeToo(alerting('firing-load', { namespace: closed, deployment: 'worker' }, '00000000000000a3')),
      () => ({ fn: 'scale', cls: 'loadhigh', namespace: closed, name: 'worker' }),
      /^Deployment alerts-off-.*\/worker has not opted in/,
    ],
    [
      'a reflex_scale load alert about a Deployment in kube-system (protected), active in Alertmanager',
      async () => activeToo(alerting('firing-load', { namespace: 'kube-system', deployment: system() }, '00000000000000a4')),
      () => ({ fn: 'scale', cls: 'loadhigh', namespace: 'kube-system', name: system() }),
      /^namespace kube-system is protected \(kube-system\)$/,
    ],
  ])('%s', async (_name, alert, about, reason) => {
    const n = await alert();
    const t = about();
    const closedReplicas = [await replicas('web', closed), await replicas('worker', closed)];
    expect((await post(n)).status).toBe(200);
    const on = (e: Record<string, unknown>): boolean => e['targetns'] === t.namespace && e['targetname'] === t.name;
    // classify made it a signal about the workload, as in any namespace: the guards are downstream.
    expect(accepted(`dev.reflex.signal.${t.cls}`).filter(on)).toHaveLength(1);
    // The function that acts on the class refused it, with the guard's reason...
    const replies = records.flatMap((r) =>
      r.kind === 'accepted' && r.event.type.startsWith('dev.reflex.action.') && on(r.event as unknown as Record<string, unknown>)
        ? [r.event.data as { outcome: string; reason: string; signal: { class?: string } }]
        : [],
    );
    expect(replies.filter((d) => d.signal.class === t.cls).map((d) => [d.outcome, d.reason])).toEqual([
      ['skipped', expect.stringMatching(reason)],
    ]);
    // ...recorded the refusal at home, regarding its own Service...
    const refusals = (await a.events.listNamespacedEvent({ namespace: 'reflex' })).items.filter(
      (e) => e.reportingController === `reflex.dev/${t.fn}` && e.related?.namespace === t.namespace && e.related?.name === t.name,
    );
    expect(refusals.map((e) => `${e.regarding?.kind} ${e.regarding?.name}: ${e.note}`)).toEqual([
      expect.stringMatching(new RegExp(`^Service ${t.fn}: skipped: ${reason.source.slice(1)}`)),
    ]);
    // ...and wrote nothing where the alert pointed: no write at all by recover or scale there.
    expect(writtenThere()).toEqual([]);
    expect([await replicas('web', closed), await replicas('worker', closed)]).toEqual(closedReplicas);
  });
});
