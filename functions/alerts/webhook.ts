/**
 * alerts/webhook — pure: an Alertmanager webhook notification (version 4, already checked against
 * schemas/alertmanager/webhook.v4.json) -> one AlertData per alert, with the notification's
 * receiver, group key and external URL.
 * @see https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
 */
import type { AlertData, AlertStatus } from '../_contracts/events.js';
import { MAX_MESSAGE, timeOf, truncate } from '../_signals/model.js';

export const WEBHOOK_SCHEMA = 'https://reflex.dev/schemas/alertmanager/webhook.v4.json';

/** One alert as the webhook carries it (template.Alert). */
export interface WebhookAlert {
  readonly status: AlertStatus;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly startsAt: string;
  readonly endsAt?: string;
  readonly generatorURL?: string;
  readonly fingerprint: string;
}

/** The notification (notify/webhook Message); members this function does not read are not listed. */
export interface Notification {
  readonly version: '4';
  readonly status: AlertStatus;
  readonly receiver: string;
  readonly groupKey: string;
  readonly externalURL?: string;
  readonly truncatedAlerts?: number;
  readonly alerts: readonly WebhookAlert[];
}

/**
 * The alerts of a notification. A firing alert's endsAt is Go's zero time (Alertmanager hides an end
 * not reached yet) or a future estimate: only a resolved alert carries one. Annotations are cut like
 * signal messages (4 KiB each): they travel in every event, and a description can be a page.
 */
export function alertsOf(n: Notification): AlertData[] {
  return n.alerts.map((a): AlertData => {
    const ended = a.status === 'resolved' && timeOf(a.endsAt) ? a.endsAt : undefined;
    return {
      status: a.status,
      labels: a.labels,
      annotations: Object.fromEntries(Object.entries(a.annotations ?? {}).map(([k, v]) => [k, truncate(v, MAX_MESSAGE)])),
      startsAt: a.startsAt,
      ...(ended ? { endsAt: ended } : {}),
      ...(a.generatorURL !== undefined ? { generatorURL: a.generatorURL } : {}),
      fingerprint: a.fingerprint,
      receiver: n.receiver,
      groupKey: n.groupKey,
      externalURL: n.externalURL ?? '',
    };
  });
}
