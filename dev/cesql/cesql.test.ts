/** dev/cesql — the behaviour the TCK leaves open or that the broker relies on; the TCK itself runs in test/unit/cesql-tck.test.ts. */
import { describe, expect, it } from '@jest/globals';
import { CesqlError, compile, matches, type CesqlErrorKind, type CesqlFunction, type CesqlValue } from './index.js';

const EVENT = { specversion: '1.0', id: 'e1', source: '/src', type: 'dev.reflex.signal.crashloop', sequence: 7, team: 'shop' };

function run(expression: string, event: Readonly<Record<string, unknown>> = EVENT): [CesqlValue, CesqlErrorKind[]] {
  const { value, errors } = compile(expression).evaluate(event);
  return [value, errors.map((e) => e.kind)];
}

function parseError(expression: string): CesqlError {
  try {
    compile(expression);
  } catch (err) {
    expect(err).toBeInstanceOf(CesqlError);
    expect((err as CesqlError).kind).toBe('parse');
    return err as CesqlError;
  }
  throw new Error(`${expression} parsed`);
}

describe('parse errors say where and what was expected', () => {
  it.each([
    // The unclosed parenthesis is named with its own position as well as where the input ran out.
    ['(1 + 2', 7, /expected '\)' to close the '\(' at 1:1, found the end/],
    // §3.4.3: a LIKE pattern is a string literal, never something cast to one.
    ['x LIKE 123', 8, /string literal as the LIKE pattern, found integer 123/],
    // §2.2: literals are 32-bit; only the signed lexeme can reach -2^31.
    ['2147483648', 1, /outside the 32-bit range/],
    ['- 2147483648', 3, /outside the 32-bit range/],
    // A backslash pairs with the next character, so this string never closes.
    ["'abc\\'", 1, /unterminated string literal/],
    // SQL's doubled quote is not CESQL's escape; the hint says what is.
    ["team = 'it''s'", 12, /written \\', not doubled/],
    ['a NOT b', 7, /expected LIKE or IN after NOT/],
    ['type = = 1', 8, /expected an expression .*found '='/],
    ['a ! b', 3, /'!='/],
    ['LENGTH(', 8, /expected an expression or '\)' to close LENGTH\( at 1:7/],
    ['x IN ()', 7, /at least one element/],
    // Attribute names are letters and digits; `_` only makes sense in a function name.
    ['my_ext = 1', 1, /not an attribute name/],
    ['EXISTS 1', 8, /attribute name after EXISTS/],
    ['+ 5', 1, /sign belongs directly before digits/],
    // As in the spec's lexer grammar (and so Knative), a sign directly before digits is part of the literal.
    ['sequence-1 > 0', 9, /integer -1 \(to add or subtract, put a space after '-'\)/],
    ['(1 +2)', 4, /expected '\)' to close the '\(' at 1:1, found integer \+2/],
  ])('%s', (expression, column, message) => {
    const err = parseError(expression);
    expect(err.position?.column).toBe(column);
    expect(err.message).toMatch(message);
  });

  it('counts lines, for expressions written as YAML block scalars', () => {
    const err = parseError("type = 'x'\n  AND\n  source LIKE 5");
    expect(err.position).toEqual({ offset: 31, line: 3, column: 15 });
    expect(err.message).toMatch(/\(at 3:15\)$/);
  });

  it('refuses nesting deep enough to overflow the stack, as a parse error', () => {
    expect(parseError('('.repeat(5000) + '1' + ')'.repeat(5000)).message).toMatch(/nests deeper/);
    // A flat chain parses in a loop but evaluates recursively, so it counts as deep.
    expect(parseError(Array(5000).fill('1').join(' + ')).message).toMatch(/nests deeper/);
    expect(run(Array(500).fill('1').join(' + '))).toEqual([500, []]);
    expect(run('NOT '.repeat(500) + 'TRUE')).toEqual([true, []]);
  });
});

describe('evaluation', () => {
  it.each<[string, string, CesqlValue, CesqlErrorKind[]]>([
    // 32-bit Integers: overflow wraps as Knative's int32 does, and says so with a math error.
    ['sum overflow', '2147483647 + 1', -2147483648, ['math']],
    ['difference overflow', '-2147483648 - 1', 2147483647, ['math']],
    ['product overflow', '65536 * 65536', 0, ['math']],
    ['large product in range', '46340 * 46340', 2147395600, []],
    ['the one overflowing division', '-2147483648 / -1', -2147483648, ['math']],
    ['negating the minimum', '--2147483648', -2147483648, ['math']],
    ['-2^31 % -1 is 0, not -0', '-2147483648 % -1', 0, []],
    ['division truncates towards 0', '7 / -2', -3, []],
    ['remainder takes the sign of the dividend', '-5 % 3', -2, []],
    // Errors and short-circuits (§3.4.2, §3.6): the right operand is not evaluated, so its error never arises.
    ['AND stops at false', 'FALSE AND missing', false, []],
    ['OR stops at true', 'TRUE OR missing', true, []],
    ['AND goes on at true', 'TRUE AND missing', false, ['missingAttribute']],
    // An erroneous left operand decides: false, and the right one is not looked at (sdk-go does the same).
    ['an error on the left of OR', 'missing OR TRUE', false, ['missingAttribute']],
    ['XOR always evaluates both', 'FALSE XOR missing', false, ['missingAttribute']],
    // An operand error makes the operator return its zero, not compute on the zero: NOT missing is false.
    ['NOT of an error', 'NOT missing', false, ['missingAttribute']],
    ['a nested error propagates as zero', '(1 / 0) + 5', 0, ['math']],
    ['a function argument error', 'LENGTH(missing)', 0, ['missingAttribute']],
    // A failed cast is the operator's own error: it goes on with the zero value.
    ['a failed cast goes on', "'abc' + 1", 1, ['cast']],
    // Integer -> Boolean only explicitly (the TCK's "Invalid int cast"; see values.ts).
    ['implicit Integer to Boolean', '1 AND TRUE', false, ['cast']],
    ['explicit Integer to Boolean', 'BOOL(7) AND TRUE', true, []],
    // §3.7: `=` casts its left operand to the right one's type.
    ['= casts left to right', 'sequence = "7"', true, []],
    ['String -> Integer takes a sign', "'+7' = 7", true, []],
    ['but no spaces', "' 7' = 7", false, ['cast']],
    ['nor more than 32 bits', "'2147483648' = 0", true, ['cast']],
    ['IN casts to the left type and stops at the first match', '7 IN (7, missing)', true, []],
    ['IN with an error before the match', '7 IN (missing, 7)', false, ['missingAttribute']],
    ['NOT IN', "team NOT IN ('web', 'api')", true, []],
    // Grouping as the spec's grammar and Knative: AND, OR, XOR share a level and group to the right.
    ['AND/OR group to the right', 'FALSE AND FALSE OR TRUE', false, []],
    ['NOT binds tighter than =', 'NOT TRUE = FALSE', true, []],
    ['arithmetic precedence', '1 + 2 * 3 - 4 / 2', 5, []],
    ['minus a negative literal', '5 - -3', 8, []],
    ['a spaced minus negates', '- 3 * 2', -6, []],
    // LIKE (§3.4.3): `\%` and `\_` are literal; any other backslash is itself.
    ['escaped %', "'50%' LIKE '50\\%'", true, []],
    ['escaped % is not a wildcard', "'500' LIKE '50\\%'", false, []],
    ['escaped _', "'a_b' LIKE 'a\\_b'", true, []],
    ['escaped _ is not a wildcard', "'axb' LIKE 'a\\_b'", false, []],
    ['a lone backslash is literal', "'a\\b' LIKE 'a\\b'", true, []],
    ['_ is one character, not one UTF-16 unit', "'😀' LIKE '_'", true, []],
    ['% matches nothing', "'' LIKE '%'", true, []],
    ['backtracking past a false start', "'abcabd' LIKE '%abd'", true, []],
    ['case-sensitive', "'ABC' LIKE 'abc'", false, []],
    // String literals: only the enclosing quote is escaped; other pairs stay as written.
    ['escaped single quote', "'it\\'s'", "it's", []],
    ['escaped double quote', '"say \\"hi\\""', 'say "hi"', []],
    ['other backslashes stay', "'a\\\\b'", 'a\\\\b', []],
    // Names: keywords, functions and attributes are case-insensitive (attribute names are lower case).
    ['upper-case attribute', "TEAM = 'shop' AND EXISTS ID", true, []],
    ['lower-case function', "length('abc')", 3, []],
    // Built-ins count characters, not UTF-16 units.
    ['LENGTH of an emoji', "LENGTH('a😀')", 2, []],
    ['LEFT by characters', "LEFT('😀😀x', 1)", '😀', []],
    ['RIGHT by characters', "RIGHT('x😀', 1)", '😀', []],
    ['SUBSTRING by characters', "SUBSTRING('a😀b', 2, 1)", '😀', []],
    ['SUBSTRING with a negative length', "SUBSTRING('abc', 1, -1)", '', ['functionEvaluation']],
    ['TRIM strips Unicode White_Space', "TRIM('\u00a0\u2003 x \u3000')", 'x', []],
    ['TRIM keeps U+FEFF, which is not White_Space', "LENGTH(TRIM('\ufeffx'))", 2, []],
    ['IS_INT does not report the cast it tries', "IS_INT('x')", false, []],
    ['IS_BOOL follows the explicit cast', 'IS_BOOL(0)', true, []],
    ['BOOL of a non-boolean string', "BOOL('yes')", false, ['cast']],
    ['a missing function says which arity', "LOWER('a', 'b')", false, ['missingFunction']],
  ])('%s: %s', (_why, expression, value, kinds) => {
    expect(run(expression)).toEqual([value, kinds]);
  });

  it('points evaluation errors at the operator, function or attribute that raised them', () => {
    const { errors } = compile('sequence + (10 / 0)').evaluate(EVENT);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.kind).toBe('math');
    expect(errors[0]!.position?.column).toBe(16);
    expect(errors[0]!.message).toMatch(/division by zero: 10 \/ 0 \(at 1:16\)/);
    const [missing] = compile("team = 'shop' AND  myext = 'y'").evaluate(EVENT).errors;
    expect(missing?.message).toMatch(/missing attribute 'myext' \(at 1:20\)/);
  });

  it('is linear enough on a hostile LIKE', () => {
    const started = performance.now();
    const text = 'a'.repeat(20_000);
    expect(run(`x LIKE '%a%a%a%a%a%a%b'`, { ...EVENT, x: text })).toEqual([false, []]);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('the event', () => {
  it.each<[string, string, Record<string, unknown>, CesqlValue, CesqlErrorKind[]]>([
    // CloudEvents Integers are 32-bit: only those numbers are CESQL Integers; the rest read as Strings (§3.2).
    ['an Integer extension', 'n + 1', { n: 41 }, 42, []],
    ['a fraction is a String', 'n', { n: 1.5 }, '1.5', []],
    ['beyond 32 bits is a String', 'n', { n: 2 ** 40 }, '1099511627776', []],
    ['a Date is its timestamp', 'time', { time: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)) }, '2024-01-02T03:04:05.000Z', []],
    ['binary is base64', 'bin', { bin: new Uint8Array([0, 1, 2, 255]) }, 'AAEC/w==', []],
    ['null is absent', 'n', { n: null }, false, ['missingAttribute']],
    // Only the map's own properties are attributes.
    ['no prototype members', "constructor = ''", {}, false, ['missingAttribute']],
    // `data` is the payload, which CESQL does not address (§1).
    ['no data', 'EXISTS data', { data: 'x' }, false, []],
    // §3.4.4: the required attributes exist in any valid event, whatever the map says.
    ['required attributes exist', 'EXISTS id AND EXISTS specversion', {}, true, []],
    ['an optional one may not', 'EXISTS subject', {}, false, []],
    ['a newline is a character to %', "x LIKE 'a%b'", { x: 'a\nb' }, true, []],
  ])('%s: %s', (_why, expression, event, value, kinds) => {
    expect(run(expression, event)).toEqual([value, kinds]);
  });

  it('is never changed by evaluation', () => {
    const event = Object.freeze({ ...EVENT });
    expect(() => compile("UPPER(team) = 'SHOP' AND sequence * 2 = 14").evaluate(event)).not.toThrow();
  });
});

describe('user-defined functions', () => {
  const HASPREFIX: CesqlFunction = {
    name: 'hasPrefix',
    parameters: ['String', 'String'],
    returns: 'Boolean',
    run: ([s, p]) => (s as string).startsWith(p as string),
  };

  it('are called with their arguments cast, by any case of their name', () => {
    const e = compile("HASPREFIX(type, 'dev.reflex.') AND hasprefix(sequence, 7)", { functions: [HASPREFIX] });
    expect(e.evaluate(EVENT)).toEqual({ value: true, errors: [] });
    // Without the option the same expression evaluates to a missingFunction error.
    expect(run("HASPREFIX(type, 'dev')")).toEqual([false, ['missingFunction']]);
  });

  it.each<[string, CesqlFunction['run'], CesqlValue, CesqlErrorKind[]]>([
    // §3.5.3: no valid value of the return type -> the zero value and a functionEvaluation error.
    [
      'throws',
      () => {
        throw new Error('boom');
      },
      0,
      ['functionEvaluation'],
    ],
    ['returns a String for an Integer', () => '1', 0, ['functionEvaluation']],
    ['returns a non-32-bit number', () => 2 ** 40, 0, ['functionEvaluation']],
    ['returns a value and an error', () => ({ value: 3, error: { kind: 'math', message: 'rounded' } }), 3, ['math']],
    ['returns only an error', () => ({ error: { kind: 'generic', message: 'no' } }), 0, ['generic', 'functionEvaluation']],
  ])('a function that %s', (_why, fn, value, kinds) => {
    const e = compile('F(1)', { functions: [{ name: 'F', parameters: ['Integer'], returns: 'Integer', run: fn }] });
    const { value: got, errors } = e.evaluate(EVENT);
    expect([got, errors.map((x) => x.kind)]).toEqual([value, kinds]);
  });

  it.each<[string, CesqlFunction]>([
    // Same name and arity as a built-in: a call would be ambiguous.
    ['LENGTH/1 exists', { name: 'length', parameters: ['String'], returns: 'Integer', run: () => 0 }],
    // §3.5: a variadic overload needs more fixed parameters than any other overload of the name.
    [
      'CONCAT is variadic already',
      { name: 'CONCAT', parameters: ['String', 'String', 'String'], variadic: 'String', returns: 'String', run: () => '' },
    ],
    [
      'SUBSTRING has 3 fixed parameters',
      { name: 'SUBSTRING', parameters: ['String'], variadic: 'String', returns: 'String', run: () => '' },
    ],
    ['not a function name', { name: 'has-prefix', parameters: [], returns: 'Boolean', run: () => true }],
  ])('are refused when %s', (_why, fn) => {
    let err: unknown;
    try {
      compile('TRUE', { functions: [fn] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CesqlError);
    expect((err as CesqlError).kind).toBe('generic');
  });
});

describe('matches', () => {
  it.each([
    // Knative and §1.2: only a Boolean true without errors passes.
    ["type LIKE 'dev.reflex.signal.%' AND team IN ('shop', 'web')", true],
    ["type LIKE 'dev.reflex.signal.%' AND team = 'web'", false],
    // An error fails even when the value is true: `NOT 10` is true with a cast error.
    ['NOT 10', false],
    // The errors of a right operand that is never evaluated do not count.
    ['TRUE OR missing', true],
    ['missing OR TRUE', false],
    // A non-Boolean result is not cast (§1.2).
    ["'true'", false],
    ['1', false],
  ])('%s -> %s', (expression, expected) => {
    expect(matches(compile(expression), EVENT)).toBe(expected);
  });
});
