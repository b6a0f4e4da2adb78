/**
 * test/cluster/knative-generators — what the differential test asks Knative and the development
 * broker: generated Triggers (every dialect, nested, empty and odd values, wrong types, unknown
 * fields, CESQL from the TCK and generated), Brokers, CloudEvents, delivery specs and ISO-8601
 * durations. Plain JSON, so a failing case prints as what was sent.
 */
import fc from 'fast-check';
import { goTimestamp } from '../../dev/mesh/filters.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

/** Context attributes LookupAttribute knows (sdk-go's aliases included), and extensions the events carry. */
export const CONTEXT_NAMES = [
  'type',
  'source',
  'subject',
  'id',
  'time',
  'specversion',
  'dataschema',
  'datacontenttype',
  'schemaurl',
  'datamediatype',
];
export const EXTENSIONS = ['kind', 'namespace', 'reflexclass', 'myextension', 'n', 'flag', 'sequence'];
/** Names the webhook refuses (validAttributeName). */
const BAD_NAMES = ['A', 'Type', '1x', '', 'my-ext', 'ext_1', 'ünï', 'x y'];

const TYPES = [
  'dev.reflex.signal.crashloop',
  'dev.reflex.signal.oomkilled',
  'dev.knative.apiserver.resource.add',
  'com.example.someevent',
  'x',
];
const SOURCES = ['/apis/v1/namespaces/shop', 'https://10.96.0.1:443', 'knativesource', 'urn:reflex:classify', '/a%20b'];
const SUBJECTS = ['/apis/v1/namespaces/shop/pods/web-1', 'mysubject', 'ünïcode', 'a b'];
const STRINGS = ['Pod', 'shop', 'crashloop', 'oomkilled', 'my-extension-value', '5', 'true', 'ünï', ' ', '10'];
const CONTENT_TYPES = ['application/json', 'text/plain; charset=utf-8', 'application/xml;x=1', 'text/csv'];
const SCHEMAS = ['https://reflex.dev/schemas/signal.json', 'wow', '/relative/schema'];
const TIMES = {
  date: ['2024-01-01', '2020-02-29', '1999-12-31', '2024-06-30'],
  clock: ['00:00:00', '23:59:59', '12:34:56'],
  fraction: ['', '.0', '.5', '.123', '.123456789', '.100', '.000000001'],
  zone: ['Z', '+01:00', '-05:30', '+00:00', '+14:00'],
};

/** Values filters look for: the events' own values, their prefixes and suffixes, and odd ones. */
const VALUES = [
  ...TYPES,
  ...SOURCES,
  ...SUBJECTS,
  ...STRINGS,
  ...CONTENT_TYPES,
  ...SCHEMAS,
  'dev.reflex.',
  'dev.',
  '/apis/',
  'crashloop',
  '.add',
  'https://',
  '1.0',
  '0',
  '-3',
  'application/json',
  'text/plain',
  '2024-01-01T00:00:00Z',
  '2024-01-01T00:00:00.5Z',
  'DEV.REFLEX',
  '%',
];

const pick = <T>(xs: readonly T[]): fc.Arbitrary<T> => fc.constantFrom(...xs);

export const time: fc.Arbitrary<string> = fc
  .record({ date: pick(TIMES.date), clock: pick(TIMES.clock), fraction: pick(TIMES.fraction), zone: pick(TIMES.zone) })
  .map((t) => `${t.date}T${t.clock}${t.fraction}${t.zone}`);

const extensionValue: fc.Arbitrary<Json> = fc.oneof(
  { arbitrary: pick(STRINGS), weight: 5 },
  { arbitrary: pick([0, 5, -3, 10, 2147483647, -2147483648]), weight: 3 },
  { arbitrary: fc.boolean(), weight: 2 },
);

const maybe = <T>(a: fc.Arbitrary<T>, freq: number): fc.Arbitrary<T | undefined> => fc.option(a, { freq, nil: undefined });

/** A CloudEvent in the JSON format (no data: filters never read it). `time` is absent one time in ten. */
export const event: fc.Arbitrary<Obj> = fc
  .record({
    type: pick(TYPES),
    source: pick(SOURCES),
    id: pick(['1', 'abc-1']),
    subject: maybe(pick(SUBJECTS), 2),
    time: maybe(time, 10),
    dataschema: maybe(pick(SCHEMAS), 3),
    datacontenttype: maybe(pick(CONTENT_TYPES), 3),
    extensions: fc.dictionary(pick(EXTENSIONS), extensionValue, { maxKeys: 4 }),
  })
  .map(({ extensions, ...attrs }) => {
    const present = Object.fromEntries(Object.entries(attrs).filter(([, v]) => v !== undefined)) as Obj;
    return { specversion: '1.0', ...present, ...extensions };
  });

