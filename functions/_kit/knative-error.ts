/**
 * _kit/knative-error — what Knative's dispatcher adds to an event it could not deliver and hands
 * to a dead letter sink: where it tried, the last HTTP status, and the response body (base64).
 * Read by deadletter (every dead-lettered event) and notify (a signal enrich could not take).
 * @see https://knative.dev/docs/eventing/event-delivery/#error-events
 */
import type { CloudEvent } from 'cloudevents';

export interface DeliveryFailure {
  /** Where delivery was last attempted (knativeerrordest), if the dispatcher said. */
  readonly destination: string | undefined;
  /** The last HTTP status from that destination (knativeerrorcode); undefined for network errors. */
  readonly code: number | undefined;
  /** The destination's response body, decoded from base64 (knativeerrordata; ≤ 1024 chars). */
  readonly response: string | undefined;
}

/** The knativeerror* extensions of an event, decoded; undefined when it carries none of them. */
export function deliveryFailure(event: CloudEvent<unknown>): DeliveryFailure | undefined {
  const destination = stringAttr(event['knativeerrordest']);
  const rawCode = event['knativeerrorcode'];
  // Binary mode carries every attribute as a string; structured mode may carry an integer. A malformed code is not trusted as a status.
  const code = typeof rawCode === 'number' ? rawCode : typeof rawCode === 'string' && /^\d{3}$/.test(rawCode) ? Number(rawCode) : undefined;
  const response = decodeBase64(stringAttr(event['knativeerrordata']));
  const present = ['knativeerrordest', 'knativeerrorcode', 'knativeerrordata'].some((name) => event[name] !== undefined);
  return present ? { destination, code, response } : undefined;
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
