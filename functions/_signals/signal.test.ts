/**
 * Every signal the shared builders make satisfies dev.reflex.signal.json, whatever the object
 * said (issue 15): recover and notify refuse (400) a signal that breaks it. classify and sweep
 * both go through findingsOf -> signalReply, so this covers both.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { defaultSchemasDir, loadSchemas } from '../_kit/schemas.js';
import { DEPTH_CUT, MAX_DEPTH, bounded as boundDepth } from '../_kit/json.js';
import { defaultRulesPath } from './config.js';
import { findingsOf, type KnownKind } from './findings.js';
import { timeOf, truncate } from './model.js';
import { targetByName } from './owners.js';
import { loadRules } from './rules.js';
import { signalReply, trimEvidence } from './signal.js';

const validate = loadSchemas([defaultSchemasDir()]).validator('https://reflex.dev/schemas/dev.reflex.signal.json');
const rules = loadRules(defaultRulesPath());
const NOW = new Date('2026-11-22T10:10:00Z');

/** The replies for an object, each checked against the schema; the error names what broke. */
function signalsOf(kind: KnownKind, object: Record<string, unknown>): Record<string, unknown>[] {
  const out = findingsOf(kind, object, rules, NOW);
  if (out.kind === 'skip') return [];
  return out.findings.map((f) => {
    const spec = signalReply(f, targetByName(f.involved), 'sweep');
    const ok = validate(spec.data);
    if (!ok) throw new Error(`${JSON.stringify(validate.errors)} in ${JSON.stringify(spec.data).slice(0, 2000)}`);
    return spec.data as unknown as Record<string, unknown>;
  });
}

/** Times as objects may carry them: any date JS can hold (±275760 years), RFC 3339 offsets, junk, nothing. */
const time = fc.oneof(
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom(
    '9999-12-31T23:59:59-14:00',
    '9999-12-31T23:59:59Z',
    '0000-01-01T00:00:00+01:00',
    '0001-01-01T00:00:00Z',
    '1969-12-31T23:59:59Z',
    '+010000-01-01T00:00:00Z',
    '275760-09-13',
    'not a time',
    '',
  ),
  fc.constant(undefined),
);
const text = fc.oneof(fc.string(), fc.constantFrom('', ' ', 'R'.repeat(300), '\u{1F600}'.repeat(3000)));
const count = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(1e300, Number.MAX_SAFE_INTEGER + 2, -1, 0));