/** An empty value is taken by the webhook (only names are checked) and makes Knative skip that filter. */
const valueFor = (odd: boolean): fc.Arbitrary<string> =>
  fc.oneof({ arbitrary: pick(VALUES), weight: odd ? 8 : 20 }, { arbitrary: fc.constant(''), weight: 1 });
const nameFor = (odd: boolean): fc.Arbitrary<string> =>
  odd
    ? fc.oneof({ arbitrary: pick([...CONTEXT_NAMES, ...EXTENSIONS]), weight: 10 }, { arbitrary: pick(BAD_NAMES), weight: 1 })
    : pick([...CONTEXT_NAMES, ...EXTENSIONS]);

/** [name, value] pairs taken from the events a filter will meet, so that filters match often. */
export type Seen = readonly (readonly [string, string])[];

/**
 * What the events hold, as filters might name it: each value whole, its first and second half;
 * `time` also as Knative formats it (UTC); `schemaurl` and `datamediatype` as sdk-go derives them.
 */
export function observed(events: readonly Obj[]): Seen {
  const out: [string, string][] = [];
  const add = (k: string, v: string): void => {
    const half = Math.ceil(v.length / 2);
    out.push([k, v], [k, v.slice(0, half)], [k, v.slice(half)]);
  };
  for (const e of events)
    for (const [k, v] of Object.entries(e)) {
      const text = String(v);
      add(k, text);
      if (k === 'time') add(k, goTimestamp(text));
      if (k === 'dataschema') add('schemaurl', text);
      if (k === 'datacontenttype') add('datamediatype', text.includes(';') ? text.slice(0, text.indexOf(';')).trim() : text);
    }
  return out.filter(([, v]) => v !== '');
}

export const attributeMap = (odd: boolean, minKeys = 1, seen: Seen = []): fc.Arbitrary<Obj> => {
  const random = fc.dictionary(nameFor(odd), valueFor(odd), { minKeys, maxKeys: 3 });
  if (seen.length === 0) return random;
  const fromSeen = fc
    .array(fc.oneof({ arbitrary: pick(seen), weight: 4 }, { arbitrary: fc.tuple(nameFor(odd), valueFor(odd)), weight: 1 }), {
      minLength: minKeys,
      maxLength: 3,
    })
    .map((pairs) => Object.fromEntries(pairs) as Obj);
  return fc.oneof({ arbitrary: fromSeen, weight: 4 }, { arbitrary: random, weight: 1 });
};

/** CESQL comparing what the events hold: `type = '…'`, `subject LIKE '…%'`. */
const CESQL_NAME =
  /^(type|source|subject|id|time|specversion|dataschema|datacontenttype|kind|namespace|reflexclass|myextension|n|flag|sequence)$/;
const quoted = (v: string): string => `'${v.replace(/'/g, "\\'")}'`;
function cesqlOn(seen: Seen): fc.Arbitrary<string> {
  const usable = seen.filter(([k]) => CESQL_NAME.test(k));
  if (usable.length === 0) return cesql;
  return fc
    .tuple(pick(usable), pick(['=', '!=', 'LIKE', 'NOT LIKE', '<', '>=']), pick(['%', '', '_%']))
    .map(([[k, v], op, wild]) => (op.includes('LIKE') ? `${k} ${op} ${quoted(v + wild)}` : `${k} ${op} ${quoted(v)}`));
}

// ---------------------------------------------------------------------------------------------
// CESQL

const IDENTS = ['type', 'source', 'subject', 'id', 'time', 'specversion', 'dataschema', 'datacontenttype', ...EXTENSIONS, 'missing'];
const LITERALS = [
  "'dev.reflex.signal.crashloop'",
  "'shop'",
  "''",
  "'5'",
  "'true'",
  '"Pod"',
  "'ünï'",
  '0',
  '5',
  '-3',
  '10',
  '2147483647',
  'TRUE',
  'false',
];
const PATTERNS = ["'dev.%'", "'%crash%'", "'_'", "'%'", "'dev.reflex.signal.crashloop'", "'%\\%'", "'shop'"];

