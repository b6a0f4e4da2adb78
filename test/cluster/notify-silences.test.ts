/**
 * Silences on the real control plane (issue 20): `reflex silence add` (the CLI, as the admin of
 * the current kube context) stops messages for matching problems on every notify replica (run as
 * notify's own ServiceAccount, knative/notify/rbac.yaml) until it expires or is expired; a silenced
 * problem is counted, not sent; invalid matchers are refused and change nothing. A workload
 * annotated `reflex.dev/silence-until` is silenced until then; a time past or unreadable is not.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import notify from '../../functions/notify/index.js';
import { startServer, type RunningServer } from '../../functions/_kit/index.js';
import { projectRoot } from '../../functions/_kit/schemas.js';
import { admin, adminKubeconfigPath, asFunction, kubectl } from './kube.js';
import { startSink, type Sink } from './sink.js';

/** How often the replicas re-read the silences here (seconds); the shipped default is 10. */
const REFRESH_S = 1;
const settle = (): Promise<void> => new Promise((r) => setTimeout(r, REFRESH_S * 1000 + 300));

let slack: Sink;
/** What both replicas logged (JSON lines). */
const logs: string[] = [];
let a: RunningServer;
let b: RunningServer;
/** A namespace name of this run: the silences here match only it, whatever else the cluster holds. */
const ns = `shop-${randomBytes(3).toString('hex')}`;

/** `reflex silence …` as a person runs it, against the admin's kube context. */
function reflex(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(projectRoot(), 'bin', 'reflex.js'), 'silence', ...args], {
      env: { ...process.env, KUBECONFIG: adminKubeconfigPath(), NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // 'close': all of stdout and stderr read, which 'exit' does not promise.
    child.once('close', (code) => resolve({ code, out, err }));
  });
}

beforeAll(async () => {
  const kubeconfig = await asFunction('notify');
  slack = await startSink(200);
  const routes = join(mkdtempSync(join(tmpdir(), 'reflex-notify-silences-')), 'routes.yaml');
  // A window of 0: every delivery is a message unless a silence holds it back.
  writeFileSync(
    routes,
    'defaults: { groupWindowSeconds: 0, timeoutMs: 2000 }\nsinks:\n  - { name: slack, type: slack, urlEnv: SLACK_URL }\nroutes:\n  - { sinks: [slack] }\n',
  );
  const env = {
    PORT: '0',
    REFLEX_HOST: '127.0.0.1',
    KUBECONFIG: kubeconfig,
    REFLEX_NOTIFY_STATE: 'cluster',
    REFLEX_NOTIFY_ROUTES: routes,
    REFLEX_NOTIFY_SILENCES_REFRESH_SECONDS: String(REFRESH_S),
    SLACK_URL: slack.url,
  };
  const logSink = (line: string): number => logs.push(line);
  [a, b] = await Promise.all([startServer(notify, { env, logSink }), startServer(notify, { env, logSink })]);
});
afterAll(async () => {
  await Promise.all([a, b].map((s) => s.shutdown()));
  await slack.close();
});

let n = 0;
async function signal(server: RunningServer, name: string): Promise<number> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: {
      'ce-specversion': '1.0',
      'ce-id': `silence-${++n}`,
      'ce-source': '/reflex/classify',
      'ce-type': 'dev.reflex.signal.crashloop',
      'content-type': 'application/json',
    },
    body: JSON.stringify({
      class: 'crashloop',
      severity: 'warning',
      reason: 'BackOff',
      message: 'Back-off restarting failed container',
      target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name, resolvedBy: 'ownerReferences' },
      involved: { apiVersion: 'v1', kind: 'Pod', namespace: ns, name: `${name}-7d9c8b5f4-x2x7q` },
      occurrences: 3,
      firstSeen: new Date().toISOString(),
      lastSeen: new Date().toISOString(),
      detectedBy: 'classify',
      key: randomBytes(8).toString('hex'),
    }),
  });
  return res.status;
}

