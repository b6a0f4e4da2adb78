import { describe, expect, it } from '@jest/globals';
import { CloudEvent } from 'cloudevents';
import { decide } from './decide.js';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const event = (ext: Record<string, string | number>): CloudEvent<unknown> =>
  new CloudEvent<unknown>({ id: 'e1', source: '/s', type: 'dev.reflex.signal.crashloop', specversion: '1.0', ...ext, data: {} }, false);

describe('deadletter decide', () => {
  type Row = [Record<string, string | number>, number | undefined, string | undefined, RegExp];
  it.each<Row>([
    // The broker's usual case: a status and a body, base64 as Knative writes it.
    [{ knativeerrordest: 'http://recover', knativeerrorcode: '500', knativeerrordata: b64('boom') }, 500, 'boom', /HTTP 500: boom/],
    // Binary mode carries every attribute as a string; structured mode may carry an integer.
    [{ knativeerrordest: 'http://recover', knativeerrorcode: 429 }, 429, undefined, /HTTP 429$/],
    // A network error or timeout: a destination but no code.
    [{ knativeerrordest: 'http://recover' }, undefined, undefined, /without an HTTP answer/],
    // Not from a Knative dispatcher at all: still accepted, and said so.
    [{}, undefined, undefined, /without Knative error attributes/],
    // A malformed code is not trusted as a status.
    [{ knativeerrordest: 'http://x', knativeerrorcode: 'abc' }, undefined, undefined, /without an HTTP answer/],
    // Data that is not base64 is shown as it came.
    [
      { knativeerrordest: 'http://x', knativeerrorcode: '400', knativeerrordata: 'not base64!' },
      400,
      'not base64!',
      /HTTP 400: not base64!/,
    ],
  ])('%j', (ext, code, response, reason) => {
    const d = decide(event(ext));
    expect(d.code).toBe(code);
    expect(d.response).toBe(response);
    expect(d.reason).toMatch(reason);
    expect(d.eventType).toBe('dev.reflex.signal.crashloop');
  });
});
