/**
 * Alertmanager through the whole development mesh (issue 22), with the shipped manifests: the
 * real Alertmanager's notifications (test/wire/fixtures/alertmanager/) posted to the alerts
 * function reach the Broker, classify makes signals of them by the rules' `alerts:` section, notify
 * tells Slack (and follows up when the alert resolves), scale steps a load alert's workload up; and
 * `reflex replay` plays a file of notifications mixed with watch events.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMesh, type RunningMesh } from '../../dev/mesh/mesh.js';
import { play } from '../../dev/mesh/play.js';
import { readRecording } from '../../dev/mesh/replay.js';
import type { BrokerRecord } from '../../dev/mesh/broker.js';
import type { Line } from '../../dev/mesh/timeline.js';

const TOKEN = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
const fixture = (name: string): string => readFileSync(new URL(`./fixtures/alertmanager/${name}.json`, import.meta.url), 'utf8');

interface Slack {
  url: string;
  texts: string[];
  close(): Promise<void>;
}
async function slack(): Promise<Slack> {
  const s = { texts: [] as string[] } as Slack;
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      s.texts.push(raw);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/services/T/B/X`;
  s.close = () => new Promise((r) => (server.closeAllConnections(), server.close(() => r())));
  return s;
}

describe('on the development broker (startMesh, the shipped manifests)', () => {
  let mesh: RunningMesh;
  let hook: Slack;
  const records: BrokerRecord[] = [];
  beforeAll(async () => {
    hook = await slack();
    mesh = await startMesh({
      port: 0,
      env: { REFLEX_ALERTS_BEARER_TOKEN: TOKEN, REFLEX_SLACK_WEBHOOK_URL: hook.url },
      onRecord: (r) => records.push(r),
    });
  }, 60_000);
  afterAll(async () => {
    await mesh?.close();
    await hook?.close();
  });

  const notify = async (name: string): Promise<Response> => {
    const alerts = mesh.services.get('reflex/alerts')!;
    const res = await fetch(`${alerts.url}/alertmanager`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body: fixture(name),
    });
    await mesh.broker.idle();
    return res;
  };
  const accepted = (type: string): Record<string, unknown>[] =>
    records.flatMap((r) => (r.kind === 'accepted' && r.event.type === type ? [r.event as unknown as Record<string, unknown>] : []));

  it('a KubeDeploymentReplicasMismatch alert -> dev.reflex.alert.firing -> signal rolloutstalled -> notify tells Slack', async () => {
    expect((await notify('firing-grouped')).status).toBe(200);
    expect(accepted('dev.reflex.alert.firing')).toHaveLength(2);
    const [signal] = accepted('dev.reflex.signal.rolloutstalled');
    expect(signal).toMatchObject({
      targetkind: 'Deployment',
      targetns: 'shop',
      targetname: 'web',
      reason: 'KubeDeploymentReplicasMismatch',
    });
    expect(hook.texts.some((t) => t.includes('KubeDeploymentReplicasMismatch') && t.includes('shop/web'))).toBe(true);
  });

  it('the resolved alert -> dev.reflex.resolved with the same problem key -> notify follows up', async () => {
    const key = (accepted('dev.reflex.signal.rolloutstalled')[0]!['data'] as { key: string }).key;
    const before = hook.texts.length;
    expect((await notify('resolved-in-group')).status).toBe(200);
    const [resolved] = accepted('dev.reflex.resolved');
    expect(resolved).toMatchObject({ reflexclass: 'rolloutstalled', targetns: 'shop', targetname: 'web' });
    expect(resolved!['data']).toMatchObject({ key, reason: 'KubeDeploymentReplicasMismatch', firstSeen: '2026-11-22T10:00:00.000Z' });
    expect(hook.texts.slice(before).some((t) => /Resolved: rolloutstalled/.test(t))).toBe(true);
  });

  it("Alertmanager's repeat of a notification adds no event, and no signal", async () => {
    const count = (): number[] => [
      accepted('dev.reflex.alert.firing').length,
      records.filter((r) => r.kind === 'accepted' && r.event.type.startsWith('dev.reflex.signal.')).length,
    ];
    const before = count();
    expect((await notify('repeat-grouped')).status).toBe(200);
    expect(count()).toEqual(before);
  });
});

describe('reflex replay: a file of Alertmanager notifications mixed with watch events', () => {
  let lines: readonly Line[];
  let file: string;
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reflex-alerts-replay-'));
    file = join(dir, 'incident.ndjson');
    const at = '2026-11-22T09:00:00Z';
    const objects = [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'jobs', labels: { 'reflex.dev/enabled': 'true' }, creationTimestamp: at } },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'worker', namespace: 'jobs', uid: 'd-worker', creationTimestamp: at, generation: 1 },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'worker' } },
          template: { metadata: { labels: { app: 'worker' } }, spec: { containers: [{ name: 'w', image: 'w:1' }] } },
        },
        status: { replicas: 2, availableReplicas: 2 },
      },
    ];
    const notifications = ['firing-grouped', 'firing-load', 'resolved-load'].map((n) => JSON.stringify(JSON.parse(fixture(n))));
    writeFileSync(file, [...objects.map((o) => JSON.stringify({ type: 'ADDED', object: o })), ...notifications].join('\n'));
    lines = (await play(readRecording(file))).lines;
  }, 60_000);

  it('reads the notifications as such', () => {
    expect(readRecording(file).map((r) => r.type)).toEqual(['ADDED', 'ADDED', 'ALERTMANAGER', 'ALERTMANAGER', 'ALERTMANAGER']);
  });

  it('the custom load alert -> loadhigh -> scale would step jobs/worker up within its policy (dry-run)', () => {
    expect(lines).toContainEqual(
      expect.objectContaining({ kind: 'signal', class: 'loadhigh', target: { kind: 'Deployment', namespace: 'jobs', name: 'worker' } }),
    );
    expect(lines).toContainEqual(
      expect.objectContaining({
        kind: 'action',
        function: 'scale',
        outcome: 'dryrun',
        reason: expect.stringMatching(/replicas 2 -> 3 \(max 10\)/),
      }),
    );
  });

  it('kube-prometheus alerts become their signals; an alert about an object the recording lacks is decided on, not acted on', () => {
    expect(lines.filter((l) => l.kind === 'signal').map((l) => (l.kind === 'signal' ? l.class : ''))).toEqual(
      expect.arrayContaining(['rolloutstalled', 'crashloop', 'loadhigh']),
    );
  });
});
