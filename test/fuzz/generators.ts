/**
 * Generated and mutated CloudEvents. A case is a plain JSON description (so a shrunk
 * counterexample reads as what was sent): a seed event (a real one, see corpus.ts), the mutations
 * applied to its attributes, its data and its headers, the mode it travels in (binary, structured,
 * batch), its content type, its content encoding (valid or corrupt), its size (around the body
 * limit), whether the upload is cut, and whether its HTTP framing is broken (sent on a raw
 * socket). `render` turns it into bytes on the wire. Most cases change one thing (one family of
 * mutation), so that each reaches the part of the server it aims at; a few change everything.
 */
import fc from 'fast-check';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import type { Json, Seed } from './corpus.js';
import { FRAMES, type Frame, type Outgoing } from './http.js';

/** Where a mutation lands: each index picks a member (modulo the count) one level further down. */
type Path = readonly number[];

export type DataOp =
  | { readonly op: 'set'; readonly path: Path; readonly value: Json }
  | { readonly op: 'delete'; readonly path: Path }
  | { readonly op: 'add'; readonly path: Path; readonly key: string; readonly value: Json }
  /** The nth member named `key`, anywhere in the data (reason, message, count, …). */
  | { readonly op: 'field'; readonly key: string; readonly nth: number; readonly value: Json }
  /** The nth string that looks like a timestamp. */
  | { readonly op: 'date'; readonly nth: number; readonly value: Json }
  /** JSON nested `depth` levels in place of the value at path (as text: "[[[…]]]" or {"a":{"a":…}}). */
  | { readonly op: 'deep'; readonly path: Path; readonly depth: number; readonly open: '[' | '{' }
  /** The same nesting in place of the nth member named `key` (count, occurrences, object…). */
  | { readonly op: 'deepField'; readonly key: string; readonly nth: number; readonly depth: number; readonly open: '[' | '{' };

export type AttrOp = { readonly op: 'drop'; readonly name: string } | { readonly op: 'set'; readonly name: string; readonly value: Json };

export type HeaderOp =
  /** The header sent twice (Node joins duplicates with ", " for the server). */
  | { readonly op: 'dup'; readonly nth: number; readonly value: Text }
  | { readonly op: 'add'; readonly name: string; readonly value: Text }
  | { readonly op: 'drop'; readonly name: string }
  /** The value's UTF-8 bytes raw on the wire, not percent-encoded. */
  | { readonly op: 'raw'; readonly nth: number; readonly value: Text };

export type BodyOp =
  | { readonly op: 'truncate'; readonly keep: number }
  | { readonly op: 'append'; readonly text: string }
  | { readonly op: 'bom' }
  | { readonly op: 'bytes'; readonly hex: string };

export interface EventCase {
  readonly seed: number;
  readonly attrOps: readonly AttrOp[];
  readonly dataOps: readonly DataOp[];
  /**
   * Structured and batch: how the data travels — `data` (the default), `data_base64`, both (a
   * fault), a data_base64 that is not base64, or a member that is no event at all.
   */
  readonly form?: 'base64' | 'both' | 'badbase64' | { readonly notObject: Json };
}

export interface Case {
  readonly mode: 'binary' | 'structured' | 'batch';
  /** Binary and structured mode send the first; a batch sends them all. */
  readonly events: readonly EventCase[];
  /** The request's Content-Type (undefined: the mode's own). */
  readonly contentType?: Text | null;
  readonly headerOps: readonly HeaderOp[];
  readonly bodyOps: readonly BodyOp[];
  readonly encoding?: { readonly name: string; readonly corrupt: 'none' | 'truncate' | 'garbage' | 'flip' | 'trailing' };
  /** Pad the body to about this many bytes (before encoding), in the data where possible. */
  readonly size?: number;
  /** Cut the upload after this fraction (per mille) of the body. */
  readonly abortAt?: number;
  /** Sent on a raw socket with its HTTP framing broken this way. */
  readonly frame?: Frame;
}

// ---------------------------------------------------------------------------------------------
// Values