/** Messages Slack got about `name` in this run's namespace. */
const told = (name: string): number => slack.received.filter((r) => r.body.includes(`Deployment ${ns}/${name}`)).length;

/** One signal to each replica, three times over. */
async function everywhere(name: string): Promise<void> {
  const statuses = await Promise.all([a, b, a, b, a, b].map((s) => signal(s, name)));
  expect(statuses).toEqual([202, 202, 202, 202, 202, 202]);
}

const silenced = async (server: RunningServer): Promise<number> =>
  Number(
    /reflex_notify_messages_total\{sink="slack",class="crashloop",outcome="silenced",function="notify"\} (\d+)/.exec(
      await (await fetch(`${server.url}/metrics`)).text(),
    )?.[1] ?? 0,
  );

describe('reflex silence, honoured by every replica', () => {
  let id = '';

  it('a silence made with `reflex silence add` stops the messages of matching problems on both replicas; they are counted', async () => {
    await everywhere('web');
    expect(told('web')).toBe(6);
    const add = await reflex(
      'add',
      'class=crashloop',
      `namespace=${ns}`,
      'target=deployment/web',
      '--duration',
      '1h',
      '--comment',
      'rolling back by hand',
      '--author',
      'alice',
    );
    expect([add.code, add.err]).toEqual([0, '']);
    id = /^silence ([0-9a-f-]{36}) created: class=crashloop namespace=\S+ target=deployment\/web, active until /.exec(add.out)?.[1] ?? '';
    expect(id).not.toBe('');
    await settle();
    await everywhere('web');
    expect(told('web')).toBe(6);
    expect([await silenced(a), await silenced(b)]).toEqual([3, 3]);
    // Another workload is not matched.
    await everywhere('api');
    expect(told('api')).toBe(6);
  });

  it('`reflex silence list` shows it (a table, or --json)', async () => {
    const list = await reflex('list');
    expect(list.code).toBe(0);
    const [header, ...rows] = list.out.trimEnd().split('\n');
    expect(header).toMatch(/^ID +STATE +MATCHERS +STARTS +ENDS +CREATED BY +COMMENT$/);
    expect(rows.find((r) => r.startsWith(id))).toMatch(
      new RegExp(
        `^${id} +active +class=crashloop namespace=${ns} target=deployment/web +\\d+s ago +in (59|60)m +alice +rolling back by hand$`,
      ),
    );
    const json = JSON.parse((await reflex('list', '--json')).out) as { id: string; state: string; createdBy: string }[];
    expect(json.find((s) => s.id === id)).toMatchObject({ state: 'active', createdBy: 'alice' });
  });

  it('`reflex silence expire` ends it: messages flow again on both replicas', async () => {
    const expire = await reflex('expire', id.slice(0, 8));
    expect([expire.code, expire.out]).toEqual([0, `silence ${id} expired\n`]);
    await settle();
    await everywhere('web');
    expect(told('web')).toBe(12);
    const list = await reflex('list');
    expect(list.out).not.toContain(id);
    expect((await reflex('list', '--expired')).out).toMatch(new RegExp(`^${id} +expired `, 'm'));
  });

  it('a silence that has run out stops applying by itself', async () => {
    const add = await reflex('add', `namespace=${ns}`, 'target=~deployment/(db|cache)', '--duration', '4s', '--comment', 'maintenance');
    expect(add.code).toBe(0);
    await settle();
    await everywhere('db');
    expect(told('db')).toBe(0);
    await new Promise((r) => setTimeout(r, 4000));
    await everywhere('db');
    expect(told('db')).toBe(6);
  });

  it('invalid matchers are refused with a clear error (exit 2) and change nothing', async () => {
    const before = (await admin().core.readNamespacedConfigMap({ namespace: 'reflex', name: 'reflex-silences' })).metadata?.resourceVersion;
    for (const [matcher, why] of [
      ['class=crashlop', /unknown class "crashlop"/],
      ['namespace!=shop', /would silence nearly everything/],
      ['target=~(db', /not a valid RE2 regular expression/],
    ] as const) {
      const r = await reflex('add', matcher, '--comment', 'x');
      expect([r.code, r.err]).toEqual([2, expect.stringMatching(why)]);
    }
    const unknown = await reflex('expire', '00000000-0000-4000-8000-000000000000');
    expect([unknown.code, unknown.err]).toEqual([
      1,
      expect.stringMatching(/no silence 00000000-0000-4000-8000-000000000000 in namespace reflex/),
    ]);
    expect((await admin().core.readNamespacedConfigMap({ namespace: 'reflex', name: 'reflex-silences' })).metadata?.resourceVersion).toBe(
      before,
    );
  });
});

