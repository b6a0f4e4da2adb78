/** The target annotations a replica applies: one read per object per interval; a slow or failing read holds no message back for long (issue 20). */
import { describe, expect, it } from '@jest/globals';
import type { ObjectRef } from '../_kit/k8s.js';
import { createLogger } from '../_kit/logger.js';
import { targetBook } from './target-book.js';

const web: ObjectRef = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web' };
const api: ObjectRef = { ...web, name: 'api' };

function book(load: (ref: ObjectRef) => Promise<Record<string, string> | undefined>, maxEntries?: number) {
  let t = 0;
  const lines: string[] = [];
  const b = targetBook({
    load,
    refreshMs: 10_000,
    log: createLogger('warn', {}, (l) => lines.push(l)),
    clock: () => t,
    waitMs: 50,
    ...(maxEntries === undefined ? {} : { maxEntries }),
  });
  return { b, lines, advance: (ms: number) => (t += ms) };
}

describe('targetBook', () => {
  it('reads each object once per interval, whatever the message rate; the first message to see a read is marked', async () => {
    const reads: string[] = [];
    const { b, advance } = book(async (ref) => (reads.push(ref.name), { a: ref.name }));
    const seen = await Promise.all(Array.from({ length: 50 }, (_, i) => b.annotations(i % 2 ? web : api)));
    expect(reads.sort()).toEqual(['api', 'web']);
    expect(seen.filter((h) => h.first).length).toBe(2);
    expect(seen.every((h) => h.annotations?.['a'] === 'api' || h.annotations?.['a'] === 'web')).toBe(true);
    advance(10_000);
    expect(await b.annotations(web)).toEqual({ annotations: { a: 'web' }, first: true });
    expect(reads.length).toBe(3);
  });

  it('an object notify does not read costs no call', async () => {
    let reads = 0;
    const { b } = book(async () => (++reads, {}));
    expect(await b.annotations(undefined)).toEqual({ annotations: undefined, first: false });
    expect(reads).toBe(0);
  });

  it('a failed read keeps what was read, and says so once per kind until a read of it works again', async () => {
    let fail = false;
    const { b, lines, advance } = book(async (ref) => {
      if (fail) throw new Error('Kubernetes API refused (403)');
      return { until: ref.name };
    });
    await b.annotations(web);
    fail = true;
    advance(10_000);
    expect(await b.annotations(web)).toEqual({ annotations: { until: 'web' }, first: false });
    await b.annotations(api);
    advance(10_000);
    await b.annotations(web);
    expect(lines.filter((l) => l.includes('could not be read')).length).toBe(1);
    expect(lines[0]).toContain('"kind":"Deployment"');
    fail = false;
    advance(10_000);
    await b.annotations(web);
    fail = true;
    advance(10_000);
    await b.annotations(web);
    expect(lines.filter((l) => l.includes('could not be read')).length).toBe(2);
  });

  it('a read that hangs holds a message back for the wait at most; its answer is used when it comes', async () => {
    let answer: (v: Record<string, string>) => void = () => {};
    const { b, advance } = book(() => new Promise((r) => (answer = r)));
    const started = Date.now();
    expect(await b.annotations(web)).toEqual({ annotations: undefined, first: false });
    expect(Date.now() - started).toBeLessThan(1000);
    advance(100);
    // Past the wait: no message waits for the same read again.
    expect(await b.annotations(web)).toEqual({ annotations: undefined, first: false });
    answer({ until: 'later' });
    await new Promise((r) => setTimeout(r, 0));
    expect(await b.annotations(web)).toEqual({ annotations: { until: 'later' }, first: true });
  });

  it('a read with no answer within its timeout is given up: the next interval asks again, and the late answer is not used', async () => {
    const answers: ((v: Record<string, string>) => void)[] = [];
    let t = 0;
    const b = targetBook({
      load: () => new Promise((r) => answers.push(r)),
      refreshMs: 10_000,
      log: createLogger('warn', {}, () => undefined),
      clock: () => t,
      waitMs: 5,
      readTimeoutMs: 20,
    });
    expect(await b.annotations(web)).toEqual({ annotations: undefined, first: false });
    await new Promise((r) => setTimeout(r, 40));
    t += 10_000;
    // The hung read was given up: a new one is asked, and its answer is what applies.
    const second = b.annotations(web);
    expect(answers.length).toBe(2);
    answers[1]!({ until: 'new' });
    expect(await second).toEqual({ annotations: { until: 'new' }, first: true });
    answers[0]!({ until: 'old' });
    await new Promise((r) => setTimeout(r, 0));
    expect((await b.annotations(web)).annotations).toEqual({ until: 'new' });
  });

  it('remembers a bounded number of objects: the oldest read goes first', async () => {
    const reads: string[] = [];
    const { b } = book(async (ref) => (reads.push(ref.name), {}), 2);
    for (const name of ['a', 'b', 'c', 'a']) await b.annotations({ ...web, name });
    expect(reads).toEqual(['a', 'b', 'c', 'a']);
    await b.annotations({ ...web, name: 'c' });
    expect(reads.length).toBe(4);
  });
});
