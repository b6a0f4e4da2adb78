/** dev/cesql/functions — the built-in functions of §3.5 (and the casting ones the TCK uses), and overload resolution. */
import { CesqlError, type CesqlErrorKind } from './errors.js';
import { LIMITS, tooLong } from './limits.js';
import { cast, INT32_MAX, INT32_MIN, type CesqlType, type CesqlValue } from './values.js';

/** A parameter's type; `Any` takes the argument as it is (the casting functions). */
export type ParameterType = CesqlType | 'Any';

/** What a function gives back when it also reports an error: a value (else the return type's zero) and the error. */
export interface FunctionOutcome {
  readonly value?: CesqlValue;
  readonly error?: { readonly kind: CesqlErrorKind; readonly message: string };
}

/**
 * A function the engine can call: built in, or given to `compile` by the user. Arguments arrive
 * already cast to `parameters` (and to `variadic` for the ones after them). A function that
 * throws, or returns no value or a value of another type than `returns`, yields the zero value of
 * `returns` and a functionEvaluation error (§3.5.3).
 * @see https://github.com/cloudevents/spec/blob/main/cesql/spec.md#35-functions
 */
export interface CesqlFunction {
  /** Letters and `_`, matched case-insensitively. */
  readonly name: string;
  /** The fixed parameters. */
  readonly parameters: readonly ParameterType[];
  /** When present, any number (0 or more) of further arguments of this type follow the fixed ones. */
  readonly variadic?: ParameterType;
  readonly returns: CesqlType;
  run(args: readonly CesqlValue[]): CesqlValue | FunctionOutcome;
}

/** Finds the function a call means by its name and argument count. */
export type FunctionResolver = (name: string, arity: number) => CesqlFunction | undefined;

const FUNCTION_NAME = /^[A-Za-z][A-Za-z_]*$/;

/**
 * Overloads by arity: at most one function per name and arity, and at most one variadic one,
 * whose fixed arity must exceed every other arity of the name so a call is never ambiguous.
 * A bad definition is a `generic` CesqlError: it is the caller's configuration, not an expression.
 */
export function functionResolver(functions: readonly CesqlFunction[]): FunctionResolver {
  const table = new Map<string, { fixed: Map<number, CesqlFunction>; variadic?: CesqlFunction }>();
  for (const fn of functions) {
    if (!FUNCTION_NAME.test(fn.name)) throw new CesqlError('generic', `function name ${JSON.stringify(fn.name)} is not letters and '_'`);
    const name = fn.name.toUpperCase();
    const entry = table.get(name) ?? { fixed: new Map<number, CesqlFunction>() };
    table.set(name, entry);
    const arity = fn.parameters.length;
    const clash = (why: string): CesqlError => new CesqlError('generic', `cannot define ${name}/${arity}${fn.variadic ? '+' : ''}: ${why}`);
    const maxFixed = Math.max(-1, ...entry.fixed.keys());
    if (fn.variadic) {
      if (entry.variadic) throw clash('the name already has a variadic overload');
      if (maxFixed >= arity) throw clash(`a variadic overload needs more fixed parameters than any other overload (one has ${maxFixed})`);
      entry.variadic = fn;
    } else {
      if (entry.fixed.has(arity)) throw clash('the name already has an overload with this arity');
      if (entry.variadic && entry.variadic.parameters.length <= arity)
        throw clash(`the variadic overload has only ${entry.variadic.parameters.length} fixed parameters`);
      entry.fixed.set(arity, fn);
    }
  }
  return (name, arity) => {
    const entry = table.get(name.toUpperCase());
    if (!entry) return undefined;
    const fixed = entry.fixed.get(arity);
    if (fixed) return fixed;
    return entry.variadic && arity >= entry.variadic.parameters.length ? entry.variadic : undefined;
  };
}

/*
 * The spec counts characters, not UTF-16 units: a surrogate pair is one character (a lone
 * surrogate is one too, as Array.from has it). These walk the string instead of copying it into
 * an array of characters, so that the work is one step per unit, which the evaluation budget counts.
 */

/** Is a surrogate pair at `i`? */
function pairAt(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  if (c < 0xd800 || c > 0xdbff) return false;
  const d = s.charCodeAt(i + 1);
  return d >= 0xdc00 && d <= 0xdfff;
}

/** The number of characters of `s`. */
function length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i += pairAt(s, i) ? 2 : 1) n++;
  return n;
}

/** The UTF-16 offset after the first `n` characters of `s`, starting from offset `from` (at most s.length). */
function offsetAfter(s: string, n: number, from = 0): number {
  let i = from;
  for (let k = 0; k < n && i < s.length; k++) i += pairAt(s, i) ? 2 : 1;
  return i;
}

/** Unicode White_Space, as TRIM's definition says (String.prototype.trim also strips U+FEFF, which is not); all in the BMP. */
const WHITE_SPACE = /^\p{White_Space}$/u;

/**
 * Both ends stripped by a scan from each end: a regex such as /\p{White_Space}+$/g retries from
 * every position and is quadratic on a long run of spaces before a last non-space.
 */
