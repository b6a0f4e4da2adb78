/**
 * notify/handler — accepts a signal -> decides which sinks hear of it and whether this window
 * already told them -> delivers to every sink in parallel -> 202, or 503 when a sink failed
 * transiently (only the sinks that still need it are tried again on the retry).
 */
import { ACTION_PREFIX, RESOLVED_TYPE, type ActionData, type ResolvedData, type SignalData } from '../_contracts/events.js';
import { counter, UnavailableError, type Deps, type Handler } from '../_kit/index.js';
import type { NotifyConfig } from './config.js';
import { actionFacts, actionMessage, message, resolvedFacts, resolvedMessage, route, signalFacts, type Message } from './decide.js';

import { deliver } from './deliver.js';
import { Groups } from './groups.js';

export function notifyHandler(config: NotifyConfig, deps: Deps): Handler<NotifyConfig> {
  /** What each sink was told, by this server. */
  const groups = new Groups();
  const sent = counter(deps.registry, 'reflex_notify_total', 'Notifications by sink and result (sent, grouped, transient, permanent)', [
    'sink',
    'result',
  ]);
  return async (event, ctx) => {
    const isAction = event.type.startsWith(ACTION_PREFIX);
    const isResolved = event.type === RESOLVED_TYPE;
    const facts = isResolved
      ? resolvedFacts(event.data as ResolvedData)
      : isAction
        ? actionFacts(event.data as ActionData)
        : signalFacts(event.data as SignalData);
    const render = (held: number): Message =>
      isResolved
        ? resolvedMessage(event.data as ResolvedData)
        : isAction
          ? actionMessage(event.data as ActionData, held, event.time ?? ctx.now().toISOString())
          : message(event.data as SignalData, held);
    const key = render(0).key;
    const { sinks, because } = route(facts, config.routes);
    if (sinks.length === 0) {
      ctx.log.debug('no route matches', { ...facts });
      return undefined;
    }
    const now = ctx.now().getTime();
    const work = sinks.map(async (name) => {
      const sink = config.sinks.get(name);
      if (!sink) {
        sent.inc({ sink: name, result: 'disabled' });
        ctx.log.warn('sink is disabled: its URL variable is not set', { sink: name });
        return { name, result: { kind: 'disabled' as const } };
      }
      const admission = groups.admit(name, key, now, config.groupWindowSeconds * 1000);
      if (!admission.send) {
        sent.inc({ sink: name, result: 'grouped' });
        return { name, result: { kind: 'grouped' as const } };
      }
      const result = await deliver(sink, render(admission.heldSinceLast), config.timeoutMs, ctx.now);
      sent.inc({ sink: name, result: result.kind });
      if (result.kind === 'transient') groups.failed(name, key);
      else groups.settled(name, key);
      if (result.kind === 'permanent') {
        ctx.log.error('sink refused the notification; not retrying', { sink: name, status: result.status, detail: result.detail });
      }
      return { name, result };
    });
    const results = await Promise.all(work);
    ctx.log.info('notified', { routes: because, results: results.map((r) => `${r.name}:${r.result.kind}`) });
    const transient = results.flatMap((r) => (r.result.kind === 'transient' ? [{ name: r.name, ...r.result }] : []));
    if (transient.length > 0) {
      const waits = transient.flatMap((t) => (t.retryAfterSeconds === undefined ? [] : [t.retryAfterSeconds]));
      throw new UnavailableError(`sink ${transient.map((t) => `${t.name} (${t.detail})`).join(', ')} failed; the Broker will retry`, {
        ...(waits.length > 0 ? { retryAfterSeconds: Math.max(...waits) } : {}),
      });
    }
    return undefined;
  };
}
