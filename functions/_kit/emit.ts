/**
 * _kit/emit — sending events to a sink (K_SINK: the Broker) when one reply is not enough, e.g.
 * a sweep that finds several problems. Retries transient failures; never logs the payload. When
 * tracing, each emit is a CLIENT span of the event's span, sent as the request's `traceparent`.
 */
import { retryable, UnavailableError } from './errors.js';
import { toBinaryResponse } from './binding.js';
import type { Reply } from './reply.js';
import { formatTraceparent } from './trace.js';
import { answered, clientSpan, type Span } from './tracing.js';

export type Emit = (reply: Reply) => Promise<void>;

const ATTEMPTS = 4;
const FIRST_BACKOFF_MS = 200;
const TIMEOUT_MS = 10_000;

export function createEmitter(sink: string): Emit {
  const at = URL.parse(sink);
  return async (reply) => {
    const { headers, body } = toBinaryResponse(reply.event);
    // The sink's host, never its whole URL (a query may carry a token).
    const span = clientSpan(`emit ${reply.event.type}`, {
      'cloudevents.event_id': reply.event.id,
      'cloudevents.event_type': reply.event.type,
      'http.request.method': 'POST',
      'server.address': at?.hostname,
      'server.port': at ? Number(at.port) || (at.protocol === 'https:' ? 443 : 80) : undefined,
    });
    if (span) {
      headers['traceparent'] = formatTraceparent(span.context);
      if (span.context.tracestate) headers['tracestate'] = span.context.tracestate;
    }
    try {
      await send(sink, reply, headers, body, span);
    } catch (err) {
      span?.set({ 'error.type': err instanceof Error ? err.name : 'Error' });
      span?.fail(err instanceof Error ? err.message : String(err));
      throw err;
    } finally {
      span?.end();
    }
  };
}

async function send(
  sink: string,
  reply: Reply,
  headers: Record<string, string>,
  body: string | Buffer,
  span: Span | undefined,
): Promise<void> {
  let last = '';
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    span?.set({ 'reflex.emit.attempts': attempt });
    try {
      const res = await fetch(sink, { method: 'POST', headers, body, signal: AbortSignal.timeout(TIMEOUT_MS) });
      await res.arrayBuffer();
      span?.set({ 'http.response.status_code': res.status });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
      if (!retryable(res.status)) {
        answered(span, res.status);
        throw new UnavailableError(`sink ${sink} refused ${reply.event.type}: ${last}`);
      }
    } catch (err) {
      if (err instanceof UnavailableError) throw err;
      last = err instanceof Error ? err.message : String(err);
    }
    if (attempt < ATTEMPTS) await new Promise((r) => setTimeout(r, FIRST_BACKOFF_MS * 2 ** (attempt - 1)));
  }
  throw new UnavailableError(`sink ${sink} unreachable after ${ATTEMPTS} attempts: ${last}`);
}
