/** deadletter/decide — pure: a dead-lettered CloudEvent -> what went wrong, readable. */
import type { ValidEvent } from '../_kit/index.js';
import { deliveryFailure, type DeliveryFailure } from '../_kit/knative-error.js';

export interface DeadLetter extends DeliveryFailure {
  readonly eventType: string;
  readonly eventId: string;
  readonly eventSource: string;
  readonly subject: string | undefined;
  /** A one-line reason suitable for a log or a notification. */
  readonly reason: string;
}

/** @see https://knative.dev/docs/eventing/event-delivery/#error-events */
export function decide(event: ValidEvent): DeadLetter {
  const { destination, code, response } = deliveryFailure(event) ?? { destination: undefined, code: undefined, response: undefined };
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
