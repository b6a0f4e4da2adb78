/**
 * alerts over HTTP (issue 22): Alertmanager's webhook, as the real Alertmanager (v0.35.0) posted
 * it (test/wire/fixtures/alertmanager/, captured from its webhook receiver: grouped, repeated,
 * resolved, a load alert, an alert with no namespace), becomes one CloudEvent per alert at K_SINK;
 * repeats and other replicas' sends are the same events; senders without the credentials are
 * refused (401); what is not a notification is refused naming the fault (400); a Broker that does
 * not take the alerts makes Alertmanager retry (503 with Retry-After).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import alerts from '../../functions/alerts/index.js';
import { startServer, type RunningServer } from '../../functions/_kit/index.js';

const TOKEN = '0123456789abcdef0123456789abcdef';
const USER = 'alertmanager';
const PASSWORD = 'fedcba9876543210fedcba9876543210';
const fixture = (name: string): string => readFileSync(new URL(`./fixtures/alertmanager/${name}.json`, import.meta.url), 'utf8');

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly data: Record<string, unknown>;
}
/** The Broker's ingress: takes binary-mode CloudEvents, answering `status`. */
interface FakeBroker {
  url: string;
  events: Received[];
  status: number;
  close(): Promise<void>;
}
async function fakeBroker(): Promise<FakeBroker> {
  const b = { events: [] as Received[], status: 202 } as FakeBroker;
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      if (b.status < 300) b.events.push({ headers: req.headers, data: JSON.parse(raw) as Record<string, unknown> });
      res.writeHead(b.status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  b.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/reflex/reflex`;
  b.close = () => new Promise((r) => (server.closeAllConnections(), server.close(() => r())));
  return b;
}

let broker: FakeBroker;
let replicaA: RunningServer;
let replicaB: RunningServer;
let open: RunningServer;
const servers: RunningServer[] = [];

const env = (extra: Record<string, string> = {}): Record<string, string> => ({
  PORT: '0',
  REFLEX_HOST: '127.0.0.1',
  K_SINK: broker.url,
  REFLEX_ALERTS_BEARER_TOKEN: TOKEN,
  REFLEX_ALERTS_BASIC_USERNAME: USER,
  REFLEX_ALERTS_BASIC_PASSWORD: PASSWORD,
  ...extra,
});
const serve = async (e: Record<string, string>): Promise<RunningServer> => {
  const s = await startServer(alerts, { env: e, logSink: () => {} });
  servers.push(s);
  return s;
};

beforeAll(async () => {
  broker = await fakeBroker();
  replicaA = await serve(env());
  replicaB = await serve(env());
  // No Secret yet: the install's state until the operator creates reflex-alerts.
  open = await serve({ PORT: '0', REFLEX_HOST: '127.0.0.1', K_SINK: broker.url });
});
afterAll(async () => {
  for (const s of servers) await s.shutdown();
  await broker.close();
});

/** What Alertmanager's webhook sends: POST, application/json, its credentials. */
const post = (
  server: RunningServer,
  body: string,
  headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` },
): Promise<Response> =>
  fetch(`${server.url}/alertmanager`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'Alertmanager/0.35.0', ...headers },
    body,
  });
const basic = (user: string, password: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});
const take = (): Received[] => broker.events.splice(0);
const problem = async (res: Response): Promise<{ detail: string; errors?: { where: string; message: string }[] }> => {
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return (await res.json()) as { detail: string; errors?: { where: string; message: string }[] };
};

