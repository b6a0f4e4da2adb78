/**
 * test/cluster/knative-tables — Knative's own filter test tables, ported as data: each row names
 * the file and the test it comes from (knative.dev/eventing@v0.49.2, pkg/eventfilter/...), the
 * Trigger filter it builds, the event and the result Knative's test expects. Tables whose Go code
 * composes filters directly (NewAllFilter(&passFilter{}, ...)) become the same composition of an
 * `exact` filter that passes (on the event's type) and one that fails. The differential test runs
 * every row through Knative's code (the oracle, to check the port) and the development broker.
 * @see https://github.com/knative/eventing/tree/v0.49.2/pkg/eventfilter
 */

export type Want = 'PassFilter' | 'FailFilter' | 'NoFilter';
type Filter = Record<string, unknown>;
export interface TableRow {
  /** pkg/eventfilter/<file> */
  readonly file: string;
  readonly test: string;
  readonly name: string;
  /** The Trigger spec's filter part: `filters` or the legacy `filter`. */
  readonly trigger: { readonly filters?: readonly Filter[]; readonly filter?: { readonly attributes: Record<string, string> } };
  readonly event: Record<string, unknown>;
  readonly want: Want;
}

// subscriptionsapi/all_filter_test.go makeEvent (shared by the subscriptionsapi tests).
const EVENT_TYPE = 'dev.knative.example';
const EVENT_SOURCE = 'knativesource';
const EXTENSION_NAME = 'myextension';
const EXTENSION_VALUE = 'my-extension-value';
const subscriptionsEvent = (ext: Record<string, unknown> = {}): Record<string, unknown> => ({
  specversion: '1.0',
  type: EVENT_TYPE,
  source: EVENT_SOURCE,
  id: '1234',
  time: '2024-01-01T00:00:00Z',
  knativebrokerttl: 20,
  ...ext,
});
const withExtension = { [EXTENSION_NAME]: EXTENSION_VALUE };

/** passFilter and failFilter of all_filter_test.go, as filters that do the same on that event. */
const P: Filter = { exact: { type: EVENT_TYPE } };
const F: Filter = { exact: { type: 'some-other-type' } };
const all = (...f: Filter[]): Filter => ({ all: f });
const any = (...f: Filter[]): Filter => ({ any: f });

const composed = (file: string, test: string, rows: [string, Filter, Want][]): TableRow[] =>
  rows.map(([name, filter, want]) => ({ file, test, name, trigger: { filters: [filter] }, event: subscriptionsEvent(), want }));

const single = (
  file: string,
  test: string,
  dialect: 'exact' | 'prefix' | 'suffix',
  rows: [string, Record<string, string>, Want, boolean?][],
): TableRow[] =>
  rows.map(([name, map, want, ext]) => ({
    file,
    test,
    name,
    trigger: { filters: [{ [dialect]: map }] },
    event: subscriptionsEvent(ext ? withExtension : {}),
    want,
  }));

const ALL = 'subscriptionsapi/all_filter_test.go';
const ANY = 'subscriptionsapi/any_filter_test.go';
const EXACT = 'subscriptionsapi/exact_filter_test.go';
const PREFIX = 'subscriptionsapi/prefix_filter_test.go';
const SUFFIX = 'subscriptionsapi/suffix_filter_test.go';
const ATTRS = 'attributes/filter_test.go';

// attributes/filter_test.go's own event and helpers.
const A_TYPE = 'com.example.someevent';
const A_SOURCE = '/mycontext';
const attrsEvent = (ext: Record<string, unknown> = {}): Record<string, unknown> => ({
  specversion: '1.0',
  type: A_TYPE,
  source: A_SOURCE,
  id: '1234',
  time: '2024-01-01T00:00:00Z',
  ...ext,
});
const attributes = (t: string, s: string): Record<string, string> => ({ type: t, source: s });
const withExt = (t: string, s: string, e: string): Record<string, string> => ({ type: t, source: s, [EXTENSION_NAME]: e });
const withSubject = (t: string, s: string, sub: string): Record<string, string> => ({ type: t, source: s, subject: sub });
const legacy = (name: string, attrs: Record<string, string>, event: Record<string, unknown>, want: Want): TableRow => ({
  file: ATTRS,
  test: 'TestAttributesFilter_Filter',
  name,
  trigger: { filter: { attributes: attrs } },
  event,
  want,
});