function trim(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && WHITE_SPACE.test(s[start]!)) start++;
  while (end > start && WHITE_SPACE.test(s[end - 1]!)) end--;
  return s.slice(start, end);
}

/** CONCAT and CONCAT_WS: the length is known before joining, so a result over the limit is never built. */
function join(name: string, parts: readonly string[], separator: string): CesqlValue | FunctionOutcome {
  const total = parts.reduce((n, p) => n + p.length, 0) + separator.length * Math.max(0, parts.length - 1);
  return total > LIMITS.maxStringLength ? fail('', 'functionEvaluation', tooLong(name, total)) : parts.join(separator);
}

const fail = (value: CesqlValue, kind: CesqlErrorKind, message: string): FunctionOutcome => ({ value, error: { kind, message } });

/** `x` from 1-based `pos` (negative: from the end), at most `len` characters; §3.5.1 SUBSTRING. */
function substring(x: string, pos: number, len?: number): CesqlValue | FunctionOutcome {
  const n = length(x);
  if (pos > n || pos < -n) return fail('', 'functionEvaluation', `SUBSTRING: pos ${pos} is outside a string of length ${n}`);
  if (len !== undefined && len < 0) return fail('', 'functionEvaluation', `SUBSTRING: len ${len} is negative`);
  if (pos === 0) return '';
  const begin = offsetAfter(x, pos > 0 ? pos - 1 : n + pos);
  return x.slice(begin, len === undefined ? undefined : offsetAfter(x, len, begin));
}

const str = (v: CesqlValue | undefined): string => v as string;
const int = (v: CesqlValue | undefined): number => v as number;

/** @see https://github.com/cloudevents/spec/blob/main/cesql/spec.md#351-built-in-string-manipulation */
export const BUILT_INS: readonly CesqlFunction[] = [
  { name: 'LENGTH', parameters: ['String'], returns: 'Integer', run: ([x]) => length(str(x)) },
  { name: 'CONCAT', parameters: [], variadic: 'String', returns: 'String', run: (xs) => join('CONCAT', xs as string[], '') },
  {
    name: 'CONCAT_WS',
    parameters: ['String'],
    variadic: 'String',
    returns: 'String',
    run: ([sep, ...xs]) => join('CONCAT_WS', xs as string[], str(sep)),
  },
  { name: 'LOWER', parameters: ['String'], returns: 'String', run: ([x]) => str(x).toLowerCase() },
  { name: 'UPPER', parameters: ['String'], returns: 'String', run: ([x]) => str(x).toUpperCase() },
  { name: 'TRIM', parameters: ['String'], returns: 'String', run: ([x]) => trim(str(x)) },
  {
    name: 'LEFT',
    parameters: ['String', 'Integer'],
    returns: 'String',
    run: ([x, y]) =>
      int(y) < 0 ? fail(x!, 'functionEvaluation', `LEFT: y ${int(y)} is negative`) : str(x).slice(0, offsetAfter(str(x), int(y))),
  },
  {
    name: 'RIGHT',
    parameters: ['String', 'Integer'],
    returns: 'String',
    run: ([x, y]) => {
      if (int(y) < 0) return fail(x!, 'functionEvaluation', `RIGHT: y ${int(y)} is negative`);
      const s = str(x);
      return s.slice(offsetAfter(s, Math.max(0, length(s) - int(y))));
    },
  },
  { name: 'SUBSTRING', parameters: ['String', 'Integer'], returns: 'String', run: ([x, pos]) => substring(str(x), int(pos)) },
  {
    name: 'SUBSTRING',
    parameters: ['String', 'Integer', 'Integer'],
    returns: 'String',
    run: ([x, pos, len]) => substring(str(x), int(pos), int(len)),
  },
  // §3.5.2: |INT32_MIN| does not fit in 32 bits.
  {
    name: 'ABS',
    parameters: ['Integer'],
    returns: 'Integer',
    run: ([x]) => (int(x) === INT32_MIN ? fail(INT32_MAX, 'math', `ABS(${INT32_MIN}) overflows 32 bits`) : Math.abs(int(x))),
  },
  // The casting functions: explicit casts with §3.7's semantics; IS_* tell whether that cast succeeds.
  { name: 'INT', parameters: ['Any'], returns: 'Integer', run: ([x]) => explicit(x!, 'Integer') },
  { name: 'BOOL', parameters: ['Any'], returns: 'Boolean', run: ([x]) => explicit(x!, 'Boolean') },
  { name: 'STRING', parameters: ['Any'], returns: 'String', run: ([x]) => explicit(x!, 'String') },
  { name: 'IS_INT', parameters: ['Any'], returns: 'Boolean', run: ([x]) => cast(x!, 'Integer', 'explicit').failure === undefined },
  { name: 'IS_BOOL', parameters: ['Any'], returns: 'Boolean', run: ([x]) => cast(x!, 'Boolean', 'explicit').failure === undefined },
];

function explicit(x: CesqlValue, target: CesqlType): CesqlValue | FunctionOutcome {
  const c = cast(x, target, 'explicit');
  return c.failure === undefined ? c.value : fail(c.value, 'cast', c.failure);
}

export const builtIns: FunctionResolver = functionResolver(BUILT_INS);
