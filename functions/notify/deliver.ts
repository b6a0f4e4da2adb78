/**
 * notify/deliver — one POST to one sink, with a timeout, classified for the retry contract; when
 * tracing, a CLIENT span named after the sink (its name and type, never its URL or secret).
 */
import { answered, clientSpan } from '../_kit/index.js';
import type { Sink } from './config.js';
import { pagerduty, sign, slack, teams, webhook } from './render.js';
import type { Message } from './decide.js';

export type Delivery =
  | { readonly kind: 'sent'; readonly status: number }
  /** 5xx, 429, network error, timeout: the Broker should retry (Retry-After when the sink said). */
  | { readonly kind: 'transient'; readonly detail: string; readonly status?: number; readonly retryAfterSeconds?: number }
  /** Any other 4xx, or a redirect: the payload, the credentials or the URL are wrong; retrying will not help. */
  | { readonly kind: 'permanent'; readonly status: number; readonly detail: string };

function body(sink: Sink, m: Message): string {
  switch (sink.type) {
    case 'slack':
      return JSON.stringify(slack(m));
    case 'teams':
      return JSON.stringify(teams(m));
    case 'pagerduty':
      return JSON.stringify(pagerduty(m, sink.secret ?? ''));
    case 'webhook':
      return JSON.stringify(webhook(m));
  }
}

/** Retry-After as seconds (delta-seconds or an HTTP date). */
function retryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}

export async function deliver(sink: Sink, message: Message, timeoutMs: number, now: () => Date): Promise<Delivery> {
  const span = clientSpan(`notify ${sink.name}`, {
    'reflex.sink.name': sink.name,
    'reflex.sink.type': sink.type,
    'http.request.method': 'POST',
  });
  try {
    const d = await post(sink, message, timeoutMs, now);
    span?.set({ 'reflex.delivery.result': d.kind });
    if (d.kind === 'transient') {
      if (d.status !== undefined) answered(span, d.status);
      else span?.fail(d.detail);
    } else answered(span, d.status, d.kind === 'permanent' ? `HTTP ${d.status}` : undefined);
    return d;
  } finally {
    span?.end();
  }
}

async function post(sink: Sink, message: Message, timeoutMs: number, now: () => Date): Promise<Delivery> {
  const m = sink.title ? { ...message, title: sink.title(message) } : message;
  const payload = body(sink, m);
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'reflex-notify' };
  if (sink.type === 'webhook') {
    const ts = Math.floor(now().getTime() / 1000);
    headers['x-reflex-timestamp'] = String(ts);
    headers['x-reflex-signature'] = sign(sink.secret ?? '', ts, payload);
  }
  try {
    // Never follow a redirect: fetch would POST the signed body, or PagerDuty's routing key, again
    // to wherever the Location points. The configured URL must be the sink's own address.
    const res = await fetch(sink.url, {
      method: 'POST',
      headers,
      body: payload,
      redirect: 'manual',
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = (await res.text()).slice(0, 300);
    if (res.ok) return { kind: 'sent', status: res.status };
    if (res.status >= 300 && res.status < 400)
      // The Location is not shown: like the sink's URL, it may carry a token.
      return {
        kind: 'permanent',
        status: res.status,
        detail: `HTTP ${res.status}: redirect not followed; set the sink's URL to its final address`,
      };
    if (res.status === 429 || res.status >= 500) {
      const after = retryAfter(res.headers.get('retry-after'), now().getTime());
      return {
        kind: 'transient',
        detail: `HTTP ${res.status}`,
        status: res.status,
        ...(after === undefined ? {} : { retryAfterSeconds: after }),
      };
    }
    return { kind: 'permanent', status: res.status, detail: `HTTP ${res.status}: ${text}` };
  } catch (err) {
    // The URL may hold a token (Slack, Teams): the error names the sink, never the URL.
    const e = err as Error;
    return { kind: 'transient', detail: e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : `network error (${e.name})` };
  }
}
