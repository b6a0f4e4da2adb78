import { describe, expect, it } from '@jest/globals';
import { MAX_OPEN, track, type Found } from './resolve.js';

const target = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', resolvedBy: 'ownerReferences' as const };
const found = (key: string): Found => ({ key, class: 'crashloop', severity: 'warning', reason: 'CrashLoopBackOff', target });
const t = (m: number): Date => new Date(Date.UTC(2026, 10, 22, 10, m));

describe('open problems across ticks', () => {
  it('a problem is resolved only after it has been absent for the given number of ticks in a row', () => {
    let s = track({}, [found('a')], t(0), 2);
    expect(Object.keys(s.open)).toEqual(['a']);
    s = track(s.open, [found('a')], t(5), 2);
    expect(s.open['a']).toMatchObject({ firstSeen: t(0).toISOString(), lastSeen: t(5).toISOString(), missing: 0 });
    s = track(s.open, [], t(10), 2);
    expect([s.resolved, s.open['a']?.missing]).toEqual([[], 1]);
    // Back before the second missing tick: not over, and the count starts again.
    s = track(s.open, [found('a')], t(15), 2);
    expect(s.open['a']?.missing).toBe(0);
    s = track(s.open, [], t(20), 2);
    s = track(s.open, [], t(25), 2);
    expect(s.resolved).toEqual([expect.objectContaining({ key: 'a', firstSeen: t(0).toISOString(), lastSeen: t(15).toISOString() })]);
    expect(s.open).toEqual({});
  });

  it('keeps at most MAX_OPEN problems, dropping those seen longest ago', () => {
    const old = Object.fromEntries(
      Array.from({ length: MAX_OPEN }, (_, i) => [
        `k${i}`,
        { ...found(`k${i}`), firstSeen: t(0).toISOString(), lastSeen: t(0).toISOString(), missing: 0 },
      ]),
    );
    const s = track(old, [found('new'), ...Object.keys(old).slice(1).map(found)], t(5), 3);
    expect(Object.keys(s.open)).toHaveLength(MAX_OPEN);
    expect(s.open['new']).toBeDefined();
    // k0 was not found this tick and is the oldest: it made room.
    expect(s.open['k0']).toBeUndefined();
  });
});
