/**
 * _kit/emit — sending events to a sink (K_SINK: the Broker) when one reply is not enough, e.g.
 * a sweep that finds several problems. Retries transient failures; never logs the payload.
 */
import { retryable, UnavailableError } from './errors.js';
import { toBinaryResponse } from './binding.js';
import type { Reply } from './reply.js';

export type Emit = (reply: Reply) => Promise<void>;

const ATTEMPTS = 4;
const FIRST_BACKOFF_MS = 200;
const TIMEOUT_MS = 10_000;

export function createEmitter(sink: string): Emit {
  return async (reply) => {
    const { headers, body } = toBinaryResponse(reply.event);
    let last = '';
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        const res = await fetch(sink, { method: 'POST', headers, body, signal: AbortSignal.timeout(TIMEOUT_MS) });
        await res.arrayBuffer();
        if (res.ok) return;
        last = `HTTP ${res.status}`;
        if (!retryable(res.status)) throw new UnavailableError(`sink ${sink} refused ${reply.event.type}: ${last}`);
      } catch (err) {
        if (err instanceof UnavailableError) throw err;
        last = err instanceof Error ? err.message : String(err);
      }
      if (attempt < ATTEMPTS) await new Promise((r) => setTimeout(r, FIRST_BACKOFF_MS * 2 ** (attempt - 1)));
    }
    throw new UnavailableError(`sink ${sink} unreachable after ${ATTEMPTS} attempts: ${last}`);
  };
}