/** Generated expressions over the events' attributes: Boolean ones mostly, a few of another type (Knative panics on those). */
export const cesql: fc.Arbitrary<string> = (() => {
  const { value, bool } = fc.letrec<{ value: string; bool: string }>((tie) => ({
    value: fc.oneof(
      { maxDepth: 2, depthSize: 'small' },
      pick(IDENTS),
      pick(LITERALS),
      fc.tuple(pick(['LENGTH', 'UPPER', 'LOWER', 'TRIM', 'ABS', 'INT', 'STRING', 'BOOL']), tie('value')).map(([f, v]) => `${f}(${v})`),
      fc
        .tuple(pick(['CONCAT', 'LEFT', 'RIGHT', 'SUBSTRING', 'CONCAT_WS']), tie('value'), tie('value'))
        .map(([f, a, b]) => `${f}(${a}, ${b})`),
      fc.tuple(tie('value'), pick(['+', '-', '*', '/', '%']), tie('value')).map(([a, op, b]) => `(${a} ${op} ${b})`),
      tie('value').map((v) => `-${v}`),
    ),
    bool: fc.oneof(
      { maxDepth: 3, depthSize: 'small' },
      fc.tuple(tie('value'), pick(['=', '!=', '<>', '<', '<=', '>', '>=']), tie('value')).map(([a, op, b]) => `${a} ${op} ${b}`),
      fc.tuple(tie('value'), pick(['LIKE', 'NOT LIKE']), pick(PATTERNS)).map(([a, op, p]) => `${a} ${op} ${p}`),
      pick(IDENTS).map((i) => `EXISTS ${i}`),
      fc
        .tuple(tie('value'), pick(['IN', 'NOT IN']), fc.array(tie('value'), { minLength: 1, maxLength: 3 }))
        .map(([a, op, xs]) => `${a} ${op} (${xs.join(', ')})`),
      tie('bool').map((b) => `NOT ${b}`),
      fc.tuple(tie('bool'), pick(['AND', 'OR', 'XOR']), tie('bool')).map(([a, op, b]) => `(${a}) ${op} (${b})`),
      pick(['TRUE', 'FALSE', 'true']),
      tie('value').map((v) => `BOOL(${v})`),
      tie('value').map((v) => `IS_INT(${v})`),
    ),
  }));
  return fc.oneof({ arbitrary: bool, weight: 12 }, { arbitrary: value, weight: 1 });
})();

/** Broken on purpose: what the webhook's CESQL parser must refuse (or, where the grammar allows, accept). */
const brokenCesql: fc.Arbitrary<string> = fc
  .tuple(cesql, pick([' =', ' AND', '(', ')', " 'x", ' 1 2', ' LIKE type', ', 1', '!', ' ==', ' ~', ' IN ()']))
  .map(([e, junk]) => `${e}${junk}`);

// ---------------------------------------------------------------------------------------------
// Triggers

export type Filter = Obj;

/** Filter items: every dialect, nested; with `odd`, also empty, doubled, mistyped and unknown ones. */
export function filterItem(odd: boolean, tck: readonly string[], seen: Seen = []): fc.Arbitrary<Filter> {
  const expression = fc.oneof(
    { arbitrary: cesql, weight: 3 },
    ...(tck.length > 0 ? [{ arbitrary: pick(tck), weight: 1 }] : []),
    ...(seen.length > 0 ? [{ arbitrary: cesqlOn(seen), weight: 3 }] : []),
  );
  const { item } = fc.letrec<{ item: Filter }>((tie) => ({
    item: fc.oneof(
      { maxDepth: 3, depthSize: 'small' },
      { arbitrary: attributeMap(odd, 1, seen).map((m) => ({ exact: m })), weight: 4 },
      { arbitrary: attributeMap(odd, 1, seen).map((m) => ({ prefix: m })), weight: 3 },
      { arbitrary: attributeMap(odd, 1, seen).map((m) => ({ suffix: m })), weight: 3 },
      { arbitrary: fc.array(tie('item'), { maxLength: 3 }).map((all) => ({ all })), weight: 2 },
      { arbitrary: fc.array(tie('item'), { maxLength: 3 }).map((any) => ({ any })), weight: 2 },
      { arbitrary: tie('item').map((not) => ({ not })), weight: 2 },
      { arbitrary: (odd ? fc.oneof(expression, brokenCesql) : expression).map((e) => ({ cesql: e })), weight: 3 },
      // No dialect: Knative filters nothing with these (and its webhook takes them).
      { arbitrary: pick<Filter>([{}, { not: {} }, { not: null }, { all: [] }, { any: [] }, { exact: {} }, { cesql: '' }]), weight: 1 },
      ...(odd ? [{ arbitrary: oddItem(tie('item')), weight: 2 }] : []),
    ),
  }));
  return item;
}

