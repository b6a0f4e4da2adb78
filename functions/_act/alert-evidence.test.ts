/** scale's confirmation of a load signal made from an Alertmanager alert (confirmAlert), and the port that asks Alertmanager. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SignalData } from '../_contracts/events.js';
import { alertmanagerPort, type ActiveAlert, type AlertmanagerPort } from './alertmanager.js';
import { confirmAlert } from './evidence.js';

const STARTED = '2026-11-22T10:05:00Z';
const alert = {
  status: 'firing',
  labels: { alertname: 'QueueBacklogHigh', namespace: 'jobs', deployment: 'worker', reflex_scale: 'up' },
  fingerprint: '077a83821ed9cc44',
  startsAt: STARTED,
};
const signal = (
  evidence: Record<string, unknown> | undefined,
  target = { kind: 'Deployment', namespace: 'jobs', name: 'worker' },
): SignalData => ({
  class: 'loadhigh',
  severity: 'info',
  reason: 'QueueBacklogHigh',
  message: 'm',
  target: { apiVersion: 'apps/v1', ...target, resolvedBy: 'self' },
  involved: { apiVersion: 'apps/v1', ...target },
  occurrences: 1,
  firstSeen: STARTED,
  lastSeen: STARTED,
  detectedBy: 'classify',
  key: '0123456789abcdef',
  ...(evidence ? { evidence: { api: 'Alertmanager alert', object: evidence } } : {}),
});
const listing = (alerts: ActiveAlert[] | Error): AlertmanagerPort => ({
  url: 'http://am:9093',
  active: () => (alerts instanceof Error ? Promise.reject(alerts) : Promise.resolve(alerts)),
});
const listed: ActiveAlert = {
  fingerprint: alert.fingerprint,
  startsAt: '2026-11-22T10:05:00.000Z',
  labels: alert.labels,
  status: { state: 'active' },
};

describe('confirmAlert', () => {
  it.each<[string, SignalData, AlertmanagerPort | undefined, RegExp | undefined]>([
    // Listed as active, the same start written another way: confirmed.
    ['active in Alertmanager', signal(alert), listing([listed]), undefined],
    // No Alertmanager to ask: the labels are all there is (docs/security.md).
    ['labels only', signal(alert), undefined, undefined],
    // An Event-born signal is confirmed by confirmEvent, never here.
    ['no alert as evidence', signal(undefined), undefined, /carries no alert/],
    ['a resolved alert', signal({ ...alert, status: 'resolved' }), undefined, /resolved, not firing/],
    // The alert is about another workload than the target it claims.
    [
      'labels naming another Deployment',
      signal({ ...alert, labels: { ...alert.labels, deployment: 'web' } }),
      undefined,
      /name jobs\/web, not Deployment jobs\/worker/,
    ],
    ['labels in another namespace', signal({ ...alert, labels: { ...alert.labels, namespace: 'shop' } }), undefined, /name shop\/worker/],
    // Only Deployments and StatefulSets are named by a load alert's labels.
    ['a kind no label names', signal(alert, { kind: 'Worker', namespace: 'jobs', name: 'worker' }), undefined, /cannot name a Worker/],
    // A forged or stale claim: Alertmanager does not list it.
    ['not listed', signal(alert), listing([]), /not active in Alertmanager at http:\/\/am:9093/],
    // The same alert fired again since (another start): not this signal's alert.
    ['listed with another start', signal(alert), listing([{ ...listed, startsAt: '2026-11-22T11:00:00Z' }]), /not active/],
    ['listed but suppressed', signal(alert), listing([{ ...listed, status: { state: 'suppressed' } }]), /suppressed in Alertmanager/],
    // Alertmanager down: a skip (the next round brings the next signal), not a retry.
    ['Alertmanager unreachable', signal(alert), listing(new Error('connect ECONNREFUSED')), /could not be asked \(connect ECONNREFUSED\)/],
  ])('%s', async (_why, s, am, want) => {
    const got = await confirmAlert(s, am);
    if (want) expect(got).toMatch(want);
    else expect(got).toBeUndefined();
  });
});

describe('alertmanagerPort', () => {
  let server: Server;
  let url = '';
  const asked: string[] = [];
  let answer: { status: number; body: string } = { status: 200, body: '[]' };
  beforeAll(async () => {
    server = createServer((req, res) => {
      asked.push(req.url ?? '');
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('asks API v2 for active alerts of the name (quoted and escaped), neither silenced nor inhibited', async () => {
    answer = { status: 200, body: JSON.stringify([listed]) };
    expect(await alertmanagerPort(url).active('Queue "x"\\y')).toEqual([listed]);
    const q = new URL(asked.at(-1)!, 'http://x').searchParams;
    expect(new URL(asked.at(-1)!, 'http://x').pathname).toBe('/api/v2/alerts');
    expect([q.get('active'), q.get('silenced'), q.get('inhibited'), q.get('filter')]).toEqual([
      'true',
      'false',
      'false',
      'alertname="Queue \\"x\\"\\\\y"',
    ]);
  });

  it.each([
    [{ status: 500, body: 'boom' }, /answered HTTP 500/],
    [{ status: 200, body: '{"not":"a list"}' }, /not a list of alerts/],
  ])('%j is unavailable', async (a, why) => {
    answer = a;
    await expect(alertmanagerPort(url).active(undefined)).rejects.toThrow(why);
  });

  it('nothing listening is unavailable', async () => {
    await expect(alertmanagerPort('http://127.0.0.1:9').active('x')).rejects.toThrow(/did not answer/);
  });
});