export const KNATIVE_TABLES: readonly TableRow[] = [
  ...composed(ALL, 'TestAllFilter_Flat', [
    ['Empty', all(), 'NoFilter'],
    ['One Pass', all(P), 'PassFilter'],
    ['One Fail', all(F), 'FailFilter'],
    ['Pass and Fail', all(P, F), 'FailFilter'],
    ['Pass and Pass', all(P, P), 'PassFilter'],
    ['Fail and Fail', all(F, F), 'FailFilter'],
  ]),
  ...composed(ALL, 'TestAllFilter_WithNestedAll', [
    ['All(All(Pass))', all(all(P)), 'PassFilter'],
    ['All(All(Fail))', all(all(F)), 'FailFilter'],
    ['All(Pass,All(Fail))', all(P, all(F)), 'FailFilter'],
    ['All(Pass,All(Pass))', all(P, all(P)), 'PassFilter'],
    ['All(Fail,All(Fail))', all(F, all(F)), 'FailFilter'],
    ['All(Fail,All(Pass))', all(F, all(P)), 'FailFilter'],
    ['All(Pass,All(Pass,Fail))', all(P, all(P, F)), 'FailFilter'],
    ['All(Pass,All(Pass,Pass))', all(P, all(P, P)), 'PassFilter'],
    ['All(Pass,All(Fail,Fail))', all(P, all(F, F)), 'FailFilter'],
    ['All(Fail,All(Pass,Fail))', all(F, all(P, F)), 'FailFilter'],
    ['All(Fail,All(Pass,Pass))', all(F, all(P, P)), 'FailFilter'],
    ['All(Fail,All(Fail,Fail))', all(F, all(F, F)), 'FailFilter'],
  ]),
  ...composed(ANY, 'TestAnyFilter_Flat', [
    ['Empty', any(), 'NoFilter'],
    ['One Pass', any(P), 'PassFilter'],
    ['One Fail', any(F), 'FailFilter'],
    ['Pass and Fail', any(P, F), 'PassFilter'],
    ['Pass and Pass', any(P, P), 'PassFilter'],
    ['Fail and Fail', any(F, F), 'FailFilter'],
  ]),
  ...composed(ANY, 'TestAnyFilter_WithNestedAny', [
    ['Any(Any(Pass))', any(any(P)), 'PassFilter'],
    ['Any(Any(Fail))', any(any(F)), 'FailFilter'],
    ['Any(Pass,Any(Fail))', any(P, any(F)), 'PassFilter'],
    ['Any(Pass,Any(Pass))', any(P, any(P)), 'PassFilter'],
    ['Any(Fail,Any(Fail))', any(F, any(F)), 'FailFilter'],
    ['Any(Fail,Any(Pass))', any(F, any(P)), 'PassFilter'],
    ['Any(Pass,Any(Pass,Fail))', any(P, any(P, F)), 'PassFilter'],
    ['Any(Pass,Any(Pass,Pass))', any(P, any(P, P)), 'PassFilter'],
    ['Any(Pass,Any(Fail,Fail))', any(P, any(F, F)), 'PassFilter'],
    ['Any(Fail,Any(Pass,Fail))', any(F, any(P, F)), 'PassFilter'],
    ['Any(Fail,Any(Pass,Pass))', any(F, any(P, P)), 'PassFilter'],
    ['Any(Fail,Any(Fail,Fail))', any(F, any(F, F)), 'FailFilter'],
  ]),
  ...composed('subscriptionsapi/not_filter_test.go', 'TestNotFilter', [
    ['Empty', { not: {} }, 'NoFilter'],
    ['Not Pass', { not: P }, 'FailFilter'],
    ['Not Fail', { not: F }, 'PassFilter'],
  ]),
  ...single(EXACT, 'TestExactMatchFilter', 'exact', [
    ['Wrong type', { type: 'some-other-type' }, 'FailFilter'],
    ['Wrong source', { source: 'some-other-source' }, 'FailFilter'],
    ['Wrong extension', { [EXTENSION_NAME]: 'some-other-extension' }, 'FailFilter'],
    ['Match type', { type: EVENT_TYPE }, 'PassFilter'],
    ['Match extension', { [EXTENSION_NAME]: EXTENSION_VALUE }, 'PassFilter', true],
    ['Missing attribute', { missingattribute: 'missingvalue' }, 'FailFilter'],
  ]),
  ...single(EXACT, 'TestMultipleExactMatchFilters', 'exact', [
    ['Wrong type and source', { type: 'some-other-type', source: 'some-other-source' }, 'FailFilter'],
    ['Match type and wrong source', { type: EVENT_TYPE, source: 'some-other-source' }, 'FailFilter'],
    ['Match type and match source', { type: EVENT_TYPE, source: EVENT_SOURCE }, 'PassFilter'],
    ['Match type and miss extension', { type: EVENT_TYPE, [EXTENSION_NAME]: EXTENSION_VALUE }, 'FailFilter'],
    ['Match type and match extension', { type: EVENT_TYPE, [EXTENSION_NAME]: EXTENSION_VALUE }, 'PassFilter', true],
  ]),
  // TestExactTimeMatchIsStable: an exact filter on the time as Knative formats it (MarshalText) passes.
  {
    file: EXACT,
    test: 'TestExactTimeMatchIsStable',
    name: 'exact time',
    trigger: { filters: [{ exact: { time: '2024-01-01T00:00:00.123456789Z' } }] },
    event: subscriptionsEvent({ time: '2024-01-01T00:00:00.123456789Z' }),
    want: 'PassFilter',
  },
  ...single(PREFIX, 'TestPrefixFilter', 'prefix', [
    ['Missing attribute', { 'some-other-attribute': 'wrong.prefix' }, 'FailFilter'],
    ['Wrong type prefix', { type: 'wrong.prefix' }, 'FailFilter'],
    ['Wrong source prefix', { source: 'wrong.prefix' }, 'FailFilter'],
    ['Wrong extension prefix', { [EXTENSION_NAME]: 'wrong.prefix' }, 'FailFilter'],
    ['Match type prefix', { type: 'dev.knative' }, 'PassFilter'],
    ['Match extension prefix', { [EXTENSION_NAME]: 'my-extension' }, 'PassFilter', true],
  ]),
  ...single(PREFIX, 'TestMultiplePrefixFilters', 'prefix', [
    ['Wrong type and source', { type: 'wrong.prefix', source: 'wrong.prefix' }, 'FailFilter'],
    ['Match type and wrong source', { type: 'dev.knative', source: 'wrong.prefix' }, 'FailFilter'],
    ['Match type and match source', { type: 'dev.knative', source: 'knative' }, 'PassFilter'],
    ['Match type and missing extension', { type: 'dev.knative', [EXTENSION_NAME]: 'attri.prefix' }, 'FailFilter'],
    ['Match type and match extension', { type: 'dev.knative', [EXTENSION_NAME]: 'my-extension' }, 'PassFilter', true],
  ]),
  ...single(SUFFIX, 'TestSuffixFilter', 'suffix', [
    ['Missing attribute', { 'some-other-attribute': 'wrong.suffix' }, 'FailFilter'],
    ['Wrong type suffix', { type: 'wrong.suffix' }, 'FailFilter'],
    ['Wrong source suffix', { source: 'wrong.suffix' }, 'FailFilter'],
    ['Wrong extension suffix', { [EXTENSION_NAME]: 'wrong.suffix' }, 'FailFilter'],
    ['Match type suffix', { type: '.knative.example' }, 'PassFilter'],
    ['Match extension suffix', { [EXTENSION_NAME]: 'extension-value' }, 'PassFilter', true],
  ]),
  ...single(SUFFIX, 'TestMultipleSuffixFilters', 'suffix', [
    ['Wrong type and source', { type: 'wrong.suffix', source: 'wrong.suffix' }, 'FailFilter'],
    ['Match type and wrong source', { type: '.knative.example', source: 'wrong.suffix' }, 'FailFilter'],
    ['Match type and match source', { type: '.knative.example', source: 'source' }, 'PassFilter'],
    ['Match type and missing extension', { type: '.knative.example', [EXTENSION_NAME]: 'attri.suffix' }, 'FailFilter'],
    ['Match type and match extension', { type: '.knative.example', [EXTENSION_NAME]: 'extension-value' }, 'PassFilter', true],
  ]),
  ...(
    [
      ['Missing expression', '', 'NoFilter'],
      ['Wrong type', "type = 'wrong.type'", 'FailFilter'],
      ['Wrong extension prefix', `${EXTENSION_NAME} = 'wrong.extension'`, 'FailFilter'],
      ['Match type', `type = '${EVENT_TYPE}'`, 'PassFilter'],
      ['Match extension', `${EXTENSION_NAME} = '${EXTENSION_VALUE}'`, 'PassFilter', true],
      ['Match numeric extension', 'knativebrokerttl < 30', 'PassFilter'],
      ['Match type OR Source', `(type = '${EVENT_TYPE}') OR (source = 'some-other-source')`, 'PassFilter'],
      ['Missing attribute less than comparison', 'missingattribute < 5', 'FailFilter'],
      ['Missing attribute equals comparison', 'missingattribute = missinsvalue', 'FailFilter'],
    ] as [string, string, Want, boolean?][]
  ).map(([name, expression, want, ext]): TableRow => ({
    file: 'subscriptionsapi/cesql_filter_test.go',
    test: 'TestCESQLFilter',
    name,
    trigger: { filters: [{ cesql: expression }] },
    event: subscriptionsEvent(ext ? withExtension : {}),
    want,
  })),
  legacy('Wrong type', attributes('some-other-type', ''), attrsEvent(), 'FailFilter'),
  legacy('Wrong source', attributes('', 'some-other-source'), attrsEvent(), 'FailFilter'),
  legacy('Any', attributes('', ''), attrsEvent(), 'PassFilter'),
  legacy('Specific', attributes(A_TYPE, A_SOURCE), attrsEvent(), 'PassFilter'),
  legacy('Extension with attribs', withExt(A_TYPE, A_SOURCE, EXTENSION_VALUE), attrsEvent(withExtension), 'PassFilter'),
  legacy('Any Extension with attribs - without Extension in Event', withExt(A_TYPE, A_SOURCE, ''), attrsEvent(), 'FailFilter'),
  legacy('Any Extension with attribs - with Extension in Event', withExt(A_TYPE, A_SOURCE, ''), attrsEvent(withExtension), 'PassFilter'),
  legacy('Subject with attribs', withSubject(A_TYPE, A_SOURCE, 'mysubject'), attrsEvent({ subject: 'mysubject' }), 'PassFilter'),
  legacy('Any Subject with attribs - without Subject in Event', withSubject(A_TYPE, A_SOURCE, ''), attrsEvent(), 'FailFilter'),
  legacy(
    'Any Subject with attribs - with Subject in Event',
    withSubject(A_TYPE, A_SOURCE, ''),
    attrsEvent({ subject: 'mysubject' }),
    'PassFilter',
  ),
  legacy(
    'Any with attribs - Arrival extension',
    attributes('', ''),
    attrsEvent({ knativearrivaltime: '2019-08-26T23:38:17.834384404Z' }),
    'PassFilter',
  ),
  legacy('Wrong Extension with attribs', withExt(A_TYPE, A_SOURCE, 'some-other-extension-value'), attrsEvent(withExtension), 'FailFilter'),
  // TestAllSupportedAttributeFieldsV1: every attribute LookupAttribute knows, with the values the event has.
  {
    file: ATTRS,
    test: 'TestAllSupportedAttributeFieldsV1',
    name: 'all supported attribute fields',
    trigger: {
      filter: {
        attributes: {
          specversion: '1.0',
          type: A_TYPE,
          source: A_SOURCE,
          subject: 'cool',
          id: '1234',
          time: '2024-01-01T00:00:00Z',
          dataschema: 'wow',
          schemaurl: 'wow',
          datacontenttype: 'cheers;mate',
          datamediatype: 'cheers',
        },
      },
    },
    event: attrsEvent({ subject: 'cool', dataschema: 'wow', datacontenttype: 'cheers;mate' }),
    want: 'PassFilter',
  },
];