function oddItem(inner: fc.Arbitrary<Filter>): fc.Arbitrary<Filter> {
  return fc.oneof(
    // Two dialects (refused), or one with an empty other (taken: an empty map is no dialect).
    fc.tuple(attributeMap(false), attributeMap(false)).map(([a, b]) => ({ exact: a, prefix: b })),
    fc.tuple(attributeMap(false), inner).map(([a, n]) => ({ suffix: a, not: n })),
    attributeMap(false).map((a) => ({ exact: {}, prefix: a })),
    fc.tuple(cesql, inner).map(([c, n]) => ({ cesql: c, all: [n] })),
    // Wrong types and unknown fields: the webhook cannot decode them.
    pick<Filter>([
      { foo: 1 },
      { exact: 'type' },
      { exact: { type: 1 } },
      { exact: { type: null } },
      { all: {} },
      { not: [] },
      { cesql: 5 },
      { all: [null] },
      { any: [{}, null] },
      { exact: { type: true } },
    ]),
  );
}

const destination = (odd: boolean): fc.Arbitrary<Json> => {
  const ref = fc.record({
    apiVersion: pick(['serving.knative.dev/v1', 'v1']),
    kind: pick(['Service', 'Broker']),
    name: pick(['recover', 'notify', 'deadletter']),
  });
  const good = fc.oneof(
    { arbitrary: ref.map((r) => ({ ref: r })), weight: 6 },
    { arbitrary: pick(['http://example.com/hook', 'https://h:8443/x?y=1']).map((uri) => ({ uri })), weight: 2 },
    { arbitrary: fc.tuple(ref, pick(['/path', 'sub/path', ''])).map(([r, uri]) => ({ ref: r, uri })), weight: 1 },
    { arbitrary: ref.map((r) => ({ ref: { ...r, namespace: 'reflex' } })), weight: 1 },
  );
  if (!odd) return good;
  return fc.oneof(
    { arbitrary: good, weight: 8 },
    {
      arbitrary: pick<Json>([
        {},
        null,
        { ref: { kind: 'Service', name: 'recover' } },
        { ref: { apiVersion: 'serving.knative.dev/v1', name: 'recover' } },
        { ref: { apiVersion: 'v1', kind: 'Service' } },
        { ref: { apiVersion: 'v1', kind: 'Service', name: 'x', group: 'serving.knative.dev' } },
        { ref: { kind: 'Service' }, uri: '/relative' },
        { ref: { apiVersion: 'v1', kind: 'Service', name: 'x' }, uri: 'http://absolute/' },
        { uri: '/relative' },
        { uri: 'http://' },
        { uri: 'http://h:port/' },
        { uri: 'http://%zz/' },
        { uri: 'mailto:x@example.com' },
        { uri: 5 },
        { uri: 'http://example.com/', CACerts: 'not a certificate' },
        { uri: 'http://example.com/', CACerts: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' },
        { ref: { apiVersion: 'v1', kind: 'Service', name: 'x' }, CACerts: 'garbage' },
        { ref: { apiVersion: 'v1', kind: 'Service', name: 'x', address: 'a' }, audience: 'aud' },
        { ref: { apiVersion: 'v1', kind: 'Service', name: 'x', colour: 'blue' } },
        { refs: [] },
      ]),
      weight: 3,
    },
  );
};

/** ISO-8601 durations Knative writes, and ones its parser (rickb777/date) reads in its own way. */
export const duration: fc.Arbitrary<string> = fc.oneof(
  pick([
    'PT0.5S',
    'PT0.2S',
    'PT1S',
    'PT30S',
    'PT1M',
    'PT1H2M3S',
    'P1D',
    'PT0S',
    'P0',
    'PT0.05S',
    'PT0.25S',
    'PT1.55M',
    'P1W',
    'P1Y',
    'P1M',
    'P1DT',
    'PT',
    'P',
    '30s',
    '',
    'PT-5S',
    '-PT1S',
    '+PT1S',
    'PT1,5S',
    'P.5D',
    'P5.D',
    'PT1.2.3S',
    'P1Y2M3W4DT5H6M7.8S',
    'PT100000S',
    'PT1H1D',
    'P1D2Y',
    'P-1D',
    '-P-1D',
    'PT 1S',
    'pt1s',
    'PT1s',
    'P1.5M1D',
    'P0.5Y',
    'PT36000H',
    'P40000D',
    'PT1e3S',
    'PTS',
    '-',
    'P0D',
  ]),
  fc
    .record(
      {
        sign: pick(['', '', '', '-', '+']),
        y: fc.integer({ min: 0, max: 3 }),
        mo: fc.integer({ min: 0, max: 14 }),
        w: fc.integer({ min: 0, max: 2 }),
        d: fc.integer({ min: 0, max: 40 }),
        h: fc.integer({ min: 0, max: 30 }),
        m: fc.integer({ min: 0, max: 90 }),
        s: fc.integer({ min: 0, max: 4000 }),
        frac: pick(['', '.5', '.25', ',5', '.05', '.999']),
        which: fc.integer({ min: 1, max: 127 }),
      },
      { requiredKeys: ['sign', 'y', 'mo', 'w', 'd', 'h', 'm', 's', 'frac', 'which'] },
    )
    .map(({ sign, y, mo, w, d, h, m, s, frac, which }) => {
      const on = (bit: number): boolean => (which & bit) !== 0;
      const date = `${on(1) ? `${y}Y` : ''}${on(2) ? `${mo}M` : ''}${on(4) ? `${w}W` : ''}${on(8) ? `${d}D` : ''}`;
      const clock = `${on(16) ? `${h}H` : ''}${on(32) ? `${m}M` : ''}${on(64) ? `${s}${frac}S` : ''}`;
      return `${sign}P${date}${clock ? `T${clock}` : ''}`;
    }),
);

export const delivery = (odd: boolean): fc.Arbitrary<Json> =>
  fc.record(
    {
      retry: odd
        ? fc.oneof(fc.integer({ min: 0, max: 12 }), pick<Json>([-1, 1.5, '3', 2147483648, null]))
        : fc.integer({ min: 0, max: 12 }),
      backoffPolicy: odd ? pick<Json>(['exponential', 'linear', 'Exponential', 'fibonacci', '']) : pick(['exponential', 'linear']),
      backoffDelay: odd ? duration : pick(['PT0.2S', 'PT0.5S', 'PT1S', 'PT0.05S', 'P1W']),
      timeout: odd ? duration : pick(['PT30S', 'PT1S', 'PT1.55M']),
      format: odd ? pick<Json>(['json', 'binary', 'xml']) : pick(['json', 'binary']),
      deadLetterSink: destination(odd),
      ...(odd ? { retryAfterMax: pick(['PT10S']), colour: pick(['blue']) } : {}),
    },
    { requiredKeys: [] },
  );

const triggerAnnotations: fc.Arbitrary<Obj | undefined> = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 12 },
  {
    arbitrary: pick<Obj>([
      { 'eventing.knative.dev/injection': 'enabled' },
      { 'eventing.knative.dev/injection': 'yes' },
      { 'knative.dev/dependency': '{"kind":"PingSource","name":"p","apiVersion":"sources.knative.dev/v1"}' },
      { 'knative.dev/dependency': '{"kind":"PingSource"}' },
      { 'knative.dev/dependency': 'not json' },
      { 'knative.dev/dependency': '{"kind":"PingSource","name":"p","apiVersion":"v1","namespace":"other"}' },
    ]),
    weight: 1,
  },
);