/** Names the CloudEvents SDK, JavaScript or the binding give a meaning to. */
export const RESERVED = [
  'validate',
  'schemaurl',
  'constructor',
  'data',
  'data_base64',
  '__proto__',
  'prototype',
  'tojson',
  'toJSON',
  'tostring',
  'hasownproperty',
  'valueof',
  'specversion',
  'datacontenttype',
  'dataschema',
  'time',
  'knativebrokerttl',
  'knativearrivaltime',
  'knativeerrordata',
  'traceparent',
  'then',
  'cloneWith',
] as const;

const DATES = [
  '9999-12-31T23:59:59Z',
  '9999-12-31T23:59:59-14:00',
  '0000-01-01T00:00:00Z',
  '0000-01-01T00:00:00+01:00',
  '1969-12-31T23:59:59Z',
  '1970-01-01T00:00:00Z',
  '+275760-09-13T00:00:00Z',
  '-000001-01-01T00:00:00Z',
  '2026-13-45T99:99:99Z',
  '2026-02-30T10:00:00Z',
  '2026-11-22T10:00:00.123456789Z',
  '2026-11-22 10:00:00',
  '2026-11-22',
  'yesterday',
  'garbage',
  '',
  'NaN',
] as const;

const STRINGS = [
  '',
  ' ',
  'café',
  '日本語のメッセージ',
  '😀',
  '\ud800',
  '\u0000',
  '\u200b',
  '%',
  '%zz',
  '%C3%A9',
  '%25',
  '%00',
  '%E2%82',
  'null',
  'true',
  '0',
  '-1',
  'a,b',
  'a;b=c',
  '"quoted"',
  'line\nbreak',
  "'; DROP TABLE events; --",
  '${jndi:ldap://x/a}',
  '<script>alert(1)</script>',
  '../../etc/passwd',
  'http://169.254.169.254/latest/meta-data/',
  'dev.reflex.signal.crashloop',
  'Deployment',
  'kube-system',
  'reflex',
] as const;

/**
 * A long string, kept as what it repeats and how often until it is sent: a counterexample then
 * reads `{"$repeat":"é","times":2731}`, and shrinks to the length where it starts to fail.
 */
export type Repeat = { readonly $repeat: string; readonly times: number };
export type Text = string | Repeat;

const isRepeat = (v: unknown): v is Repeat =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as Repeat).$repeat === 'string' &&
  typeof (v as Repeat).times === 'number' &&
  Object.keys(v).length === 2;

export const str = (t: Text): string => (typeof t === 'string' ? t : t.$repeat.repeat(t.times));

/** A generated value as it is sent: a copy (generated values are shared between cases), long strings spelled out. */
function expand(v: Json): Json {
  if (v === null || typeof v !== 'object') return v;
  if (isRepeat(v)) return str(v);
  if (Array.isArray(v)) return v.map(expand);
  const out: Record<string, Json> = {};
  for (const [k, x] of Object.entries(v))
    Object.defineProperty(out, k, { value: expand(x), enumerable: true, writable: true, configurable: true });
  return out;
}

const repeat = (chars: readonly string[], min: number, max: number): fc.Arbitrary<Repeat> =>
  fc.record({ $repeat: fc.constantFrom(...chars), times: fc.integer({ min, max }) });

const bigString = repeat(['a', 'é', '😀', '%', '\\', '"', '\u0000', ' '], 100, 70_000);

export const oddString: fc.Arbitrary<Text> = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...STRINGS) },
  { weight: 3, arbitrary: fc.constantFrom(...DATES) },
  { weight: 1, arbitrary: bigString },
  { weight: 2, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
);

export const oddValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 6, arbitrary: oddString },
  {
    weight: 3,
    arbitrary: fc.constantFrom<Json>(null, true, false, 0, -1, 1.5, 1e308, -1e308, 2 ** 53 + 1, 5e-324, 2147483648, -2147483649),
  },
  { weight: 2, arbitrary: fc.constantFrom<Json>([], {}, [null], { '': '' }, [[[]]], { a: { b: { c: {} } } }) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json> },
);

const path = fc.array(fc.nat({ max: 63 }), { minLength: 0, maxLength: 6 });

