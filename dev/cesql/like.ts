/** dev/cesql/like — pure: does a string match a LIKE pattern (§3.4.3)? Wildcard matching in O(text × pattern), no RegExp. */

/** A pattern item: `%` (any run), `_` (one character) or one literal character. */
type Item = { readonly any: true } | { readonly one: true } | { readonly char: string };

/**
 * Compiles a pattern. `\%` and `\_` are literal; a backslash before anything else is itself a
 * literal character, as in Knative (so `'ab\c' LIKE 'ab\c'` is true). Characters are code points,
 * so `_` matches one character even outside the BMP.
 * @see https://github.com/cloudevents/spec/blob/main/cesql/spec.md#343-like-operator
 */
export function likeMatcher(pattern: string): (text: string) => boolean {
  const cs = Array.from(pattern);
  const items: Item[] = [];
  for (let i = 0; i < cs.length; i++) {
    const c = cs[i]!;
    const next = cs[i + 1];
    if (c === '\\' && (next === '%' || next === '_')) {
      items.push({ char: next });
      i++;
    } else if (c === '%') {
      // Consecutive %s mean what one does; one keeps the backtracking below linear.
      if (!items.at(-1) || !('any' in items.at(-1)!)) items.push({ any: true });
    } else items.push(c === '_' ? { one: true } : { char: c });
  }
  return (text) => matchItems(items, Array.from(text));
}

/**
 * Greedy matching that, on a mismatch, retries from the last `%` one character further on. Only
 * the last `%` needs revisiting (an earlier one can only give up text the later one could take),
 * so the work is at most text × pattern: an event's attribute cannot make a filter slow.
 */
function matchItems(items: readonly Item[], text: readonly string[]): boolean {
  let t = 0;
  let p = 0;
  let star = -1;
  let starText = 0;
  while (t < text.length) {
    const item = items[p];
    if (item && ('one' in item || ('char' in item && item.char === text[t]))) {
      t++;
      p++;
    } else if (item && 'any' in item) {
      star = p++;
      starText = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++starText;
    } else return false;
  }
  while (p < items.length && 'any' in items[p]!) p++;
  return p === items.length;
}
