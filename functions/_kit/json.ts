/**
 * _kit/json — JSON for values that came from outside: a nesting bound, so a hostile document
 * (thousands of levels deep, parsed fine by V8) cannot overflow the stack of whatever writes it
 * back out (the logger, a reply, a webhook).
 */

/** Kubernetes objects are rarely more than 15 levels deep; 64 keeps every real one whole. */
export const MAX_DEPTH = 64;
/** What stands in for a value nested deeper than the bound: says what was cut, and why. */
export const DEPTH_CUT = `…(cut: nested deeper than ${MAX_DEPTH} levels)`;

/** A copy of `value` whose containers deeper than `maxDepth` are replaced by a marker. */
export function bounded(value: unknown, maxDepth = MAX_DEPTH): unknown {
  const copy = (v: unknown, depth: number): unknown => {
    if (v === null || typeof v !== 'object') return v;
    if (depth >= maxDepth) return DEPTH_CUT;
    if (Array.isArray(v)) return v.map((x) => copy(x, depth + 1));
    if (v instanceof Error) return { name: v.name, message: v.message };
    if (Buffer.isBuffer(v)) return { base64: v.toString('base64') };
    if (v instanceof Date) return v;
    // fromEntries defines own properties: a "__proto__" key from JSON stays a plain key.
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, copy(x, depth + 1)]));
  };
  return copy(value, 0);
}

/** Does JSON-like data nest deeper than `limit` arrays and objects? Walked without recursion, stopping at the limit. */
export function deeperThan(data: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[data, 0]];
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [value, depth] = top;
    if (typeof value !== 'object' || value === null || Buffer.isBuffer(value) || ArrayBuffer.isView(value)) continue;
    if (depth + 1 > limit) return true;
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
  return false;
}
