/** `npm start`: the recorded incident through the real classify, with no cluster. */
import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { projectRoot } from '../../functions/_kit/schemas.js';
import { readRecording, replay } from '../../functions/_mesh/replay.js';
import { start } from './process.js';

const incident = join(projectRoot(), 'examples', 'incident', 'checkout.ndjson');

describe('the embedded incident', () => {
  it('becomes the expected signals, in order, and explains every event that is not one', async () => {
    const rows = await replay(readRecording(incident));
    expect(rows.filter((r) => r.signal).map((r) => `${r.signal!.type} ${r.signal!.subject}`)).toEqual([
      'dev.reflex.signal.crashloop Deployment/shop/web',
      'dev.reflex.signal.oomkilled Deployment/shop/worker',
      'dev.reflex.signal.unschedulable Deployment/shop/web',
      'dev.reflex.signal.nodenotready Node/node-3',
      'dev.reflex.signal.loadhigh Deployment/shop/worker',
      'dev.reflex.signal.loadhigh Deployment/shop/worker',
    ]);
    for (const r of rows.filter((x) => !x.signal))
      expect(r.why).toMatch(/no rule matches|occurrences within|signalled \d+s ago|ignores it/);
    // Times never run backwards in the recording.
    expect(rows.map((r) => r.at.getTime())).toEqual([...rows.map((r) => r.at.getTime())].sort((a, b) => a - b));
  });

  it('npm start prints the timeline and exits 0 on a machine with no kubeconfig', async () => {
    const p = start('npm', ['start', '--silent'], { KUBECONFIG: '/nonexistent/kubeconfig', npm_config_loglevel: 'silent' });
    expect(await p.exited).toBe(0);
    expect(p.output()).toContain('-> dev.reflex.signal.crashloop WARNING on Deployment/shop/web');
    expect(p.output()).toContain('12 events in, 6 signals out');
  }, 60_000);
});

describe('recordings', () => {
  it('reads pretty-printed watch output and kubectl List output as well as NDJSON', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'reflex-rec-'));
    const ndjson = readRecording(incident);
    const pretty = join(dir, 'pretty.json');
    writeFileSync(pretty, ndjson.map((r) => JSON.stringify(r, null, 4)).join('\n'));
    expect(readRecording(pretty)).toEqual(ndjson);
    const list = join(dir, 'list.json');
    const events = ndjson.filter((r) => r.object.kind === 'Event' && r.object.apiVersion === 'v1').map((r) => r.object);
    writeFileSync(
      list,
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: events.map(({ apiVersion: _a, kind: _k, ...rest }) => rest) }, null, 2),
    );
    expect(readRecording(list).map((r) => [r.type, r.object.kind, r.object.metadata.name])).toEqual(
      events.map((e) => ['ADDED', 'Event', e.metadata.name]),
    );
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"type":"ADDED","object":{"kind":"Event"}}\n{"hello": "world"}\n');
    expect(() => readRecording(bad)).toThrow(/bad\.json:2: expected/);
  });
});
