import { describe, expect, it } from '@jest/globals';
import { childOf, formatTraceparent, parseTraceparent, randomHex } from './trace.js';

describe('traceparent', () => {
  it.each([
    // The W3C example.
    ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', true],
    // Upper case is normalised (the spec asks receivers to accept only lower case, but many senders shout).
    ['00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01', true],
    // All-zero trace or span ids are invalid.
    ['00-00000000000000000000000000000000-00f067aa0ba902b7-01', false],
    ['00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', false],
    // Version ff is forbidden; version 00 has nothing after the flags.
    ['ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', false],
    ['00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra', false],
    // A future version may append fields.
    ['01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra', true],
    ['garbage', false],
  ])('%s valid=%s', (value, valid) => {
    expect(parseTraceparent(value) !== undefined).toBe(valid);
  });

  it('a child keeps the trace and flags and gets a new span', () => {
    const parent = parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'k=v')!;
    const child = childOf(parent);
    expect(formatTraceparent(child)).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-01$/);
    expect(child.spanId).not.toBe(parent.spanId);
    expect(child.tracestate).toBe('k=v');
  });

  it('without a parent a new trace starts', () => {
    expect(formatTraceparent(childOf(undefined))).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  });

  it('ids come from the pool distinct and well-formed, across its refills', () => {
    // 4 KiB holds 512 span ids: 3,000 cross several refills.
    const ids = Array.from({ length: 3000 }, () => randomHex(8));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{16}$/);
    const traces = Array.from({ length: 300 }, () => randomHex(16));
    expect(new Set(traces).size).toBe(traces.length);
    for (const id of traces) expect(id).toMatch(/^(?!0{32})[0-9a-f]{32}$/);
  });
});
