/**
 * Repeat suppression that holds in a storm (issue 24): bench/storm.ts sends 100,000 distinct
 * occurrences of one problem, then of 1,000 problems, through classify's handler within one
 * window, with an occurrence memory ten times smaller than the storm. Exactly 1 and 1,000
 * signals; the occurrence memory evicts (counted), the problem memory never does. Speed is the
 * benchmark's to report, not this test's.
 */
import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { projectRoot } from '../../functions/_kit/schemas.js';
import { start } from './process.js';

describe('a storm of occurrences', () => {
  it('100,000 of one problem: 1 signal; over 1,000 problems: 1,000 signals', async () => {
    const p = start(process.execPath, ['--import', 'tsx', join(projectRoot(), 'bench', 'storm.ts'), '--occurrence-memory', '10000'], {});
    expect(await p.exited).toBe(0);
    const rows = p
      .output()
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map(
        (l) =>
          JSON.parse(l) as {
            problems: number;
            events: number;
            signals: number;
            entries: Record<string, number>;
            evictions: Record<string, number>;
          },
      );
    expect(rows.map((r) => [r.events, r.problems, r.signals])).toEqual([
      [100_000, 1, 1],
      [100_000, 1000, 1000],
    ]);
    for (const r of rows) {
      expect(r.entries).toEqual({ occurrences: 10_000, problems: r.problems });
      expect(r.evictions).toEqual({ occurrences: 90_000 });
    }
  }, 180_000);
});