/** Levels of nesting: a few, or thousands (where recursive code meets the end of its stack). */
const depth = fc.oneof(fc.integer({ min: 2, max: 200 }), fc.integer({ min: 200, max: 6000 }));

/** Members whose values drive decisions: the places a mutation matters most. */
const FIELDS = [
  'reason',
  'message',
  'count',
  'type',
  'kind',
  'apiVersion',
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'involvedObject',
  'regarding',
  'series',
  'metadata',
  'ownerReferences',
  'controller',
  'status',
  'conditions',
  'containerStatuses',
  'restartCount',
  'state',
  'lastState',
  'exitCode',
  'replicas',
  'annotations',
  'labels',
  'spec',
  'template',
  'resources',
  'limits',
  'memory',
  'class',
  'severity',
  'target',
  'involved',
  'occurrences',
  'key',
  'detectedBy',
  'resolvedBy',
  'evidence',
  'verb',
  'outcome',
  'signal',
  'steps',
  'dryRun',
  'firstSeen',
  'lastSeen',
  'resolvedAt',
  'source',
  'reportingComponent',
] as const;

export const dataOp: fc.Arbitrary<DataOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('set' as const), path, value: oddValue }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), path }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('add' as const),
      path,
      key: fc.oneof(fc.constantFrom(...RESERVED, ...FIELDS), fc.string({ maxLength: 12 }), fc.constant('k'.repeat(2000))),
      value: oddValue,
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({ op: fc.constant('field' as const), key: fc.constantFrom(...FIELDS), nth: fc.nat({ max: 7 }), value: oddValue }),
  },
  {
    // Huge values where they are echoed: names, kinds and reasons travel on into replies, subjects
    // and extensions (as headers, percent-encoded: up to 12 bytes per character).
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('field' as const),
      key: fc.constantFrom('name', 'namespace', 'kind', 'reason', 'apiVersion', 'uid', 'message', 'container', 'host'),
      nth: fc.nat({ max: 3 }),
      value: repeat(['a', 'é', '😀', '%', ' '], 200, 12_000),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('date' as const),
      nth: fc.nat({ max: 7 }),
      value: fc.oneof({ weight: 4, arbitrary: fc.constantFrom<Json>(...DATES) }, { weight: 1, arbitrary: oddValue }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('deep' as const), path, depth, open: fc.constantFrom('[' as const, '{' as const) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('deepField' as const),
      key: fc.constantFrom(
        'count',
        'occurrences',
        'object',
        'evidence',
        'reason',
        'message',
        'name',
        'series',
        'status',
        'spec',
        'data',
        'metadata',
      ),
      nth: fc.nat({ max: 3 }),
      depth,
      open: fc.constantFrom('[' as const, '{' as const),
    }),
  },
);

/** Extension names: reserved ones, legal ones, and what the spec forbids (case, punctuation, length). */
export const extensionName: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...RESERVED) },
  { weight: 3, arbitrary: fc.stringMatching(/^[a-z0-9]{1,20}$/) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('Bad_Name', 'UPPER', 'with-dash', 'dot.ted', 'x y', '', 'ü', '1', 'a'.repeat(21), 'e'.repeat(300)),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);

const REQUIRED = ['id', 'source', 'type', 'specversion'] as const;

export function attrOp(types: readonly string[]): fc.Arbitrary<AttrOp> {
  return fc.oneof(
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('drop' as const), name: fc.constantFrom(...REQUIRED, 'subject', 'time', 'dataschema') }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('set' as const),
        name: fc.constantFrom(...REQUIRED, 'subject', 'time', 'dataschema', 'datacontenttype'),
        value: oddValue,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('set' as const),
        name: fc.constant('type'),
        value: fc.oneof(
          fc.constantFrom<Json>(...types),
          fc.constantFrom<Json>('DEV.REFLEX.SIGNAL.CRASHLOOP', 'dev.reflex.signal.', 'dev.reflex.signal.unknown', 'com.example.other'),
        ),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('set' as const),
        name: fc.constant('specversion'),
        value: fc.constantFrom<Json>('0.3', '1', '1.0 ', '1.00', '2.0', '', 1, 1.0, null),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('set' as const),
        name: fc.constant('dataschema'),
        value: fc.constantFrom<Json>(
          'https://reflex.dev/schemas/dev.reflex.signal.json',
          'https://reflex.dev/schemas/dev.reflex.action.json',
          'https://reflex.dev/schemas/nope.json',
          'not a uri',
          '',
        ),
      }),
    },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('set' as const), name: extensionName, value: oddValue }) },
  );
}

