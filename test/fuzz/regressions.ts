/**
 * The regression corpus: cases that found (or aim straight at) the faults of issue 15, run first
 * on every run, before the generated ones (fast-check's `examples`). A new counterexample the
 * suite finds belongs here once reported. Seeds are by index into the target's seed list (see
 * functions.test.ts): 0 is the first signal classify makes of the incident for recover and scale,
 * the first watch event for classify.
 */
import type { Case, DataOp, EventCase, HeaderOp } from './generators.js';

const one = (e: Partial<EventCase>, rest: Partial<Case> = {}): Case => ({
  mode: 'binary',
  events: [{ seed: 0, attrOps: [], dataOps: [], ...e }],
  headerOps: [],
  bodyOps: [],
  ...rest,
});
const data = (...dataOps: DataOp[]): Case => one({ dataOps });
const headers = (...headerOps: HeaderOp[]): Case => one({}, { headerOps });

/** What every target must answer by the contract. */
export const COMMON: readonly Case[] = [
  // An extension named `validate` shadowed the SDK's method: a 500.
  one({ attrOps: [{ op: 'set', name: 'validate', value: 'yes' }] }),
  one({ attrOps: [{ op: 'set', name: 'validate', value: 1 }] }, { mode: 'structured' }),
  // Extensions the SDK cannot carry, and names JavaScript gives a meaning to.
  one({ attrOps: [{ op: 'set', name: 'schemaurl', value: 'x' }] }),
  one({ attrOps: [{ op: 'set', name: 'constructor', value: 'x' }] }, { mode: 'structured' }),
  one({ attrOps: [{ op: 'set', name: '__proto__', value: { polluted: true } }] }, { mode: 'structured' }),
  // Data nested thousands of levels deep (recursive code runs out of stack).
  data({ op: 'deep', path: [0], depth: 4400, open: '[' }),
  data({ op: 'deep', path: [0], depth: 6000, open: '{' }),
  one({ dataOps: [{ op: 'deep', path: [0], depth: 6000, open: '[' }] }, { mode: 'structured' }),
  // Corrupt compressed bodies, and encodings nobody supports.
  one({}, { encoding: { name: 'gzip', corrupt: 'truncate' } }),
  one({}, { encoding: { name: 'br', corrupt: 'garbage' } }),
  one({}, { encoding: { name: 'deflate', corrupt: 'flip' } }),
  one({}, { encoding: { name: 'zstd', corrupt: 'none' } }),
  // A small gzip that inflates past the body limit.
  one({}, { encoding: { name: 'gzip', corrupt: 'none' }, size: 1_048_576 }),
  // What Node's own HTTP parser answers (bare 400, 417, 431) must be problem+json.
  headers({ op: 'add', name: 'expect', value: '2026-11-22' }),
  headers({ op: 'add', name: 'ce-huge', value: { $repeat: 'a', times: 20_000 } }),
  one({}, { frame: 'bad-request-line' }),
  one({}, { frame: 'chunk-extension-overflow' }),
  one({}, { frame: 'te-and-cl' }),
  // Percent-encoding that does not decode, and raw UTF-8 in a header.
  headers({ op: 'raw', nth: 0, value: '%zz' }),
  headers({ op: 'raw', nth: 1, value: 'café' }),
  // Structured mode with a charset, and formats nobody reads.
  one({}, { mode: 'structured', contentType: 'application/cloudevents+json; charset=utf-8' }),
  one({}, { mode: 'structured', contentType: 'application/cloudevents+avro' }),
  // Timestamps past year 9999 and before year 1, and an empty reason.
  data({ op: 'date', nth: 0, value: '9999-12-31T23:59:59-14:00' }),
  data({ op: 'date', nth: 1, value: '0000-01-01T00:00:00+01:00' }),
  data({ op: 'field', key: 'reason', nth: 0, value: '' }),
  // An upload cut halfway.
  one({}, { abortAt: 500 }),
];

/**
 * recover, scale (found by this suite, 2026-11-30): a schema-valid signal whose target name is
 * long echoes it into the reply's ce-subject and ce-targetname headers, past the 16 KiB of headers
 * Node's HTTP client and fetch read.
 */
export const LONG_TARGET_NAME: Case = data({ op: 'field', key: 'name', nth: 0, value: { $repeat: 'a', times: 8000 } });

/**
 * scale (found by this suite, 2026-11-30): a load signal whose evidence Event has a `count`
 * nested 4,500+ levels deep: confirming it compares that count with the live Event's, and the
 * array's conversion to a primitive recurses out of stack — a 500.
 */
export const DEEP_EVIDENCE_COUNT: Case = data({ op: 'deepField', key: 'count', nth: 0, depth: 5000, open: '[' });

/**
 * enrich (found by this suite, 2026-11-30): a signal whose evidence object is nested thousands of
 * levels deep went into the enriched reply as it came, and writing the reply ran out of stack — a 500.
 */
export const DEEP_EVIDENCE_OBJECT: Case = data({ op: 'deepField', key: 'object', nth: 0, depth: 6000, open: '{' });
