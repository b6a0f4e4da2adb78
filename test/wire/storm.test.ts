/**
 * Repeat suppression that holds in a storm (issue 24): bench/storm.ts sends 100,000 distinct
 * occurrences of one problem, then of 1,000 problems, through classify's handler within one
 * window, with an occurrence memory ten times smaller than the storm. Exactly 1 and 1,000
 * signals; the occurrence memory evicts (counted), the problem memory never does. Then its other
 * shapes: a 300-pod crash loop with and without the early skip (owner lookups counted), more
 * problems than the problem memory holds, more occurrences than the occurrence memory holds.
 * Speed is the benchmark's to report, not this test's.
 */
import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { projectRoot } from '../../functions/_kit/schemas.js';
import { start } from './process.js';

interface Row {
  shape: string;
  problems: number;
  events: number;
  signals: number;
  ownerLookups?: number;
  entries: Record<string, number>;
  evictions: Record<string, number>;
}

describe('a storm of occurrences', () => {
  it('100,000 of one problem: 1 signal; over 1,000 problems: 1,000 signals; and the other shapes as documented', async () => {
    const p = start(
      process.execPath,
      ['--import', 'tsx', join(projectRoot(), 'bench', 'storm.ts'), '--occurrence-memory', '10000', '--rounds', '1', '--no-results'],
      {},
    );
    expect(await p.exited).toBe(0);
    const rows = p
      .output()
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{"shape"'))
      .map((l) => JSON.parse(l) as Row);
    const row = (shape: string): Row => {
      const found = rows.filter((r) => r.shape === shape);
      expect(found.length).toBeGreaterThan(0);
      return found[0]!;
    };

    const storms = [row('one problem'), row('1,000 problems')];
    expect(storms.map((r) => [r.events, r.problems, r.signals])).toEqual([
      [100_000, 1, 1],
      [100_000, 1000, 1000],
    ]);
    for (const r of storms) {
      // 100,000 distinct pods: the object links fill (20,000) and evict, costing lookups, not signals.
      expect(r.entries).toEqual({ occurrences: 10_000, problems: r.problems, objects: 20_000 });
      expect(r.evictions).toEqual({ occurrences: 90_000, objects: 80_000 });
    }

    // 300 pods crash-looping, 100,000 BackOffs: one signal either way; the early skip looks the
    // owners up once per pod (Pod -> ReplicaSet -> Deployment), the baseline for every event.
    for (const r of rows.filter((x) => x.shape.startsWith('crash loop'))) {
      const skipping = !r.shape.includes('baseline');
      expect([r.signals, r.ownerLookups]).toEqual([1, skipping ? 600 : 200_000]);
      expect(r.entries).toEqual({ occurrences: 10_000, problems: 1, objects: skipping ? 300 : 0 });
      expect(r.evictions).toEqual({ occurrences: 90_000 });
    }
    expect(rows.filter((x) => x.shape.startsWith('crash loop')).length).toBeGreaterThanOrEqual(2);

    // 25,000 problems, 5,000 more than the memory holds, 4 occurrences each. Repeated at once: each
    // problem signalled once (its repeats come before it is evicted). Cycled: each repeat comes
    // after its problem was evicted, so every occurrence is a signal (docs/reliability.md).
    const atOnce = row('25,000 problems, each repeated at once');
    expect([atOnce.events, atOnce.signals, atOnce.evictions]).toEqual([
      100_000,
      25_000,
      { occurrences: 90_000, problems: 5000, objects: 5000 },
    ]);
    const cycled = row('25,000 problems, cycled');
    expect([cycled.events, cycled.signals, cycled.evictions]).toEqual([
      100_000,
      100_000,
      { occurrences: 90_000, problems: 80_000, objects: 80_000 },
    ]);
    for (const r of [atOnce, cycled]) expect(r.entries).toEqual({ occurrences: 10_000, problems: 20_000, objects: 20_000 });

    // 12,000 occurrences over 1,000 problems, then the first 1,000 again, their entries evicted:
    // held back as repeats of their problems.
    const over = row('12,000 occurrences of 1,000 problems, then the first 1,000 again');
    expect([over.events, over.signals, over.evictions]).toEqual([13_000, 1000, { occurrences: 3000 }]);
  }, 300_000);
});