/**
 * A whole Trigger object. `valid`: one the webhook takes (nearly always); `one`: such a Trigger
 * with one part written oddly; `odd`: every part may be. `seen` biases filters toward the values
 * of the events they will meet.
 */
export function trigger(mode: 'valid' | 'one' | 'odd', tck: readonly string[], seen: Seen = []): fc.Arbitrary<Obj> {
  const filterSpec = (odd: boolean): fc.Arbitrary<Obj> => {
    const filters = fc.array(filterItem(odd, tck, seen), { minLength: odd ? 0 : 1, maxLength: 3 });
    return fc.oneof(
      { arbitrary: filters.map((f) => ({ filters: f as Json })), weight: 7 },
      { arbitrary: attributeMap(odd, 0, seen).map((attributes) => ({ filter: { attributes } as Json })), weight: 3 },
      {
        arbitrary: fc
          .tuple(filters, attributeMap(odd, 1, seen))
          .map(([f, attributes]) => ({ filters: f as Json, filter: { attributes } as Json })),
        weight: 1,
      },
      { arbitrary: fc.constant({}), weight: 1 },
      ...(odd
        ? [
            {
              arbitrary: pick<Obj>([
                { filters: null },
                { filters: {} },
                { filter: 'type' },
                { filter: { attributes: null } },
                { filter: { attrs: {} } },
                { filter: null },
              ]),
              weight: 1,
            },
          ]
        : []),
    );
  };
  const brokerPart = (odd: boolean): fc.Arbitrary<Obj> =>
    odd
      ? pick<Obj>([
          {},
          { broker: '' },
          { broker: null },
          { broker: 5 },
          { brokerRef: { name: 'default' } },
          { brokerRef: { name: 'default', namespace: 'other' } },
          { broker: 'default', brokerRef: { name: 'default' } },
          // A field named in another case: Go's decoder takes it (never beside its lower-case twin,
          // which Go would merge in order; YAML refuses duplicate keys, not case variants).
          { Broker: 'default' },
        ])
      : fc.constant<Obj>({ broker: 'default' });
  const extraPart = (odd: boolean): fc.Arbitrary<Obj> =>
    odd ? pick<Obj>([{ filterz: [] }, { status: {} }, { subscribers: [] }]) : fc.constant({});
  const annotationsPart = (odd: boolean): fc.Arbitrary<Obj | undefined> => (odd ? triggerAnnotations : fc.constant(undefined));
  const optionalDelivery = (odd: boolean): fc.Arbitrary<Json | undefined> => fc.option(delivery(odd), { nil: undefined, freq: 3 });
  const PARTS = 6;
  const oddAt =
    mode === 'one' ? fc.integer({ min: 0, max: PARTS - 1 }).map((i) => (n: number) => n === i) : fc.constant((_: number) => mode === 'odd');
  return oddAt.chain((odd) =>
    fc
      .record({
        broker: brokerPart(odd(0)),
        filterSpec: filterSpec(odd(1)),
        subscriber: destination(odd(2)),
        delivery: optionalDelivery(odd(3)),
        annotations: annotationsPart(odd(4)),
        extra: extraPart(odd(5)),
      })
      .map((t) => ({
        apiVersion: 'eventing.knative.dev/v1',
        kind: 'Trigger',
        metadata: { name: 'generated', namespace: 'reflex', ...(t.annotations ? { annotations: t.annotations } : {}) },
        spec: {
          ...t.broker,
          ...t.filterSpec,
          ...(t.subscriber === undefined ? {} : { subscriber: t.subscriber }),
          ...(t.delivery === undefined ? {} : { delivery: t.delivery }),
          ...t.extra,
        },
      })),
  );
}

