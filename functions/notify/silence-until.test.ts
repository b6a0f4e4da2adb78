/** A workload's `reflex.dev/silence-until`: when it silences notify's messages about it, and when it never does (issue 20). */
import { describe, expect, it } from '@jest/globals';
import { parseRfc3339, SILENCE_UNTIL, silencedUntil } from './silence-until.js';
import { targetRef } from './port.js';

const NOW = Date.parse('2026-11-22T10:00:00Z');
const on = (value: string): Record<string, string> => ({ 'deployment.kubernetes.io/revision': '3', [SILENCE_UNTIL]: value });

describe('silencedUntil', () => {
  it.each([
    // The plain case: a time ahead silences until then.
    ['2026-11-22T12:00:00Z', 'silenced', '2026-11-22T12:00:00.000Z'],
    // An offset is the same instant in UTC: 13:00+02:00 is 11:00Z, still ahead.
    ['2026-11-22T13:00:00+02:00', 'silenced', '2026-11-22T11:00:00.000Z'],
    // Fractions (Kubernetes writes MicroTime) and lower-case t/z are RFC 3339 too.
    ['2026-11-22t10:30:00.123456z', 'silenced', '2026-11-22T10:30:00.123Z'],
    // Spaces around the value (a hand-edited manifest) do not make it garbage.
    ['  2026-11-22T11:00:00Z\n', 'silenced', '2026-11-22T11:00:00.000Z'],
    // A time in the past does nothing: the silence is over by itself.
    ['2026-11-22T09:59:59Z', 'none', undefined],
    // The very end: at `until` it is over (as a ConfigMap silence's endsAt).
    ['2026-11-22T10:00:00Z', 'none', undefined],
  ])('%j -> %s', (value, kind, until) => {
    const d = silencedUntil(on(value), 'Deployment shop/web', NOW);
    expect(d.kind).toBe(kind);
    if (d.kind === 'silenced') {
      expect(d.until).toBe(until);
      expect(d.reason).toMatch(/^Deployment shop\/web is annotated reflex\.dev\/silence-until: \S+ \(in \d+[smh]\)$/);
    }
  });

  it.each([
    // Words: never a silence, and never forever.
    ['next tuesday'],
    ['forever'],
    // A date alone, or no zone: which midnight, which zone? Refused rather than guessed.
    ['2026-11-23'],
    ['2026-11-23T08:00:00'],
    // A duration is what `reflex silence add` takes, not this annotation.
    ['2h'],
    // Unix seconds look like a time to a person, not to RFC 3339.
    ['1795420800'],
    // Days and hours that do not exist (Date would roll 02-30 over to March).
    ['2026-02-30T08:00:00Z'],
    ['2026-11-23T24:00:00Z'],
    ['2026-11-23T08:00:00+25:00'],
    [''],
  ])('%j is ignored (told, with the reason naming the object)', (value) => {
    const d = silencedUntil(on(value), 'Deployment shop/web', NOW);
    expect(d).toMatchObject({ kind: 'invalid', value });
    expect(d.reason).toMatch(
      /^Deployment shop\/web: reflex\.dev\/silence-until ".*" is not an RFC 3339 time \(e\.g\. .*\); ignored, the message is told$/,
    );
  });

  it('a time more than 31 days ahead is taken for a typo: ignored, told, said why', () => {
    expect(silencedUntil(on('2026-12-23T09:59:59Z'), 'Deployment shop/web', NOW).kind).toBe('silenced');
    const d = silencedUntil(on('2062-11-22T12:00:00Z'), 'Deployment shop/web', NOW);
    expect(d).toMatchObject({ kind: 'invalid', value: '2062-11-22T12:00:00Z' });
    expect(d.reason).toBe(
      'Deployment shop/web: reflex.dev/silence-until 2062-11-22T12:00:00Z is more than 31 days ahead, more likely a typo (a year) than a silence; ignored, the message is told (for longer, reflex silence add)',
    );
  });

  it('no annotation (or none read) is no silence', () => {
    expect(silencedUntil(undefined, 'Node node-1', NOW).kind).toBe('none');
    expect(silencedUntil({ 'reflex.dev/other': '2099-01-01T00:00:00Z' }, 'Node node-1', NOW).kind).toBe('none');
  });

  it('a value as long as an annotation may be is cut in the reason', () => {
    const d = silencedUntil(on('x'.repeat(10_000)), 'Deployment shop/web', NOW);
    expect(d.kind).toBe('invalid');
    expect(d.reason.length).toBeLessThan(300);
  });
});

describe('parseRfc3339', () => {
  it('reads what RFC 3339 section 5.6 allows, to the millisecond', () => {
    expect(parseRfc3339('1985-04-12T23:20:50.52Z')).toBe(Date.parse('1985-04-12T23:20:50.520Z'));
    expect(parseRfc3339('1996-12-19T16:39:57-08:00')).toBe(Date.parse('1996-12-20T00:39:57Z'));
    expect(parseRfc3339('2028-02-29T00:00:00Z')).toBe(Date.parse('2028-02-29T00:00:00Z'));
    expect(parseRfc3339('2026-02-29T00:00:00Z')).toBeUndefined();
    // A leap second is valid RFC 3339: read as the second before, never refused.
    expect(parseRfc3339('2026-12-31T23:59:60Z')).toBe(Date.parse('2026-12-31T23:59:59Z'));
  });
});

describe('targetRef: the objects notify reads (knative/notify/rbac.yaml grants get on exactly these)', () => {
  it.each([
    // A signal's target names its version: read at the version the Role's group serves.
    [
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web' },
      { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web' },
    ],
    // An action's target has no apiVersion: the kind says it.
    [
      { kind: 'CronJob', namespace: 'batch', name: 'nightly' },
      { apiVersion: 'batch/v1', kind: 'CronJob', namespace: 'batch', name: 'nightly' },
    ],
    // A Node is cluster-scoped: no namespace in the request.
    [
      { apiVersion: 'v1', kind: 'Node', namespace: '', name: 'node-1' },
      { apiVersion: 'v1', kind: 'Node', name: 'node-1' },
    ],
    // Another version of the same group: the annotations are the same object's.
    [
      { apiVersion: 'autoscaling/v1', kind: 'HorizontalPodAutoscaler', namespace: 'shop', name: 'web' },
      { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', namespace: 'shop', name: 'web' },
    ],
    // A custom resource called Deployment is not apps' Deployment: not read (the Role does not cover it).
    [{ apiVersion: 'example.com/v1', kind: 'Deployment', namespace: 'shop', name: 'web' }, undefined],
    // A Pod or ReplicaSet target (no controller) is not read: notify may not read pods.
    [{ apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-0' }, undefined],
    [{ kind: 'ReplicaSet', namespace: 'shop', name: 'web-5d7c9b8a6' }, undefined],
    // Names from a signal are data: a kind that is an Object property is no kind notify reads.
    [{ kind: 'constructor', namespace: 'shop', name: 'web' }, undefined],
  ])('%j -> %j', (target, ref) => {
    expect(targetRef(target)).toEqual(ref);
  });
});