export const headerOp: fc.Arbitrary<HeaderOp> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ op: fc.constant('dup' as const), nth: fc.nat({ max: 15 }), value: oddString }) },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('add' as const),
      name: fc.oneof(
        fc.constantFrom(
          'ce-',
          'ce-a.b',
          'ce-x_y',
          'ce-X-Upper',
          'ce-data',
          'ce-data_base64',
          'ce-__proto__',
          'ce-constructor',
          'ce-validate',
          'ce-schemaurl',
          'ce-tojson',
          'ce-' + 'l'.repeat(300),
          'ce-knativebrokerttl',
          'ce-traceparent',
          'traceparent',
          'tracestate',
          'authorization',
          'transfer-encoding',
          'expect',
        ),
        extensionName.filter((n) => /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(n)).map((n) => `ce-${n}`),
      ),
      value: oddString,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('drop' as const), name: fc.constantFrom('content-type', 'ce-id', 'ce-type', 'ce-source') }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('raw' as const), nth: fc.nat({ max: 15 }), value: oddString }) },
);

export const bodyOp: fc.Arbitrary<BodyOp> = fc.oneof(
  fc.record({ op: fc.constant('truncate' as const), keep: fc.nat({ max: 1000 }) }),
  fc.record({ op: fc.constant('append' as const), text: fc.constantFrom(',', '}', ']', ' garbage', '\u0000', '{"a":1}', '\n\n') }),
  fc.record({ op: fc.constant('bom' as const) }),
  fc.record({ op: fc.constant('bytes' as const), hex: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('hex')) }),
);

export const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json;charset=UTF-8',
  'APPLICATION/JSON',
  'application/json; charset=utf-16',
  'application/json; charset=latin1',
  'text/json',
  'application/vnd.example+json',
  'text/plain',
  'text/plain; charset=iso-8859-1',
  'application/octet-stream',
  'application/xml',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded',
  '',
  ';',
  'application/cloudevents+json',
  'application/cloudevents+json; charset=utf-8',
  'application/cloudevents+json; charset=UTF-16',
  'APPLICATION/CLOUDEVENTS+JSON',
  'application/cloudevents',
  'application/cloudevents+avro',
  'application/cloudevents+xml',
  'application/cloudevents+protobuf',
  'application/cloudevents-batch+json',
  'application/cloudevents-batch+json; charset=utf-8',
  'application/cloudevents-batch+protobuf',
  'application/cloudevents-batch',
] as const;

const ENCODINGS = ['gzip', 'br', 'deflate', 'identity', 'GZIP', 'x-gzip', 'gzip, gzip', 'compress', 'zstd', 'unknown'] as const;

export interface Mix {
  /** Share of cases sent exactly as the seed says (valid events that reach the handler). */
  readonly pristine: number;
  readonly modes: readonly Case['mode'][];
  /** The accepted types, for type swaps. */
  readonly types: readonly string[];
  /** The body limit (REFLEX_MAX_BODY_BYTES) sizes are drawn around. */
  readonly limit: number;
}

const form: fc.Arbitrary<NonNullable<EventCase['form']>> = fc.oneof(
  fc.constantFrom('base64' as const, 'both' as const, 'badbase64' as const),
  fc.record({ notObject: fc.constantFrom<Json>(null, 1, 'event', [], [{}], true) }),
);

function eventCase(seeds: number, mix: Mix, what: { attrs?: boolean; data?: boolean; form?: boolean }): fc.Arbitrary<EventCase> {
  const seed = fc.nat({ max: seeds - 1 });
  const attrOps = what.attrs ? fc.array(attrOp(mix.types), { minLength: 1, maxLength: 3 }) : fc.constant([]);
  const dataOps = what.data ? fc.array(dataOp, { minLength: 1, maxLength: 4 }) : fc.constant([]);
  return what.form ? fc.record({ seed, attrOps, dataOps, form }) : fc.record({ seed, attrOps, dataOps });
}

