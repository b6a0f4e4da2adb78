/** Reading recordings: what is a recording, and what is refused with its file and line. */
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { K8sObject } from './apiserversource.js';
import { inTimeOrder, isPodLog, jsonValues, readRecording, timeOf } from './replay.js';

const dir = mkdtempSync(join(tmpdir(), 'reflex-replay-'));
const recording = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
const event = { apiVersion: 'v1', kind: 'Event', metadata: { name: 'e', namespace: 'shop' }, reason: 'BackOff', type: 'Warning' };

describe('jsonValues', () => {
  it('splits values one after another, braces and escaped quotes inside strings included, each with its line', () => {
    expect(jsonValues('{"a": "}{"}\n\n[1,\n 2]\n{"b": "x\\"}"}')).toEqual({
      values: [
        { text: '{"a": "}{"}', line: 1 },
        { text: '[1,\n 2]', line: 3 },
        { text: '{"b": "x\\"}"}', line: 5 },
      ],
    });
  });

  it('says where text outside any value begins, and where a value does not end', () => {
    expect(jsonValues('{"a": 1}\nkind: Event\n').stray).toBe(2);
    expect(jsonValues('{"a": 1}}').stray).toBe(1);
    expect(jsonValues('{"a": 1}\n{"b": [2,\n').unclosed).toBe(2);
  });
});

describe('readRecording', () => {
  it('one object, as kubectl get event NAME -o json writes it, is one ADDED record', () => {
    expect(readRecording(recording('one.json', JSON.stringify(event, null, 2)))).toEqual([{ type: 'ADDED', object: event }]);
  });

  it('an empty List is a recording of nothing', () => {
    expect(readRecording(recording('none.json', '{"apiVersion":"v1","items":[],"kind":"List","metadata":{"resourceVersion":""}}'))).toEqual(
      [],
    );
  });

  it.each([
    ['truncated.json', '{"type":"ADDED","object":', /truncated\.json:1: this JSON value does not end/],
    ['array.json', '[1, 2]', /array\.json:1: not a recording: a JSON array/],
    ['bad.json', '{"type": "ADDED", "object": {"kind": "Event"}}\n{"a": tru}', /bad\.json:2: not JSON/],
    ['a directory', undefined, /cannot read .*reflex-replay-\w+: it is a directory/],
  ])('%s is refused, naming the file and line', (name, text, message) => {
    expect(() => readRecording(text === undefined ? dir : recording(name, text))).toThrow(message);
  });
});

describe('a List is replayed in the order things happened (issue 17)', () => {
  const at = (name: string, fields: Record<string, unknown>) => ({ ...event, metadata: { name, namespace: 'shop' }, ...fields });
  // As kubectl writes it: in name order, which is not the order of their times.
  const list = {
    apiVersion: 'v1',
    kind: 'List',
    items: [
      at('a', { lastTimestamp: '2026-11-22T10:05:00Z' }),
      at('b', { lastTimestamp: null, eventTime: '2026-11-22T10:00:30.000001Z' }),
      at('c', { lastTimestamp: '2026-11-22T10:01:00Z', series: { count: 2, lastObservedTime: '2026-11-22T10:03:00Z' } }),
      at('d', { lastTimestamp: '2026-11-22T10:00:00Z' }),
      at('e', { lastTimestamp: null, metadata: { name: 'e', namespace: 'shop', creationTimestamp: '2026-11-22T10:00:10Z' } }),
      at('f', { lastTimestamp: '2026-11-22T10:00:00Z' }),
    ],
  };

  it('sorted by series.lastObservedTime, lastTimestamp, eventTime, else creation; ties keep their order', () => {
    const names = readRecording(recording('list.json', JSON.stringify(list, null, 2))).map((r) =>
      'object' in r ? r.object.metadata.name : '',
    );
    expect(names).toEqual(['d', 'f', 'e', 'b', 'c', 'a']);
  });

  it('watch events keep the order they were recorded in', () => {
    const watch = list.items.map((object) => JSON.stringify({ type: 'MODIFIED', object })).join('\n');
    expect(readRecording(recording('watch.ndjson', watch)).map((r) => ('object' in r ? r.object.metadata.name : ''))).toEqual([
      'a',
      'b',
      'c',
      'd',
      'e',
      'f',
    ]);
  });

  it('records with no time at all come first, in their order', () => {
    const bare = (name: string): { type: 'ADDED'; object: K8sObject } => ({
      type: 'ADDED',
      object: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } },
    });
    const timed = { type: 'ADDED' as const, object: at('t', { lastTimestamp: '2026-11-22T10:00:00Z' }) as K8sObject };
    expect(inTimeOrder([timed, bare('x'), bare('y')]).map((r) => r.object.metadata.name)).toEqual(['x', 'y', 't']);
  });
});