/** A Broker: half as one would write it, half with something odd (config, delivery, class, a field). */
export const broker: fc.Arbitrary<Obj> = fc
  .record({
    odd: fc.boolean(),
    config: fc.option(
      pick<Json>([
        { apiVersion: 'v1', kind: 'ConfigMap', name: 'config-br-default-channel', namespace: 'knative-eventing' },
        { kind: 'ConfigMap', name: 'x' },
        { apiVersion: 'v1', kind: 'ConfigMap' },
        null,
      ]),
      { nil: undefined },
    ),
    delivery: fc.option(
      fc.boolean().chain((odd) => delivery(odd)),
      { nil: undefined },
    ),
    annotation: fc.option(pick(['MTChannelBasedBroker', 'Kafka', '']), { nil: undefined, freq: 2 }),
    extra: fc.option(pick<Obj>([{ channel: {} }, { Config: null }]), { nil: undefined, freq: 8 }),
  })
  .map((b) => ({
    apiVersion: 'eventing.knative.dev/v1',
    kind: 'Broker',
    metadata: {
      name: 'reflex',
      namespace: 'reflex',
      ...(b.annotation !== undefined ? { annotations: { 'eventing.knative.dev/broker.class': b.annotation } } : {}),
    },
    spec: {
      ...(b.config !== undefined ? { config: b.config } : {}),
      ...(b.delivery !== undefined ? { delivery: b.delivery } : {}),
      ...(b.extra ?? {}),
    },
  }));
