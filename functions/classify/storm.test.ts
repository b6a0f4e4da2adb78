/**
 * Repeat suppression's bounds (issue 24): what a full memory does, the window, the early skip, and
 * what a scrape and the log show. The storm itself (100,000 occurrences) is bench/storm.ts, run
 * by test/wire/storm.test.ts. The handler is driven directly (the HTTP path is tested elsewhere):
 * what is counted is what it replies, and the calls to its owner port.
 */
import { describe, expect, it } from '@jest/globals';
import type { Deps } from '../_kit/index.js';
import { backoff, classifyHarness as harness } from '../../bench/storm.js';

/** A logger that keeps its warnings. */
function warnings() {
  const lines: Record<string, unknown>[] = [];
  const log = {
    debug() {},
    info() {},
    warn: (msg: string, fields: Record<string, unknown> = {}) => lines.push({ msg, ...fields }),
    error() {},
    child: () => log,
  };
  return { lines, log: log as unknown as Deps['log'] };
}

describe('repeat suppression in a storm', () => {
  it('a full problem memory evicts its oldest problem, counted; the window still holds for the rest', async () => {
    const h = harness({ REFLEX_RECENT_PROBLEMS: '100' });
    for (let j = 0; j < 101; j++) await h.send(backoff(`api${j}`, 0));
    expect(h.replies()).toBe(101);
    // api1..api100 are remembered: held back. api0 was evicted: signalled again, and counted.
    for (let j = 1; j < 101; j++) await h.send(backoff(`api${j}`, 1));
    expect(h.replies()).toBe(101);
    await h.send(backoff('api0', 1));
    expect(h.replies()).toBe(102);
    const evicted = (await h.registry.getMetricsAsJSON()).find((m) => m.name === 'reflex_recent_evictions_total')!.values;
    expect(evicted).toEqual(expect.arrayContaining([expect.objectContaining({ labels: { memory: 'problems' }, value: 2 })]));
  });

  it('after the window, the problem is signalled again', async () => {
    const h = harness();
    await h.send(backoff('web', 1));
    h.at(599_000);
    await h.send(backoff('web', 2));
    expect(h.replies()).toBe(1);
    h.at(601_000);
    await h.send(backoff('web', 3));
    expect(h.replies()).toBe(2);
  });

  it('a repeat on an object whose problem is known is held back before its owners are looked up', async () => {
    const h = harness({}, { cluster: true });
    await h.send(backoff('web', 0, 5));
    expect(h.replies()).toBe(1);
    // Pod -> ReplicaSet -> Deployment: two owner lookups for the first occurrence.
    expect(h.lookups()).toBe(2);
    // The same pod's BackOff again and again (the kubelet raises the count): no lookup at all.
    for (let count = 6; count < 56; count++) await h.send(backoff('web', 0, count));
    expect(h.replies()).toBe(1);
    expect(h.lookups()).toBe(2);
    // Another pod of the same Deployment: resolved once (its problem is not known by its object
    // yet), held back as a repeat of the Deployment's problem, then skipped early too.
    await h.send(backoff('web', 1, 5));
    await h.send(backoff('web', 1, 6));
    expect(h.replies()).toBe(1);
    expect(h.lookups()).toBe(4);
    // Past the window the link no longer counts: resolved again, and signalled again.
    h.at(601_000);
    await h.send(backoff('web', 0, 56));
    expect(h.replies()).toBe(2);
    expect(h.lookups()).toBe(6);
  });

  it('without the early skip (the bench baseline) every repeat looks its owners up, and is still held back', async () => {
    const h = harness({}, { cluster: true, earlySkip: false });
    for (let count = 5; count < 55; count++) await h.send(backoff('web', 0, count));
    expect(h.replies()).toBe(1);
    expect(h.lookups()).toBe(100);
    expect(await h.entries()).toEqual({ occurrences: 50, problems: 1, objects: 0 });
  });

  it('after a storm the sizes a scrape reads fall back to what still counts', async () => {
    const h = harness();
    for (let pod = 0; pod < 300; pod++) await h.send(backoff('web', pod));
    expect(await h.entries()).toEqual({ occurrences: 300, problems: 1, objects: 300 });
    // The problem's window (600 s) is over; occurrences count for an hour.
    h.at(601_000);
    expect(await h.entries()).toEqual({ occurrences: 300, problems: 0, objects: 0 });
    h.at(3_601_000);
    expect(await h.entries()).toEqual({ occurrences: 0, problems: 0, objects: 0 });
  });

  it('a full memory is logged once a minute per memory, with the evictions since the last line', async () => {
    const { lines, log } = warnings();
    const h = harness({ REFLEX_RECENT_PROBLEMS: '100' }, { log });
    for (let j = 0; j < 101; j++) await h.send(backoff(`api${j}`, 0));
    // One problem and one object link evicted: one line each.
    expect(lines.map((l) => [l['memory'], l['evictedSinceLastLine']])).toEqual([
      ['objects', 1],
      ['problems', 1],
    ]);
    h.at(30_000);
    for (let j = 101; j < 151; j++) await h.send(backoff(`api${j}`, 0));
    expect(lines).toHaveLength(2);
    h.at(61_000);
    await h.send(backoff('api151', 0));
    expect(lines.slice(2).map((l) => [l['memory'], l['evictedSinceLastLine'], l['max']])).toEqual([
      ['objects', 51, 100],
      ['problems', 51, 100],
    ]);
    expect(await h.evictions()).toEqual({ problems: 52, objects: 52 });
  });
});
