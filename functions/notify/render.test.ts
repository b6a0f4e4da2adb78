/**
 * The webhook body is built from bounded data, whatever the event carried (issue 15); the evidence
 * of an enriched signal reaches every sink within that sink's documented limits.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Enrichment, SignalData } from '../_contracts/events.js';
import { defaultSchemasDir } from '../_kit/schemas.js';
import { message, readSignal, withContext, type Message } from './decide.js';
import { pagerduty, slack, teams, webhook } from './render.js';
import { bytesOf, PAGERDUTY_MAX_BYTES, TEAMS_MAX_BYTES, WEBHOOK_EVIDENCE_MAX_BYTES } from './render-evidence.js';

const signal = (object: Record<string, unknown>): SignalData => ({
  class: 'oomkilled',
  severity: 'warning',
  reason: 'OOMKilled',
  message: 'container w was OOM-killed',
  target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', resolvedBy: 'name' },
  involved: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-7d9c8b5f4-x2x7q' },
  occurrences: 1,
  firstSeen: '2026-11-22T09:58:00.000Z',
  lastSeen: '2026-11-22T10:00:00.000Z',
  detectedBy: 'classify',
  key: '00000000000000a1',
  evidence: { api: 'Pod', object },
});

describe('webhook body', () => {
  it('cuts evidence nested a million levels deep, so serialising it cannot overflow the stack', () => {
    const deep = JSON.parse('['.repeat(1_000_000) + ']'.repeat(1_000_000)) as unknown;
    const body = JSON.stringify(webhook(message(signal({ spec: { deep } }), 0)));
    expect(body).toContain('deeper than 64 levels');
    expect(body.length).toBeLessThan(4096);
  });

  it('leaves a large evidence object out, keeping the rest of the signal', () => {
    const body = webhook(message(signal({ spec: { blob: 'x'.repeat(200_000) } }), 0)) as { data: SignalData };
    expect(body.data.evidence).toEqual({ api: 'Pod' });
    expect(body.data.key).toBe('00000000000000a1');
    expect(JSON.stringify(body).length).toBeLessThan(8 * 1024);
  });

  it('keeps ordinary evidence as it is', () => {
    const object = { kind: 'Pod', metadata: { name: 'p', labels: { app: 'web' } } };
    expect((webhook(message(signal(object), 0)) as { data: SignalData }).data.evidence).toEqual({ api: 'Pod', object });
  });
});

/** enrich's own example (schemas/dev.reflex.enriched.json). */
const example = (
  JSON.parse(readFileSync(join(defaultSchemasDir(), 'dev.reflex.enriched.json'), 'utf8')) as {
    examples: [SignalData & { enrichment: Enrichment }];
  }
).examples[0];
const s = (n: number, c = 'x'): string => c.repeat(n);
/** Line `i` of log `j`, 200 characters: the last one of each log is `log j line 999`. */
const logLine = (j: number, i: number): string => `log ${j} line ${i} `.padEnd(200, '.');

/** Every list at the schema's maxItems and every string at its maxLength: what the bounds must survive. */
const maximal: Enrichment = {
  gatheredAt: '2026-11-22T10:04:01Z',
  tookMs: 2000,
  complete: false,
  notes: Array.from({ length: 32 }, (_, i) => `note ${i} ${s(1000)}`),
  pod: { name: s(253, 'p'), phase: 'Running', node: s(253, 'n'), startedAt: '2026-11-22T09:59:30Z', owner: s(320, 'o') },
  containers: Array.from({ length: 32 }, (_, i) => ({
    name: `c${i}`,
    image: s(1024, 'i'),
    restartCount: 99,
    ready: false,
    state: s(256, 's'),
    lastTermination: {
      exitCode: 137,
      signal: 9,
      reason: s(256, 'r'),
      message: s(4096, 'm'),
      startedAt: '2026-11-22T10:00:00Z',
      finishedAt: '2026-11-22T10:01:00Z',
    },
    limits: Object.fromEntries(Array.from({ length: 32 }, (_, k) => [`l${k}`, s(64, '1')])),
    requests: Object.fromEntries(Array.from({ length: 32 }, (_, k) => [`r${k}`, s(64, '2')])),
    usage: Object.fromEntries(Array.from({ length: 32 }, (_, k) => [`u${k}`, s(64, '3')])),
  })),
  logs: Array.from({ length: 8 }, (_, j) => ({
    container: j === 0 ? 'web' : `c${j}`,
    previous: j % 2 === 0,
    lines: Array.from({ length: 1000 }, (_, i) => logLine(j, i)),
    truncated: true,
    redactions: { bearer: 3 },
  })),
  events: Array.from({ length: 50 }, (_, i) => ({
    regarding: `Pod ${s(300, 'e')}`,
    type: 'Warning',
    reason: `Reason${i}`,
    message: s(1024, 'M'),
    count: 1000,
    lastSeen: '2026-11-22T10:04:00Z',
  })),
  node: {
    name: s(253, 'n'),
    conditions: Array.from({ length: 32 }, (_, i) => ({
      type: `Cond${i}`,
      status: 'True',
      reason: s(128, 'R'),
      message: s(1024, 'C'),
      since: '2026-11-22T10:00:00Z',
    })),
    taints: Array.from({ length: 32 }, () => s(512, 't')),
    unschedulable: true,
    allocatable: Object.fromEntries(Array.from({ length: 32 }, (_, k) => [`a${k}`, s(64, '4')])),
    requested: Object.fromEntries(Array.from({ length: 32 }, (_, k) => [`a${k}`, s(64, '5')])),
    pods: { count: 5000, names: Array.from({ length: 50 }, () => s(317, 'q')) },
  },
  rollout: {
    from: { replicaSet: s(253, 'f'), revision: 1 },
    to: { replicaSet: s(253, 'g'), revision: 2 },
    changes: Array.from({ length: 100 }, () => ({
      container: s(63, 'k'),
      field: 'image' as const,
      before: s(1024, 'b'),
      after: s(1024, 'a'),
    })),
  },
};

