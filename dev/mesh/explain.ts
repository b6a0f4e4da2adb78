/**
 * dev/mesh/explain — pure: why a Trigger's filter passes or fails an event, in the filter's own
 * words. Every verdict comes from dev/mesh/filters.ts (the same evaluation the broker routes
 * with, applied to each part of the filter); this file only says which part failed and what the
 * attribute it reads actually was. The web console shows it under each event (docs/console.md).
 */
import { compileFilterResult, lookup, wireForm, type Attributes, type FilterResult } from './filters.js';
import type { SubscriptionsFilter, TriggerManifest } from './manifests.js';

type Trigger = Pick<TriggerManifest, 'filter' | 'filters' | 'from' | 'name'>;

/** An attribute a failed expression reads, and its value as broker-filter sees it (null: the event has none). */
export interface Seen {
  readonly name: string;
  readonly actual: string | null;
}

/** One part of the filter that failed: its text (`type starts with "dev.reflex.signal."`) and what it read. */
export interface Failure {
  readonly expression: string;
  readonly attributes: readonly Seen[];
}

export interface Explanation {
  /** As the broker decides: only 'fail' drops the event. */
  readonly result: FilterResult;
  /** The whole filter as text (`no filter` when it has none). */
  readonly filter: string;
  /** Empty unless the result is 'fail'. */
  readonly failed: readonly Failure[];
}

const quoted = (s: string): string => JSON.stringify(s);

const mapText = (entries: Readonly<Record<string, string>>, op: string): string =>
  Object.entries(entries)
    .map(([k, v]) => `${k} ${op} ${quoted(v)}`)
    .join(' and ');

/** One Subscriptions API filter as a person reads it, in Knative's order of dialects. */
export function filterText(f: SubscriptionsFilter): string {
  if (f.exact && Object.keys(f.exact).length > 0) return mapText(f.exact, '=');
  if (f.prefix && Object.keys(f.prefix).length > 0) return mapText(f.prefix, 'starts with');
  if (f.suffix && Object.keys(f.suffix).length > 0) return mapText(f.suffix, 'ends with');
  if (f.all && f.all.length > 0) return `all of (${f.all.map(filterText).join('; ')})`;
  if (f.any && f.any.length > 0) return `any of (${f.any.map(filterText).join('; ')})`;
  if (f.not) return `not (${filterText(f.not)})`;
  if (f.cesql) return `cesql ${f.cesql}`;
  return '(skipped: no dialect)';
}

/** A Trigger's whole filter as text: `spec.filters` (ANDed) when set, else the legacy attributes. */
export function triggerFilterText(t: Pick<TriggerManifest, 'filter' | 'filters'>): string {
  if (t.filters && t.filters.length > 0) return t.filters.map(filterText).join(' AND ');
  const attributes = t.filter?.attributes;
  if (!attributes || Object.keys(attributes).length === 0) return 'no filter (every event)';
  return Object.entries(attributes)
    .map(([k, v]) => (v === '' ? `${k} is set` : `${k} = ${quoted(v)}`))
    .join(' and ');
}

/** CESQL words that are not attribute names. */
const CESQL_WORDS = new Set(['and', 'or', 'xor', 'not', 'like', 'exists', 'in', 'true', 'false', 'null']);