describe('a notification becomes one CloudEvent per alert', () => {
  let grouped: Received[];
  it('two alerts grouped by namespace: two dev.reflex.alert.firing events, each with the alert and the notification', async () => {
    const res = await post(replicaA, fixture('firing-grouped'));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ alerts: 2, forwarded: 2, folded: 0 });
    grouped = take();
    expect(grouped).toHaveLength(2);
    const [mismatch, crash] = grouped;
    expect(mismatch!.headers).toMatchObject({
      'ce-specversion': '1.0',
      'ce-type': 'dev.reflex.alert.firing',
      'ce-source': '/reflex/alerts',
      'ce-subject': 'KubeDeploymentReplicasMismatch/658093bdeff6f402',
      'ce-dataschema': 'https://reflex.dev/schemas/dev.reflex.alert.json',
      'ce-alertname': 'KubeDeploymentReplicasMismatch',
      'ce-alertseverity': 'warning',
      'content-type': 'application/json',
    });
    expect(mismatch!.headers['ce-id']).toMatch(/^658093bdeff6f402-[0-9a-f]{16}$/);
    expect(mismatch!.data).toEqual({
      status: 'firing',
      labels: expect.objectContaining({
        alertname: 'KubeDeploymentReplicasMismatch',
        namespace: 'shop',
        deployment: 'web',
        job: 'kube-state-metrics',
      }),
      annotations: expect.objectContaining({ summary: 'Deployment has not matched the expected number of replicas.' }),
      startsAt: '2026-11-22T10:00:00Z',
      // Go's zero time while it fires is no end at all.
      generatorURL: 'http://prometheus-k8s-0:9090/graph?g0.expr=kube_deployment_spec_replicas',
      fingerprint: '658093bdeff6f402',
      receiver: 'reflex',
      groupKey: '{}:{namespace="shop"}',
      externalURL: expect.stringMatching(/^http:\/\//),
    });
    expect(crash!.data).toMatchObject({
      labels: { alertname: 'KubePodCrashLooping', pod: 'web-6f9d8c7b5-q7x2m' },
      fingerprint: '9b6dd05021ef6539',
    });
  });

  it("Alertmanager's repeat (repeat_interval elapsed) is the same events: folded by this replica, the same ids from another", async () => {
    const again = await post(replicaA, fixture('repeat-grouped'));
    expect(await again.json()).toMatchObject({ alerts: 2, forwarded: 0, folded: 2 });
    expect(take()).toHaveLength(0);
    // Another replica (or another Alertmanager of an HA pair) sends it on: the same source + id, which consumers fold.
    const other = await post(replicaB, fixture('repeat-grouped'));
    expect(await other.json()).toMatchObject({ forwarded: 2 });
    const sent = take();
    expect(sent.map((e) => [e.headers['ce-source'], e.headers['ce-id']])).toEqual(
      grouped.map((e) => [e.headers['ce-source'], e.headers['ce-id']]),
    );
  });

  it('a resolved alert in a group that still fires: dev.reflex.alert.resolved with its end, an id of its own; the firing one folded', async () => {
    const res = await post(replicaA, fixture('resolved-in-group'));
    expect(await res.json()).toMatchObject({ alerts: 2, forwarded: 1, folded: 1 });
    const [resolved] = take();
    expect(resolved!.headers['ce-type']).toBe('dev.reflex.alert.resolved');
    expect(resolved!.headers['ce-id']).toMatch(/^658093bdeff6f402-/);
    expect(resolved!.headers['ce-id']).not.toBe(grouped[0]!.headers['ce-id']);
    expect(resolved!.data).toMatchObject({ status: 'resolved', startsAt: '2026-11-22T10:00:00Z', endsAt: expect.stringMatching(/^2026-/) });
  });

  it('a custom load alert, and its resolution', async () => {
    expect((await post(replicaA, fixture('firing-load'))).status).toBe(200);
    expect((await post(replicaA, fixture('resolved-load'))).status).toBe(200);
    const [firing, resolved] = take();
    expect(firing!.data).toMatchObject({ status: 'firing', labels: { reflex_scale: 'up', deployment: 'worker', namespace: 'jobs' } });
    expect(firing!.headers['ce-alertseverity']).toBe('info');
    expect(resolved!.headers['ce-type']).toBe('dev.reflex.alert.resolved');
  });

  it('an alert that names no namespace is forwarded as it is (classify decides what it is about)', async () => {
    const res = await post(replicaA, fixture('firing-no-namespace'));
    expect(res.status).toBe(200);
    const [e] = take();
    expect(e!.data['labels']).toEqual({ alertname: 'TargetDown', job: 'node-exporter', prometheus: 'monitoring/k8s', severity: 'warning' });
  });

  it('many alerts in one notification, one of them twice: each once, all of them', async () => {
    const base = JSON.parse(fixture('firing-load')) as { alerts: Record<string, unknown>[] };
    const many = Array.from({ length: 40 }, (_, i) => ({
      ...base.alerts[0],
      labels: { alertname: 'QueueBacklogHigh', namespace: 'jobs', deployment: `worker-${i}`, reflex_scale: 'up' },
      fingerprint: i.toString(16).padStart(16, 'a'),
    }));
    const res = await post(replicaA, JSON.stringify({ ...base, alerts: [...many, many[3]] }));
    expect(await res.json()).toMatchObject({ alerts: 40, forwarded: 40 });
    expect(new Set(take().map((e) => e.headers['ce-id'])).size).toBe(40);
  });
});

