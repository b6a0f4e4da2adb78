/** The silences a replica applies: re-read at most every interval; a slow or failing read holds no message back for long (issue 20). */
import { describe, expect, it } from '@jest/globals';
import { createLogger } from '../_kit/logger.js';
import { silenceBook } from './silence-book.js';

const silence = (id: string): string =>
  JSON.stringify({
    id,
    matchers: [{ name: 'class', op: '=', value: 'crashloop' }],
    startsAt: '2026-11-22T10:00:00Z',
    endsAt: '2026-11-22T12:00:00Z',
    createdBy: 'alice',
    comment: 'test',
    createdAt: '2026-11-22T10:00:00Z',
  });
const A = '4f0c2a8e-6b1d-4c3e-9a7f-2d5e8b1c0a93';
const B = '00000000-0000-4000-8000-000000000000';

function book(load: () => Promise<Record<string, string> | undefined>) {
  let t = 0;
  const lines: string[] = [];
  const b = silenceBook({
    load,
    valid: () => true,
    refreshMs: 10_000,
    log: createLogger('warn', {}, (l) => lines.push(l)),
    clock: () => t,
    waitMs: 50,
  });
  return { b, lines, advance: (ms: number) => (t += ms) };
}

describe('silenceBook', () => {
  it('reads once per interval, whatever the message rate', async () => {
    let reads = 0;
    const { b, advance } = book(async () => (++reads, { [A]: silence(A) }));
    for (let i = 0; i < 100; i++) expect((await b.current()).map((s) => s.silence.id)).toEqual([A]);
    advance(10_000);
    await b.current();
    expect(reads).toBe(2);
  });

  it('a failed read keeps the silences last read, and says so', async () => {
    let fail = false;
    const { b, lines, advance } = book(async () => {
      if (fail) throw new Error('API server down');
      return { [A]: silence(A) };
    });
    await b.current();
    fail = true;
    advance(10_000);
    expect((await b.current()).map((s) => s.silence.id)).toEqual([A]);
    expect(lines.join()).toContain('silences could not be read; the last ones read still apply');
  });

  it('a read that hangs holds a message back for the wait at most, then the last silences apply; its answer is used when it comes', async () => {
    let answer: (v: Record<string, string>) => void = () => {};
    let first = true;
    const { b, advance } = book(() => {
      if (first) {
        first = false;
        return Promise.resolve({ [A]: silence(A) });
      }
      return new Promise((r) => (answer = r));
    });
    await b.current();
    advance(10_000);
    const started = Date.now();
    expect((await b.current()).map((s) => s.silence.id)).toEqual([A]);
    expect(Date.now() - started).toBeLessThan(1000);
    advance(100);
    // Past the wait: no message waits for the same read again.
    expect((await b.current()).map((s) => s.silence.id)).toEqual([A]);
    answer({ [B]: silence(B) });
    await new Promise((r) => setTimeout(r, 0));
    expect((await b.current()).map((s) => s.silence.id)).toEqual([B]);
  });
});
