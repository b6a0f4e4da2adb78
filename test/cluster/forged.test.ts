/**
 * Forged and stale signals, POSTed straight to recover and scale running as their own
 * ServiceAccounts: each is refused with its reason, and the API server's audit log (the oracle:
 * every write by Reflex's ServiceAccounts) shows no change at all — no write whatever in a
 * protected or not-opted-in namespace, only the audit Event elsewhere. Signals made from
 * Alertmanager's alerts (evidence the alert, as classify makes them) meet the same guards. The same
 * signals made from a real problem still act.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import recover from '../../functions/recover/index.js';
import scale from '../../functions/scale/index.js';
import { startServer, type RunningServer } from '../../functions/_kit/index.js';
import { admin, asFunction, eventually, freshNamespace, writesBy, type AuditedWrite } from './kube.js';
import { recordEvent, setPodStatus } from './kubelet.js';
import { postEvent } from './sink.js';

const a = admin();
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const RECOVER = 'system:serviceaccount:reflex:reflex-recover';
const SCALE = 'system:serviceaccount:reflex:reflex-scale';
let open: string;
let closed: string;
let node: string;
let recoverServer: RunningServer;
let scaleServer: RunningServer;
/** Names of the pods of each Deployment in `open`, as made by the real ReplicaSet controller. */
const pods: Record<string, V1Pod> = {};

async function deploy(namespace: string, name: string, replicas = 1): Promise<void> {
  await a.apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name },
      spec: {
        replicas,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: { containers: [{ name: 'app', image: `registry.example/${name}:1`, resources: { limits: { memory: '128Mi' } } }] },
        },
      },
    },
  });
}

async function podOf(namespace: string, app: string): Promise<V1Pod> {
  return eventually(`the ${app} pod`, async () => {
    const list = (await a.core.listNamespacedPod({ namespace, labelSelector: `app=${app}` })).items.filter(
      (p) => !p.metadata?.deletionTimestamp,
    );
    return list.length === 1 ? list[0] : undefined;
  });
}

const now = (): string => new Date().toISOString();

interface Claim {
  fn: 'recover' | 'scale';
  cls: string;
  target: { kind?: string; namespace: string; name: string; apiVersion?: string };
  involved: { kind: string; namespace?: string; name: string; uid?: string; apiVersion?: string };
  reason?: string;
  container?: string;
  lastSeen?: string;
  evidence?: { api: string; object?: Record<string, unknown> };
  occurrences?: number;
}

async function send(c: Claim): Promise<{ outcome: string; reason: string }> {
  const data = {
    class: c.cls,
    severity: 'warning',
    reason: c.reason ?? 'BackOff',
    message: 'forged',
    target: {
      apiVersion: c.target.apiVersion ?? 'apps/v1',
      kind: c.target.kind ?? 'Deployment',
      ...c.target,
      resolvedBy: 'ownerReferences',
    },
    involved: { apiVersion: 'v1', ...c.involved },
    ...(c.container ? { container: c.container } : {}),
    occurrences: c.occurrences ?? 3,
    firstSeen: c.lastSeen ?? now(),
    lastSeen: c.lastSeen ?? now(),
    detectedBy: 'classify',
    key: randomBytes(8).toString('hex'),
    ...(c.evidence ? { evidence: c.evidence } : {}),
  };
  const server = c.fn === 'recover' ? recoverServer : scaleServer;
  const res = await postEvent(server.url, {
    id: `forged-${randomBytes(6).toString('hex')}`,
    source: '/reflex/classify',
    type: `dev.reflex.signal.${c.cls}`,
    data,
  });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { outcome: string; reason: string };
  return { outcome: body.outcome, reason: body.reason };
}

/**
 * The evidence of a signal classify made from an Alertmanager alert: an alert Alertmanager sent
 * (test/wire/fixtures/alertmanager/, captured from v0.35.0) with `labels` naming what it is about,
 * firing since now, a fingerprint of its own.
 */
