/**
 * alerts/handler — the route Alertmanager's webhook posts to: authenticates the sender (before the
 * body is read) -> accepts a version 4 notification -> one dev.reflex.alert.<status> event per
 * alert, each sent to K_SINK (the Broker) -> 200 with what was forwarded. A notification the Broker
 * did not take whole is answered 503, so Alertmanager sends it again; the events already forwarded
 * carry the same ids then, and consumers fold them.
 */
import { alertEvent, type AlertData } from '../_contracts/events.js';
import {
  counter,
  InvalidEventError,
  ReflexError,
  UnauthenticatedError,
  UnavailableError,
  UnsupportedMediaTypeError,
  type Deps,
  type HandlerContext,
  type Route,
  type RouteRequest,
  type RouteResponse,
} from '../_kit/index.js';
import { Recent } from '../_signals/recent.js';
import type { AlertsConfig } from './config.js';
import { challengeOf, check, type Refusal } from './credentials.js';
import { alertsOf, WEBHOOK_SCHEMA, type Notification } from './webhook.js';

export const ALERTMANAGER_PATH = '/alertmanager';

/** A body that is not a version 4 notification: never worth a retry. */
export class InvalidNotificationError extends ReflexError {
  readonly status = 400;
  readonly title = 'Invalid Alertmanager notification';
}

/** Events sent to the Broker at once: enough for a large group, few enough not to flood it. */
const CONCURRENCY = 8;
/** What Alertmanager is told to wait when the Broker did not take a notification (it retries with its own backoff). */
const RETRY_AFTER_SECONDS = 5;
/** Ids remembered for folding: a few large notifications' worth, per replica. */
const MAX_REMEMBERED = 50_000;

const REFUSALS: Readonly<Record<Refusal, string>> = {
  unconfigured:
    'no credentials are configured: create the Secret reflex-alerts (REFLEX_ALERTS_BEARER_TOKEN, or REFLEX_ALERTS_BASIC_USERNAME and REFLEX_ALERTS_BASIC_PASSWORD); until then every sender is refused',
  missing: 'credentials are required: give the webhook_config http_config.authorization (Bearer) or basic_auth',
  malformed: 'the Authorization header could not be read',
  scheme: 'this authentication scheme is not configured here',
  invalid: 'the credentials are not valid',
};

const isJson = (type: string | undefined): boolean =>
  type === undefined || /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(type.trim());

export function alertsRoutes(config: AlertsConfig, deps: Deps): readonly Route<AlertsConfig>[] {
  const refused = counter(deps.registry, 'reflex_alerts_refused_total', 'Webhook requests refused by authentication (401), by reason', [
    'reason',
  ]);
  const alerts = counter(
    deps.registry,
    'reflex_alerts_total',
    'Alerts received, by status and what became of them (forwarded | folded: forwarded lately by this replica | failed)',
    ['status', 'outcome'],
  );
  const { credentials } = config;
  const challenge = challengeOf(credentials);
  if (!credentials.bearer && !credentials.basic) deps.log.error(`alerts refuses every sender: ${REFUSALS.unconfigured}`);
  /** Ids this replica forwarded lately: a second send inside foldSeconds is not forwarded again. */
  const forwarded = new Recent({ maxOccurrences: MAX_REMEMBERED, maxProblems: 100 }).occurrences;
  const foldMs = config.foldSeconds * 1000;

  const authenticate = (headers: RouteRequest['headers']): void => {
    const verdict = check(headers.authorization, credentials);
    if (verdict.ok) return;
    refused.inc({ reason: verdict.reason });
    deps.log.warn('sender refused', { reason: verdict.reason });
    throw new UnauthenticatedError(REFUSALS[verdict.reason], { wwwAuthenticate: challenge });
  };

  const handle = async (request: RouteRequest, ctx: HandlerContext<AlertsConfig>): Promise<RouteResponse> => {
    const type = request.headers['content-type'];
    if (!isJson(type)) throw new UnsupportedMediaTypeError(`expected application/json (Alertmanager's webhook), got ${type}`);
    let body: unknown;
    try {
      body = JSON.parse(request.body.toString('utf8'));
    } catch (err) {
      throw new InvalidNotificationError(`the body is not JSON: ${(err as Error).message}`, {
        faults: [{ where: 'body', message: 'expected the JSON of an Alertmanager webhook notification' }],
      });
    }
    let notification: Notification;
    try {
      notification = ctx.validate<Notification>(WEBHOOK_SCHEMA, body, 'notification');
    } catch (err) {
      if (!(err instanceof InvalidEventError)) throw err;
      throw new InvalidNotificationError(
        err.message.replace(` does not match ${WEBHOOK_SCHEMA}`, ' is not an Alertmanager webhook (version 4)'),
        {
          faults: err.faults,
        },
      );
    }
    const { emit } = ctx;
    if (!emit)
      throw new UnavailableError('K_SINK is not set: the SinkBinding alerts-to-broker has not bound this revision to the Broker yet', {
        retryAfterSeconds: RETRY_AFTER_SECONDS,
      });
    if (notification.truncatedAlerts)
      ctx.log.warn('Alertmanager left alerts out of this notification (max_alerts): they are not forwarded', {
        truncated: notification.truncatedAlerts,
      });

    // The same alert twice in one notification is one event.
    const specs = [...new Map(alertsOf(notification).map((a) => [alertEvent(a).id, a])).values()].map(alertEvent);
    const now = ctx.now().getTime();
    const fresh = specs.filter((s) => forwarded.ageWithin(s.id, now) === undefined);
    for (const s of specs) if (!fresh.includes(s)) alerts.inc({ status: s.data.status, outcome: 'folded' });

    const failures: string[] = [];
    const queue = [...fresh];
    const worker = async (): Promise<void> => {
      for (let s = queue.shift(); s; s = queue.shift()) {
        try {
          await emit(ctx.reply(s));
          if (foldMs > 0) forwarded.record(s.id, ctx.now().getTime(), foldMs);
          alerts.inc({ status: s.data.status, outcome: 'forwarded' });
        } catch (err) {
          alerts.inc({ status: s.data.status, outcome: 'failed' });
          failures.push(err instanceof Error ? err.message : String(err));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, queue.length) }, worker));
    if (failures.length > 0)
      throw new UnavailableError(
        `the Broker took ${fresh.length - failures.length} of ${fresh.length} alerts (${failures[0]}); send the notification again`,
        { retryAfterSeconds: RETRY_AFTER_SECONDS },
      );
    ctx.log.info('notification forwarded', {
      receiver: notification.receiver,
      groupKey: notification.groupKey,
      status: notification.status,
      alerts: specs.length,
      forwarded: fresh.length,
    });
    return {
      status: 200,
      body: { alerts: specs.length, forwarded: fresh.length, folded: specs.length - fresh.length, events: summary(specs) },
    };
  };

  return [{ method: 'POST', path: ALERTMANAGER_PATH, authenticate, handle }];
}

const summary = (specs: readonly { id: string; type: string; data: AlertData }[]): { id: string; type: string; alertname?: string }[] =>
  specs.map((s) => ({ id: s.id, type: s.type, ...(s.data.labels['alertname'] ? { alertname: s.data.labels['alertname'] } : {}) }));
