/**
 * dev/mesh/delivery — one event to one destination the way Knative's dispatcher does it: binary
 * mode (or structured with `format: json`), `Prefer: reply`, a timeout per attempt (the spec's, else
 * DEFAULT_DELIVERY_TIMEOUT_MS: a subscriber that never answers is a failed attempt), retries on
 * 404, 408, 409, 429, 5xx and network errors with linear or exponential backoff, a 2xx body read
 * as the reply (a non-empty body that is not a CloudEvent is a failure, 502), and the dead-letter
 * message with `knativeerrordest`, `knativeerrorcode` and base64 `knativeerrordata`.
 */
import { retryable } from '../../functions/_kit/errors.js';
import { CloudEvent, HTTP } from 'cloudevents';
import type { IncomingHttpHeaders } from 'node:http';
import { parseRequest, toBinaryResponse } from '../../functions/_kit/binding.js';
import type { DeliverySpec } from './manifests.js';

export type Event = CloudEvent<unknown>;

/**
 * The time an attempt gets when the delivery spec has no `timeout`: 30 s, what knative/broker.yaml
 * declares. Knative's broker-filter sets none then (kncloudevents gives its HTTP client a timeout
 * only for a spec's `timeout`) and the channel's fanout stops waiting after 15 minutes; a
 * subscriber that never answers must not keep a delivery, its retries and its dead letter open.
 */
export const DEFAULT_DELIVERY_TIMEOUT_MS = 30_000;

/** What one delivery came to, after every attempt. */
export interface Delivered {
  readonly ok: boolean;
  /** The last HTTP status; 500 for a transport error (as Knative records it), 502 for a bad reply. */
  readonly status: number;
  readonly attempts: number;
  /** The response body of the last attempt (for knativeerrordata). */
  readonly body: string;
  readonly reply?: Event;
  readonly error?: string;
  /** Every attempt in order: its status (500 for a transport error), its error, and how long it waited first. */
  readonly tries?: readonly Try[];
}

export interface Try {
  readonly status: number;
  readonly error?: string;
  /** The backoff before it (0 for the first attempt, and for linear's first retry). */
  readonly afterMs: number;
}

/**
 * A duration as Knative reads it: rickb777/date's `period.Parse` (eventing pins v1.13.0), six
 * fields in tenths of their unit and a sign. Its grammar is looser than ISO-8601 in places (weeks,
 * years and months, a `,` for the decimal point, a sign before `P` or before a number, `P1DT`) and
 * stricter in one: a field keeps ONE decimal, so `PT0.25S` is 0.2 s and `PT0.05S` is zero.
 * @see https://pkg.go.dev/github.com/rickb777/date@v1.13.0/period#Parse
 */
export interface Period {
  readonly negative: boolean;
  /** Tenths of a year, month, day, hour, minute, second (int16 each, as the library keeps them). */
  readonly tenths: readonly [years: number, months: number, days: number, hours: number, minutes: number, seconds: number];
}

const NOT_ISO = (iso: string): Error => new Error(`${JSON.stringify(iso)} is not an ISO-8601 duration (e.g. PT0.5S)`);
const INT64 = /^[+-]?\d+$/;
const I64_MAX = 2n ** 63n - 1n;
/** 365.2425 days a year (the Gregorian rule), in 1e-4 days; a month is a twelfth of it, in 1e-6 days. */
const DAYS_PER_YEAR_E4 = 3_652_425n;
const DAYS_PER_MONTH_E6 = 30_436_875n;

/** One field's number, in tenths: the first decimal digit is kept and the rest dropped. */
function tenthsOf(text: string, iso: string): bigint {
  let dec = text.indexOf('.');
  if (dec < 0) dec = text.indexOf(',');
  const digits =
    dec < 0 ? `${text}0` : text.length - dec > 1 ? text.slice(0, dec) + text.slice(dec + 1, dec + 2) : `${text.slice(0, dec)}0`;
  if (!INT64.test(digits)) throw NOT_ISO(iso);
  const n = BigInt(digits);
  if (n > I64_MAX || n < -I64_MAX - 1n) throw NOT_ISO(iso);
  return n;
}