describe('reflex.dev/silence-until on the workload, honoured by every replica', () => {
  /** As a person does it: `kubectl annotate` (null: the annotation removed, `key-`). */
  const annotate = (name: string, value: string | null): string =>
    kubectl(
      'annotate',
      'deployment',
      name,
      '-n',
      ns,
      '--overwrite',
      value === null ? 'reflex.dev/silence-until-' : `reflex.dev/silence-until=${value}`,
    );

  beforeAll(async () => {
    await admin().core.createNamespace({ body: { metadata: { name: ns } } });
    const hour = 3600_000;
    const deployments: [string, string | undefined][] = [
      ['paused', new Date(Date.now() + hour).toISOString()],
      ['over', new Date(Date.now() - hour).toISOString()],
      ['garbage', 'next tuesday'],
      ['later', undefined],
    ];
    for (const [name, until] of deployments)
      await admin().apps.createNamespacedDeployment({
        namespace: ns,
        body: {
          metadata: { name, ...(until === undefined ? {} : { annotations: { 'reflex.dev/silence-until': until } }) },
          spec: {
            replicas: 0,
            selector: { matchLabels: { app: name } },
            template: { metadata: { labels: { app: name } }, spec: { containers: [{ name, image: 'registry.example/app:1' }] } },
          },
        },
      });
  });
  afterAll(async () => {
    await admin().core.deleteNamespace({ name: ns });
  });

  it('an annotation ahead: nothing told on either replica; counted as silenced, logged with the object and the time', async () => {
    const before = (await silenced(a)) + (await silenced(b));
    await everywhere('paused');
    expect(told('paused')).toBe(0);
    expect((await silenced(a)) + (await silenced(b)) - before).toBe(6);
    const line = logs.find(
      (l) => l.includes('"annotation":"reflex.dev/silence-until"') && l.includes(`"object":"Deployment ${ns}/paused"`),
    );
    expect(line).toMatch(/"msg":"silenced".*"until":"\d{4}-\d{2}-\d{2}T/);
  });

  it('an annotation in the past does nothing: told', async () => {
    await everywhere('over');
    expect(told('over')).toBe(6);
  });

  it('an annotation that is not a time is ignored: told, and a warning names the object (once per read, not per message)', async () => {
    await everywhere('garbage');
    expect(told('garbage')).toBe(6);
    const warnings = logs.filter((l) => l.includes('"level":"warn"') && l.includes(`Deployment ${ns}/garbage`));
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(warnings.length).toBeLessThanOrEqual(2); // one read per replica in this interval
    expect(warnings[0]).toContain('reflex.dev/silence-until ignored: not a time');
    expect(warnings[0]).toContain('next tuesday');
  });

  it('read when the message is told, not when the signal was made: an annotation added, then removed, applies within the refresh interval', async () => {
    await everywhere('later');
    expect(told('later')).toBe(6);
    annotate('later', new Date(Date.now() + 3600_000).toISOString());
    await settle();
    await everywhere('later');
    expect(told('later')).toBe(6);
    annotate('later', null);
    await settle();
    await everywhere('later');
    expect(told('later')).toBe(12);
  });
});
