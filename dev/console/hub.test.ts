import { describe, expect, it } from '@jest/globals';
import { CloudEvent } from 'cloudevents';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONSOLE_PATH, createConsole } from './hub.js';
import { loadMesh } from '../mesh/manifests.js';
import { defaultManifests } from '../mesh/mesh.js';

const mesh = loadMesh(defaultManifests());
const event = (type: string, data: unknown): CloudEvent<unknown> =>
  new CloudEvent<unknown>({ id: 'e1', source: '/t', type, time: '2026-11-22T10:00:00Z', data }, false);

describe('the console hub: broker records as console records, and the report', () => {
  it('an accepted event says which Triggers matched and why each other did not; a delivery and its reply are tied to it', () => {
    const hub = createConsole(mesh);
    const e = event('dev.reflex.signal.crashloop', { class: 'crashloop' });
    hub.record({ kind: 'accepted', broker: 'reflex/reflex', event: e, ttl: 255, triggers: ['reflex/recover-on-failure'] });
    const reply = event('dev.reflex.action.rolledback', {});
    const withId = new CloudEvent<unknown>({ ...reply, id: 'r1' }, false);
    hub.record({
      kind: 'delivered',
      trigger: 'reflex/recover-on-failure',
      subscriber: 'http://x',
      event: e,
      result: { ok: true, status: 200, attempts: 1, body: '', reply: withId },
    });
    hub.record({ kind: 'accepted', broker: 'reflex/reflex', event: withId, ttl: 254, triggers: [] });
    const [accepted, delivery, replied] = hub.records();
    expect(accepted).toMatchObject({ k: 'event', id: 'e1', seq: 1 });
    const triggers = accepted?.k === 'event' ? accepted.triggers : [];
    expect(triggers.find((t) => t.trigger === 'reflex/recover-on-failure')).toEqual({
      trigger: 'reflex/recover-on-failure',
      matched: true,
    });
    expect(triggers.find((t) => t.trigger === 'reflex/classify-on-alert')?.why).toEqual([
      'type starts with "dev.reflex.alert." (type is "dev.reflex.signal.crashloop")',
    ]);
    expect(delivery).toMatchObject({ k: 'delivery', id: 'e1', ok: true, reply: { id: 'r1', type: 'dev.reflex.action.rolledback' } });
    expect(replied).toMatchObject({ k: 'event', id: 'r1', parent: 'e1' });
  });

  it("takes a function's decision from its log line, once per function and event", () => {
    const hub = createConsole(mesh);
    const line = JSON.stringify({ level: 'debug', ceId: 'e1', why: 'Pod shows no problem' });
    hub.log(line, 'classify');
    hub.log(line, 'classify');
    hub.log('not json "why"', 'classify');
    expect(hub.records()).toEqual([{ k: 'decision', seq: 1, id: 'e1', service: 'classify', why: 'Pod shows no problem' }]);
  });

  it('the report is one file: CSS and script inline, the records embedded so that nothing in them can end the script', () => {
    const hub = createConsole(mesh);
    hub.record({
      kind: 'accepted',
      broker: 'reflex/reflex',
      event: event('x.y', { note: '</script><script>alert(1)</script>' }),
      ttl: 1,
      triggers: [],
    });
    const html = hub.report('a <b> report');
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)="(?!data:)/);
    expect(html).toContain('<title>a &lt;b&gt; report</title>');
    expect(html.match(/<\/script>/g)).toHaveLength(2);
    const json = /<script type="application\/json" id="reflex-report">(.*?)<\/script>/s.exec(html)![1]!;
    const parsed = JSON.parse(json) as { records: { data?: string }[]; topology: { triggers: unknown[] } };
    expect(parsed.records[0]?.data).toContain('</script><script>alert(1)</script>');
    expect(parsed.topology.triggers).toHaveLength(mesh.triggers.length);
  });
});

describe('the live stream (Server-Sent Events)', () => {
  /** The first `n` SSE messages the hub sends a page that says it last saw `lastEventId`. */
  async function firstMessages(hub: ReturnType<typeof createConsole>, lastEventId: string | undefined, n: number): Promise<string[]> {
    const server = createServer((req, res) => void hub.serve(req, res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const abort = new AbortController();
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}${CONSOLE_PATH}/api/stream`, {
        headers: lastEventId ? { 'last-event-id': lastEventId } : {},
        signal: abort.signal,
      });
      const reader = res.body!.getReader();
      let text = '';
      while (text.split('\n\n').filter((m) => m.includes('data:')).length < n)
        text += new TextDecoder().decode((await reader.read()).value);
      return text.split('\n\n').filter((m) => m.includes('data:'));
    } finally {
      abort.abort();
      server.closeAllConnections();
      server.close();
    }
  }

  it('resumes after the last record a page saw; a page of an earlier run of reflex dev is told to start over', async () => {
    const hub = createConsole(mesh);
    for (const why of ['one', 'two', 'three']) hub.log(JSON.stringify({ msg: 'no signal', ceId: why, why }), 'classify');
    const all = await firstMessages(hub, undefined, 3);
    expect(all.map((m) => /^id: (\w+)-(\d+)$/m.exec(m)?.[2])).toEqual(['1', '2', '3']);
    const run = /^id: (\w+)-/m.exec(all[0]!)![1]!;
    // Resuming within this run: only what came after.
    expect((await firstMessages(hub, `${run}-2`, 1)).map((m) => /^id: \w+-(\d+)$/m.exec(m)?.[1])).toEqual(['3']);
    // A Last-Event-ID of another run (reflex dev restarted): a restart event, then everything.
    const after = await firstMessages(hub, 'deadbeef-2', 4);
    expect(after[0]).toMatch(/^event: restart$/m);
    expect(after.slice(1).map((m) => /^id: \w+-(\d+)$/m.exec(m)?.[1])).toEqual(['1', '2', '3']);
  });
});