export function parsePeriod(iso: string): Period {
  if (iso === 'P0') return { negative: false, tenths: [0, 0, 0, 0, 0, 0] };
  let rest = iso;
  let negative = false;
  if (rest.startsWith('-') || rest.startsWith('+')) [negative, rest] = [rest.startsWith('-'), rest.slice(1)];
  if (!rest.startsWith('P')) throw NOT_ISO(iso);
  rest = rest.slice(1);
  let seen = false;
  // Each marker is looked for anywhere in what is left; what precedes it must be a number.
  const field = (mark: string): bigint => {
    const at = rest.indexOf(mark);
    if (at <= 0) return 0n;
    const n = tenthsOf(rest.slice(0, at), iso);
    rest = rest.slice(at + 1);
    seen = true;
    return n;
  };
  const t = rest.indexOf('T');
  const date = t >= 0 ? rest.slice(0, t) : rest;
  let [h, min, s] = [0n, 0n, 0n];
  if (t >= 0) {
    rest = rest.slice(t + 1);
    [h, min, s] = [field('H'), field('M'), field('S')];
    if (rest !== '') throw NOT_ISO(iso);
  }
  rest = date;
  const [y, mo, w, d] = [field('Y'), field('M'), field('W'), field('D')];
  if (rest !== '' || !seen) throw NOT_ISO(iso);
  return normalised(negative, [y, mo, w * 7n + d, h, min, s]);
}

/** Years, months, days, hours, minutes, seconds, in tenths. */
type Fields = [bigint, bigint, bigint, bigint, bigint, bigint];

/** The library's normalise(precise): signs gathered, carries upward where exact, a fraction only on the smallest field. */
function normalised(negative: boolean, fields: Fields): Period {
  let neg = negative;
  // A negative field makes the whole period negative, unless a leading `-` already did (then it stays as written).
  const abs = neg ? fields : (fields.map((v) => (v < 0n ? ((neg = true), -v) : v)) as Fields);
  const int16 = (v: bigint): number => Number(BigInt.asIntN(16, neg ? -v : v));
  return { negative: neg, tenths: fractionRight(rippleUp(abs)).map(int16) as unknown as Period['tenths'] };
}

/** Seconds into minutes into hours (exact); hours into days and days into months only past what int16 holds. */
function rippleUp([y, mo, d, h, min, s]: Fields): Fields {
  [min, s] = [min + (s / 600n) * 10n, s % 600n];
  [h, min] = [h + (min / 600n) * 10n, min % 600n];
  if (h > 32204n) [d, h] = [d + (h / 240n) * 10n, h % 240n];
  if (d > 32760n) [mo, d] = [mo + (d * 1_000_000n) / DAYS_PER_MONTH_E6, ((d * 1_000_000n) % DAYS_PER_MONTH_E6) / 1_000_000n];
  return [y + (mo / 120n) * 10n, mo % 120n, d, h, min, s];
}

/** Each field's tenth, when a smaller field is set, moves down one unit (a month is 30.436875 days, cut to tenths). */
const DOWN: readonly ((tenth: bigint) => bigint)[] = [
  (t) => t * 12n,
  (t) => (t * DAYS_PER_MONTH_E6) / 1_000_000n,
  (t) => t * 24n,
  (t) => t * 60n,
  (t) => t * 60n,
];
function fractionRight(fields: Fields): Fields {
  const f = [...fields] as Fields;
  DOWN.forEach((down, i) => {
    const tenth = f[i]! % 10n;
    if (tenth !== 0n && f.slice(i + 1).some((v) => v !== 0n)) [f[i + 1], f[i]] = [f[i + 1]! + down(tenth), (f[i]! / 10n) * 10n];
  });
  return f;
}

