/** `npm start` and `reflex replay|validate`: the recorded incident through the mesh, with no cluster. */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../functions/_kit/schemas.js';
import { play } from '../../dev/mesh/play.js';
import { isPodLog, readRecording, type WatchRecord } from '../../dev/mesh/replay.js';
import { render, type EnrichedLine } from '../../dev/mesh/timeline.js';
import type { Enrichment } from '../../functions/_contracts/events.js';
import { start } from './process.js';

const incident = join(projectRoot(), 'examples', 'incident', 'checkout.ndjson');

/**
 * The secrets the incident's logs hold (a bearer token, a database password), read from the
 * recording itself: none may come out of a replay, in any form it prints.
 */
function secretsOfIncident(): string[] {
  const logs = readRecording(incident)
    .flatMap((r) => ('object' in r && isPodLog(r.object) ? [r.object.log] : []))
    .join('\n');
  const token = /Authorization: Bearer (\S+)/.exec(logs)?.[1];
  const password = /postgres:\/\/[^:]+:([^@]+)@/.exec(logs)?.[1];
  if (!token || !password) throw new Error('the incident no longer carries the secrets these tests look for');
  // The token whole, and each of its three parts (a JWT's header alone would identify its issuer).
  return [token, ...token.split('.'), password];
}

/** The summary line of the bundled incident's replay. */
const SUMMARY =
  '15 events went through the broker (4 more only described the cluster, 3 container logs); 6 signals, 6 decisions, no delivery problems.';

