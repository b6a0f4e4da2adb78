/** dev/cesql/limits.test — pathological expressions and events end quickly, each with the error docs/cesql.md documents. */
import { describe, expect, it } from '@jest/globals';
import { CesqlError, compile, LIMITS, matches, type CesqlErrorKind } from './index.js';

const EVENT = { specversion: '1.0', id: 'e1', source: '/src', type: 't' };
const MiB = 1024 * 1024;
/** Well above what each case takes here (a few ms to ~50 ms), well below what each took before the limits (seconds). */
const BOUND_MS = 200;

function timed<T>(f: () => T): { result: T; ms: number } {
  const started = performance.now();
  const result = f();
  return { result, ms: performance.now() - started };
}

function parseError(source: string): CesqlError {
  try {
    compile(source);
  } catch (err) {
    if (err instanceof CesqlError) return err;
    throw err;
  }
  throw new Error('compiled');
}

const list = (n: number, item: string): string => Array<string>(n).fill(item).join(', ');

describe('compile-time limits: a parse error naming the limit', () => {
  it.each<[string, () => string]>([
    // The finding: 1 IN (100,000 literals) took more than 60 s (44 s here), every cast error re-reading the source.
    ['maxSourceLength', () => `1 IN (${list(100_000, "'x'")})`],
    ['maxInListLength', () => `1 IN (${list(LIMITS.maxInListLength + 1, '1')})`],
    // 12 CONCATs of 900 literals: 10,814 nodes in 43 KB, every list within its limit.
    ['maxNodes', () => `LENGTH(CONCAT(${list(12, `CONCAT(${list(900, "'a'")})`)}))`],
    ['maxDepth', () => `${'('.repeat(LIMITS.maxDepth + 1)}1${')'.repeat(LIMITS.maxDepth + 1)}`],
  ])('%s', (limit, source) => {
    const text = source();
    const { result: err, ms } = timed(() => parseError(text));
    expect(err.kind).toBe('parse');
    expect(err.message).toContain(`(the limit ${limit})`);
    expect(err.position).toBeDefined();
    expect(ms).toBeLessThan(BOUND_MS);
  });

  it('at each limit, the expression compiles and evaluates', () => {
    expect(compile(`'${'x'.repeat(LIMITS.maxSourceLength - 2)}'`).evaluate(EVENT).errors).toEqual([]);
    expect(compile(`1 IN (${list(LIMITS.maxInListLength - 1, '2')}, 1)`).evaluate(EVENT)).toEqual({ value: true, errors: [] });
    // `1 + 1 + …` nests as deep as it is long: maxDepth literals are exactly maxDepth levels.
    const chain = Array<string>(LIMITS.maxDepth).fill('1');
    expect(compile(chain.join(' + ')).evaluate(EVENT)).toEqual({ value: chain.length, errors: [] });
  });
});

describe('evaluation limits: the expression gives an error, so no filter matches, and quickly', () => {
  const subjects = (n: number): string => list(n, 'subject');
  it.each<[string, string, Record<string, unknown>, CesqlErrorKind, string]>([
    // The finding: 23 s and 3.4 GB. A 3 KB subject passes the budget; the 1.5 M characters CONCAT would make do not.
    ['CONCAT of 500 subjects', `LENGTH(CONCAT(${subjects(500)}))`, { subject: 'x'.repeat(3000) }, 'functionEvaluation', 'maxStringLength'],
    // The same with a 200 KB subject (4 s and 2 GB before): reading its arguments is over the budget, so CONCAT never starts.
    ['CONCAT of 500 long subjects', `LENGTH(CONCAT(${subjects(500)}))`, { subject: 'x'.repeat(200_000) }, 'generic', 'maxEvaluationSteps'],
    [
      'CONCAT_WS with a long separator',
      "CONCAT_WS(subject, 'a', 'b', 'c')",
      { subject: 'x'.repeat(600_000) },
      'functionEvaluation',
      'maxStringLength',
    ],
    // 'ß' upper-cases to 'SS': a function's result is checked whatever made it long.
    [
      'UPPER that doubles a string',
      'LENGTH(UPPER(subject)) > 0',
      { subject: 'ß'.repeat(600_000) },
      'functionEvaluation',
      'maxStringLength',
    ],
    // Nothing grows here: 900 reads of 1 MiB (9 s before).
    [
      'LENGTH of a 1 MiB attribute, 900 times',
      Array<string>(900).fill('LENGTH(subject)').join(' + '),
      { subject: 'x'.repeat(MiB) },
      'generic',
      'maxEvaluationSteps',
    ],
    // text × pattern backtracking (2 s before).
    [
      'a LIKE that backtracks at every character',
      `subject LIKE '%${'a'.repeat(5000)}b'`,
      { subject: 'a'.repeat(100_000) },
      'generic',
      'maxEvaluationSteps',
    ],
    // 1,000 cast errors, each quoting 1 MiB (2.5 s and 2.2 GB before).
    ['failed casts of a 1 MiB String', `1 IN (${subjects(1000)})`, { subject: 'x'.repeat(MiB) }, 'generic', 'maxEvaluationSteps'],
  ])('%s', (_why, source, extra, kind, limit) => {
    const event = { ...EVENT, ...extra };
    const e = compile(source);
    const { result, ms } = timed(() => e.evaluate(event));
    expect(ms).toBeLessThan(BOUND_MS);
    const error = result.errors.find((x) => x.kind === kind);
    expect(error?.message).toContain(`(the limit ${limit})`);
    // Messages quote at most the start of a long value.
    expect(Math.max(...result.errors.map((x) => x.message.length))).toBeLessThan(300);
    expect(matches(e, event)).toBe(false);
  });

  it('a filter that reads a 1 MiB attribute a few times still works', () => {
    const event = { ...EVENT, subject: `${'x'.repeat(MiB - 1)}!` };
    const e = compile("LENGTH(subject) = 1048576 AND subject LIKE '%!' AND RIGHT(subject, 1) = '!'");
    const { result, ms } = timed(() => e.evaluate(event));
    expect(result).toEqual({ value: true, errors: [] });
    expect(ms).toBeLessThan(BOUND_MS);
  });

  it('TRIM is linear: a long run of spaces before a last character (quadratic with a regex: 2.8 s before)', () => {
    const event = { ...EVENT, subject: `x${' '.repeat(50_000)}x` };
    const { result, ms } = timed(() => compile('LENGTH(TRIM(subject))').evaluate(event));
    expect(result).toEqual({ value: 50_002, errors: [] });
    expect(ms).toBeLessThan(BOUND_MS);
  });

  it('cast errors do not read the source: positions are computed once, at compile', () => {
    const failing = `1 IN (${list(LIMITS.maxInListLength, "'x'")})`;
    // The same 1,000 cast errors at the start and at the end of a 60 KB expression.
    const padding = `'${'p'.repeat(55_000)}' != ''`;
    const short = compile(`${failing} OR TRUE`);
    const long = compile(`${padding} AND\n${failing}`);
    const best = (e: typeof short): number => Math.min(...[1, 2, 3, 4, 5].map(() => timed(() => e.evaluate(EVENT)).ms));
    const errors = long.evaluate(EVENT).errors;
    expect(errors).toHaveLength(LIMITS.maxInListLength);
    expect(errors[1]!.position).toEqual({ offset: padding.length + 5 + 11, line: 2, column: 12 });
    // Re-reading 55 KB for each of 1,000 errors made the long one 10 times slower or more.
    expect(best(long)).toBeLessThan(best(short) * 3 + 2);
  });
});
