/**
 * notify for real teams over HTTP (issue 20): the cluster's name, the runbook link and the command
 * that silences the problem reach Slack, Teams, PagerDuty and a webhook, each in its documented
 * format; notify's own metrics count what was told, grouped and failed, by sink and class.
 * @see https://api.slack.com/reference/block-kit/blocks
 * @see https://adaptivecards.io/explorer/Action.OpenUrl.html
 * @see https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ (payload.source, component, links)
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import notify from '../../functions/notify/index.js';
import { startServer, type RunningServer } from '../../functions/_kit/index.js';

interface FakeSink {
  url: string;
  bodies: Record<string, unknown>[];
  status: number;
  close(): Promise<void>;
}

async function fakeSink(): Promise<FakeSink> {
  const s = { bodies: [] as Record<string, unknown>[], status: 200 } as FakeSink;
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      s.bodies.push(JSON.parse(raw) as Record<string, unknown>);
      res.writeHead(s.status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  s.close = () => new Promise((r) => server.close(() => r()));
  return s;
}

let slack: FakeSink, teams: FakeSink, pager: FakeSink, hook: FakeSink;
let server: RunningServer;
const dir = mkdtempSync(join(tmpdir(), 'reflex-notify-ctx-'));
const routes = (extra: string): string => {
  const file = join(dir, `routes-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, extra);
  return file;
};

beforeAll(async () => {
  [slack, teams, pager, hook] = await Promise.all([fakeSink(), fakeSink(), fakeSink(), fakeSink()]);
  server = await startServer(notify, {
    env: {
      PORT: '0',
      REFLEX_HOST: '127.0.0.1',
      REFLEX_NOTIFY_ROUTES: routes(`cluster: from-the-file
runbooks:
  default: https://runbooks.example/reflex/{{class}}
  crashloop: https://wiki.example/ops/crashloop?workload={{namespace}}/{{name}}&cluster={{cluster}}
sinks:
  - { name: slack, type: slack, urlEnv: SLACK_URL }
  - { name: teams, type: teams, urlEnv: TEAMS_URL }
  - { name: pager, type: pagerduty, urlEnv: PD_URL, secretEnv: PD_KEY }
  - { name: audit, type: webhook, urlEnv: HOOK_URL, secretEnv: HOOK_SECRET }
routes:
  - { name: paged, match: { class: [nodenotready] }, sinks: [slack, teams, pager, audit], runbookUrl: "https://wiki.example/paging/{{kind}}/{{name}}" }
  - { name: everything, sinks: [slack, teams, pager, audit] }
`),
      // The environment wins over the file.
      REFLEX_CLUSTER_NAME: 'prod-eu-1',
      SLACK_URL: slack.url,
      TEAMS_URL: teams.url,
      PD_URL: pager.url,
      PD_KEY: 'R0UTINGKEY0000000000000000000000',
      HOOK_URL: hook.url,
      HOOK_SECRET: 'whsec',
    },
    logSink: () => {},
  });
});
afterAll(async () => {
  await server.shutdown();
  await Promise.all([slack, teams, pager, hook].map((s) => s.close()));
});

let n = 0;
function signal(cls: string, target: { kind: string; namespace: string; name: string }, key: string, url = server.url): Promise<Response> {
  n++;
  return fetch(url, {
    method: 'POST',
    headers: {
      'ce-specversion': '1.0',
      'ce-id': `ctx-${n}`,
      'ce-source': '/reflex/classify',
      'ce-type': `dev.reflex.signal.${cls}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({
      class: cls,
      severity: 'critical',
      reason: 'BackOff',
      message: 'Back-off restarting failed container',
      target: { apiVersion: 'apps/v1', ...target, resolvedBy: 'ownerReferences' },
      involved: { apiVersion: 'v1', kind: 'Pod', namespace: target.namespace, name: `${target.name}-7d9c8b5f4-x2x7q` },
      occurrences: 3,
      firstSeen: '2026-11-22T09:58:00.000Z',
      lastSeen: '2026-11-22T10:00:00.000Z',
      detectedBy: 'classify',
      key,
    }),
  });
}

const SILENCE = "reflex silence add class=crashloop namespace=shop target=deployment/web --duration 1h --comment '<why>'";
const RUNBOOK = 'https://wiki.example/ops/crashloop?workload=shop/web&cluster=prod-eu-1';

describe('every sink says which cluster, where the runbook is and how to silence it', () => {
  beforeAll(async () => {
    expect((await signal('crashloop', { kind: 'Deployment', namespace: 'shop', name: 'web' }, '00000000000000a1')).status).toBe(202);
  });

  it('Slack: a Cluster field, a Runbook link (<url|text>, & escaped), the silence command, the cluster in the fallback text and context', () => {
    const body = slack.bodies[0] as {
      text: string;
      blocks: { type: string; fields?: { text: string }[]; text?: { text: string }; elements?: { text: string }[] }[];
    };
    expect(body.text).toMatch(/^\[critical\] \[prod-eu-1\] crashloop on Deployment shop\/web: /);
    expect(body.blocks[1]!.fields!.map((f) => f.text)).toContain('*Cluster*\nprod-eu-1');
    const texts = body.blocks.map((b) => b.text?.text ?? '');
    expect(texts).toContain(`*Runbook*\n<${RUNBOOK.replace('&', '&amp;')}|${RUNBOOK.replace('&', '&amp;')}>`);
    expect(texts).toContain('*Silence it*\n```' + SILENCE.replace(/</g, '&lt;').replace(/>/g, '&gt;') + '```');
    expect(body.blocks.at(-1)!.elements![0]!.text).toBe('cluster prod-eu-1 · severity critical · problem 00000000000000a1');
  });

  it('Teams: a Cluster fact, an Action.OpenUrl to the runbook, the silence command in monospace', () => {
    const card = (teams.bodies[0] as { attachments: { content: Record<string, unknown> }[] }).attachments[0]!.content as {
      body: { type: string; facts?: { title: string; value: string }[]; text?: string; fontType?: string }[];
      actions: unknown[];
    };
    expect(card.body.find((b) => b.type === 'FactSet')!.facts).toContainEqual({ title: 'Cluster', value: 'prod-eu-1' });
    expect(card.actions).toEqual([{ type: 'Action.OpenUrl', title: 'Runbook', url: RUNBOOK }]);
    expect(card.body).toContainEqual({ type: 'TextBlock', wrap: true, fontType: 'Monospace', text: SILENCE });
  });

  it('PagerDuty: source is the cluster, component the workload, links the runbook; the dedup key names the cluster', () => {
    expect(pager.bodies[0]).toMatchObject({
      event_action: 'trigger',
      dedup_key: 'reflex-prod-eu-1-00000000000000a1',
      links: [{ href: RUNBOOK, text: 'Runbook' }],
      payload: {
        source: 'prod-eu-1',
        component: 'Deployment shop/web',
        summary: expect.stringMatching(/^\[prod-eu-1\] crashloop on Deployment shop\/web/),
        custom_details: { cluster: 'prod-eu-1', runbook: RUNBOOK, silence: SILENCE },
      },
    });
  });

  it('webhook: cluster, runbookUrl and silence fields', () => {
    expect(hook.bodies[0]).toMatchObject({ cluster: 'prod-eu-1', runbookUrl: RUNBOOK, silence: SILENCE });
  });

  it('the silence command is words a POSIX shell passes to `reflex silence add` as they are (test/wire/notify-silence-cli.test.ts runs it)', () => {
    const args = execFileSync('sh', ['-c', `printf '%s\\0' ${SILENCE.replace(/^reflex /, '')}`], { encoding: 'utf8' })
      .split('\0')
      .slice(0, -1);
    expect(args).toEqual([
      'silence',
      'add',
      'class=crashloop',
      'namespace=shop',
      'target=deployment/web',
      '--duration',
      '1h',
      '--comment',
      '<why>',
    ]);
  });
});

describe('runbooks', () => {
  it("a route's runbookUrl wins over the class's; a class with none takes the default; names are URI-encoded", async () => {
    await signal('nodenotready', { kind: 'Node', namespace: '', name: 'node-1' }, '00000000000000b1');
    expect(hook.bodies.at(-1)).toMatchObject({ runbookUrl: 'https://wiki.example/paging/Node/node-1' });
    await signal('imagepull', { kind: 'Deployment', namespace: 'ops', name: 'api' }, '00000000000000b2');
    expect(hook.bodies.at(-1)).toMatchObject({
      runbookUrl: 'https://runbooks.example/reflex/imagepull',
      silence: "reflex silence add class=imagepull namespace=ops target=deployment/api --duration 1h --comment '<why>'",
    });
  });

  it('a hostile name stays inside its URL component and never becomes a silence command', async () => {
    await signal('crashloop', { kind: 'Deployment', namespace: 'shop', name: 'web&admin=1/../x' }, '00000000000000b3');
    const last = hook.bodies.at(-1) as { runbookUrl: string; silence: string };
    expect(last.runbookUrl).toBe('https://wiki.example/ops/crashloop?workload=shop/web%26admin%3D1%2F..%2Fx&cluster=prod-eu-1');
    expect(last.silence).toMatch(/^# no command: the Deployment name is not a valid Kubernetes name/);
  });

  it.each([
    ['runbooks:\n  default: ftp://x/{{class}}\n', /\/runbooks\/default must match pattern "\^https\?:\/\/"/],
    ['runbooks:\n  default: "https://"\n', /\/runbooks\/default: not an http\(s\) URL/],
    ['runbooks:\n  default: https://x/{{clas}}\n', /unknown placeholder \{\{clas\}\}/],
    ['cluster: "prod eu"\n', /\/cluster|must match pattern/],
  ])('%j stops start-up, naming the key', async (head, why) => {
    const file = routes(`${head}sinks:\n  - { name: s, type: slack, urlEnv: UNSET }\nroutes:\n  - { sinks: [s] }\n`);
    await expect(startServer(notify, { env: { PORT: '0', REFLEX_NOTIFY_ROUTES: file }, logSink: () => {} })).rejects.toThrow(why);
  });
});

describe("notify's own metrics", () => {
  it('told, grouped and failed, by sink and class', async () => {
    await signal('oomkilled', { kind: 'Deployment', namespace: 'ops', name: 'worker' }, '00000000000000c1');
    await signal('oomkilled', { kind: 'Deployment', namespace: 'ops', name: 'worker' }, '00000000000000c1');
    teams.status = 502;
    const failed = await signal('evicted', { kind: 'Deployment', namespace: 'ops', name: 'batch' }, '00000000000000c2');
    teams.status = 200;
    expect(failed.status).toBe(503);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const value = (labels: string): number =>
      Number(new RegExp(`reflex_notify_messages_total\\{${labels},function="notify"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    expect(value('sink="slack",class="oomkilled",outcome="told"')).toBe(1);
    expect(value('sink="slack",class="oomkilled",outcome="grouped"')).toBe(1);
    expect(value('sink="teams",class="evicted",outcome="failed"')).toBe(1);
    expect(value('sink="slack",class="evicted",outcome="told"')).toBe(1);
  });
});