describe('the embedded incident', () => {
  it('through the development broker and the real functions: each signal, and what was decided and why', async () => {
    const { lines } = await play(readRecording(incident));
    const decisive = lines.filter((l) => l.kind === 'signal' || l.kind === 'action').map((l) => l.text);
    expect(decisive).toEqual([
      expect.stringMatching(/^signal crashloop WARNING on Deployment shop\/web/),
      // The recording's ReplicaSets: revision 2 crash-loops, revision 1 has 3 ready.
      expect.stringMatching(
        /^recover would roll back Deployment shop\/web \(dry-run, by policy\): .*revision 1 \(web-5d7c9b8a6\) has 3 ready/,
      ),
      expect.stringMatching(/^signal oomkilled WARNING on Deployment shop\/worker/),
      expect.stringMatching(/^recover would resize Deployment shop\/worker \(dry-run, by policy\): .*OOM-killed at 256Mi: limit to 384Mi/),
      // An events.k8s.io/v1 Event reaches the core/v1 source as the API server would show it.
      expect.stringMatching(/^signal unschedulable WARNING on Deployment shop\/web/),
      expect.stringMatching(/^recover escalated Deployment shop\/web to a person: a pod that cannot be scheduled needs capacity/),
      expect.stringMatching(/^signal nodenotready CRITICAL on Node node-3/),
      expect.stringMatching(/^recover did not drain Node node-3: .*within the 300s grace period/),
      expect.stringMatching(/^signal loadhigh INFO on Deployment shop\/worker/),
      expect.stringMatching(/^scale would scale Deployment shop\/worker \(dry-run, by policy\): load is high: replicas 2 -> 3/),
      expect.stringMatching(/^signal loadhigh INFO on Deployment shop\/worker/),
      expect.stringMatching(/^scale (would scale|did not scale) Deployment shop\/worker/),
    ]);
    expect(lines.filter((l) => l.kind === 'problem')).toEqual([]);
    // Times never run backwards in the recording.
    expect(lines.map((l) => l.at.getTime())).toEqual([...lines.map((l) => l.at.getTime())].sort((a, b) => a - b));
    // Each failure signal comes back from enrich with its evidence; load signals go to notify as they are.
    expect(lines.filter((l) => l.kind === 'enriched').map((l) => l.text)).toEqual([
      'enrich gathered the evidence on Deployment shop/web (crashloop)',
      'enrich gathered the evidence on Deployment shop/worker (oomkilled)',
      'enrich gathered the evidence on Deployment shop/web (unschedulable)',
      'enrich gathered the evidence on Node node-3 (nodenotready)',
    ]);
  });

  it("enrich's evidence from what the recording carries: the crash loop's exit, previous log (redacted) and rollout", async () => {
    const { lines } = await play(readRecording(incident));
    const enriched = lines.filter((l): l is EnrichedLine => l.kind === 'enriched');
    const crashloop = enriched.find((l) => l.class === 'crashloop')!;
    const e: Enrichment = crashloop.enrichment!;
    expect(e.complete).toBe(true);
    expect(e.containers?.[0]).toMatchObject({ name: 'web', restartCount: 3, lastTermination: { exitCode: 1, reason: 'Error' } });
    // Both instances' logs, as the recording carried them at the signal's time, secrets redacted by enrich.
    expect(e.logs?.map((l) => [l.container, l.previous, l.lines.length, l.redactions])).toEqual([
      ['web', true, 8, { 'url-credentials': 1, authorization: 1 }],
      ['web', false, 5, { 'url-credentials': 1 }],
    ]);
    expect(e.logs?.[0]?.lines.at(-1)).toBe('2026/11/22 10:01:42 FATAL checkout_v2: cannot start without pricing rules: 403 Forbidden');
    // What the rollout changed: the image, and two env names (never their values).
    expect(e.rollout).toEqual({
      from: { replicaSet: 'web-5d7c9b8a6', revision: 1 },
      to: { replicaSet: 'web-6f9d8c7b5', revision: 2 },
      changes: [
        { container: 'web', field: 'image', before: 'registry.example/web:2.3.1', after: 'registry.example/web:2.4.0' },
        { container: 'web', field: 'env', after: 'CHECKOUT_V2' },
        { container: 'web', field: 'env', after: 'PRICING_URL' },
      ],
    });
    // As the timeline prints it, under the line.
    expect(render(crashloop, false)).toBe(
      [
        '10:02:30     -> enrich gathered the evidence on Deployment shop/web (crashloop)',
        '                container web: last ended with exit code 1 (Error) at 10:01:42, 3 restarts, now running',
        '                previous log of web (2 secrets redacted), its last 4 lines:',
        '                  | 2026/11/22 10:01:41 INFO checkout_v2: loading pricing rules from http://pricing.shop.svc/v1/rules',
        '                  | 2026/11/22 10:01:41 DEBUG GET http://pricing.shop.svc/v1/rules Authorization: [REDACTED:authorization]',
        '                  | 2026/11/22 10:01:42 ERROR GET http://pricing.shop.svc/v1/rules: 403 Forbidden: audience "pricing" may not read /v1/rules',
        '                  | 2026/11/22 10:01:42 FATAL checkout_v2: cannot start without pricing rules: 403 Forbidden',
        '                current log of web (1 secret redacted), its last line: 2026/11/22 10:02:21 INFO checkout_v2: loading pricing rules from http://pricing.shop.svc/v1/rules',
        '                rollout from revision 1 (web-5d7c9b8a6) to 2 (web-6f9d8c7b5): web image registry.example/web:2.3.1 -> registry.example/web:2.4.0; web env +CHECKOUT_V2 +PRICING_URL',
        '                3 Events, the newest: BackOff x3 (Warning) on Pod web-6f9d8c7b5-q7x2m',
      ].join('\n'),
    );
    // The OOM-killed worker: its limit, and the previous log as the kill left it (no current log was recorded).
    const oom = enriched.find((l) => l.class === 'oomkilled')!.enrichment!;
    expect(oom.containers?.[0]).toMatchObject({
      name: 'worker',
      limits: { memory: '256Mi' },
      lastTermination: { exitCode: 137, reason: 'OOMKilled' },
    });
    expect(oom.logs?.map((l) => [l.container, l.previous, l.lines.at(-1)])).toEqual([
      ['worker', true, '2026-11-22T10:03:00.988Z info batch 18415: 200 orders in 71 ms, rss 255 MB'],
    ]);
    // No secret of the logs comes out, whole or in part, in any line or field.
    const out = `${JSON.stringify(lines)}\n${lines.map((l) => render(l, false)).join('\n')}`;
    for (const secret of secretsOfIncident()) expect(out).not.toContain(secret);
  });

  it('npm start prints the timeline and exits 0 on a machine with no kubeconfig', async () => {
    const p = start('npm', ['start', '--silent'], { KUBECONFIG: '/nonexistent/kubeconfig', npm_config_loglevel: 'silent' });
    expect(await p.exited).toBe(0);
    expect(p.output()).toContain('-> signal crashloop WARNING on Deployment shop/web (BackOff, rule crashloop-backoff)');
    // The date, then each event with what came of it: a signal, or classify's reason for none.
    expect(p.output()).toMatch(/^2026-11-22\n09:59:00 {2}Deployment shop\/web added\n {10}no signal: Deployment shows no problem$/m);
    expect(p.output()).toContain('\n          no signal: rule crashloop-backoff: 2 of 3 occurrences within 900s\n');
    expect(p.output()).toMatch(/-> recover would roll back Deployment shop\/web/);
    expect(p.output()).toContain(`\n${SUMMARY}\n`);
    // enrich's evidence under its line: the previous log's last lines, the bearer token redacted.
    expect(p.output()).toContain(
      '\n                  | 2026/11/22 10:01:41 DEBUG GET http://pricing.shop.svc/v1/rules Authorization: [REDACTED:authorization]\n',
    );
    for (const secret of secretsOfIncident()) expect(p.output()).not.toContain(secret);
    // The same replay as a page (the web console, offline), where it says.
    expect(p.output()).toContain('\nThe report: .reflex/incident.html (open it in a browser; it needs no network).\n');
    const page = readFileSync(join(projectRoot(), '.reflex', 'incident.html'), 'utf8');
    expect(page).toMatch(/^<!doctype html>/i);
    expect(page).toContain('crashloop');
    for (const secret of secretsOfIncident()) expect(page).not.toContain(secret);
    // The README's excerpt of this output is true, line for line.
    const readme = readFileSync(join(projectRoot(), 'README.md'), 'utf8');
    const excerpt = /decided and why:\n\n```\n([\s\S]*?)```/.exec(readme)?.[1]?.trim().split('\n') ?? [];
    expect(excerpt.length).toBeGreaterThan(3);
    const printed = p.output().split('\n');
    expect(excerpt.filter((l) => !printed.includes(l))).toEqual([]);
  }, 60_000);

  it('reflex replay --json: one object per line, the same decisions', async () => {
    const p = start('node', ['bin/reflex.js', 'replay', '--json', incident], {});
    expect(await p.exited).toBe(0);
    const rows = p
      .output()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { at: string; kind: string; text: string });
    expect(rows.filter((r) => r.kind === 'action')).toHaveLength(6);
    // enrich's rows carry the evidence whole, as it sent it; the secrets in the logs are not in it.
    const enriched = rows.filter((r) => r.kind === 'enriched') as unknown as { class: string; enrichment: Enrichment }[];
    expect(enriched.map((r) => r.class)).toEqual(['crashloop', 'oomkilled', 'unschedulable', 'nodenotready']);
    expect(enriched[0]!.enrichment.logs?.[0]?.lines).toContain(
      '2026/11/22 10:01:41 DEBUG GET http://pricing.shop.svc/v1/rules Authorization: [REDACTED:authorization]',
    );
    for (const secret of secretsOfIncident()) expect(p.output()).not.toContain(secret);
    expect(rows[0]).toEqual({
      at: '2026-11-22T09:59:00.000Z',
      kind: 'event',
      text: 'Deployment shop/web added',
      namespace: 'shop',
      object: { kind: 'Deployment', name: 'web' },
      outcome: 'none',
      why: 'Deployment shows no problem',
    });
    // A repeat held back says so, with the rule (repeatAfterSeconds).
    expect(rows.find((r) => r.kind === 'event' && (r as { count?: number }).count === 4)).toMatchObject({
      reason: 'BackOff',
      outcome: 'none',
      rule: 'crashloop-backoff',
      why: expect.stringMatching(/^crashloop on Deployment\/shop\/web was signalled \d+s ago \(repeatAfterSeconds 600\)$/),
    });
  }, 60_000);
});

