/**
 * dev/mesh/filters — pure: does a Trigger want an event? Knative's broker-filter exactly (see
 * docs/local.md): `spec.filters` (Subscriptions API dialects, AND at the top level, three results
 * Pass/Fail/NoFilter, only Fail drops) wins over the legacy `spec.filter.attributes`. The event is
 * seen as broker-filter sees it: after an HTTP hop in binary mode, so every extension is a string
 * and the time is UTC. test/cluster/knative-oracle.test.ts holds this against Knative's own code.
 * @see https://github.com/knative/eventing/blob/v0.49.2/pkg/broker/filter/filter_handler.go (filterEvent)
 * @see https://github.com/knative/eventing/tree/v0.49.2/pkg/eventfilter
 */
import { compile, matches, type Expression } from '../cesql/index.js';
import { ManifestError, type SubscriptionsFilter, type TriggerManifest } from './manifests.js';

/** A CloudEvent's attributes, flat: context attributes and extensions (no data). */
export type Attributes = Readonly<Record<string, unknown>>;

/** Knative's eventfilter.FilterResult: only a fail drops the event. */
export type FilterResult = 'pass' | 'fail' | 'none';

/** A compiled Trigger filter: CESQL parsed once, a bad expression refused with the Trigger's name. */
export type TriggerFilter = (event: Attributes) => boolean;

type Trigger = Pick<TriggerManifest, 'filter' | 'filters' | 'from' | 'name'>;

export function compileFilter(trigger: Trigger): TriggerFilter {
  const result = compileFilterResult(trigger);
  return (event) => result(event) !== 'fail';
}

/** The three-valued result, as filterEvent returns it (for tests that compare it with Knative's). */
export function compileFilterResult(trigger: Trigger): (event: Attributes) => FilterResult {
  if (trigger.filters && trigger.filters.length > 0) {
    const top = allOf(materializeList(trigger.filters, trigger));
    return (event) => top(wireForm(event));
  }
  const attributes = trigger.filter?.attributes;
  if (!attributes) return () => 'none';
  const entries = Object.entries(attributes);
  return (event) => legacy(entries, wireForm(event));
}

/** An event's attributes as they reach broker-filter. */
export interface Wire {
  readonly attrs: Readonly<Record<string, string>>;
}
type Node = (event: Wire) => FilterResult;

const seen = new WeakMap<Attributes, Wire>();

/**
 * The attributes after the binary-mode hops from the ingress through the channel to broker-filter
 * (sdk-go writes every extension as a header and reads it back as a string; it writes `time` in
 * UTC with RFC 3339 nanoseconds, trailing zeros dropped).
 */
export function wireForm(event: Attributes): Wire {
  // The broker hands every route the same attributes object: converted once per event.
  const known = seen.get(event);
  if (known) return known;
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(event)) {
    if (v === undefined || v === null) continue;
    attrs[k] = k === 'time' ? goTimestamp(String(v)) : typeof v === 'string' ? v : String(v);
  }
  const wire = { attrs };
  seen.set(event, wire);
  return wire;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/** `2020-01-01T01:00:00.500+01:00` -> `2020-01-01T00:00:00.5Z`, as Go formats a time.Time in UTC with RFC3339Nano. */
export function goTimestamp(time: string): string {
  const m = RFC3339.exec(time);
  if (!m) return time;
  const [, y, mo, d, h, mi, s, frac = '', zone] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string | undefined,
    string,
  ];
  const offsetMin = /^[Zz]$/.test(zone) ? 0 : (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
  const at = new Date(0);
  at.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  at.setUTCHours(Number(h), Number(mi) - offsetMin, Number(s), 0);
  const nanos = frac.slice(0, 9).replace(/0+$/, '');
  return `${at.toISOString().slice(0, 19)}${nanos ? `.${nanos}` : ''}Z`;
}

/** The zero time.Time, which `time` reads as on an event without one (LookupAttribute marshals event.Time()). */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/**
 * eventfilter/attributes.LookupAttribute: context attributes are always found (an absent optional
 * one is ""), with sdk-go's aliases; anything else is an extension, found only when present.
 */
export function lookup(e: Wire, name: string): string | undefined {
  const a = e.attrs;
  switch (name) {
    case 'specversion':
    case 'type':
    case 'source':
    case 'subject':
    case 'id':
    case 'dataschema':
    case 'datacontenttype':
      return a[name] ?? '';
    case 'schemaurl':
      return a['dataschema'] ?? '';
    case 'time':
      return a['time'] ?? ZERO_TIME;
    case 'datamediatype':
      return mediaTypeOf(a['datacontenttype']);
    case 'datacontentencoding':
      // A CloudEvents 0.3 attribute: a 1.0 event has none.
      return '';
    default:
      return a[name];
  }
}

