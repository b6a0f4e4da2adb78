/** deadletter/decide — pure: a dead-lettered CloudEvent -> what went wrong, readable. */
import type { ValidEvent } from '../_kit/index.js';

export interface DeadLetter {
  /** Where delivery was last attempted (knativeerrordest), if the dispatcher said. */
  readonly destination: string | undefined;
  /** The last HTTP status from that destination (knativeerrorcode); undefined for network errors. */
  readonly code: number | undefined;
  /** The destination's response body, decoded from base64 (knativeerrordata; ≤ 1024 chars). */
  readonly response: string | undefined;
  readonly eventType: string;
  readonly eventId: string;
  readonly eventSource: string;
  readonly subject: string | undefined;
  /** A one-line reason suitable for a log or a notification. */
  readonly reason: string;
}

/** @see https://knative.dev/docs/eventing/event-delivery/#error-events */
export function decide(event: ValidEvent): DeadLetter {
  const destination = stringAttr(event['knativeerrordest']);
  const rawCode = event['knativeerrorcode'];
  const code = typeof rawCode === 'number' ? rawCode : typeof rawCode === 'string' && /^\d{3}$/.test(rawCode) ? Number(rawCode) : undefined;
  const response = decodeBase64(stringAttr(event['knativeerrordata']));
  const where = destination ?? 'an unknown destination';
  const reason =
    code !== undefined
      ? `delivery to ${where} failed with HTTP ${code}${response ? `: ${response.slice(0, 200)}` : ''}`
      : destination
        ? `delivery to ${where} failed without an HTTP answer (network error or timeout)`
        : 'dead-lettered without Knative error attributes';
  return {
    destination,
    code,
    response,
    eventType: event.type,
    eventId: event.id,
    eventSource: event.source,
    subject: event.subject,
    reason,
  };
}

function stringAttr(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function decodeBase64(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  // Not base64 (an older dispatcher, or a hand-made event): show it as it came.
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v)) return v;
  return Buffer.from(v, 'base64').toString('utf8');
}