describe('recordings of CloudEvents', () => {
  it('go to the Broker as they are: a recorded signal is routed by the Triggers and recover decides', async () => {
    const { mkdtempSync, readFileSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const schema = JSON.parse(readFileSync(join(projectRoot(), 'schemas', 'dev.reflex.signal.json'), 'utf8')) as { examples: unknown[] };
    const file = join(mkdtempSync(join(tmpdir(), 'reflex-ce-')), 'events.ndjson');
    const signal = {
      specversion: '1.0',
      id: 'recorded-1',
      source: '/reflex/classify',
      type: 'dev.reflex.signal.crashloop',
      time: '2026-11-22T10:04:00Z',
      reflexclass: 'crashloop',
      datacontenttype: 'application/json',
      data: schema.examples[0],
    };
    // recover acts only on what it sees: the recording carries the Deployment, the ReplicaSet that
    // controls the pod (uids), and the pod restarting (ReplicaSets are context, not bridged).
    const at = '2026-11-22T10:03:00Z';
    const meta = (name: string, uid: string, owner?: { kind: string; name: string; uid: string }) => ({
      name,
      namespace: 'shop',
      uid,
      creationTimestamp: at,
      ...(owner ? { ownerReferences: [{ apiVersion: 'apps/v1', ...owner, controller: true }] } : {}),
    });
    const objects = [
      {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: meta('web-7d9c8b5f4', 'rs-1', { kind: 'Deployment', name: 'web', uid: 'd-1' }),
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: meta('web-7d9c8b5f4-x2x7q', '0b9e4c1e-1c39-4a8e-9d7c-3f3b2b1f9a10', {
          kind: 'ReplicaSet',
          name: 'web-7d9c8b5f4',
          uid: 'rs-1',
        }),
        // Between two crashes (running again, last exit an error): not a signal of its own, but a crash loop.
        status: {
          containerStatuses: [
            {
              name: 'web',
              restartCount: 5,
              state: { running: { startedAt: at } },
              lastState: { terminated: { reason: 'Error', exitCode: 1 } },
            },
          ],
        },
      },
    ].map((object) => JSON.stringify({ type: 'ADDED', object }));
    const deployment = JSON.stringify({
      type: 'ADDED',
      object: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta('web', 'd-1') },
    });
    writeFileSync(file, [deployment, ...objects, JSON.stringify(signal)].join('\n') + '\n');
    const { lines } = await play(readRecording(file));
    expect(lines.filter((l) => l.kind === 'signal' || l.kind === 'action').map((l) => `${l.kind} ${l.text}`)).toEqual([
      expect.stringMatching(/^signal signal crashloop WARNING on Deployment shop\/web/),
      // Only one ReplicaSet in this recording: the playbook's other branch, restart the pod once.
      expect.stringMatching(
        /^action recover would restart Deployment shop\/web \(dry-run, by policy\): .*restarting web-7d9c8b5f4-x2x7q once/,
      ),
    ]);
  });
});