const enrichedMessage = (e: Enrichment, edit: Partial<SignalData> = {}): Message => {
  const r = readSignal('dev.reflex.enriched.crashloop', { ...example, ...edit, enrichment: e }, undefined);
  return withContext(message(r.signal, 0, r.evidence), { cluster: 'prod-eu-1', runbook: undefined });
};

interface Block {
  type: string;
  text?: { type: string; text: string };
  fields?: { text: string }[];
  elements?: { text: string }[];
}
const blocksOf = (m: Message): Block[] => (slack(m) as { blocks: Block[] }).blocks;
const textsOf = (blocks: Block[]): string[] => blocks.map((b) => b.text?.text ?? '');
const fences = (t: string): number => t.split('```').length - 1;

describe('evidence in every sink: the schema example', () => {
  const m = enrichedMessage(example.enrichment);

  it('Slack: sections after Why, the previous log in a code block', () => {
    const blocks = blocksOf(m);
    const texts = textsOf(blocks);
    const why = texts.findIndex((t) => t.startsWith('*Why*'));
    expect(texts[why + 1]).toMatch(/^\*Evidence\*\ngathered at 10:04:01Z in 212 ms\npod web-7d9c8b5f4-x2x7q/);
    expect(texts[why + 1]).toContain('• web: exit code 1 (Error), finished 10:03:52Z, 5 restarts');
    expect(texts[why + 2]).toBe(
      '*previous log of container web (last 3 lines, redacted)*\n```2026-11-22T10:03:51Z starting web 2.5.0\n' +
        '2026-11-22T10:03:52Z connecting with Authorization: [REDACTED:authorization]\npanic: DATABASE_URL is not set```',
    );
    expect(texts).toContain(
      '*Last rollout*\n• revision 1 (web-5c6b7d8e9f) -&gt; 2 (web-7d9c8b5f4)\n• web: image registry.example/web:2.4.0 -&gt; 2.5.0\n• web: env removed: DATABASE_URL',
    );
    expect(texts.find((t) => t.startsWith('*Recent Events*'))).toContain('Warning BackOff ×5 on Pod web-7d9c8b5f4-x2x7q');
    expect(texts).toContain('*Notes*\n• metrics.k8s.io is not served in this cluster: no memory usage');
    // The fallback text stays the one line it was.
    expect((slack(m) as { text: string }).text).toBe(`[warning] [prod-eu-1] crashloop on Deployment shop/web: ${example.message}`);
  });

  it('Teams: TextBlocks after Why, the log in a Monospace block', () => {
    const body = (teams(m) as { attachments: [{ content: { body: { type: string; text?: string; fontType?: string }[] } }] }).attachments[0]
      .content.body;
    const log = body.find((b) => b.fontType === 'Monospace' && b.text?.includes('panic'));
    expect(log?.text).toBe(example.enrichment.logs![0]!.lines.join('\n'));
    const texts = body.map((b) => b.text ?? '');
    expect(texts.indexOf('Evidence')).toBe(texts.indexOf(example.message) + 1);
    expect(texts).toContain(
      'revision 1 (web-5c6b7d8e9f) -> 2 (web-7d9c8b5f4)\nweb: image registry.example/web:2.4.0 -> 2.5.0\nweb: env removed: DATABASE_URL',
    );
  });

  it('PagerDuty: custom_details hold the termination, the log, the Events, the rollout, the node and the notes', () => {
    const details = (pagerduty(m, 'key') as { payload: { custom_details: Record<string, unknown> } }).payload.custom_details;
    expect(details).toMatchObject({
      why: example.message,
      evidence: 'gathered at 10:04:01Z in 212 ms',
      termination: ['web: exit code 1 (Error), finished 10:03:52Z, 5 restarts'],
      logs: [`previous log of container web (last 3 lines, redacted)\n${example.enrichment.logs![0]!.lines.join('\n')}`],
      rollout: expect.arrayContaining(['web: env removed: DATABASE_URL']),
      node: ['node node-a: conditions normal'],
      notes: example.enrichment.notes,
    });
    expect(details['events']).toHaveLength(1);
  });

  it('webhook: the evidence, structured, and the enrichment as it came in data', () => {
    const body = webhook(m) as { evidence: { termination: string[]; logs: { lines: string[]; cut: number }[] }; data: SignalData };
    expect(body.evidence.termination).toEqual(['web: exit code 1 (Error), finished 10:03:52Z, 5 restarts']);
    expect(body.evidence.logs[0]).toMatchObject({ lines: example.enrichment.logs![0]!.lines, cut: 0 });
    expect(body.data.enrichment).toEqual(example.enrichment);
  });
});

