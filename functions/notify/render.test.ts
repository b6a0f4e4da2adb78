/** The webhook body is built from bounded data, whatever the event carried (issue 15). */
import { describe, expect, it } from '@jest/globals';
import type { SignalData } from '../_contracts/events.js';
import { message } from './decide.js';
import { webhook } from './render.js';

const signal = (object: Record<string, unknown>): SignalData => ({
  class: 'oomkilled',
  severity: 'warning',
  reason: 'OOMKilled',
  message: 'container w was OOM-killed',
  target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', resolvedBy: 'name' },
  involved: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-7d9c8b5f4-x2x7q' },
  occurrences: 1,
  firstSeen: '2026-11-22T09:58:00.000Z',
  lastSeen: '2026-11-22T10:00:00.000Z',
  detectedBy: 'classify',
  key: '00000000000000a1',
  evidence: { api: 'Pod', object },
});

describe('webhook body', () => {
  it('cuts evidence nested a million levels deep, so serialising it cannot overflow the stack', () => {
    const deep = JSON.parse('['.repeat(1_000_000) + ']'.repeat(1_000_000)) as unknown;
    const body = JSON.stringify(webhook(message(signal({ spec: { deep } }), 0)));
    expect(body).toContain('deeper than 64 levels');
    expect(body.length).toBeLessThan(4096);
  });

  it('leaves a large evidence object out, keeping the rest of the signal', () => {
    const body = webhook(message(signal({ spec: { blob: 'x'.repeat(200_000) } }), 0)) as { data: SignalData };
    expect(body.data.evidence).toEqual({ api: 'Pod' });
    expect(body.data.key).toBe('00000000000000a1');
    expect(JSON.stringify(body).length).toBeLessThan(8 * 1024);
  });

  it('keeps ordinary evidence as it is', () => {
    const object = { kind: 'Pod', metadata: { name: 'p', labels: { app: 'web' } } };
    expect((webhook(message(signal(object), 0)) as { data: SignalData }).data.evidence).toEqual({ api: 'Pod', object });
  });
});
