/**
 * The real Prometheus Alertmanager in front of Reflex, on the test control plane (issue 22), with
 * the configuration docs/install.md gives (examples/alerts/alertmanager.yaml: its routes, its
 * receiver, the bearer token read from a file): its webhook_configs posts to the alerts function,
 * the development broker routes by the shipped Triggers, the functions act as their own
 * ServiceAccounts, and scale asks the same Alertmanager's API whether a load alert is active
 * before it changes replicas.
 * Alertmanager is github.com/prometheus/alertmanager cmd/alertmanager (v0.35.0), built by
 * test/cluster/build.sh like the control plane.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { startMesh, type RunningMesh } from '../../dev/mesh/mesh.js';
import { freePort } from '../wire/process.js';
import { admin, adminKubeconfigPath, asFunction, eventually, freshNamespace } from './kube.js';
import { startSink, type Sink } from './sink.js';

/** test/cluster/build.sh builds it into the cache with the control plane; REFLEX_ALERTMANAGER_BIN overrides. */
const bin = process.env['REFLEX_ALERTMANAGER_BIN'] || join(process.env['REFLEX_TEST_BIN'] ?? '', 'alertmanager');
const a = admin();
const TOKEN = 'feedface0123456789feedface012345';
let ns: string;
let mesh: RunningMesh;
let slack: Sink;
let am: { url: string; proc: ChildProcess; output: () => string };

/** Posts alerts to Alertmanager's API, as Prometheus does. */
async function fire(alerts: { labels: Record<string, string>; annotations?: Record<string, string>; startsAt: string; endsAt?: string }[]) {
  const res = await fetch(`${am.url}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(alerts),
  });
  expect(res.status).toBe(200);
}
const replicas = async (name: string): Promise<number | undefined> =>
  (await a.apps.readNamespacedDeployment({ name, namespace: ns })).spec?.replicas;

describe('with the real Alertmanager', () => {
  beforeAll(async () => {
    ns = await freshNamespace('alertmanager', { 'reflex.dev/enabled': 'true' });
    for (const [name, count] of [
      ['web', 3],
      ['worker', 2],
    ] as const)
      await a.apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name },
          spec: {
            replicas: count,
            selector: { matchLabels: { app: name } },
            template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: `registry.example/${name}:1` }] } },
          },
        },
      });
    slack = await startSink(200);
    const port = await freePort();
    const [classify, scale, recover] = await Promise.all([asFunction('classify'), asFunction('scale'), asFunction('recover')]);
    mesh = await startMesh({
      port: 0,
      act: true,
      env: {
        KUBECONFIG: adminKubeconfigPath(),
        REFLEX_ALERTS_BEARER_TOKEN: TOKEN,
        REFLEX_SLACK_WEBHOOK_URL: `${slack.url}/services/T/B/X`,
      },
      definitions: { sweep: null },
      serviceEnv: {
        classify: { KUBECONFIG: classify },
        scale: { KUBECONFIG: scale, REFLEX_ALERTMANAGER_URL: `http://127.0.0.1:${port}` },
        recover: { KUBECONFIG: recover },
        notify: { REFLEX_NOTIFY_STATE: 'memory' },
      },
    });
    // The example docs/install.md points to (test/wire/alerts-examples.test.ts checks it with amtool),
    // as it is but for where things are here: this mesh's alerts function, the token's file, and
    // waits of seconds instead of minutes.
    const dir = mkdtempSync(join(tmpdir(), 'reflex-am-'));
    type Route = { routes?: Route[]; group_wait?: string; group_interval?: string };
    const config = parse(readFileSync(new URL('../../examples/alerts/alertmanager.yaml', import.meta.url), 'utf8')) as {
      route: Route;
      receivers: { name: string; webhook_configs?: { url: string; http_config: { authorization: { credentials_file: string } } }[] }[];
    };
    const webhook = config.receivers.find((r) => r.name === 'reflex')!.webhook_configs![0]!;
    webhook.url = `${mesh.services.get('reflex/alerts')!.url}/alertmanager`;
    writeFileSync(join(dir, 'token'), TOKEN);
    webhook.http_config.authorization.credentials_file = join(dir, 'token');
    for (const route of [config.route, ...(config.route.routes ?? [])]) Object.assign(route, { group_wait: '1s', group_interval: '2s' });
    writeFileSync(join(dir, 'alertmanager.yml'), stringify(config));
    const proc = spawn(
      bin!,
      [
        `--config.file=${join(dir, 'alertmanager.yml')}`,
        `--storage.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        // One instance: no gossip port.
        '--cluster.listen-address=',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    am = { url: `http://127.0.0.1:${port}`, proc, output: () => out };
    await eventually('Alertmanager to be ready', async () =>
      (await fetch(`${am.url}/-/ready`).catch(() => undefined))?.ok ? true : undefined,
    );
  }, 120_000);

  afterAll(async () => {
    am?.proc.kill('SIGTERM');
    await mesh?.close();
    await slack?.close();
    if (ns) await a.core.deleteNamespace({ name: ns });
  });

  it('a custom load alert: Alertmanager notifies, scale confirms it in Alertmanager and steps worker 2 -> 3', async () => {
    await fire([
      {
        labels: { alertname: 'QueueBacklogHigh', namespace: ns, deployment: 'worker', reflex_scale: 'up', severity: 'info' },
        annotations: { summary: 'orders backlog' },
        startsAt: new Date().toISOString(),
      },
    ]);
    await eventually('worker to have 3 replicas', async () => ((await replicas('worker')) === 3 ? true : undefined), 20_000);
  }, 30_000);

  it('KubeDeploymentReplicasMismatch: Slack hears of it, then of its resolution', async () => {
    const alert = {
      labels: {
        alertname: 'KubeDeploymentReplicasMismatch',
        namespace: ns,
        deployment: 'web',
        job: 'kube-state-metrics',
        severity: 'warning',
      },
      annotations: { description: `Deployment ${ns}/web has not matched the expected number of replicas for longer than 15 minutes.` },
      startsAt: new Date(Date.now() - 20 * 60_000).toISOString(),
    };
    await fire([alert]);
    await eventually(
      'the signal in Slack',
      async () =>
        slack.received.some((r) => r.body.includes('KubeDeploymentReplicasMismatch') && r.body.includes(`${ns}/web`)) ? true : undefined,
      20_000,
    );
    await fire([{ ...alert, endsAt: new Date().toISOString() }]);
    await eventually(
      'the resolution in Slack',
      async () => (slack.received.some((r) => /Resolved: rolloutstalled/.test(r.body)) ? true : undefined),
      20_000,
    );
    expect(await replicas('web')).toBe(3);
  }, 60_000);
});
