/** `npm start` and `reflex replay|validate`: the recorded incident through the mesh, with no cluster. */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../functions/_kit/schemas.js';
import { play } from '../../dev/mesh/play.js';
import { readRecording, type WatchRecord } from '../../dev/mesh/replay.js';
import { start } from './process.js';

const incident = join(projectRoot(), 'examples', 'incident', 'checkout.ndjson');

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
  });

  it('npm start prints the timeline and exits 0 on a machine with no kubeconfig', async () => {
    const p = start('npm', ['start', '--silent'], { KUBECONFIG: '/nonexistent/kubeconfig', npm_config_loglevel: 'silent' });
    expect(await p.exited).toBe(0);
    expect(p.output()).toContain('-> signal crashloop WARNING on Deployment shop/web (BackOff, rule crashloop-backoff)');
    // The date, then each event with what came of it: a signal, or classify's reason for none.
    expect(p.output()).toMatch(/^2026-11-22\n09:59:00 {2}Deployment shop\/web added\n {10}no signal: Deployment shows no problem$/m);
    expect(p.output()).toContain('\n          no signal: rule crashloop-backoff: 2 of 3 occurrences within 900s\n');
    expect(p.output()).toMatch(/-> recover would roll back Deployment shop\/web/);
    expect(p.output()).toMatch(
      /15 events went through the broker \(4 more only described the cluster\); 6 signals, 6 decisions, no delivery problems\./,
    );
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
