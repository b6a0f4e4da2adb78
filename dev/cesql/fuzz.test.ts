/**
 * dev/cesql/fuzz.test — property-based: expressions generated from a small grammar (literals,
 * attributes, every operator, functions, IN sets, nesting, plus some sizes past the limits and
 * some garbage) never make compile throw anything but a CesqlError, never make evaluation throw,
 * and each compiles and evaluates within a bound, against events with small and long attributes.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CesqlError, compile, LIMITS } from './index.js';

/** Per expression, compile plus one evaluation: the worst takes ~40 ms warm (the evaluation budget), ~100 ms cold under load. */
const BOUND_MS = 500;

const ATTRIBUTES = ['id', 'source', 'type', 'subject', 'time', 'exint', 'exbool', 'exstring', 'long', 'spaces', 'missing', 'ID'];
const FUNCTIONS = ['LENGTH', 'CONCAT', 'CONCAT_WS', 'LOWER', 'UPPER', 'TRIM', 'LEFT', 'RIGHT', 'SUBSTRING', 'ABS', 'INT', 'BOOL'];
const MORE_FUNCTIONS = ['STRING', 'IS_INT', 'IS_BOOL', 'nope', 'length'];
const BINARY = ['*', '/', '%', '+', '-', '=', '!=', '<>', '<', '<=', '>', '>=', 'AND', 'OR', 'XOR'];

/** String literal bodies: quotes and backslashes escaped the CESQL way, LIKE wildcards, non-BMP characters. */
const text = fc
  .array(fc.constantFrom('a', 'B', 'ß', ' ', '%', '_', "\\'", '\\%', '\\_', '\\x', '😀', '\u00a0', '1', '-', 'true'), { maxLength: 8 })
  .map((parts) => parts.join(''));
const literal = fc.oneof(
  fc.integer({ min: -2147483648, max: 2147483647 }).map(String),
  fc.constantFrom('0', '-1', '2147483647', '-2147483648', 'TRUE', 'false'),
  text.map((t) => `'${t}'`),
  text.map((t) => `"${t.replace(/\\'/g, '\\"')}"`),
);
const attribute = fc.constantFrom(...ATTRIBUTES);

const { expr } = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    literal,
    attribute,
    attribute.map((a) => `EXISTS ${a}`),
    tie('expr').map((e) => `NOT ${e}`),
    tie('expr').map((e) => `- ${e}`),
    tie('expr').map((e) => `(${e})`),
    fc.tuple(tie('expr'), fc.constantFrom(...BINARY), tie('expr')).map(([l, op, r]) => `${l} ${op} ${r}`),
    fc.tuple(tie('expr'), fc.boolean(), text).map(([e, not, p]) => `${e} ${not ? 'NOT ' : ''}LIKE '${p}'`),
    fc
      .tuple(tie('expr'), fc.boolean(), fc.array(tie('expr'), { minLength: 1, maxLength: 4 }))
      .map(([e, not, set]) => `${e} ${not ? 'NOT ' : ''}IN (${set.join(', ')})`),
    fc
      .tuple(fc.constantFrom(...FUNCTIONS, ...MORE_FUNCTIONS), fc.array(tie('expr'), { maxLength: 4 }))
      .map(([f, args]) => `${f}(${args.join(', ')})`),
  ),
}));

/** What costs most on the event with long attributes. */
const heavy = fc.oneof(
  expr,
  fc.constantFrom(
    'long',
    'spaces',
    'UPPER(long)',
    'TRIM(spaces)',
    'CONCAT(long, long, long, long, long)',
    "long LIKE '%a%b%c'",
    'INT(long)',
    'long = spaces',
  ),
);

/** Sizes at and past the limits, and repetitions that multiply work. */
const sized = fc.oneof(
  fc
    .tuple(heavy, fc.integer({ min: LIMITS.maxInListLength - 2, max: LIMITS.maxInListLength + 2 }))
    .map(([e, n]) => `${e} IN (${Array<string>(n).fill(e).join(', ')})`),
  fc.tuple(heavy, fc.integer({ min: 1, max: 600 })).map(([e, n]) => `LENGTH(CONCAT(${Array<string>(n).fill(e).join(', ')}))`),
  fc.integer({ min: 10, max: 12 }).map(
    (n) =>
      `CONCAT(${Array<string>(n)
        .fill(`CONCAT(${Array<string>(900).fill("'a'").join(',')})`)
        .join(',')})`,
  ),
  fc
    .tuple(fc.constantFrom('NOT ', '- ', '('), fc.integer({ min: LIMITS.maxDepth - 2, max: LIMITS.maxDepth + 2 }), expr)
    .map(([prefix, n, e]) => prefix.repeat(n) + e + (prefix === '(' ? ')'.repeat(n) : '')),
  fc.tuple(heavy, fc.integer({ min: 2, max: 900 })).map(([e, n]) => Array<string>(n).fill(`LENGTH(${e})`).join(' + ')),
  fc.integer({ min: LIMITS.maxSourceLength - 3, max: LIMITS.maxSourceLength + 3 }).map((n) => `'${'q'.repeat(n - 2)}'`),
);

/** Anything at all, and near-CESQL token soup: the lexer and the parser must refuse it with a CesqlError. */
const garbage = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc
    .array(fc.constantFrom('(', ')', ',', "'", '"', '\\', 'NOT', 'IN', 'LIKE', 'AND', '1', '-1', 'x', 'F(', ' ', '!', '=', '\n'), {
      maxLength: 20,
    })
    .map((ts) => ts.join('')),
);

const expression = fc.oneof({ arbitrary: expr, weight: 6 }, { arbitrary: sized, weight: 2 }, { arbitrary: garbage, weight: 2 });

const BASE = {
  specversion: '1.0',
  id: 'fuzz',
  source: '/fuzz',
  type: 'dev.reflex.fuzz',
  subject: 'Some Subject',
  time: '2024-01-02T03:04:05Z',
  exint: 42,
  exbool: true,
  exstring: '7',
};
/** Long attributes make every function, cast, comparison and LIKE costly: the budget must hold. */
const LONG = { long: 'ab%_'.repeat(65_536), spaces: `x${' '.repeat(100_000)}x` };
/** Events are generated as small descriptions (a counterexample prints `long: true`, not 360 KB), built in the property. */
const event = fc.record({
  long: fc.boolean(),
  changes: fc.option(fc.record({ exint: fc.integer(), exstring: text, subject: fc.string({ maxLength: 20 }) }), { nil: undefined }),
});

describe('CESQL over generated expressions', () => {
  it('compile throws only CesqlErrors, evaluation never throws, and each ends within the bound', () => {
    fc.assert(
      fc.property(expression, event, (source, { long, changes }) => {
        const attributes = { ...BASE, ...(long ? LONG : {}), ...changes };
        const started = performance.now();
        let compiled;
        try {
          compiled = compile(source);
        } catch (err) {
          if (!(err instanceof CesqlError)) throw err;
          expect(['parse', 'generic']).toContain(err.kind);
          expect(performance.now() - started).toBeLessThan(BOUND_MS);
          return;
        }
        const { value, errors } = compiled.evaluate(attributes);
        expect(['boolean', 'number', 'string']).toContain(typeof value);
        for (const e of errors) expect(e).toBeInstanceOf(CesqlError);
        expect(performance.now() - started).toBeLessThan(BOUND_MS);
      }),
      { seed: 42, numRuns: 2000 },
    );
  });
});
