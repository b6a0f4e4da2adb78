/**
 * One Occurrence from an Event of either API, written through either API (issue 17). The API
 * server keeps one object and shows it through both: an Event written through events.k8s.io/v1
 * has `eventTime` (its first occurrence) and `series {count, lastObservedTime}`, and through core/v1
 * shows null firstTimestamp/lastTimestamp and no count; one written through core/v1 has
 * firstTimestamp/lastTimestamp/count, and through events.k8s.io/v1 shows a null eventTime and
 * deprecatedFirstTimestamp/deprecatedLastTimestamp/deprecatedCount. Times come from those fields,
 * else the Event's creation: never the clock.
 * @see k8s.io/kubernetes pkg/apis/events/v1/conversion.go, pkg/apis/core/validation/events.go
 */
import { describe, expect, it } from '@jest/globals';
import { occurrenceOf, type KubeEvent } from './occurrence.js';

/** Far from every time below: an occurrence dated now would show. */
const NOW = new Date('2030-01-01T00:00:00Z');
const meta = { name: 'web-1.18799a1a2b3c4d5e', namespace: 'shop', uid: 'e-1', creationTimestamp: '2026-11-22T10:00:00Z' };
const pod = { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-1' };

const core = (fields: Record<string, unknown>): KubeEvent =>
  ({ apiVersion: 'v1', kind: 'Event', metadata: meta, involvedObject: pod, reason: 'BackOff', type: 'Warning', ...fields }) as KubeEvent;
const events = (fields: Record<string, unknown>): KubeEvent =>
  ({
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: meta,
    regarding: pod,
    reason: 'BackOff',
    type: 'Warning',
    ...fields,
  }) as KubeEvent;

describe('occurrenceOf: first seen, last seen and count, whichever API wrote the Event and whichever shows it', () => {
  it.each<[string, KubeEvent, string, string, number]>([
    // Written through core/v1, read through core/v1: the classic fields.
    [
      'core/v1 written through core/v1',
      core({ firstTimestamp: '2026-11-22T10:00:30Z', lastTimestamp: '2026-11-22T10:02:30Z', count: 3, eventTime: null }),
      '2026-11-22T10:00:30.000Z',
      '2026-11-22T10:02:30.000Z',
      3,
    ],
    // Written through events.k8s.io/v1, read through core/v1: first/last timestamps null, no count, a series.
    [
      'core/v1 written through events.k8s.io/v1, a series',
      core({
        firstTimestamp: null,
        lastTimestamp: null,
        eventTime: '2026-11-22T10:00:30.123456Z',
        series: { count: 4, lastObservedTime: '2026-11-22T10:05:10.654321Z' },
        reportingComponent: 'kubelet',
      }),
      '2026-11-22T10:00:30.123Z',
      '2026-11-22T10:05:10.654Z',
      4,
    ],
    // …a single occurrence: no series, eventTime is both first and last.
    [
      'core/v1 written through events.k8s.io/v1, once',
      core({ firstTimestamp: null, lastTimestamp: null, eventTime: '2026-11-22T10:04:00.412903Z' }),
      '2026-11-22T10:04:00.412Z',
      '2026-11-22T10:04:00.412Z',
      1,
    ],
    // Written through events.k8s.io/v1, read through it: eventTime and the series.
    [
      'events.k8s.io/v1 written through events.k8s.io/v1, a series',
      events({ eventTime: '2026-11-22T10:00:30.123456Z', series: { count: 4, lastObservedTime: '2026-11-22T10:05:10.654321Z' } }),
      '2026-11-22T10:00:30.123Z',
      '2026-11-22T10:05:10.654Z',
      4,
    ],
    // Written through core/v1, read through events.k8s.io/v1: eventTime null, the deprecated fields.
    [
      'events.k8s.io/v1 written through core/v1 (eventTime null)',
      events({
        eventTime: null,
        deprecatedFirstTimestamp: '2026-11-22T10:00:30Z',
        deprecatedLastTimestamp: '2026-11-22T10:02:30Z',
        deprecatedCount: 3,
        deprecatedSource: { component: 'kubelet', host: 'node-1' },
      }),
      '2026-11-22T10:00:30.000Z',
      '2026-11-22T10:02:30.000Z',
      3,
    ],
    // …with a series as well: its last observation is the last occurrence, its count the count.
    [
      'events.k8s.io/v1 with eventTime null and a series',
      events({
        eventTime: null,
        deprecatedFirstTimestamp: '2026-11-22T10:00:30Z',
        deprecatedLastTimestamp: '2026-11-22T10:02:30Z',
        deprecatedCount: 3,
        series: { count: 5, lastObservedTime: '2026-11-22T10:06:00Z' },
      }),
      '2026-11-22T10:00:30.000Z',
      '2026-11-22T10:06:00.000Z',
      5,
    ],
    // No time at all but its creation: the Event was created at its first occurrence.
    ['events.k8s.io/v1 with only a creation time', events({ eventTime: null }), '2026-11-22T10:00:00.000Z', '2026-11-22T10:00:00.000Z', 1],
    [
      'core/v1 with only a creation time',
      core({ firstTimestamp: null, lastTimestamp: null }),
      '2026-11-22T10:00:00.000Z',
      '2026-11-22T10:00:00.000Z',
      1,
    ],
    // A zero time as Go writes one (0001-01-01) is no time: the next field is used.
    [
      'events.k8s.io/v1 with a zero eventTime',
      events({ eventTime: '0001-01-01T00:00:00Z', deprecatedLastTimestamp: '2026-11-22T10:02:30Z' }),
      '2026-11-22T10:00:00.000Z',
      '2026-11-22T10:02:30.000Z',
      1,
    ],
  ])('%s', (_what, event, first, last, count) => {
    const o = occurrenceOf(event, NOW);
    expect([o.firstSeen.toISOString(), o.lastSeen.toISOString(), o.count]).toEqual([first, last, count]);
  });

  it('reads the same occurrence from both views of one Event', () => {
    const written = { eventTime: '2026-11-22T10:00:30.123456Z', series: { count: 4, lastObservedTime: '2026-11-22T10:05:10.654321Z' } };
    const a = occurrenceOf(events({ ...written, note: 'Back-off restarting failed container', reportingController: 'kubelet' }), NOW);
    const b = occurrenceOf(
      core({
        ...written,
        firstTimestamp: null,
        lastTimestamp: null,
        message: 'Back-off restarting failed container',
        reportingComponent: 'kubelet',
      }),
      NOW,
    );
    const { api: _a, ...fromEvents } = a;
    const { api: _b, ...fromCore } = b;
    expect(fromEvents).toEqual(fromCore);
  });

  it('falls back on the clock only when the Event carries no time at all', () => {
    const bare = { ...meta, creationTimestamp: undefined };
    const o = occurrenceOf({ ...events({ eventTime: null }), metadata: bare } as unknown as KubeEvent, NOW);
    expect(o.lastSeen).toEqual(NOW);
  });
});
