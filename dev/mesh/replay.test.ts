/** Reading recordings: what is a recording, and what is refused with its file and line. */
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jsonValues, readRecording } from './replay.js';

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
