/** dev/cesql/values — pure: the three CESQL types, their zero values, casts, and attribute values read as CESQL. */

/** Boolean, Integer (a 32-bit signed integer held in a JS number) or String. */
export type CesqlValue = boolean | number | string;
export type CesqlType = 'Boolean' | 'Integer' | 'String';

/** @see https://github.com/cloudevents/spec/blob/main/cesql/spec.md#31-type-system */
export const ZERO: Readonly<Record<CesqlType, CesqlValue>> = { Boolean: false, Integer: 0, String: '' };

export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;

export function isInt32(n: number): boolean {
  return Number.isInteger(n) && n >= INT32_MIN && n <= INT32_MAX;
}

export function typeOf(v: CesqlValue): CesqlType {
  return typeof v === 'boolean' ? 'Boolean' : typeof v === 'number' ? 'Integer' : 'String';
}

/** A cast's result: the spec gives a value even when the cast fails (the target's zero), plus why it failed. */
export interface Cast {
  readonly value: CesqlValue;
  readonly failure?: string;
}

/**
 * Casts `v` to `target` with §3.7's semantics. The one difference between the two modes: an
 * Integer becomes a Boolean only explicitly (BOOL, IS_BOOL). Implicitly (NOT 10, 1 AND x) it is a
 * CastError with the value false, as the official TCK requires (not_operator "Invalid int cast":
 * `NOT 10` is true with a cast error); sdk-go v2.16.2's own copy of the TCK expects false there.
 * @see https://github.com/cloudevents/spec/blob/main/cesql/spec.md#37-type-casting
 */
export function cast(v: CesqlValue, target: CesqlType, mode: 'implicit' | 'explicit'): Cast {
  const from = typeOf(v);
  if (from === target) return { value: v };
  switch (target) {
    case 'String':
      // Integer -> base 10 without leading zeros; Boolean -> "true" | "false": what String() gives.
      return { value: String(v) };
    case 'Integer':
      if (typeof v === 'boolean') return { value: v ? 1 : 0 };
      return parseInteger(v as string);
    case 'Boolean':
      if (typeof v === 'number') {
        if (mode === 'explicit') return { value: v !== 0 };
        return { value: false, failure: `Integer ${v} is not cast to Boolean implicitly; write BOOL(x) or x != 0` };
      }
      return parseBoolean(v as string);
  }
}

/** A String as an error message shows it: quoted, and cut short, since an attribute may be a megabyte long. */
export function quote(s: string): string {
  return s.length > 40 ? `${JSON.stringify(s.slice(0, 40))}… (${s.length} characters)` : JSON.stringify(s);
}

/** Any value (a user function may return anything) as an error message shows it; never throws (JSON.stringify can). */
export function describeValue(v: unknown): string {
  if (typeof v === 'string') return quote(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint' || v === undefined || v === null) return String(v);
  return `a ${typeof v}`;
}

/** Base 10, an optional sign, nothing else (no spaces, no fraction); out of the 32-bit range is an error. */
function parseInteger(s: string): Cast {
  if (!/^[+-]?[0-9]+$/.test(s)) return { value: 0, failure: `cannot cast ${quote(s)} to Integer: not a base-10 integer` };
  const n = Number(s);
  if (!isInt32(n)) return { value: 0, failure: `cannot cast ${quote(s)} to Integer: outside the 32-bit range` };
  // `| 0` turns "-0" into 0.
  return { value: n | 0 };
}

function parseBoolean(s: string): Cast {
  // Only 4 or 5 characters can be a Boolean: a long String is not lower-cased to find out.
  const lower = s.length <= 5 ? s.toLowerCase() : '';
  if (lower === 'true') return { value: true };
  if (lower === 'false') return { value: false };
  return { value: false, failure: `cannot cast ${quote(s)} to Boolean: only "true" and "false" (in any case) are` };
}

/**
 * An attribute's value as CESQL sees it, or undefined when it is absent. CloudEvents' Integer is
 * 32-bit, so only such numbers are Integers; any other value is represented as a String (§3.2),
 * in its CloudEvents canonical string form where there is one (Timestamp, Binary).
 * @see https://github.com/cloudevents/spec/blob/main/cesql/spec.md#32-cloudevent-context-identifiers-and-types
 */
export function fromAttribute(raw: unknown): CesqlValue | undefined {
  switch (typeof raw) {
    case 'undefined':
      return undefined;
    case 'boolean':
    case 'string':
      return raw;
    case 'number':
      return isInt32(raw) ? raw | 0 : String(raw);
    case 'bigint':
      return raw >= INT32_MIN && raw <= INT32_MAX ? Number(raw) : String(raw);
    default:
      if (raw === null) return undefined;
      return textOf(raw);
  }
}

/** An object's (or a symbol's, a function's) canonical text; never throws, since evaluation must not. */
function textOf(raw: unknown): string {
  try {
    if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? 'Invalid Date' : raw.toISOString();
    if (raw instanceof Uint8Array) return Buffer.from(raw).toString('base64');
    if (raw instanceof URL) return raw.href;
    return (typeof raw === 'object' ? JSON.stringify(raw) : undefined) ?? String(raw);
  } catch {
    // A cycle, a BigInt inside, a throwing toJSON or toString: the object is still present, as some text.
    return Object.prototype.toString.call(raw);
  }
}