/** event.DataMediaType(): the content type up to its first `;`, trimmed only when there is one (sdk-go GetDataMediaType). */
function mediaTypeOf(contentType: string | undefined): string {
  if (contentType === undefined) return '';
  const i = contentType.indexOf(';');
  return i < 0 ? contentType : contentType.slice(0, i).trim();
}

/** Legacy `filter.attributes`: exact string equality; "" means present and non-empty; a missing extension fails. */
function legacy(entries: readonly (readonly [string, string])[], e: Wire): FilterResult {
  for (const [k, want] of entries) {
    const v = lookup(e, k);
    if (v === undefined || (want === '' && v === '')) return 'fail';
    if (want !== '' && v !== want) return 'fail';
  }
  return 'pass';
}

/**
 * subscriptionsapi.MaterializeSubscriptionsAPIFilter: the first dialect set, in Knative's order
 * (an empty map or list is unset); undefined for an item it skips — no dialect, or an
 * exact/prefix/suffix with an empty name or value ("Failed to parse filter. Skipping filter").
 */
function materialize(f: SubscriptionsFilter, trigger: Trigger): Node | undefined {
  if (f.exact && Object.keys(f.exact).length > 0) return mapFilter(f.exact, (v, want) => v === want);
  if (f.prefix && Object.keys(f.prefix).length > 0) return mapFilter(f.prefix, (v, want) => v.startsWith(want));
  if (f.suffix && Object.keys(f.suffix).length > 0) return mapFilter(f.suffix, (v, want) => v.endsWith(want));
  if (f.all && f.all.length > 0) return allOf(materializeList(f.all, trigger));
  if (f.any && f.any.length > 0) return anyOf(materializeList(f.any, trigger));
  if (f.not) return notOf(materialize(f.not, trigger));
  if (f.cesql) return cesqlFilter(f.cesql, trigger);
  return undefined;
}

/** The items that materialize; skipped ones are left out, so they change neither ALL's nor ANY's last result. */
function materializeList(list: readonly SubscriptionsFilter[], trigger: Trigger): Node[] {
  return list.flatMap((f) => materialize(f, trigger) ?? []);
}

/** NewAllFilter: a single filter is itself; otherwise the first fail, else the LAST result (none when empty). */
function allOf(nodes: readonly Node[]): Node {
  if (nodes.length === 1) return nodes[0]!;
  return (e) => {
    let result: FilterResult = 'none';
    for (const n of nodes) {
      result = n(e);
      if (result === 'fail') return 'fail';
    }
    return result;
  };
}

/** NewAnyFilter: a single filter is itself; otherwise the first pass, else the last result (none when empty). */
function anyOf(nodes: readonly Node[]): Node {
  if (nodes.length === 1) return nodes[0]!;
  return (e) => {
    let result: FilterResult = 'none';
    for (const n of nodes) {
      result = n(e);
      if (result === 'pass') return 'pass';
    }
    return result;
  };
}

/** NewNotFilter: pass and fail swap; no filter (`not: {}`) stays no filter. */
function notOf(node: Node | undefined): Node {
  if (!node) return () => 'none';
  return (e) => {
    const r = node(e);
    return r === 'pass' ? 'fail' : r === 'fail' ? 'pass' : 'none';
  };
}

/** exact/prefix/suffix: every entry must hold, a missing attribute fails. */
function mapFilter(entries: Readonly<Record<string, string>>, test: (value: string, want: string) => boolean): Node | undefined {
  const pairs = Object.entries(entries);
  if (pairs.some(([k, v]) => k === '' || v === '')) return undefined;
  return (e) => {
    for (const [k, want] of pairs) {
      const v = lookup(e, k);
      if (v === undefined || !test(v, want)) return 'fail';
    }
    return 'pass';
  };
}

/** Any evaluation error, or a result that is not true, fails the filter. */
function cesqlFilter(source: string, trigger: Trigger): Node {
  let expression: Expression;
  try {
    expression = compile(source);
  } catch (err) {
    // Knative's webhook refuses such a Trigger (loadMesh skips it); a Trigger built in code is refused here, by name.
    throw new ManifestError(trigger.from, `Trigger ${trigger.name}: cesql ${JSON.stringify(source)}: ${(err as Error).message}`);
  }
  return (e) => (matches(expression, e.attrs) ? 'pass' : 'fail');
}