describe('the replay clock reads an Event of either API, written through either', () => {
  const previous = new Date('2026-11-22T09:00:00Z');
  const v1 = (fields: Record<string, unknown>) =>
    ({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: 'e', namespace: 'shop', creationTimestamp: '2026-11-22T10:00:00Z' },
      regarding: { kind: 'Pod', name: 'p' },
      ...fields,
    }) as K8sObject;

  it.each<[string, K8sObject, string]>([
    // Written through core/v1, read through events.k8s.io/v1: eventTime is null, the deprecated fields are set.
    [
      'eventTime null, deprecatedLastTimestamp',
      v1({ eventTime: null, deprecatedFirstTimestamp: '2026-11-22T10:00:30Z', deprecatedLastTimestamp: '2026-11-22T10:02:30Z' }),
      '2026-11-22T10:02:30.000Z',
    ],
    // …with a series: its last observation.
    [
      'eventTime null, a series',
      v1({
        eventTime: null,
        deprecatedLastTimestamp: '2026-11-22T10:02:30Z',
        series: { count: 5, lastObservedTime: '2026-11-22T10:06:00Z' },
      }),
      '2026-11-22T10:06:00.000Z',
    ],
    // Written through events.k8s.io/v1: eventTime, then the series.
    ['eventTime', v1({ eventTime: '2026-11-22T10:04:00.412903Z' }), '2026-11-22T10:04:00.412Z'],
    // Nothing but its creation: when it was first seen, not the record before it.
    ['only a creation time', v1({ eventTime: null }), '2026-11-22T10:00:00.000Z'],
    // A zero time (year 1) is no time.
    [
      'a zero eventTime',
      v1({ eventTime: '0001-01-01T00:00:00Z', deprecatedLastTimestamp: '2026-11-22T10:02:30Z' }),
      '2026-11-22T10:02:30.000Z',
    ],
  ])('%s', (_what, object, time) => {
    expect(timeOf(object, previous).toISOString()).toBe(time);
  });

  it('an object that is not an Event, with no time of its own, happens when the record before it did', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', creationTimestamp: '2026-01-01T00:00:00Z' } } as K8sObject;
    expect(timeOf(pod, previous)).toEqual(previous);
    expect(timeOf(pod, new Date(0))).toEqual(new Date('2026-01-01T00:00:00Z'));
  });
});

describe('container logs in a recording (PodLog)', () => {
  const log = {
    apiVersion: 'reflex.dev/v1',
    kind: 'PodLog',
    metadata: { namespace: 'shop', name: 'web-1' },
    container: 'web',
    previous: true,
    log: 'starting\nFATAL: no config\n',
  };

  it('is read in a watch event and on its own, as any object', () => {
    const text = `${JSON.stringify({ type: 'ADDED', object: log })}\n${JSON.stringify({ ...log, previous: undefined })}\n`;
    expect(readRecording(recording('logs.ndjson', text))).toEqual([
      { type: 'ADDED', object: log },
      { type: 'ADDED', object: { ...log, previous: undefined } },
    ]);
    expect(isPodLog(log as K8sObject)).toBe(true);
    // Another group's PodLog is not Reflex's: an object like any other.
    expect(isPodLog({ ...log, apiVersion: 'example.com/v1' } as K8sObject)).toBe(false);
  });

  it('has no time of its own: it happens when the record before it did', () => {
    const previous = new Date('2026-11-22T10:01:42Z');
    expect(timeOf(log as K8sObject, previous)).toEqual(previous);
  });

  it.each([
    ['no namespace', { metadata: { name: 'web-1' } }, /metadata\.namespace \(the pod's\) is missing/],
    ['no pod name', { metadata: { namespace: 'shop' } }, /metadata\.name \(the pod's\) is missing/],
    ['no container', { container: undefined }, /container \(its name\) is missing/],
    ['previous as text', { previous: 'yes' }, /previous is not true or false/],
    // kubectl logs prints text: lines in an array are not what it wrote.
    ['the log as lines', { log: ['a', 'b'] }, /log \(its text, a string\) is missing/],
  ])('%s is refused, naming the file and line', (_what, fields, message) => {
    const text = `${JSON.stringify({ type: 'ADDED', object: event })}\n${JSON.stringify({ type: 'ADDED', object: { ...log, ...fields } })}\n`;
    const path = recording('bad-log.ndjson', text);
    expect(() => readRecording(path)).toThrow(/bad-log\.ndjson:2: a PodLog \(a container's log\): /);
    expect(() => readRecording(path)).toThrow(message);
  });
});