/** True when every field is zero (Knative refuses such a `timeout`). */
export const isZeroPeriod = (p: Period): boolean => p.tenths.every((v) => v === 0);

/** The period in nanoseconds as Go's time.Duration (int64, wrapping as Go's does); years and months approximate. */
export function periodNs(p: Period): bigint {
  const [y, mo, d, h, min, s] = p.tenths.map(BigInt) as [bigint, bigint, bigint, bigint, bigint, bigint];
  const i64 = (v: bigint): bigint => BigInt.asIntN(64, v);
  const daysE7 = y * DAYS_PER_YEAR_E4 * 100n + mo * DAYS_PER_MONTH_E6 + d * 1_000_000n;
  const micros = i64(daysE7 * 8640n);
  const millis = h * 360_000n + min * 6000n + s * 100n;
  return i64(i64(micros * 1000n) + i64(millis * 1_000_000n));
}

/** ISO-8601 durations as Knative reads them (parsePeriod): PT0.5S, PT30S, PT1M, P1DT2H… -> milliseconds. */
export function durationMs(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  return Number(periodNs(parsePeriod(iso))) / 1e6;
}

/**
 * The wait before retry `n` (1-based). Knative hands go-retryablehttp a 0-based attempt number,
 * so the first exponential retry waits `delay` and the first linear retry waits nothing; with no
 * policy or no delay it waits nothing. Computed as Go does, in int64 nanoseconds (kncloudevents
 * RetryConfigFromDeliverySpec): `delay * 2^i` or `delay * i`, wrapping past 292 years.
 */
export function backoffMs(spec: DeliverySpec, n: number): number {
  if (spec.backoffDelay === undefined || (spec.backoffPolicy !== 'linear' && spec.backoffPolicy !== 'exponential')) return 0;
  const delay = periodNs(parsePeriod(spec.backoffDelay));
  const i = Math.max(0, n - 1);
  // math.Exp2(i) converted to int64: exact below 2^63; amd64 turns anything larger into -2^63.
  const factor = spec.backoffPolicy === 'linear' ? BigInt(i) : BigInt.asIntN(64, 2n ** BigInt(Math.min(i, 63)));
  return Number(BigInt.asIntN(64, delay * factor)) / 1e6;
}

/** The HTTP message for an event: binary by default, structured JSON when the delivery says so. */
export function toMessage(event: Event, format: DeliverySpec['format']): { headers: Record<string, string>; body: string | Buffer } {
  if (format === 'json') {
    const m = HTTP.structured(event);
    return { headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' }, body: String(m.body) };
  }
  return toBinaryResponse(event);
}

function headersOf(res: Response): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  res.headers.forEach((v, k) => (out[k.toLowerCase()] = v));
  return out;
}

export interface DeliverOptions {
  readonly spec: DeliverySpec;
  /** Per attempt when `spec.timeout` is absent (or zero, which Knative reads as unset); default DEFAULT_DELIVERY_TIMEOUT_MS. */
  readonly defaultTimeoutMs?: number;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Called after each attempt, for the timeline and tests. */
  readonly onAttempt?: (attempt: number, status: number) => void;
  /** HTTP headers every attempt carries besides the event's (the delivery span's `traceparent`). */
  readonly headers?: Readonly<Record<string, string>>;
}

const sleeper = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Sends `event` to `url` with the delivery's retries and timeout. Never throws. */
export async function deliver(url: string, event: Event, options: DeliverOptions): Promise<Delivered> {
  try {
    return await withRetries(url, event, options);
  } catch (err) {
    // A spec loadMesh did not check (a bad duration from a programmatic caller) fails the delivery, not the caller.
    const error = `cannot deliver: ${err instanceof Error ? err.message : String(err)}`;
    return { ok: false, status: 500, attempts: 0, body: error, error };
  }
}

