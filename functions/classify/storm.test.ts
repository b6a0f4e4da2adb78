/**
 * Repeat suppression's bounds (issue 24): what a full memory does, and the window. The storm
 * itself (100,000 occurrences) is bench/storm.ts, run by test/wire/storm.test.ts. The handler is
 * driven directly (the HTTP path is tested elsewhere): what is counted is what it replies.
 */
import { describe, expect, it } from '@jest/globals';
import { backoff, classifyHarness as harness } from '../../bench/storm.js';

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
});