function alerted(fixture: string, alertname: string, labels: Record<string, string>): Claim['evidence'] {
  const sent = JSON.parse(readFileSync(new URL(`../wire/fixtures/alertmanager/${fixture}.json`, import.meta.url), 'utf8')) as {
    alerts: { labels: Record<string, string> }[];
  };
  const alert = sent.alerts.find((x) => x.labels['alertname'] === alertname)!;
  return {
    api: 'Alertmanager alert',
    object: { ...alert, labels: { ...alert.labels, ...labels }, startsAt: now(), fingerprint: randomBytes(8).toString('hex') },
  };
}

/** An application's own load Event about a Deployment, as it would write it (count, timestamps). */
async function loadEvent(namespace: string, name: string, reason: string, at: Date, count = 1): Promise<Record<string, unknown>> {
  const d = await a.apps.readNamespacedDeployment({ name, namespace });
  const e = await a.core.createNamespacedEvent({
    namespace,
    body: {
      metadata: { name: `${name}.${randomBytes(4).toString('hex')}`, namespace },
      involvedObject: { apiVersion: 'apps/v1', kind: 'Deployment', name, namespace, uid: d.metadata!.uid! },
      reason,
      message: 'queue backlog',
      type: 'Warning',
      source: { component: 'orders' },
      count,
      firstTimestamp: at,
      lastTimestamp: at,
    },
  });
  return JSON.parse(JSON.stringify(e)) as Record<string, unknown>;
}

beforeAll(async () => {
  open = await freshNamespace('forged', { 'reflex.dev/enabled': 'true' });
  closed = await freshNamespace('forged-off');
  for (const n of ['web', 'other', 'real', 'busy']) await deploy(open, n, n === 'busy' ? 3 : 1);
  await deploy(closed, 'web');
  for (const n of ['web', 'other', 'real']) pods[n] = await podOf(open, n);
  // web is healthy, as its kubelet would report it: running, never restarted.
  pods['web'] = await setPodStatus(pods['web']!, {
    phase: 'Running',
    containerStatuses: [
      {
        name: 'app',
        image: 'registry.example/web:1',
        imageID: '',
        ready: true,
        restartCount: 0,
        state: { running: { startedAt: new Date() } },
      },
    ],
  });
  node = `ready-${open}`;
  await a.core.createNode({ body: { metadata: { name: node, annotations: { 'reflex.dev/enabled': 'true' } } } });
  await a.core.patchNodeStatus(
    {
      name: node,
      body: {
        status: {
          conditions: [
            { type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: new Date(), lastTransitionTime: new Date(0) },
          ],
        },
      },
    },
    merge,
  );
  // A pod that carries web's labels and looks evicted long ago, but no controller of web's owns it.
  const impostor = await a.core.createNamespacedPod({
    namespace: open,
    body: {
      metadata: { name: 'impostor', labels: { app: 'web' } },
      spec: { containers: [{ name: 'app', image: 'registry.example/x:1' }] },
    },
  });
  await setPodStatus(impostor, {
    phase: 'Failed',
    reason: 'Evicted',
    message: 'low on memory',
    startTime: new Date(Date.now() - 7_200_000),
  });
  // Acting for real (no dry-run), cooldown off, so that only verification stands in the way.
  const env = { PORT: '0', REFLEX_HOST: '127.0.0.1' };
  recoverServer = await startServer(recover, { env: { ...env, KUBECONFIG: await asFunction('recover') }, logSink: () => {} });
  scaleServer = await startServer(scale, { env: { ...env, KUBECONFIG: await asFunction('scale') }, logSink: () => {} });
}, 90_000);

afterAll(async () => {
  await recoverServer?.shutdown();
  await scaleServer?.shutdown();
  await a.core.deleteNode({ name: node }).catch(() => undefined);
  await a.core.deleteNamespace({ name: open });
  await a.core.deleteNamespace({ name: closed });
});