/** The attribute names a filter reads (a CESQL expression's identifiers outside its string literals). */
function namesIn(f: SubscriptionsFilter): string[] {
  const own = [f.exact, f.prefix, f.suffix].flatMap((m) => (m ? Object.keys(m) : []));
  const nested = [...(f.all ?? []), ...(f.any ?? []), ...(f.not ? [f.not] : [])].flatMap(namesIn);
  const cesql = f.cesql
    ? (f.cesql.replace(/'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"/g, ' ').match(/\b[a-z][a-z0-9]*\b(?!\s*\()/gi) ?? [])
        .map((w) => w.toLowerCase())
        .filter((w) => !CESQL_WORDS.has(w))
    : [];
  return [...new Set([...own, ...nested, ...cesql])];
}

/** The exact/prefix/suffix map a filter is, in Knative's order of dialects (an empty one is unset). */
function mapDialect(
  f: SubscriptionsFilter,
): [dialect: 'exact' | 'prefix' | 'suffix', entries: Readonly<Record<string, string>>] | undefined {
  for (const dialect of ['exact', 'prefix', 'suffix'] as const) {
    const entries = f[dialect];
    if (entries && Object.keys(entries).length > 0) return [dialect, entries];
  }
  return undefined;
}

/**
 * Compiled filters by what they filter on: the console explains every event against every Trigger
 * it missed, and a Trigger's filters (and their parts) do not change while the mesh runs.
 */
const compiledByFilter = new Map<string, ReturnType<typeof compileFilterResult>>();
function compiled(trigger: Trigger): ReturnType<typeof compileFilterResult> {
  const key = JSON.stringify([trigger.filters ?? null, trigger.filter ?? null]);
  let c = compiledByFilter.get(key);
  if (!c) {
    // Bounded: a long session of edited manifests must not keep every filter it ever saw.
    if (compiledByFilter.size >= 1000) compiledByFilter.clear();
    c = compileFilterResult(trigger);
    compiledByFilter.set(key, c);
  }
  return c;
}

export function explain(trigger: Trigger, attributes: Attributes): Explanation {
  const result = compiled(trigger)(attributes);
  const wire = wireForm(attributes);
  const seen = (names: readonly string[]): Seen[] => names.map((name) => ({ name, actual: lookup(wire, name) ?? null }));
  // Each part judged as the broker judges a Trigger holding only that part.
  const verdict = (f: SubscriptionsFilter): FilterResult => compiled({ ...trigger, filters: [f], filter: {} })(attributes);
  const failures = (f: SubscriptionsFilter): Failure[] => {
    const map = mapDialect(f);
    if (map) {
      const [dialect, entries] = map;
      return Object.entries(entries)
        .filter(([k, v]) => verdict({ [dialect]: { [k]: v } }) === 'fail')
        .map(([k, v]) => ({ expression: filterText({ [dialect]: { [k]: v } }), attributes: seen([k]) }));
    }
    if (f.all && f.all.length > 0) return f.all.filter((x) => verdict(x) === 'fail').flatMap(failures);
    // ANY failed: none of its parts passed, and each that failed says why.
    if (f.any && f.any.length > 0) return f.any.filter((x) => verdict(x) === 'fail').flatMap(failures);
    // NOT failed: what it negates held.
    if (f.not) return [{ expression: filterText(f), attributes: seen(namesIn(f.not)) }];
    return [{ expression: filterText(f), attributes: seen(namesIn(f)) }];
  };
  let failed: Failure[] = [];
  if (result === 'fail') {
    if (trigger.filters && trigger.filters.length > 0) failed = trigger.filters.filter((f) => verdict(f) === 'fail').flatMap(failures);
    else
      failed = Object.entries(trigger.filter?.attributes ?? {})
        .filter(([k, v]) => compiled({ ...trigger, filter: { attributes: { [k]: v } } })(attributes) === 'fail')
        .map(([k, v]) => ({ expression: v === '' ? `${k} is set` : `${k} = ${quoted(v)}`, attributes: seen([k]) }));
  }
  return { result, filter: triggerFilterText(trigger), failed };
}

/** A failure in one line: `type starts with "dev.reflex.signal." (type is "dev.knative.apiserver.resource.add")`. */
export function failureText(f: Failure): string {
  const values = f.attributes.map((a) => `${a.name} ${a.actual === null ? 'is absent' : `is ${quoted(a.actual)}`}`);
  return `${f.expression}${values.length ? ` (${values.join(', ')})` : ''}`;
}
