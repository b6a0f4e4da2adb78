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
}

/** ISO-8601 durations as Knative writes them: PT0.5S, PT30S, PT1M, P1DT2H… -> milliseconds. */
export function durationMs(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const m = /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(iso);
  if (!m || iso === 'P' || iso.endsWith('T')) throw new Error(`${JSON.stringify(iso)} is not an ISO-8601 duration (e.g. PT0.5S)`);
  const [d, h, min, s] = m.slice(1).map((x) => Number(x ?? 0)) as [number, number, number, number];
  return Math.round((((d * 24 + h) * 60 + min) * 60 + s) * 1000);
}

/**
 * The wait before retry `n` (1-based). Knative hands go-retryablehttp a 0-based attempt number,
 * so the first exponential retry waits `delay` and the first linear retry waits nothing.
 */
export function backoffMs(spec: DeliverySpec, n: number): number {
  const delay = durationMs(spec.backoffDelay) ?? 0;
  if (spec.backoffPolicy === 'linear') return delay * (n - 1);
  if (spec.backoffPolicy === 'exponential') return delay * 2 ** (n - 1);
  return 0;
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
  const message = toMessage(event, spec.format);
  let last: Delivered = { ok: false, status: 500, attempts: 0, body: '' };
  for (let n = 1; n <= tries; n++) {
    if (n > 1) await sleep(backoffMs(spec, n - 1));
    last = await attempt(send, url, message, timeout, n);
    options.onAttempt?.(n, last.status);
    if (last.ok || !retryable(last.status)) return last;
  }
  return last;
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
      ...(data ? { knativeerrordata: data } : {}),
    },
    false,
  );
}