/** Writes by `user` in this test's namespaces and node, or in a protected namespace. */
const ours = (user: string): AuditedWrite[] =>
  writesBy(
    user,
    (w) => w.namespace === open || w.namespace === closed || w.namespace === 'kube-system' || (w.resource === 'nodes' && w.name === node),
  );
const isAudit = (w: AuditedWrite): boolean => w.resource === 'events';

type Row = [name: string, claim: () => Promise<Claim>, reason: RegExp, writes: 'none' | 'audit only'];

describe('forged and stale signals change nothing', () => {
  it.each<Row>([
    // recover: the involved pod belongs to another workload.
    [
      'crashloop naming a pod another Deployment owns',
      async () => ({
        fn: 'recover',
        cls: 'crashloop',
        target: { namespace: open, name: 'web' },
        involved: { kind: 'Pod', namespace: open, name: pods['other']!.metadata!.name! },
      }),
      /^not confirmed: pod other-.* is not controlled by Deployment forged-.*\/web$/,
      'audit only',
    ],
    [
      'crashloop on a healthy pod',
      async () => ({
        fn: 'recover',
        cls: 'crashloop',
        target: { namespace: open, name: 'web' },
        involved: { kind: 'Pod', namespace: open, name: pods['web']!.metadata!.name! },
      }),
      /^not confirmed: no container of pod web-.* is crash-looping/,
      'audit only',
    ],
    [
      'probefailed naming a pod another Deployment owns',
      async () => ({
        fn: 'recover',
        cls: 'probefailed',
        reason: 'Unhealthy',
        target: { namespace: open, name: 'web' },
        involved: { kind: 'Pod', namespace: open, name: pods['other']!.metadata!.name! },
      }),
      /^not confirmed: pod other-.* is not controlled by/,
      'audit only',
    ],
    [
      'probefailed with no probe failure on record',
      async () => ({
        fn: 'recover',
        cls: 'probefailed',
        reason: 'Unhealthy',
        target: { namespace: open, name: 'web' },
        involved: { kind: 'Pod', namespace: open, name: pods['web']!.metadata!.name! },
      }),
      /^not confirmed: no recent probe failure is recorded for pod web-/,
      'audit only',
    ],
    [
      'oomkilled on a container that was never OOM-killed',
      async () => ({
        fn: 'recover',
        cls: 'oomkilled',
        reason: 'OOMKilled',
        container: 'app',
        target: { namespace: open, name: 'web' },
        involved: { kind: 'Pod', namespace: open, name: pods['web']!.metadata!.name! },
      }),
      /^not confirmed: container app of pod web-.* was not OOM-killed$/,
      'audit only',
    ],
    [
      'oomkilled naming an earlier incarnation of the pod (uid)',
      async () => ({
        fn: 'recover',
        cls: 'oomkilled',
        reason: 'OOMKilled',
        container: 'app',
        target: { namespace: open, name: 'web' },
        involved: { kind: 'Pod', namespace: open, name: pods['web']!.metadata!.name!, uid: 'not-this-one' },
      }),
      /^not confirmed: pod web-.* is not the pod the signal names \(uid not-this-one\)$/,
      'audit only',
    ],
    [
      'nodenotready for a Ready node',
      async () => ({
        fn: 'recover',
        cls: 'nodenotready',
        reason: 'NodeNotReady',
        target: { apiVersion: 'v1', kind: 'Node', namespace: '', name: node },
        involved: { kind: 'Node', name: node },
      }),
      /^not confirmed: node .* is Ready$/,
      'audit only',
    ],
    [
      'rolloutstalled for a rollout that is not stalled',
      async () => ({
        fn: 'recover',
        cls: 'rolloutstalled',
        reason: 'ProgressDeadlineExceeded',
        target: { namespace: open, name: 'web' },
        involved: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: open, name: 'web' },
      }),
      /^not confirmed: Deployment .*\/web reports no ProgressDeadlineExceeded/,
      'audit only',
    ],
    // Labels are not ownership: the evicted-looking impostor is not web's to clean up.
    [
      'evicted, with only a pod web does not own',
      async () => ({
        fn: 'recover',
        cls: 'evicted',
        reason: 'Evicted',
        target: { namespace: open, name: 'web' },
        involved: { kind: 'Pod', namespace: open, name: 'impostor' },
      }),
      /^no evicted pod is older than/,
      'audit only',
    ],
    [
      'a stale signal',
      async () => ({
        fn: 'recover',
        cls: 'crashloop',
        lastSeen: new Date(Date.now() - 7_200_000).toISOString(),
        target: { namespace: open, name: 'web' },
        involved: { kind: 'Pod', namespace: open, name: pods['web']!.metadata!.name! },
      }),
      /^the signal was last seen 7200s ago, longer than maxSignalAgeSeconds \(900s\)$/,
      'none',
    ],
    [
      'a target named "."',
      async () => ({
        fn: 'recover',
        cls: 'crashloop',
        target: { namespace: open, name: '.' },
        involved: { kind: 'Pod', namespace: open, name: '.' },
      }),
      /^"\." is not a valid Deployment name$/,
      'none',
    ],
    [
      'a protected namespace',
      async () => ({
        fn: 'recover',
        cls: 'crashloop',
        target: { namespace: 'kube-system', name: 'coredns' },
        involved: { kind: 'Pod', namespace: 'kube-system', name: 'coredns-1' },
      }),
      /^namespace kube-system is protected \(kube-system\)$/,
      'none',
    ],
    [
      'a namespace that has not opted in',
      async () => ({
        fn: 'recover',
        cls: 'crashloop',
        target: { namespace: closed, name: 'web' },
        involved: { kind: 'Pod', namespace: closed, name: 'web-1' },
      }),
      /has not opted in/,
      'none',
    ],
    // scale: load signals are confirmed by their Event.
    [
      'loadlow with no Event behind it',
      async () => ({
        fn: 'scale',
        cls: 'loadlow',
        reason: 'QueueBacklogLow',
        target: { namespace: open, name: 'busy' },
        involved: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: open, name: 'busy' },
      }),
      /^not confirmed: the signal carries no Event to check it against$/,
      'audit only',
    ],
    [
      'loadhigh naming an Event that does not exist',
      async () => ({
        fn: 'scale',
        cls: 'loadhigh',
        reason: 'QueueBacklogHigh',
        target: { namespace: open, name: 'busy' },
        involved: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: open, name: 'busy' },
        evidence: { api: 'core/v1 Event', object: { metadata: { name: 'busy.made-up', namespace: open } } },
      }),
      /^not confirmed: Event .*\/busy\.made-up does not exist \(any more\)$/,
      'audit only',
    ],
    [
      "loadlow citing another workload's Event",
      async () => ({
        fn: 'scale',
        cls: 'loadlow',
        reason: 'QueueBacklogLow',
        target: { namespace: open, name: 'busy' },
        involved: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: open, name: 'busy' },
        evidence: { api: 'core/v1 Event', object: await loadEvent(open, 'other', 'QueueBacklogLow', new Date()) },
      }),
      /^not confirmed: Event .* is about Deployment other, not Deployment busy$/,
      'audit only',
    ],
    [
      'loadlow citing an Event from two hours ago',
      async () => ({
        fn: 'scale',
        cls: 'loadlow',
        reason: 'QueueBacklogLow',
        target: { namespace: open, name: 'busy' },
        involved: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: open, name: 'busy' },
        evidence: { api: 'core/v1 Event', object: await loadEvent(open, 'busy', 'QueueBacklogLow', new Date(Date.now() - 7_200_000)) },
      }),
      /^not confirmed: Event .* last happened 7\d\d\ds ago, longer than maxSignalAgeSeconds \(900s\)$/,
      'audit only',
    ],
    [
      'loadlow claiming more occurrences than the Event counts',
      async () => {
        const e = await loadEvent(open, 'busy', 'QueueBacklogLow', new Date());
        return {
          fn: 'scale',
          cls: 'loadlow',
          reason: 'QueueBacklogLow',
          target: { namespace: open, name: 'busy' },
          involved: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: open, name: 'busy' },
          evidence: { api: 'core/v1 Event', object: { ...e, count: 40 } },
        };
      },
      /^not confirmed: Event .* counts 1, fewer than the signal claims$/,
      'audit only',
    ],
    [
      'loadlow about a protected namespace',
      async () => ({
        fn: 'scale',
        cls: 'loadlow',
        reason: 'QueueBacklogLow',
        target: { namespace: 'kube-system', name: 'coredns' },
        involved: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'kube-system', name: 'coredns' },
      }),
      /^namespace kube-system is protected/,
      'none',
    ],
    // Made from Alertmanager's alerts: the same guards, before anything the alert claims is weighed.
    [
      'KubePodCrashLooping alert about a pod in a protected namespace',
      async () => ({
        fn: 'recover',
        cls: 'crashloop',
        reason: 'KubePodCrashLooping',
        container: 'coredns',
        target: { namespace: 'kube-system', name: 'coredns' },
        involved: { kind: 'Pod', namespace: 'kube-system', name: 'coredns-6f9d8c7b5-q7x2m' },
        evidence: alerted('firing-grouped', 'KubePodCrashLooping', {
          namespace: 'kube-system',
          pod: 'coredns-6f9d8c7b5-q7x2m',
          container: 'coredns',
        }),
      }),
      /^namespace kube-system is protected \(kube-system\)$/,
      'none',
    ],
    [
      'KubePodCrashLooping alert about a pod in a namespace that has not opted in',
      async () => ({
        fn: 'recover',
        cls: 'crashloop',
        reason: 'KubePodCrashLooping',
        container: 'app',
        target: { namespace: closed, name: 'web' },
        involved: { kind: 'Pod', namespace: closed, name: 'web-6f9d8c7b5-q7x2m' },
        evidence: alerted('firing-grouped', 'KubePodCrashLooping', { namespace: closed, pod: 'web-6f9d8c7b5-q7x2m', container: 'app' }),
      }),
      /^Deployment forged-off-.*\/web has not opted in/,
      'none',
    ],
    // scale here has no Alertmanager to ask: an alert naming its target in its labels would be
    // confirmed by them alone, so only the guards stand in the way.
    [
      'load alert (reflex_scale: up) naming a Deployment in a namespace that has not opted in',
      async () => ({
        fn: 'scale',
        cls: 'loadhigh',
        reason: 'QueueBacklogHigh',
        target: { namespace: closed, name: 'web' },
        involved: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: closed, name: 'web' },
        evidence: alerted('firing-load', 'QueueBacklogHigh', { namespace: closed, deployment: 'web' }),
      }),
      /^Deployment forged-off-.*\/web has not opted in/,
      'none',
    ],
    [
      'load alert (reflex_scale: down) naming a Deployment in a protected namespace',
      async () => ({
        fn: 'scale',
        cls: 'loadlow',
        reason: 'QueueBacklogLow',
        target: { namespace: 'kube-system', name: 'coredns' },
        involved: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'kube-system', name: 'coredns' },
        evidence: alerted('firing-load', 'QueueBacklogHigh', {
          alertname: 'QueueBacklogLow',
          namespace: 'kube-system',
          deployment: 'coredns',
          reflex_scale: 'down',
        }),
      }),
      /^namespace kube-system is protected \(kube-system\)$/,
      'none',
    ],
  ])('%s', async (_name, claim, reason, writes) => {
    const c = await claim();
    const user = c.fn === 'recover' ? RECOVER : SCALE;
    const before = ours(user).length;
    const before3 = (await a.apps.readNamespacedDeployment({ name: 'busy', namespace: open })).spec?.replicas;
    const res = await send(c);
    expect([res.outcome, res.reason]).toEqual(['skipped', expect.stringMatching(reason)]);
    const made = ours(user).slice(before);
    // Never a change; at most the audit Event on an opted-in target, never one in a protected or closed namespace.
    expect(made.filter((w) => !isAudit(w))).toEqual([]);
    if (writes === 'none') expect(made).toEqual([]);
    expect(made.filter((w) => w.namespace === 'kube-system' || w.namespace === closed)).toEqual([]);
    for (const n of ['web', 'other'])
      expect(
        (await a.core.readNamespacedPod({ name: pods[n]!.metadata!.name!, namespace: open })).metadata?.deletionTimestamp,
      ).toBeUndefined();
    expect((await a.core.readNode({ name: node })).spec?.unschedulable).toBeFalsy();
    expect((await a.apps.readNamespacedDeployment({ name: 'busy', namespace: open })).spec?.replicas).toBe(before3);
    expect((await a.core.readNamespacedPod({ name: 'impostor', namespace: open })).metadata?.deletionTimestamp).toBeUndefined();
  });

  it('the API server recorded no write by recover or scale in a protected namespace, in the whole run so far', () => {
    for (const user of [RECOVER, SCALE]) expect(writesBy(user, (w) => w.namespace === 'kube-system')).toEqual([]);
  });
});

