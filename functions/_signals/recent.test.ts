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

  it('an entry past its window goes even when recorded after a longer-windowed one that still counts', () => {
    const r = new Recent();
    r.problems.record('long', 0, 60 * MIN);
    r.problems.record('short', 1000, MIN);
    // Each window has its own queue: `short` does not wait for `long`.
    expect(r.sizes(2 * MIN).problems).toBe(1);
    expect(r.problems.ageWithin('short', 2 * MIN)).toBeUndefined();
    expect(r.problems.ageWithin('long', 2 * MIN)).toBe(2 * MIN);
    expect(r.sizes(60 * MIN).problems).toBe(0);
  });

  it('a full memory drops what is past its window before anything that still counts, whatever the windows', () => {
    // A rule with a 1 h window, then three problems of a 10 min rule: at 11 min the three no longer
    // count, A still does. The memory is full when E comes: the three go, A stays, nothing evicted.
    const evicted: [Memory, number][] = [];
    const r = new Recent({ maxProblems: 4, onEvict: (m, now) => evicted.push([m, now]) });
    r.problems.record('A', 0, 60 * MIN);
    for (const k of ['B', 'C', 'D']) r.problems.record(k, 0, 10 * MIN);
    r.problems.record('E', 11 * MIN + 40_000, 10 * MIN);
    expect(evicted).toEqual([]);
    expect(r.evictions().problems).toBe(0);
    expect(r.problems.ageWithin('A', 11 * MIN + 40_000)).toBe(11 * MIN + 40_000);
    expect(r.problems.ageWithin('E', 11 * MIN + 40_000)).toBe(0);
    expect(r.problems.size).toBeLessThanOrEqual(4);
    expect(r.sizes(11 * MIN + 40_000).problems).toBe(2);
  });

  it('a full memory evicts its oldest; one that still counted is counted, one past its window is not', () => {
    const evicted: Memory[] = [];
    const r = new Recent({ maxOccurrences: 100, onEvict: (m) => evicted.push(m) });
    for (let i = 0; i < 101; i++) r.occurrences.record(`o${i}`, 0, MIN);
    expect(r.evictions()).toEqual({ occurrences: 1, problems: 0, objects: 0 });
    expect(evicted).toEqual(['occurrences']);
  });

  it('a full memory whose entries all count evicts the one that would have expired soonest', () => {
    const r = new Recent({ maxProblems: 2 });
    r.problems.record('A', 0, 60 * MIN);
    r.problems.record('B', 0, 10 * MIN);
    r.problems.record('C', 1000, 10 * MIN);
    expect(r.evictions().problems).toBe(1);
    expect(r.problems.ageWithin('A', 1000)).toBe(1000);
    expect(r.problems.ageWithin('B', 1000)).toBeUndefined();
    expect(r.problems.ageWithin('C', 1000)).toBe(0);
  });

  it('a clock that steps back keeps each entry in its expiry order: one past its window still goes first', () => {
    const evicted: Memory[] = [];
    const r = new Recent({ maxProblems: 102, onEvict: (m) => evicted.push(m) });
    for (let i = 0; i < 100; i++) r.problems.record(`later${i}`, 100_000 + i, 10 * MIN);
    // A record that read the clock a little earlier (slotted in among them), then the clock
    // stepped back 100 s: `back` expires before all the others (a queue of its own).
    r.problems.record('slightly', 100_050, 10 * MIN);
    r.problems.record('back', 0, 10 * MIN);
    expect(r.problems.size).toBe(102);
    // At 10 min 50 s `back` no longer counts, the 100 do: full, it goes and none of them.
    r.problems.record('new', 10 * MIN + 50_000, 10 * MIN);
    expect(evicted).toEqual([]);
    expect(r.problems.size).toBe(102);
    expect(r.problems.ageWithin('back', 10 * MIN + 50_000)).toBeUndefined();
    expect(r.problems.ageWithin('later0', 10 * MIN + 50_000)).toBe(10 * MIN - 50_000);
    // Then they go in expiry order: `slightly` between later49 and later50.
    expect(r.problems.prune(10 * MIN + 100_049)).toBe(50);
    expect(r.problems.ageWithin('slightly', 10 * MIN + 100_049)).toBe(10 * MIN - 1);
    expect(r.problems.prune(10 * MIN + 100_050)).toBe(2);
    expect(r.problems.ageWithin('slightly', 10 * MIN + 100_050)).toBeUndefined();
    expect(r.problems.ageWithin('later51', 10 * MIN + 100_050)).toBe(10 * MIN - 1);
  });

  it('a clock stepping back again and again: a few queues per window, then slotted in, the order exact', () => {
    // Eight batches of 100, each recorded 100 s before the last: the first steps back start
    // queues of their own, the later ones are slotted into the last of them.
    const r = new Recent({ maxProblems: 800 });
    const until = new Map<string, number>();
    for (let b = 0; b < 8; b++)
      for (let i = 0; i < 100; i++) {
        const at = (8 - b) * 100_000 + i;
        r.problems.record(`b${b}-${i}`, at, 10 * MIN);
        until.set(`b${b}-${i}`, at + 10 * MIN);
      }
    expect(r.evictions().problems).toBe(0);
    // Full: the one that expires soonest goes, the first of the last batch.
    r.problems.record('x', 100_099, 10 * MIN);
    expect(r.evictions().problems).toBe(1);
    expect(r.problems.ageWithin('b7-0', 100_099)).toBeUndefined();
    expect(r.problems.ageWithin('b7-1', 100_099)).toBe(98);
    until.delete('b7-0');
    until.set('x', 100_099 + 10 * MIN);
    for (let t = 10 * MIN; t <= 10 * MIN + 900_000; t += 25_025) {
      let counting = 0;
      for (const u of until.values()) if (u > t) counting++;
      expect(r.sizes(t).problems).toBe(counting);
    }
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

describe('the expiry order kept beside the map', () => {
  /**
   * The same rules over a plain Map, searched whole each time for the entry that expires soonest
   * (the earlier recorded first among equals): slow, obviously right.
   */
  class Model {
    readonly m = new Map<string, { at: number; until: number; seq: number }>();
    evictions = 0;
    #seq = 0;
    constructor(readonly max: number) {}
    soonest(): [string, { until: number }] | undefined {
      let first: [string, { until: number; seq: number }] | undefined;
      for (const [k, e] of this.m)
        if (!first || e.until < first[1].until || (e.until === first[1].until && e.seq < first[1].seq)) first = [k, e];
      return first;
    }
    record(key: string, now: number, windowMs: number): void {
      this.m.delete(key);
      this.m.set(key, { at: now, until: now + windowMs, seq: this.#seq++ });
      let pruned = 0;
      for (let s = this.soonest(); s; s = this.soonest()) {
        const counts = s[1].until > now;
        if (!counts && pruned < 2) pruned++;
        else if (this.m.size <= this.max) break;
        else if (counts) this.evictions++;
        this.m.delete(s[0]);
      }
    }
    prune(now: number): void {
      for (let s = this.soonest(); s && s[1].until <= now; s = this.soonest()) this.m.delete(s[0]);
    }
  }

  it('keeps the same entries as a plain Map would, through re-records, windows, a clock that steps back, expiry, eviction and compaction', () => {
    // Seeded: a few hundred keys recorded again and again (stale slots pile up and are compacted),
    // three windows (so expiry order is not recording order), the clock moving on, now and then a
    // little back (records finishing out of order: slotted in), seldom far back (a queue of its
    // own), and for a while back and forth.
    let seed = 24;
    const random = (n: number): number => {
      // mulberry32: the low bits of a plain LCG repeat too soon to mix three windows.
      seed = (seed + 0x6d2b79f5) | 0;
      let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) % n;
    };
    const WINDOWS = [2_000, 2_000, 2_000, 5_000, 5_000, 20_000];
    // For a while a slow clock and a few keys in one window: stale slots pile up behind the entries
    // of that window recorded earlier (which still count), and the queue is compacted.
    const slow = (i: number) => i >= 30_000 && i < 34_000;
    const swinging = (i: number) => i >= 40_000 && i < 41_000;
    const tick = (i: number): number => {
      const step = random(10_000);
      if (swinging(i)) return i % 2 === 0 ? 15_000 : -15_000 + random(50);
      if (slow(i)) return random(4);
      if (step < 150) return -random(300);
      if (step < 152) return -5_000 - random(25_000);
      return random(100);
    };
    // For a while every key new: a full memory streams through its queues (their fronts trimmed).
    const keyOf = (i: number): string => (i >= 20_000 && i < 24_000 ? `u${i}` : `k${random(slow(i) ? 20 : i % 1000 < 500 ? 150 : 400)}`);
    const r = new Recent({ maxProblems: 100 });
    const model = new Model(100);
    const same = (now: number) => {
      expect(r.problems.size).toBe(model.m.size);
      for (const [k, e] of model.m) expect(r.problems.ageWithin(k, now)).toBe(now < e.until ? now - e.at : undefined);
      for (let k = 0; k < 400; k++) {
        const e = model.m.get(`k${k}`);
        expect(r.problems.ageWithin(`k${k}`, now)).toBe(e && now < e.until ? now - e.at : undefined);
      }
    };
    /** An entry that still counted went: then nothing held was past its window. */
    const allCount = (now: number) => {
      let counting = 0;
      for (const k of model.m.keys()) if (r.problems.ageWithin(k, now) !== undefined) counting++;
      expect([r.problems.size, model.m.size]).toEqual([counting, counting]);
    };
    let now = 0;
    let counted = 0;
    for (let i = 0; i < 60_000; i++) {
      now += tick(i);
      const key = keyOf(i);
      const windowMs = slow(i) ? 20_000 : WINDOWS[random(WINDOWS.length)]!;
      const before = r.evictions().problems;
      r.problems.record(key, now, windowMs);
      model.record(key, now, windowMs);
      if (r.evictions().problems > before) {
        allCount(now);
        counted++;
      }
      if (random(500) === 0) {
        r.sizes(now);
        model.prune(now);
      }
      if (i % 997 === 0 || (swinging(i) && i % 97 === 0)) same(now);
    }
    expect(r.evictions().problems).toBe(model.evictions);
    expect(model.evictions).toBeGreaterThan(0);
    expect(counted).toBeGreaterThan(0);
  });
});