describe('who may post', () => {
  it.each<[string, Record<string, string>]>([
    ['no credentials', {}],
    ['another token', { authorization: 'Bearer 0123456789abcdef0123456789abcdee' }],
    ['a token that is a prefix of the right one', { authorization: `Bearer ${TOKEN.slice(0, 16)}` }],
    ['basic with the wrong password', basic(USER, `${PASSWORD}x`)],
    ['basic with another user', basic('prometheus', PASSWORD)],
    ['basic that is not base64', { authorization: 'Basic !!!' }],
    ['another scheme', { authorization: `Digest username="${USER}"` }],
  ])('%s: 401 with the schemes it may use, nothing forwarded', async (_why, headers) => {
    const res = await post(replicaA, fixture('firing-grouped'), headers);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="reflex-alerts", Basic realm="reflex-alerts", charset="UTF-8"');
    await problem(res);
    expect(take()).toHaveLength(0);
  });

  it('basic auth, as basic_auth sends it', async () => {
    const res = await post(replicaB, fixture('firing-no-namespace').replace('153980676b3169d2', '153980676b3169d3'), basic(USER, PASSWORD));
    expect(res.status).toBe(200);
    expect(take()).toHaveLength(1);
  });

  it('with no Secret yet, every sender is refused, and told why', async () => {
    const res = await post(open, fixture('firing-grouped'));
    expect(res.status).toBe(401);
    expect((await problem(res)).detail).toMatch(/Secret reflex-alerts/);
  });

  it("refuses to start with the example Secret's placeholder, or a short secret, naming the key", async () => {
    await expect(serve(env({ REFLEX_ALERTS_BEARER_TOKEN: 'CHANGE-ME-openssl-rand-hex-32' }))).rejects.toThrow(
      /REFLEX_ALERTS_BEARER_TOKEN.*placeholder/,
    );
    await expect(serve(env({ REFLEX_ALERTS_BASIC_PASSWORD: 'short' }))).rejects.toThrow(/REFLEX_ALERTS_BASIC_PASSWORD.*16 characters/);
  });
});

describe('what is not a notification', () => {
  const valid = JSON.parse(fixture('firing-grouped')) as Record<string, unknown> & { alerts: Record<string, unknown>[] };
  const withAlert = (change: Record<string, unknown>): string => JSON.stringify({ ...valid, alerts: [{ ...valid.alerts[0], ...change }] });
  it.each<[string, string, RegExp]>([
    ['not JSON', '{"version": "4", ', /not JSON/],
    ['another version', JSON.stringify({ ...valid, version: '3' }), /version/],
    ['no alerts', JSON.stringify({ ...valid, alerts: undefined }), /alerts/],
    ['an alert without labels', withAlert({ labels: undefined }), /alerts\/0.*labels|labels/],
    ['a label that is not a string', withAlert({ labels: { alertname: 'X', replicas: 3 } }), /alerts\/0\/labels\/replicas/],
    ['a fingerprint that is not one', withAlert({ fingerprint: 'web' }), /alerts\/0\/fingerprint/],
    ['a start that is not a time', withAlert({ startsAt: 'yesterday' }), /alerts\/0\/startsAt/],
    ['an unknown status', withAlert({ status: 'pending' }), /alerts\/0\/status/],
  ])('%s: 400 naming the fault, nothing forwarded', async (_why, body, fault) => {
    const res = await post(replicaA, body);
    expect(res.status).toBe(400);
    const p = await problem(res);
    expect(JSON.stringify(p)).toMatch(fault);
    expect(take()).toHaveLength(0);
  });

  it('another content type: 415', async () => {
    const res = await post(replicaA, fixture('firing-grouped'), { authorization: `Bearer ${TOKEN}`, 'content-type': 'text/plain' });
    expect(res.status).toBe(415);
  });

  it('a CloudEvent to /: 404 saying where to post; GET on the route: 405', async () => {
    const ce = await fetch(replicaA.url, {
      method: 'POST',
      headers: {
        'ce-specversion': '1.0',
        'ce-id': '1',
        'ce-source': '/x',
        'ce-type': 'dev.reflex.alert.firing',
        'content-type': 'application/json',
      },
      body: '{}',
    });
    expect(ce.status).toBe(404);
    expect((await problem(ce)).detail).toMatch(/POST \/alertmanager/);
    const get = await fetch(`${replicaA.url}/alertmanager`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });
});

describe('when the Broker does not take the alerts', () => {
  it('503 with Retry-After, so Alertmanager sends the notification again; the retry forwards them', async () => {
    const body = fixture('firing-grouped')
      .replaceAll('658093bdeff6f402', '658093bdeff6f499')
      .replaceAll('9b6dd05021ef6539', '9b6dd05021ef6599');
    broker.status = 503;
    try {
      const res = await post(replicaA, body);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect((await problem(res)).detail).toMatch(/Broker took 0 of 2 alerts/);
    } finally {
      broker.status = 202;
    }
    const retry = await post(replicaA, body);
    expect(await retry.json()).toMatchObject({ forwarded: 2 });
    expect(take()).toHaveLength(2);
  }, 20_000);

  it('no K_SINK (the SinkBinding has not bound the revision yet): 503', async () => {
    const unbound = await serve({ ...env(), K_SINK: '' });
    const res = await post(unbound, fixture('firing-grouped'));
    expect(res.status).toBe(503);
    expect((await problem(res)).detail).toMatch(/K_SINK/);
  });
});