async function withRetries(url: string, event: Event, options: DeliverOptions): Promise<Delivered> {
  const { spec } = options;
  const send = options.fetch ?? fetch;
  const sleep = options.sleep ?? sleeper;
  const tries = 1 + Math.max(0, spec.retry ?? 0);
  const timeout = durationMs(spec.timeout) || (options.defaultTimeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS);
  const plain = toMessage(event, spec.format);
  const message = options.headers ? { ...plain, headers: { ...plain.headers, ...options.headers } } : plain;
  let last: Delivered = { ok: false, status: 500, attempts: 0, body: '' };
  const history: Try[] = [];
  for (let n = 1; n <= tries; n++) {
    const afterMs = n > 1 ? backoffMs(spec, n - 1) : 0;
    if (n > 1) await sleep(afterMs);
    last = await attempt(send, url, message, timeout, n);
    options.onAttempt?.(n, last.status);
    history.push({ status: last.status, ...(last.error ? { error: last.error } : {}), afterMs });
    if (last.ok || !retryable(last.status)) break;
  }
  return { ...last, tries: history };
}

async function attempt(
  send: typeof fetch,
  url: string,
  message: { headers: Record<string, string>; body: string | Buffer },
  timeout: number,
  n: number,
): Promise<Delivered> {
  let res: Response;
  let body: Buffer;
  try {
    res = await send(url, {
      method: 'POST',
      headers: { ...message.headers, prefer: 'reply' },
      body: message.body,
      signal: AbortSignal.timeout(timeout),
    });
    const read = await readLimited(res, MAX_REPLY_BYTES);
    if (read === undefined)
      return {
        ok: false,
        status: 502,
        attempts: n,
        body: '',
        error: `the ${res.status} response is larger than ${MAX_REPLY_BYTES} bytes: a reply goes back into the Broker, whose ingress takes no more`,
      };
    body = read;
  } catch (err) {
    const error = `dispatch error: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}`;
    return { ok: false, status: 500, attempts: n, body: error, error };
  }
  const text = body.toString('utf8');
  if (res.status < 200 || res.status > 299) return { ok: false, status: res.status, attempts: n, body: text };
  const headers = headersOf(res);
  const hasCe = Object.keys(headers).some((h) => h.startsWith('ce-'));
  if (body.length === 0 && !hasCe) return { ok: true, status: res.status, attempts: n, body: '' };
  try {
    const parsed = parseRequest(headers, body);
    if (parsed.mode === 'batch' || parsed.events.length !== 1) throw new Error('a reply is one CloudEvent, not a batch');
    return { ok: true, status: res.status, attempts: n, body: '', reply: parsed.events[0]! };
  } catch (err) {
    // "The response MUST be either empty or a valid CloudEvent": Knative answers 502, and retries.
    return {
      ok: false,
      status: 502,
      attempts: n,
      body: text,
      error: `the ${res.status} response is neither empty nor a CloudEvent: ${(err as Error).message}`,
    };
  }
}

/** A reply goes back into the Broker: no larger than its ingress takes (REFLEX_MAX_BODY_BYTES' default). */
const MAX_REPLY_BYTES = 1024 * 1024;

/** The response body, or undefined as soon as it grows past `limit` (the rest is never read). */
async function readLimited(res: Response, limit: number): Promise<Buffer | undefined> {
  if (Number(res.headers.get('content-length') ?? 0) > limit) {
    await res.body?.cancel();
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = res.body?.getReader();
  if (!reader) return Buffer.alloc(0);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks);
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(Buffer.from(value));
  }
}

/** knativeerrordata is capped at 1024 characters of base64. */
const MAX_ERROR_DATA = 1024;

/** The event as the dead-letter sink gets it: the original, with what failed and how. */
export function deadLetter(event: Event, dest: string, result: Delivered): Event {
  const data = Buffer.from(result.body, 'utf8').toString('base64').slice(0, MAX_ERROR_DATA);
  return event.cloneWith(
    {
      knativeerrordest: dest,
      knativeerrorcode: result.status,
      // Set even when empty, as Knative's dispatcher does.
      knativeerrordata: data,
    },
    false,
  );
}