describe('signals satisfy their schema, whatever the object says (issue 15)', () => {
  it('Events of both APIs: times out of range, empty or huge strings, any count', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('BackOff', 'Evicted', 'FailedScheduling', 'NodeNotReady', 'QueueBacklogHigh', 'FailedMount'),
        text,
        time,
        time,
        time,
        count,
        fc.boolean(),
        (reason, message, first, last, series, n, modern) => {
          const involved = { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-7d9c8b5f4-x2x7q' };
          const event = modern
            ? {
                apiVersion: 'events.k8s.io/v1',
                kind: 'Event',
                metadata: { name: 'e', namespace: 'shop', uid: 'u', creationTimestamp: first },
                regarding: involved,
                reason,
                note: `Back-off restarting failed container ${message}`,
                type: 'Warning',
                eventTime: first,
                series: { count: n, lastObservedTime: series },
                deprecatedLastTimestamp: last,
              }
            : {
                apiVersion: 'v1',
                kind: 'Event',
                metadata: { name: 'e', namespace: 'shop', uid: 'u' },
                involvedObject: involved,
                reason,
                message: `Back-off restarting failed container ${message}`,
                type: 'Warning',
                count: n,
                firstTimestamp: first,
                lastTimestamp: last,
                series: { count: n, lastObservedTime: series },
              };
          signalsOf(modern ? 'events.k8s.io/v1/Event' : 'v1/Event', event);
        },
      ),
    );
  });

  it('Node conditions: empty, blank or 300-character reasons, times out of range', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('Ready', 'MemoryPressure', 'DiskPressure', 'PIDPressure'),
        fc.option(text),
        fc.option(text),
        time,
        time,
        (type, reason, message, since, heartbeat) => {
          const condition = {
            type,
            status: type === 'Ready' ? 'False' : 'True',
            ...(reason === null ? {} : { reason }),
            ...(message === null ? {} : { message }),
            lastTransitionTime: since,
            lastHeartbeatTime: heartbeat,
          };
          const [data] = signalsOf('v1/Node', {
            apiVersion: 'v1',
            kind: 'Node',
            metadata: { name: 'n1' },
            status: { conditions: [condition] },
          });
          expect(data?.['reason']).toBe(reason?.trim() ? truncate(reason.trim(), 128) : type === 'Ready' ? 'NodeNotReady' : type);
        },
      ),
    );
  });

  it('Pods and Deployments: times out of range, any restart count, any message', () => {
    fc.assert(
      fc.property(time, time, time, count, fc.option(text), (created, started, finished, restarts, message) => {
        const msg = message === null ? {} : { message };
        const pod = {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'web-7d9c8b5f4-x2x7q', namespace: 'shop', uid: 'p', creationTimestamp: created },
          status: {
            phase: 'Pending',
            conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', lastTransitionTime: started, ...msg }],
            containerStatuses: [
              {
                name: 'w',
                restartCount: restarts,
                lastState: { terminated: { reason: 'OOMKilled', startedAt: started, finishedAt: finished, ...msg } },
                state: { waiting: { reason: 'ImagePullBackOff', ...msg } },
              },
              { name: 'c', restartCount: restarts, state: { waiting: { reason: 'CrashLoopBackOff', ...msg } } },
            ],
          },
        };
        signalsOf('v1/Pod', pod);
        signalsOf('v1/Pod', { ...pod, status: { phase: 'Failed', reason: 'Evicted', ...msg } });
        signalsOf('apps/v1/Deployment', {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'web', namespace: 'shop', generation: 3 },
          status: {
            conditions: [
              {
                type: 'Progressing',
                status: 'False',
                reason: 'ProgressDeadlineExceeded',
                lastTransitionTime: started,
                lastUpdateTime: finished,
                ...msg,
              },
            ],
          },
        });
      }),
    );
  });

  it('times outside 1970-9999 are unknown: the finding falls back as for a missing one', () => {
    expect(timeOf('9999-12-31T23:59:59-14:00')).toBeUndefined();
    expect(timeOf('1969-12-31T23:59:59Z')).toBeUndefined();
    expect(timeOf('+010000-01-01T00:00:00Z')).toBeUndefined();
    expect(timeOf('9999-12-31T23:59:59Z')?.toISOString()).toBe('9999-12-31T23:59:59.000Z');
    const [data] = signalsOf('v1/Event', {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'e', namespace: 'shop', uid: 'u' },
      involvedObject: { kind: 'Pod', namespace: 'shop', name: 'web-7d9c8b5f4-x2x7q' },
      reason: 'Evicted',
      message: 'low memory',
      firstTimestamp: '0000-01-01T00:00:00+01:00',
      lastTimestamp: '9999-12-31T23:59:59-14:00',
    });
    // No usable time at all: both are now, as for an Event that carries none.
    expect([data?.['firstSeen'], data?.['lastSeen']]).toEqual([NOW.toISOString(), NOW.toISOString()]);
  });
});

describe('evidence nested deeper than MAX_DEPTH (issue 15)', () => {
  const deep = (depth: number): unknown => JSON.parse('['.repeat(depth) + ']'.repeat(depth));

  it('is cut at the bound, so it can be measured and sent at any depth', () => {
    for (const depth of [4000, 1_000_000]) {
      const evidence = trimEvidence({ kind: 'Pod', metadata: { name: 'p' }, spec: { deep: deep(depth) } }, 4096);
      const json = JSON.stringify(evidence);
      expect(json.length).toBeLessThan(1024);
      expect(json).toContain(DEPTH_CUT);
    }
  });

  it('keeps what lies within the bound as it was', () => {
    const within = deep(MAX_DEPTH - 1);
    expect(boundDepth(within)).toEqual(within);
    expect(JSON.stringify(boundDepth(deep(MAX_DEPTH + 1)))).toBe('['.repeat(MAX_DEPTH) + JSON.stringify(DEPTH_CUT) + ']'.repeat(MAX_DEPTH));
    expect(boundDepth(JSON.parse('{"__proto__":{"polluted":1}}'))).toEqual(JSON.parse('{"__proto__":{"polluted":1}}'));
  });
});
