/**
 * dev/mesh/filters — pure: does a Trigger want an event? Knative's rules exactly (see
 * docs/local.md): `spec.filters` (Subscriptions API dialects, AND at the top level, three
 * results Pass/Fail/NoFilter, only Fail drops) wins over the legacy `spec.filter.attributes`.
 */
import { compile, matches, type Expression } from '../cesql/index.js';
import { ManifestError, type SubscriptionsFilter, type TriggerManifest } from './manifests.js';

/** A CloudEvent's attributes, flat: context attributes and extensions (no data). */
export type Attributes = Readonly<Record<string, unknown>>;

type Result = 'pass' | 'fail' | 'none';

/** Context attributes every event has, for the legacy filter: an absent optional one reads as "". */
const CONTEXT = new Set(['specversion', 'type', 'source', 'subject', 'id', 'time', 'dataschema', 'datacontenttype']);

/** A compiled Trigger filter: CESQL parsed once, a bad expression refused with the Trigger's name. */
export type TriggerFilter = (event: Attributes) => boolean;

export function compileFilter(trigger: Pick<TriggerManifest, 'filter' | 'filters' | 'from' | 'name'>): TriggerFilter {
  if (trigger.filters && trigger.filters.length > 0) {
    const tree = trigger.filters.map((f) => build(f, trigger));
    return (event) => all(tree, event) !== 'fail';
  }
  const attributes = trigger.filter?.attributes ?? {};
  return (event) => Object.entries(attributes).every(([k, want]) => attributeHolds(event, k, want));
}

/** Legacy `filter.attributes`: exact string equality; "" means present and non-empty; a missing extension fails. */
function attributeHolds(event: Attributes, name: string, want: string): boolean {
  const v = event[name] ?? (CONTEXT.has(name) ? '' : undefined);
  if (v === undefined) return false;
  // Knative compares the filter's string with the attribute as it is: a number or boolean never equals it.
  if (typeof v !== 'string') return false;
  return want === '' ? v !== '' : v === want;
}

type Node = (event: Attributes) => Result;

function build(f: SubscriptionsFilter, trigger: Pick<TriggerManifest, 'from' | 'name'>): Node {
  if ('exact' in f) return mapFilter(f.exact, (v, want) => v === want);
  if ('prefix' in f) return mapFilter(f.prefix, (v, want) => v.startsWith(want));
  if ('suffix' in f) return mapFilter(f.suffix, (v, want) => v.endsWith(want));
  if ('all' in f) {
    const nodes = f.all.map((x) => build(x, trigger));
    return (e) => all(nodes, e);
  }
  if ('any' in f) {
    const nodes = f.any.map((x) => build(x, trigger));
    return (e) => {
      let last: Result = 'none';
      for (const n of nodes) {
        last = n(e);
        if (last === 'pass') return 'pass';
      }
      return last;
    };
  }
  if ('not' in f) {
    const inner = build(f.not, trigger);
    return (e) => {
      const r = inner(e);
      return r === 'pass' ? 'fail' : r === 'fail' ? 'pass' : 'none';
    };
  }
  // Knative reads an empty expression as no filter at all.
  if (f.cesql.trim() === '') return () => 'none';
  let expression: Expression;
  try {
    expression = compile(f.cesql);
  } catch (err) {
    // Knative's webhook refuses such a Trigger; refusing it at load time is the local equivalent.
    throw new ManifestError(trigger.from, `Trigger ${trigger.name}: cesql ${JSON.stringify(f.cesql)}: ${(err as Error).message}`);
  }
  // Any evaluation error, or a result that is not true, fails the filter.
  return (e) => (matches(expression, e) ? 'pass' : 'fail');
}

function all(nodes: readonly Node[], event: Attributes): Result {
  let result: Result = 'none';
  for (const n of nodes) {
    const r = n(event);
    if (r === 'fail') return 'fail';
    if (r === 'pass') result = 'pass';
  }
  return result;
}

/**
 * exact/prefix/suffix: every entry must hold, a missing attribute fails, a non-string value is
 * compared in its text form. An empty name or value makes Knative skip the filter ("Failed to
 * parse filter"), so it filters nothing.
 */
function mapFilter(entries: Readonly<Record<string, string>>, test: (value: string, want: string) => boolean): Node {
  const pairs = Object.entries(entries);
  if (pairs.length === 0 || pairs.some(([k, v]) => k === '' || v === '')) return () => 'none';
  return (event) => {
    for (const [k, want] of pairs) {
      const v = event[k];
      if (v === undefined || !test(String(v), want)) return 'fail';
    }
    return 'pass';
  };
}
