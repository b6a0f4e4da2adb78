import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { projectRoot } from '../../functions/_kit/schemas.js';
import { retryable } from '../../functions/_kit/errors.js';
import { backoffMs, durationMs } from './delivery.js';
import { loadMesh } from './manifests.js';
import { cronMatches, pingEvent } from './sources.js';
import { asCoreEvent } from './play.js';
import type { K8sObject } from './apiserversource.js';

describe('the shipped manifests, as the development broker reads them', () => {
  const mesh = loadMesh(join(projectRoot(), 'knative'));

  it('has the Broker with its delivery and every Trigger bound to it', () => {
    expect(mesh.brokers).toEqual([
      expect.objectContaining({
        namespace: 'reflex',
        name: 'reflex',
        delivery: expect.objectContaining({ retry: 5, backoffPolicy: 'exponential', backoffDelay: 'PT0.5S' }),
      }),
    ]);
    expect(mesh.triggers.length).toBeGreaterThanOrEqual(5);
    for (const t of mesh.triggers) expect([t.namespace, t.broker]).toEqual(['reflex', 'reflex']);
  });

  it("maps a Service's ConfigMap-mounted file back to the file the kustomization generates it from", () => {
    const recover = mesh.services.find((s) => s.name === 'recover')!;
    expect(recover.args).toEqual(['recover']);
    expect(recover.env['REFLEX_RECOVER_POLICY']).toBe(join(projectRoot(), 'knative', 'config', 'recover-policy.yaml'));
    // Literal values stay as written.
    expect(recover.env['REFLEX_SHUTDOWN_TIMEOUT_MS']).toBe('40000');
  });

  it('keeps the sources for the local runners', () => {
    expect(mesh.sources.map((s) => s.kind).sort()).toEqual(expect.arrayContaining(['ApiServerSource', 'PingSource', 'SinkBinding']));
  });
});

describe('delivery arithmetic', () => {
  it.each([
    ['PT0.5S', 500],
    ['PT30S', 30_000],
    ['PT1M', 60_000],
    ['PT1H2M3S', 3_723_000],
    ['P1D', 86_400_000],
  ])('%s is %i ms', (iso, ms) => expect(durationMs(iso)).toBe(ms));

  it.each(['30s', 'PT', 'P', 'PTS'])('%s is refused', (iso) => expect(() => durationMs(iso)).toThrow(/ISO-8601/));

  it('backoff per policy, retry n (1-based)', () => {
    const exp = { backoffPolicy: 'exponential' as const, backoffDelay: 'PT0.2S' };
    expect([1, 2, 3, 4].map((n) => backoffMs(exp, n))).toEqual([200, 400, 800, 1600]);
    const lin = { backoffPolicy: 'linear' as const, backoffDelay: 'PT0.2S' };
    expect([1, 2, 3].map((n) => backoffMs(lin, n))).toEqual([0, 200, 400]);
    expect(backoffMs({}, 3)).toBe(0);
  });

  it('retries what Knative retries', () => {
    expect([404, 408, 409, 429, 500, 503, -1].every(retryable)).toBe(true);
    expect([200, 301, 400, 401, 403, 413, 415].some(retryable)).toBe(false);
  });
});

describe('PingSource schedules', () => {
  const at = (iso: string): Date => new Date(iso);
  it.each([
    ['*/5 * * * *', '2026-11-22T10:05:00Z', true],
    ['*/5 * * * *', '2026-11-22T10:06:00Z', false],
    ['* * * * *', '2026-11-22T10:06:00Z', true],
    ['0 9-17 * * 1-5', '2026-11-23T09:00:00Z', true], // a Monday
    ['0 9-17 * * 1-5', '2026-11-22T09:00:00Z', false], // a Sunday
    ['15,45 * * * *', '2026-11-22T10:45:00Z', true],
    ['0 0 1 * *', '2026-12-01T00:00:00Z', true],
    ['0 0 * * 7', '2026-11-22T00:00:00Z', true], // 7 is Sunday too
  ])('%s at %s: %s', (cron, when, expected) => expect(cronMatches(cron, at(when))).toBe(expected));

  it('refuses what it does not understand', () => {
    expect(() => cronMatches('@hourly', new Date())).toThrow(/5 cron fields/);
    expect(() => cronMatches('*/0 * * * *', new Date())).toThrow(/not understood/);
  });

  it('sends what a PingSource sends', () => {
    const e = pingEvent(
      {
        apiVersion: 'sources.knative.dev/v1',
        kind: 'PingSource',
        metadata: { name: 'tick', namespace: 'reflex' },
        spec: { schedule: '* * * * *', contentType: 'application/json', data: '{"tick":"sweep"}' },
        from: 'x',
      },
      at('2026-11-22T10:00:00Z'),
    );
    expect([e.type, e.source, e.datacontenttype, e.data, e.time]).toEqual([
      'dev.knative.sources.ping',
      '/apis/v1/namespaces/reflex/pingsources/tick',
      'application/json',
      { tick: 'sweep' },
      '2026-11-22T10:00:00.000Z',
    ]);
  });
});

describe('an events.k8s.io/v1 Event as the API server shows it through core/v1 (Convert_v1_Event_To_core_Event)', () => {
  const base = {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name: 'e', namespace: 'shop', uid: 'u' },
    regarding: { kind: 'Pod', namespace: 'shop', name: 'p' },
    reason: 'FailedMount',
    type: 'Warning',
    note: 'MountVolume.SetUp failed',
    reportingController: 'kubelet',
    reportingInstance: 'node-1',
    action: 'Mounting',
  };

  it('written through events.k8s.io/v1: eventTime and series as they are, no first/last timestamp, no count', () => {
    const series = { count: 3, lastObservedTime: '2026-11-22T10:04:00.250000Z' };
    expect(asCoreEvent({ ...base, eventTime: '2026-11-22T10:03:00.500000Z', series, deprecatedSource: {} } as K8sObject)).toEqual({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: base.metadata,
      involvedObject: base.regarding,
      reason: 'FailedMount',
      type: 'Warning',
      message: 'MountVolume.SetUp failed',
      source: {},
      firstTimestamp: null,
      lastTimestamp: null,
      eventTime: '2026-11-22T10:03:00.500000Z',
      series,
      reportingComponent: 'kubelet',
      reportingInstance: 'node-1',
      action: 'Mounting',
    });
  });

  it('written through core/v1 (eventTime null): the deprecated fields are its own', () => {
    const o = asCoreEvent({
      ...base,
      eventTime: null,
      deprecatedFirstTimestamp: '2026-11-22T10:00:30Z',
      deprecatedLastTimestamp: '2026-11-22T10:02:30Z',
      deprecatedCount: 3,
      deprecatedSource: { component: 'kubelet', host: 'node-1' },
    } as unknown as K8sObject);
    expect(o).toMatchObject({
      firstTimestamp: '2026-11-22T10:00:30Z',
      lastTimestamp: '2026-11-22T10:02:30Z',
      count: 3,
      eventTime: null,
      source: { component: 'kubelet', host: 'node-1' },
    });
    expect(o).not.toHaveProperty('series');
  });
});