/**
 * Cases for a target whose seeds are `seeds`: a share sent exactly as the seed says, the rest
 * each from one family of mutation (data, attributes, headers, content type, encoding, size, body
 * bytes, an aborted upload), and a few with all of them at once.
 */
export function cases(seeds: number, mix: Mix): fc.Arbitrary<Case> {
  const mode = fc.constantFrom(...mix.modes);
  const events = (what: Parameters<typeof eventCase>[2]) => fc.array(eventCase(seeds, mix, what), { minLength: 1, maxLength: 3 });
  const plain = events({});
  const none = { headerOps: [], bodyOps: [] } as const;
  const size = fc.oneof(
    { weight: 4, arbitrary: fc.integer({ min: mix.limit - 64, max: mix.limit + 64 }) },
    { weight: 2, arbitrary: fc.integer({ min: 1, max: mix.limit * 2 }) },
    // Compressible far past the limit: with an encoding, a small body that inflates beyond it.
    { weight: 1, arbitrary: fc.constant(mix.limit * 16) },
  );
  const encoding = fc.record({
    name: fc.constantFrom(...ENCODINGS),
    corrupt: fc.constantFrom(
      'none' as const,
      'none' as const,
      'truncate' as const,
      'garbage' as const,
      'flip' as const,
      'trailing' as const,
    ),
  });
  const contentType = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom<string | null>(...CONTENT_TYPES) },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: oddString },
  );
  const families: fc.WeightedArbitrary<Case>[] = [
    { weight: mix.pristine, arbitrary: fc.record({ mode, events: plain }).map((c) => ({ ...c, ...none })) },
    { weight: 25, arbitrary: fc.record({ mode, events: events({ data: true }) }).map((c) => ({ ...c, ...none })) },
    { weight: 12, arbitrary: fc.record({ mode, events: events({ attrs: true }) }).map((c) => ({ ...c, ...none })) },
    { weight: 4, arbitrary: fc.record({ mode, events: events({ form: true }) }).map((c) => ({ ...c, ...none })) },
    {
      weight: 10,
      arbitrary: fc
        .record({ events: plain, headerOps: fc.array(headerOp, { minLength: 1, maxLength: 3 }) })
        .map((c) => ({ ...c, mode: 'binary' as const, bodyOps: [] })),
    },
    { weight: 8, arbitrary: fc.record({ mode, events: plain, contentType }).map((c) => ({ ...c, ...none })) },
    { weight: 8, arbitrary: fc.record({ mode, events: plain, encoding }).map((c) => ({ ...c, ...none })) },
    {
      weight: 6,
      arbitrary: fc
        .record({ mode, events: plain, size, encoding: fc.option(encoding, { nil: undefined }) })
        .map((c) => ({ ...c, ...none })),
    },
    {
      weight: 5,
      arbitrary: fc
        .record({ mode, events: plain, bodyOps: fc.array(bodyOp, { minLength: 1, maxLength: 2 }) })
        .map((c) => ({ ...c, headerOps: [] })),
    },
    { weight: 2, arbitrary: fc.record({ mode, events: plain, abortAt: fc.integer({ min: 0, max: 999 }) }).map((c) => ({ ...c, ...none })) },
    { weight: 4, arbitrary: fc.record({ mode, events: plain, frame: fc.constantFrom(...FRAMES) }).map((c) => ({ ...c, ...none })) },
    {
      weight: 5,
      arbitrary: fc.record({
        mode,
        events: fc.array(eventCase(seeds, mix, { attrs: true, data: true, form: true }), { maxLength: 3 }),
        contentType,
        headerOps: fc.array(headerOp, { maxLength: 3 }),
        bodyOps: fc.array(bodyOp, { maxLength: 1 }),
        encoding,
        size,
      }),
    },
  ];
  return fc.oneof(...families.filter((f) => f.weight > 0));
}

// ---------------------------------------------------------------------------------------------
// Rendering

const DEEP = '@@fuzz-deep@@';