describe('evidence in every sink: a maximal enrichment stays within each limit, the newest log lines kept', () => {
  const m = enrichedMessage(maximal);
  const newest = logLine(0, 999);

  it('Slack: every section ≤ 3000 characters, ≤ 50 blocks, each log cut from the top and saying so', () => {
    const blocks = blocksOf(m);
    expect(blocks.length).toBeLessThanOrEqual(50);
    for (const b of blocks) {
      expect(b.text?.text.length ?? 0).toBeLessThanOrEqual(3000);
      for (const f of b.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(2000);
    }
    const logs = textsOf(blocks).filter((t) => t.includes('```log '));
    expect(logs).toHaveLength(8);
    // Each log ends with its newest line; the signal's container's previous log comes first.
    expect(logs.map((t) => /log (\d) line 999 \.+```$/.exec(t)?.[1])).toEqual(['0', '2', '4', '6', '1', '3', '5', '7']);
    for (const t of logs) {
      expect(fences(t)).toBe(2);
      expect(t).toMatch(/ — cut: the 9\d\d earlier lines are not shown here\*\n```/);
    }
    // Eight logs and 50 Events still leave room for every other section.
    expect(textsOf(blocks).filter((t) => t.startsWith('*Recent Events*'))[0]).toMatch(/…and \d+ more$/);
    expect(blocks.at(-1)!.type).toBe('context');
  });

  it('Slack: past 50 blocks, the evidence sections that do not fit are counted, never sent', () => {
    const many = enrichedMessage({
      ...maximal,
      logs: Array.from({ length: 60 }, (_, j) => ({ ...maximal.logs![0]!, container: `c${j}` })),
    });
    const blocks = blocksOf(many);
    expect(blocks).toHaveLength(50);
    expect(JSON.stringify(blocks)).toMatch(/\d+ more evidence sections left out: Slack takes 50 blocks/);
    // What comes after the evidence is never what is left out.
    expect(textsOf(blocks).filter((t) => /^\*(Reflex|Look closer|Silence it)\*/.test(t))).toHaveLength(3);
  });

  it('Teams: the whole card well under 28 KB, the newest line of the first log in it', () => {
    const card = teams(m);
    expect(bytesOf(card)).toBeLessThanOrEqual(TEAMS_MAX_BYTES);
    expect(TEAMS_MAX_BYTES).toBeLessThan(28 * 1024);
    const raw = JSON.stringify(card);
    expect(raw).toContain(newest);
    expect(raw).not.toContain(logLine(0, 0));
    expect(raw).toMatch(/previous log of container web \(last 1000 lines, redacted\) — cut: the 9\d\d earlier lines are not shown here/);
  });

  it('PagerDuty: the whole event ≤ 64 KiB (its limit is 512 KB), the newest line of every log in it', () => {
    const event = pagerduty(m, 'key') as { payload: { custom_details: { logs: string[]; events: string[]; notes: string[] } } };
    expect(bytesOf(event)).toBeLessThanOrEqual(PAGERDUTY_MAX_BYTES);
    const { logs, events } = event.payload.custom_details;
    expect(logs).toHaveLength(8);
    expect(logs.map((l) => /log (\d) line 999 \.+$/.exec(l)?.[1])).toEqual(['0', '2', '4', '6', '1', '3', '5', '7']);
    expect(events.at(-1)).toMatch(/^…and \d+ more$/);
  });

  it('webhook: data ≤ 64 KiB, the oldest log lines dropped first; the evidence ≤ 48 KiB', () => {
    // Only the logs are large: they are cut, everything else stays.
    const logsOnly = enrichedMessage({ ...example.enrichment, logs: maximal.logs! });
    const body = webhook(logsOnly) as { data: { enrichment: Enrichment }; evidence: unknown };
    expect(JSON.stringify(body.data).length).toBeLessThanOrEqual(64 * 1024);
    const { logs, ...rest } = body.data.enrichment;
    expect(rest).toEqual((({ logs: _, ...r }) => r)(example.enrichment));
    expect(logs).toHaveLength(8);
    for (const [j, log] of logs!.entries()) {
      expect(log.lines.at(-1)).toBe(logLine(j, 999));
      expect(log.lines.length).toBeLessThan(1000);
      expect(log.truncated).toBe(true);
    }
    // Everything at its maximum: the logs go, then the rest of the enrichment, said in its notes.
    const all = webhook(m) as { data: { enrichment: Enrichment; key: string }; evidence: { logs: { lines: string[] }[] } };
    expect(JSON.stringify(all.data).length).toBeLessThanOrEqual(64 * 1024);
    expect(all.data.key).toBe(example.key);
    expect(all.data.enrichment.notes.at(-1)).toBe(
      "notify left out containers, logs, events, node, rollout: the webhook's data is bounded at 64 KiB",
    );
    expect(bytesOf(all.evidence)).toBeLessThanOrEqual(WEBHOOK_EVIDENCE_MAX_BYTES);
    expect(all.evidence.logs[0]!.lines.at(-1)).toBe(newest);
  });
});

describe('evidence is text from the cluster', () => {
  const hostile = '<!channel> ``` & <https://evil.example|click here> [login](https://evil.example) `';
  const m = enrichedMessage({
    ...example.enrichment,
    logs: [{ container: 'web', previous: true, lines: ['before', hostile, 'after```'], truncated: false, redactions: {} }],
    notes: [hostile],
  });

  it('Slack: no mention, no link, and the code block cannot be closed from inside', () => {
    const raw = JSON.stringify(blocksOf(m));
    expect(raw).not.toContain('<!channel>');
    expect(raw).not.toContain('<https://evil');
    const log = textsOf(blocksOf(m)).find((t) => t.startsWith('*previous log'))!;
    expect(fences(log)).toBe(2);
    expect(log).toContain('&lt;!channel&gt; `\u200b`\u200b`\u200b &amp; &lt;https://evil.example|click here&gt;');
    expect(log.endsWith('after`\u200b`\u200b`\u200b```')).toBe(true);
    expect(textsOf(blocksOf(m)).find((t) => t.startsWith('*Notes*'))).toContain('• &lt;!channel&gt;');
  });

  it('Teams: a markdown link written into a log or a note is not a link', () => {
    const raw = JSON.stringify(teams(m));
    expect(raw).not.toContain('](https://evil');
    expect(raw).toContain('[login]\u200b(https://evil.example)');
  });
});

describe('when enrich could not be asked', () => {
  it('every sink says so plainly, with what enrich answered, and still tells', () => {
    const failure = { destination: 'http://enrich.reflex.svc', code: 503, response: 'enrich is starting' };
    const { enrichment: _, ...raw } = example;
    const r = readSignal('dev.reflex.signal.crashloop', raw, failure);
    const m = withContext(message(r.signal, 0, r.evidence), { cluster: undefined, runbook: undefined });
    const said = 'enrichment unavailable (enrich answered 503: enrich is starting)';
    expect(textsOf(blocksOf(m))).toContain(`*Evidence*\n${said}`);
    expect(JSON.stringify(teams(m))).toContain(said);
    expect((pagerduty(m, 'k') as { payload: { custom_details: { evidence: string } } }).payload.custom_details.evidence).toBe(said);
    expect((webhook(m) as { evidence: { summary: string; gathered: boolean } }).evidence).toMatchObject({ summary: said, gathered: false });
  });
});
