/** _signals/recent — what the memories keep, for how long, and what a full one says. */
import { describe, expect, it } from '@jest/globals';
import { evictionLog, Recent, type Memory } from './recent.js';

const MIN = 60_000;

describe('expired entries are dropped, so the sizes say what still counts', () => {
  it('recording drops a few entries past their window from the oldest end (amortised: two per record)', () => {
    const r = new Recent();
    for (let i = 0; i < 10; i++) r.problems.record(`p${i}`, 0, 10 * MIN);
    // All ten are past their window at 11 min: each record takes two of them along.
    r.problems.record('late1', 11 * MIN, 10 * MIN);
    expect(r.problems.size).toBe(9);
    r.problems.record('late2', 11 * MIN, 10 * MIN);
    expect(r.problems.size).toBe(8);
    expect(r.problems.ageWithin('late1', 11 * MIN)).toBe(0);
  });

  it('reading the sizes (a scrape) drops everything past its window: after a storm they fall back', () => {
    const r = new Recent({ maxProblems: 100 });
    // A storm fills the memory to its cap …
    for (let i = 0; i < 150; i++) r.linkProblem(`o${i}`, `p${i % 3}`, i * 1000, 10 * MIN);
    expect(r.sizes(150_000)).toEqual({ occurrences: 0, problems: 0, objects: 100 });
    // … and once it is over, what no longer counts is gone, not kept at the cap until new traffic.
    expect(r.sizes(10 * MIN + 100_000)).toEqual({ occurrences: 0, problems: 0, objects: 49 });
    expect(r.sizes(10 * MIN + 150_000)).toEqual({ occurrences: 0, problems: 0, objects: 0 });
  });

  it('pruning stops at the first entry that still counts (recording order is expiry order within one window)', () => {
    const r = new Recent();
    r.problems.record('long', 0, 60 * MIN);
    r.problems.record('short', 1000, MIN);
    // `short` is past its window but behind `long`, which still counts: it waits for it, never
    // counting meanwhile (ageWithin says so), and goes when `long` does.
    expect(r.sizes(2 * MIN).problems).toBe(2);
    expect(r.problems.ageWithin('short', 2 * MIN)).toBeUndefined();
    expect(r.sizes(60 * MIN).problems).toBe(0);
  });

  it('a full memory evicts its oldest; one that still counted is counted, one past its window is not', () => {
    const evicted: Memory[] = [];
    const r = new Recent({ maxOccurrences: 100, onEvict: (m) => evicted.push(m) });
    for (let i = 0; i < 101; i++) r.occurrences.record(`o${i}`, 0, MIN);
    expect(r.evictions()).toEqual({ occurrences: 1, problems: 0, objects: 0 });
    expect(evicted).toEqual(['occurrences']);
  });

  it('the object-to-problem links are a memory of their own: bounded, evictions counted as objects', () => {
    const evicted: Memory[] = [];
    const r = new Recent({ maxProblems: 100, onEvict: (m) => evicted.push(m) });
    for (let i = 0; i < 105; i++) r.linkProblem(`crashloop|Pod|shop|web-${i}`, 'p', 0, 10 * MIN);
    expect(r.objects.size).toBe(100);
    expect(r.evictions()).toEqual({ occurrences: 0, problems: 0, objects: 5 });
    expect(new Set(evicted)).toEqual(new Set(['objects']));
    expect(r.knownProblem('crashloop|Pod|shop|web-0', 1000)).toBeUndefined();
    expect(r.knownProblem('crashloop|Pod|shop|web-104', 1000)).toBe('p');
  });
});

describe('a full memory is logged at most once a minute per memory', () => {
  const lines = () => {
    const written: [Memory, number][] = [];
    return { written, log: evictionLog((m, n) => written.push([m, n])) };
  };

  it('the first eviction is told at once; the rest of the minute only counted, then told in one line', () => {
    const { written, log } = lines();
    log('problems', 0);
    for (let t = 1; t <= 500; t++) log('problems', t * 100); // 500 more within 50 s
    expect(written).toEqual([['problems', 1]]);
    log('problems', 61_000);
    expect(written).toEqual([
      ['problems', 1],
      ['problems', 501],
    ]);
  });

  it('each memory has its own minute', () => {
    const { written, log } = lines();
    log('occurrences', 0);
    log('objects', 1000);
    log('occurrences', 2000);
    log('problems', 3000);
    expect(written).toEqual([
      ['occurrences', 1],
      ['objects', 1],
      ['problems', 1],
    ]);
  });

  it('a clock that steps back does not silence it', () => {
    const { written, log } = lines();
    log('problems', 100_000);
    log('problems', 10_000);
    expect(written).toEqual([
      ['problems', 1],
      ['problems', 1],
    ]);
  });
});

describe('the recording order kept beside the map', () => {
  /** The same rules over a plain Map, walked from its oldest end each time: slow, obviously right. */
  class Model {
    readonly m = new Map<string, { at: number; until: number }>();
    evictions = 0;
    constructor(readonly max: number) {}
    record(key: string, now: number, windowMs: number): void {
      this.m.delete(key);
      this.m.set(key, { at: now, until: now + windowMs });
      let pruned = 0;
      for (const [k, e] of this.m) {
        const counts = e.until > now;
        if (!counts && pruned < 2) pruned++;
        else if (this.m.size <= this.max) break;
        else if (counts) this.evictions++;
        this.m.delete(k);
      }
    }
    prune(now: number): void {
      for (const [k, e] of this.m) {
        if (e.until > now) break;
        this.m.delete(k);
      }
    }
  }

  it('keeps the same entries as a plain Map would, through re-records, expiry, eviction and compaction', () => {
    // Seeded: a few hundred keys recorded again and again (stale slots pile up and are compacted),
    // two windows (so pruning meets a longer-windowed entry in front), the clock moving on.
    let seed = 24;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const r = new Recent({ maxProblems: 100 });
    const model = new Model(100);
    let now = 0;
    for (let i = 0; i < 50_000; i++) {
      now += random(50);
      const key = `k${random(i % 1000 < 500 ? 150 : 400)}`;
      const windowMs = random(4) === 0 ? 20_000 : 5_000;
      r.problems.record(key, now, windowMs);
      model.record(key, now, windowMs);
      if (random(500) === 0) {
        r.sizes(now);
        model.prune(now);
      }
      if (i % 997 === 0) {
        expect(r.problems.size).toBe(model.m.size);
        for (let k = 0; k < 400; k++) {
          const e = model.m.get(`k${k}`);
          expect(r.problems.ageWithin(`k${k}`, now)).toBe(e && now < e.until ? now - e.at : undefined);
        }
      }
    }
    expect(r.evictions().problems).toBe(model.evictions);
    expect(model.evictions).toBeGreaterThan(0);
  });
});