/**
 * A member set as JSON.parse would (own property, even for __proto__), to a copy of the value:
 * generated values are shared between cases and must never be changed (nor made cyclic) by one.
 */
function put(o: Record<string, Json> | Json[], key: string | number, value: Json): void {
  Object.defineProperty(o, key, { value: expand(value), enumerable: true, writable: true, configurable: true });
}

type Container = Record<string, Json> | Json[];
const isContainer = (v: Json | undefined): v is Container => typeof v === 'object' && v !== null;

/** The container and key `path` leads to (the last step picks a member of the last container reached). */
function locate(root: { v: Json }, p: Path): { parent: Container; key: string | number } | undefined {
  let parent: Container = root as unknown as Container;
  let key: string | number = 'v';
  for (const n of p) {
    const cur: Json = (parent as Record<string, Json>)[key as string]!;
    if (!isContainer(cur)) break;
    const keys: (string | number)[] = Array.isArray(cur) ? cur.map((_, i) => i) : Object.keys(cur);
    if (keys.length === 0) break;
    parent = cur;
    key = keys[n % keys.length]!;
  }
  return { parent, key };
}

/** Every [container, key] whose member satisfies `pred`, depth first. */
function members(
  v: Json,
  pred: (key: string | number, value: Json) => boolean,
  out: [Container, string | number][] = [],
): [Container, string | number][] {
  if (!isContainer(v)) return out;
  const entries: [string | number, Json][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
  for (const [k, x] of entries) {
    if (pred(k, x)) out.push([v, k]);
    members(x, pred, out);
  }
  return out;
}

const TIMESTAMP = /^[+-]?\d{4,6}-\d\d-\d\d[T ]/;

type Deep = { depth: number; open: '[' | '{' };

/** The member of the nth match of `pred` (modulo their count), set to `value`. */
function setNth(root: { v: Json }, nth: number, value: Json, pred: (key: string | number, value: Json) => boolean): void {
  const found = members(root.v, pred);
  const hit = found[nth % Math.max(1, found.length)];
  if (hit) put(hit[0], hit[1], value);
}

/** One operation on the data (a copy under `root.v`); the nesting to splice in, for `deep`. */
function applyDataOp(root: { v: Json }, op: DataOp): Deep | undefined {
  if (op.op === 'field') return void setNth(root, op.nth, op.value, (k) => k === op.key);
  if (op.op === 'date') return void setNth(root, op.nth, op.value, (_k, x) => typeof x === 'string' && TIMESTAMP.test(x));
  if (op.op === 'deepField') {
    setNth(root, op.nth, DEEP, (k) => k === op.key);
    return { depth: op.depth, open: op.open };
  }
  const at = locate(root, op.path);
  if (!at) return undefined;
  switch (op.op) {
    case 'set':
      put(at.parent, at.key, op.value);
      return undefined;
    case 'delete':
      if (at.parent === (root as unknown as Container)) return undefined;
      if (Array.isArray(at.parent)) at.parent.splice(Number(at.key), 1);
      else Reflect.deleteProperty(at.parent, at.key);
      return undefined;
    case 'add': {
      const target = (at.parent as Record<string, Json>)[at.key as string];
      if (Array.isArray(target)) target.push(op.value);
      else if (isContainer(target)) put(target, op.key, op.value);
      return undefined;
    }
    case 'deep':
      put(at.parent, at.key, DEEP);
      return { depth: op.depth, open: op.open };
  }
}

export function mutateData(data: Json | undefined, ops: readonly DataOp[]): { data: Json | undefined; deep?: Deep } {
  if (ops.length === 0) return { data };
  // A copy as JSON.parse makes it: own members, __proto__ included.
  const root = { v: data === undefined ? null : (JSON.parse(JSON.stringify(data)) as Json) };
  let deep: Deep | undefined;
  for (const op of ops) deep = applyDataOp(root, op) ?? deep;
  return { data: root.v, ...(deep ? { deep } : {}) };
}

function deepText(depth: number, open: '[' | '{'): string {
  return open === '[' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** A value as JSON text, with the nesting a `deep` operation asked for spliced in. */
export function toJson(value: unknown, deep?: { depth: number; open: '[' | '{' }): string {
  const text = JSON.stringify(value) ?? 'null';
  return deep ? text.split(JSON.stringify(DEEP)).join(deepText(deep.depth, deep.open)) : text;
}

/** The attributes after the case's attribute operations (extensions included). */
function attributes(seed: Seed, ops: readonly AttrOp[]): Record<string, Json> {
  const attrs: Record<string, Json> = {};
  for (const [k, v] of Object.entries(seed.attrs)) put(attrs, k, v);
  for (const op of ops) {
    if (op.op === 'drop') Reflect.deleteProperty(attrs, op.name);
    else put(attrs, op.name, op.value);
  }
  return attrs;
}

/** Header values: percent-encoded UTF-8 where the binding says so (§3.1.3.2). */
export function percentEncode(value: string): string {
  return value.replace(/[^\x21\x23\x24\x26-\x7e]/gu, (ch) => (ch.isWellFormed() ? encodeURIComponent(ch) : '%EF%BF%BD'));
}

/** A string's UTF-8 bytes as a latin-1 string: node:http then writes those bytes as they are. */
const rawBytes = (s: string): string =>
  Buffer.from(s, 'utf8')
    .toString('latin1')
    .replace(/[\r\n\u0000-\u0008\u000a-\u001f\u007f]/g, '?');

/** Pads a JSON text to about `size` bytes: inside its data where it is an object, else with whitespace. */
function pad(text: string, size: number, where: 'data' | 'outer'): string {
  const missing = size - Buffer.byteLength(text);
  if (missing <= 0) return text;
  if (where === 'data' && text.endsWith('}') && missing > 20) {
    const filler = 'p'.repeat(missing - 16);
    return text.length > 2 ? `${text.slice(0, -1)},"zzpadding":"${filler}"}` : `{"zzpadding":"${filler}"}`;
  }
  return text + ' '.repeat(missing);
}

function encode(body: Buffer, encoding: NonNullable<Case['encoding']>): Buffer {
  const name = encoding.name.toLowerCase();
  let out =
    name === 'gzip' || name === 'x-gzip'
      ? gzipSync(body)
      : name === 'br'
        ? brotliCompressSync(body)
        : name === 'deflate'
          ? deflateSync(body)
          : name === 'gzip, gzip'
            ? gzipSync(gzipSync(body))
            : body;
  switch (encoding.corrupt) {
    case 'truncate':
      out = out.subarray(0, Math.max(1, Math.floor(out.length / 2)));
      break;
    case 'garbage':
      out = Buffer.from('this is not a compressed stream at all');
      break;
    case 'flip':
      out = Buffer.from(out);
      if (out.length > 12) out[Math.floor(out.length / 2)]! ^= 0xff;
      break;
    case 'trailing':
      out = Buffer.concat([out, Buffer.from('trailing bytes')]);
      break;
    case 'none':
      break;
  }
  return out;
}

/** The event in the JSON event format, as text. */
function structuredText(seed: Seed, e: EventCase): string {
  if (typeof e.form === 'object') return JSON.stringify(e.form.notObject);
  const attrs = attributes(seed, e.attrOps);
  const { data, deep } = mutateData(seed.data, e.dataOps);
  const members: string[] = Object.entries(attrs).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v) ?? 'null'}`);
  if (data !== undefined) {
    const text = toJson(data, deep);
    if (e.form === undefined || e.form === 'both') members.push(`"data":${text}`);
    if (e.form !== undefined) {
      members.push(`"data_base64":${JSON.stringify(e.form === 'badbase64' ? '!!not base64!!' : Buffer.from(text).toString('base64'))}`);
      if (!('datacontenttype' in attrs)) members.push('"datacontenttype":"application/json"');
    }
  }
  return `{${members.join(',')}}`;
}

type Headers = Record<string, string | string[]>;

/** Binary mode: attributes as ce-* headers, the data as the body. */
function binary(c: Case, seedOf: (e: EventCase) => Seed, headers: Headers): string {
  const e = c.events[0] ?? { seed: 0, attrOps: [{ op: 'drop', name: 'id' }], dataOps: [] };
  const seed = seedOf(e);
  const attrs = attributes(seed, e.attrOps);
  for (const [k, v] of Object.entries(attrs)) {
    const name = `ce-${k}`.toLowerCase();
    // Header names are HTTP tokens: what cannot be one is skipped, as a client would have to.
    if (k === 'datacontenttype' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || name === 'ce-__proto__') continue;
    headers[name] = percentEncode(typeof v === 'string' ? v : (JSON.stringify(v) ?? ''));
  }
  const dct = attrs['datacontenttype'];
  const type = typeof dct === 'string' ? percentEncode(dct) : 'application/json';
  headers['content-type'] = type;
  const { data, deep } = mutateData(seed.data, e.dataOps);
  if (data === undefined) return '';
  return typeof data === 'string' && type.startsWith('text/') ? data : toJson(data, deep);
}

function applyHeaderOps(ops: readonly HeaderOp[], headers: Headers): void {
  const names = Object.keys(headers).filter((k) => k.startsWith('ce-'));
  const nth = (n: number): string | undefined => names[n % Math.max(1, names.length)];
  for (const op of ops) {
    if (op.op === 'add') headers[op.name.toLowerCase()] = percentEncode(str(op.value));
    else if (op.op === 'drop') Reflect.deleteProperty(headers, op.name);
    else {
      const name = nth(op.nth);
      const current = name === undefined ? undefined : headers[name];
      if (name === undefined || typeof current !== 'string') continue;
      headers[name] = op.op === 'dup' ? [current, percentEncode(str(op.value))] : rawBytes(str(op.value));
    }
  }
}

function applyBodyOp(body: Buffer, op: BodyOp): Buffer {
  switch (op.op) {
    case 'truncate':
      return body.subarray(0, Math.min(body.length, op.keep));
    case 'append':
      return Buffer.concat([body, Buffer.from(op.text)]);
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), body]);
    case 'bytes':
      return Buffer.from(op.hex, 'hex');
  }
}

/** The bytes on the wire for a case. */
export function render(c: Case, seeds: readonly Seed[]): Outgoing {
  const headers: Headers = {};
  const seedOf = (e: EventCase): Seed => seeds[e.seed % seeds.length]!;
  let text: string;
  if (c.mode === 'binary' || c.events.length === 0) text = binary(c, seedOf, headers);
  else if (c.mode === 'structured') {
    headers['content-type'] = 'application/cloudevents+json; charset=utf-8';
    text = structuredText(seedOf(c.events[0]!), c.events[0]!);
  } else {
    headers['content-type'] = 'application/cloudevents-batch+json';
    text = `[${c.events.map((e) => structuredText(seedOf(e), e)).join(',')}]`;
  }
  if (c.contentType === null) Reflect.deleteProperty(headers, 'content-type');
  else if (c.contentType !== undefined) headers['content-type'] = rawBytes(str(c.contentType));
  applyHeaderOps(c.headerOps, headers);
  if (c.size !== undefined) text = pad(text, c.size, c.mode === 'binary' ? 'data' : 'outer');
  let body = c.bodyOps.reduce(applyBodyOp, Buffer.from(text) as Buffer);
  if (c.encoding) {
    headers['content-encoding'] = c.encoding.name;
    body = encode(body, c.encoding);
  }
  const abortAfter = c.abortAt !== undefined && body.length > 1 ? Math.floor((body.length * c.abortAt) / 1000) : undefined;
  return { headers, body, ...(abortAfter !== undefined ? { abortAfter } : {}) };
}

/** A short account of a case for failure messages: the request as sent, long values cut. */
export function describeRequest(out: Outgoing): string {
  const cut = (s: string): string => (s.length > 200 ? `${s.slice(0, 200)}…(${s.length} chars)` : s);
  const headers = Object.entries(out.headers).map(([k, v]) => `${k}: ${cut(JSON.stringify(v))}`);
  return `${headers.join('\n')}\n\n${cut(out.body.toString('utf8'))} (${out.body.length} bytes${out.abortAfter !== undefined ? `, cut after ${out.abortAfter}` : ''})`;
}