describe('the same signals made from a real problem still act', () => {
  it('crashloop on a pod that really crash-loops: restarted', async () => {
    const pod = pods['real']!;
    await setPodStatus(pod, {
      phase: 'Running',
      containerStatuses: [
        {
          name: 'app',
          image: 'registry.example/real:1',
          imageID: '',
          ready: false,
          restartCount: 4,
          state: { waiting: { reason: 'CrashLoopBackOff' } },
          lastState: { terminated: { reason: 'Error', exitCode: 1 } },
        },
      ],
    });
    const res = await send({
      fn: 'recover',
      cls: 'crashloop',
      target: { namespace: open, name: 'real' },
      involved: { kind: 'Pod', namespace: open, name: pod.metadata!.name!, uid: pod.metadata!.uid! },
    });
    expect(res.outcome).toBe('applied');
    expect(ours(RECOVER).filter((w) => w.resource === 'pods' && w.verb === 'delete' && w.name === pod.metadata!.name)).toHaveLength(1);
  });

  it("probefailed with the prober's Event on the pod: replaced", async () => {
    const pod = pods['other']!;
    await recordEvent({
      namespace: open,
      involved: { kind: 'Pod', name: pod.metadata!.name!, namespace: open, uid: pod.metadata!.uid! },
      reason: 'Unhealthy',
      message: 'Liveness probe failed: HTTP probe failed with statuscode: 500',
    });
    const res = await send({
      fn: 'recover',
      cls: 'probefailed',
      reason: 'Unhealthy',
      target: { namespace: open, name: 'other' },
      involved: { kind: 'Pod', namespace: open, name: pod.metadata!.name! },
    });
    expect(res.outcome).toBe('applied');
  });

  it('loadlow with its Event, recent and counted: scaled down', async () => {
    const evidence = { api: 'core/v1 Event', object: await loadEvent(open, 'busy', 'QueueBacklogLow', new Date(), 2) };
    const res = await send({
      fn: 'scale',
      cls: 'loadlow',
      reason: 'QueueBacklogLow',
      occurrences: 2,
      target: { namespace: open, name: 'busy' },
      involved: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: open, name: 'busy' },
      evidence,
    });
    expect(res.outcome).toBe('applied');
    expect((await a.apps.readNamespacedDeployment({ name: 'busy', namespace: open })).spec?.replicas).toBe(2);
  });
});