describe('reflex validate', () => {
  it('accepts the shipped manifests, rules and policies', async () => {
    const p = start('node', ['bin/reflex.js', 'validate'], {});
    expect(await p.exited).toBe(0);
    expect(p.output()).toMatch(/Trigger recover-on-failure/);
    expect(p.output()).toMatch(/Service recover \(recover\): REFLEX_RECOVER_POLICY=knative\/config\/recover-policy.yaml/);
  }, 60_000);

  it('explains a broken policy and a Trigger with a bad filter, and exits 1', async () => {
    const { cpSync, readFileSync, writeFileSync, mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = join(mkdtempSync(join(tmpdir(), 'reflex-validate-')), 'knative');
    cpSync(join(projectRoot(), 'knative'), dir, { recursive: true });
    writeFileSync(join(dir, 'config', 'recover-policy.yaml'), 'cooldownSeconds: soon\n');
    const trigger = join(dir, 'notify', 'trigger.yaml');
    writeFileSync(trigger, readFileSync(trigger, 'utf8').replace(/filters:/, 'filters:\n    - cesql: "type LIKE"'));
    const p = start('node', ['bin/reflex.js', 'validate', '--manifests', dir], {});
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/Service recover: .*cooldownSeconds/);
    expect(p.output()).toMatch(/notify\/trigger.yaml#\d+: Trigger notify-\S+: cesql "type LIKE"/);
  }, 60_000);
});

describe('recordings', () => {
  it('carry container logs: enrich reads the log as it was recorded by the time of the signal, never a later one', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'reflex-logs-')), 'oom.ndjson');
    const log = (text: string) => ({
      type: 'ADDED',
      object: {
        apiVersion: 'reflex.dev/v1',
        kind: 'PodLog',
        metadata: { namespace: 'shop', name: 'worker-5c8d7f9b6-n4t8w' },
        container: 'worker',
        previous: true,
        log: text,
      },
    });
    // The incident's OOM-killed worker (a signal of its own state), its previous log recorded
    // twice before it (the second replaces the first) and once after (not there yet).
    const pod = readRecording(incident).find(
      (r) => 'object' in r && r.object.kind === 'Pod' && r.object.metadata.name.startsWith('worker-'),
    )!;
    const records = [log('older\n'), log('as recorded\nbefore the kill\n'), pod, log('recorded later\n')];
    writeFileSync(file, records.map((r) => JSON.stringify(r)).join('\n'));
    const played = await play(readRecording(file));
    const e = played.lines.find((l): l is EnrichedLine => l.kind === 'enriched')?.enrichment;
    expect(e?.logs?.map((l) => [l.container, l.previous, l.lines])).toEqual([['worker', true, ['as recorded', 'before the kill']]]);
    expect([played.bridged, played.contextOnly, played.logs]).toEqual([1, 0, 3]);
  });

  it('reads pretty-printed watch output and kubectl List output as well as NDJSON', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'reflex-rec-'));
    const ndjson = readRecording(incident).filter((r): r is WatchRecord => 'object' in r);
    const pretty = join(dir, 'pretty.json');
    writeFileSync(pretty, ndjson.map((r) => JSON.stringify(r, null, 4)).join('\n'));
    expect(readRecording(pretty)).toEqual(ndjson);
    const list = join(dir, 'list.json');
    const events = ndjson.filter((r) => r.object.kind === 'Event' && r.object.apiVersion === 'v1').map((r) => r.object);
    writeFileSync(
      list,
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: events.map(({ apiVersion: _a, kind: _k, ...rest }) => rest) }, null, 2),
    );
    expect(readRecording(list).map((r) => ('object' in r ? [r.type, r.object.kind, r.object.metadata.name] : []))).toEqual(
      events.map((e) => ['ADDED', 'Event', e.metadata.name]),
    );
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"type":"ADDED","object":{"kind":"Event"}}\n{"hello": "world"}\n');
    expect(() => readRecording(bad)).toThrow(/bad\.json:2: not a recording: expected/);
  });
});
