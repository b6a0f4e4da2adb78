/**
 * dev/cesql/like — pure: does a string match a LIKE pattern (§3.4.3)? Wildcard matching in
 * O(text × pattern), no RegExp, and no more steps than the caller allows.
 */

/** Pattern items are code points (Array.from's characters, lone surrogates included), or one of these. */
const ANY = -1; // `%`: any run
const ONE = -2; // `_`: one character
const END = -3; // past the last item

/** `matched` is meaningful only when `steps` stayed within the allowance; the caller charges `steps`. */
export type LikeMatcher = (text: string, maxSteps: number) => { readonly matched: boolean; readonly steps: number };

/**
 * Compiles a pattern. `\%` and `\_` are literal; a backslash before anything else is itself a
 * literal character, as in Knative (so `'ab\c' LIKE 'ab\c'` is true). Characters are code points,
 * so `_` matches one character even outside the BMP.
 * @see https://github.com/cloudevents/spec/blob/main/cesql/spec.md#343-like-operator
 */
export function likeMatcher(pattern: string): LikeMatcher {
  const cs = Array.from(pattern);
  const items: number[] = [];
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i]!;
    const next = cs[i + 1];
    if (c === '\\' && (next === '%' || next === '_')) {
      items.push(next.codePointAt(0)!);
      i++;
    } else if (c === '%') {
      // Consecutive %s mean what one does; one keeps the backtracking below linear.
      if (items.at(-1) !== ANY) items.push(ANY);
    } else items.push(c === '_' ? ONE : c.codePointAt(0)!);
  }
  const compiled = Int32Array.from(items);
  return (text, maxSteps) => matchItems(compiled, text, maxSteps);
}

/** The code point at `i` (a lone surrogate is its own unit, as codePointAt has it), by charCodeAt, which compiles to a load. */
function codePointAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  if (c < 0xd800 || c > 0xdbff || i + 1 >= s.length) return c;
  const d = s.charCodeAt(i + 1);
  return d < 0xdc00 || d > 0xdfff ? c : ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000;
}

/** UTF-16 units of a code point. */
const width = (cp: number): number => (cp > 0xffff ? 2 : 1);

/**
 * Greedy matching that, on a mismatch, retries from the last `%` one character further on. Only
 * the last `%` needs revisiting (an earlier one can only give up text the later one could take),
 * so the work is at most text × pattern steps; it stops past `maxSteps`, which the evaluation's
 * budget sets. Walks the string itself by code points, without copying it.
 */
function matchItems(items: Int32Array, text: string, maxSteps: number): { matched: boolean; steps: number } {
  let t = 0;
  let p = 0;
  let star = -1;
  let starText = 0;
  let steps = 0;
  while (t < text.length) {
    if (++steps > maxSteps) return { matched: false, steps };
    const item = p < items.length ? items[p]! : END;
    const cp = codePointAt(text, t);
    if (item === ONE || item === cp) {
      t += width(cp);
      p++;
    } else if (item === ANY) {
      star = p++;
      starText = t;
    } else if (star >= 0) {
      p = star + 1;
      starText += width(codePointAt(text, starText));
      t = starText;
    } else return { matched: false, steps };
  }
  while (p < items.length && items[p] === ANY) p++;
  return { matched: p === items.length, steps };
}
