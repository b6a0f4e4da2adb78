/**
 * notify/handler — accepts a signal (raw, or enriched by enrich), an action outcome or a
 * resolution -> decides which sinks
 * hear of it, whether a silence holds it back (a silence in the ConfigMap, or the target's own
 * `reflex.dev/silence-until`), and whether this window already told each sink
 * (the ledger: claim records shared by every replica) -> delivers to every sink in parallel ->
 * 202, or 503 when a sink failed transiently or another replica is telling it right now (the
 * Broker retries; only the sinks that still need it are tried again).
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { ACTION_PREFIX, RESOLVED_TYPE, SIGNAL_CLASSES, type ActionData, type ResolvedData, type SignalData } from '../_contracts/events.js';
import { counter, UnavailableError, where, type Deps, type Handler } from '../_kit/index.js';
import { deliveryFailure } from '../_kit/knative-error.js';
import type { Logger } from '../_kit/logger.js';
import { defaultSchemasDir, loadSchemas } from '../_kit/schemas.js';
import type { NotifyConfig } from './config.js';
import {
  actionFacts,
  actionMessage,
  labelsOf,
  message,
  readSignal,
  resolvedFacts,
  resolvedMessage,
  route,
  signalFacts,
  withContext,
  type Message,
} from './decide.js';
import { deliver } from './deliver.js';
import { ClusterLedger, memoryLedger, type Ledger, type Told } from './ledger.js';
import { notifyPort, targetRef, type MessageTarget } from './port.js';
import { noSilences, silenceBook, type SilenceBook } from './silence-book.js';
import { SILENCE_UNTIL, silencedUntil, type UntilDecision } from './silence-until.js';
import { SILENCE_SCHEMA, silencing } from './silences.js';
import { noTargets, targetBook, type TargetBook } from './target-book.js';

/** Metric labels name only known classes: anything else is `other`, so input cannot grow /metrics. */
const classLabel = (c: string): string => ((SIGNAL_CLASSES as readonly string[]).includes(c) ? c : 'other');

type Result =
  | { readonly kind: 'disabled' | 'grouped' | 'sent' }
  | { readonly kind: 'permanent'; readonly status: number; readonly detail: string }
  | { readonly kind: 'transient' | 'busy'; readonly detail: string; readonly retryAfterSeconds?: number };

export function notifyHandler(config: NotifyConfig, deps: Deps): Handler<NotifyConfig> {
  const sent = counter(
    deps.registry,
    'reflex_notify_total',
    'Notifications by sink and result (sent, grouped, silenced, busy, transient, permanent, disabled)',
    ['sink', 'result'],
  );
  const messages = counter(
    deps.registry,
    'reflex_notify_messages_total',
    'Messages by sink, class and outcome (told, grouped, silenced, failed)',
    ['sink', 'class', 'outcome'],
  );
  const writes = counter(
    deps.registry,
    'reflex_notify_state_writes_total',
    "Writes to notify's claim records by purpose (create, renew, retake, settle, collect) and outcome (ok, conflict)",
    ['op', 'outcome'],
  );
  const windowMs = config.groupWindowSeconds * 1000;
  const { state } = config;
  const port = state.grouping === 'cluster' || state.silences ? notifyPort(deps.cluster, state.namespace, deps.now) : undefined;
  const memory = memoryLedger(windowMs);
  // A window of 0 groups nothing: no claim records to keep.
  const ledger: Ledger =
    port && state.grouping === 'cluster' && windowMs > 0
      ? new ClusterLedger(
          port,
          { windowMs, claimTtlMs: state.claimTtlMs, me: `${hostname()}-${randomBytes(3).toString('hex')}` },
          { log: deps.log, count: (op, outcome) => writes.inc({ op, outcome }), fallback: memory },
        )
      : memory;
  const validSilence = loadSchemas([defaultSchemasDir()]).validator(SILENCE_SCHEMA);
  const silences: SilenceBook =
    port && state.silences
      ? silenceBook({ load: () => port.silences(), valid: (v) => validSilence(v), refreshMs: state.silencesRefreshMs, log: deps.log })
      : noSilences;
  // Where silences are read, so is the target's annotation (a GET of the object, at most once per refresh interval).
  const targets: TargetBook =
    port && state.silences
      ? targetBook({ load: (ref) => port.annotations(ref), refreshMs: state.silencesRefreshMs, log: deps.log })
      : noTargets;
  /** A silenced message is counted for every sink it would have gone to, and claims nothing. */
  const holdBack = (sinks: readonly string[], cls: string): void => {
    for (const name of sinks) {
      sent.inc({ sink: name, result: 'silenced' });
      messages.inc({ sink: name, class: cls, outcome: 'silenced' });
    }
  };
  /**
   * The target's own silence, from the object as it is now, not as it was when the signal was
   * made: an annotation added or removed since applies. An unreadable value is said once per read.
   */
  const untilOf = async (target: MessageTarget, now: number, log: Logger): Promise<UntilDecision> => {
    const held = await targets.annotations(targetRef(target));
    const until = silencedUntil(held.annotations, where(target), now);
    if (until.kind === 'invalid' && held.first)
      log.warn(`${SILENCE_UNTIL} ignored: not a time`, { object: where(target), value: until.value, reason: until.reason });
    return until;
  };

  return async (event, ctx) => {
    const isAction = event.type.startsWith(ACTION_PREFIX);
    const isResolved = event.type === RESOLVED_TYPE;
    const read = isAction || isResolved ? undefined : readSignal(event.type, event.data as SignalData, deliveryFailure(event));
    const facts = read
      ? signalFacts(read.signal)
      : isResolved
        ? resolvedFacts(event.data as ResolvedData)
        : actionFacts(event.data as ActionData);
    const { sinks, because, runbookUrl } = route(facts, config.routes);
    if (sinks.length === 0) {
      ctx.log.debug('no route matches', { ...facts });
      return undefined;
    }
    const runbook = runbookUrl ?? config.runbooks.get(facts.class) ?? config.runbooks.get('default');
    const render = (held: number): Message =>
      withContext(
        read
          ? message(read.signal, held, read.evidence)
          : isResolved
            ? resolvedMessage(event.data as ResolvedData)
            : actionMessage(event.data as ActionData, held, event.time ?? ctx.now().toISOString()),
        { cluster: config.cluster, runbook },
      );
    const first = render(0);
    const { key } = first;
    const cls = classLabel(first.class);
    const now = ctx.now().getTime();

    const silence = silencing(await silences.current(), labelsOf(first), now);
    if (silence) {
      holdBack(sinks, cls);
      ctx.log.info('silenced', {
        silence: silence.id,
        by: silence.createdBy,
        comment: silence.comment,
        until: silence.endsAt,
        sinks,
        problem: key,
      });
      return undefined;
    }
    const target = read ? read.signal.target : (event.data as ResolvedData | ActionData).target;
    // The silences' and the target's reads may each take a bound's worth of time: the claim below
    // reads the clock again, so its window and claimedAt are when it claims, not when this arrived.
    const until = await untilOf(target, now, ctx.log);
    if (until.kind === 'silenced') {
      holdBack(sinks, cls);
      ctx.log.info('silenced', {
        annotation: SILENCE_UNTIL,
        object: where(target),
        until: until.until,
        reason: until.reason,
        sinks,
        problem: key,
      });
      return undefined;
    }

    const work = sinks.map(async (name): Promise<{ name: string; result: Result }> => {
      const sink = config.sinks.get(name);
      if (!sink) {
        sent.inc({ sink: name, result: 'disabled' });
        ctx.log.warn('sink is disabled: its URL variable is not set', { sink: name });
        return { name, result: { kind: 'disabled' } };
      }
      const told: Told = await ledger.tell(name, key, ctx.now().getTime(), (held) =>
        deliver(sink, render(held), config.timeoutMs, ctx.now),
      );
      if (told.kind === 'grouped') {
        sent.inc({ sink: name, result: 'grouped' });
        messages.inc({ sink: name, class: cls, outcome: 'grouped' });
        return { name, result: { kind: 'grouped' } };
      }
      if (told.kind === 'busy') {
        sent.inc({ sink: name, result: 'busy' });
        ctx.log.info('another delivery is telling this sink; the Broker will retry', { sink: name, why: told.reason });
        return { name, result: { kind: 'busy', detail: told.reason, retryAfterSeconds: told.retryAfterSeconds } };
      }
      const result = told.delivery;
      sent.inc({ sink: name, result: result.kind });
      messages.inc({ sink: name, class: cls, outcome: result.kind === 'sent' ? 'told' : 'failed' });
      if (result.kind === 'permanent')
        ctx.log.error('sink refused the notification; not retrying', { sink: name, status: result.status, detail: result.detail });
      return { name, result: result.kind === 'sent' ? { kind: 'sent' } : result };
    });
    const results = await Promise.all(work);
    ctx.log.info('notified', { routes: because, results: results.map((r) => `${r.name}:${r.result.kind}`) });
    // Old claim records go now and then, after the answer is ready; a failure here changes no answer.
    void ledger.collect(now).catch((err: unknown) => ctx.log.warn('old claim records could not be collected', { error: String(err) }));
    const retry = results.flatMap((r) =>
      r.result.kind === 'transient' || r.result.kind === 'busy' ? [{ name: r.name, ...r.result }] : [],
    );
    if (retry.length > 0) {
      const waits = retry.flatMap((t) => (t.retryAfterSeconds === undefined ? [] : [t.retryAfterSeconds]));
      throw new UnavailableError(`sink ${retry.map((t) => `${t.name} (${t.detail})`).join(', ')} not told yet; the Broker will retry`, {
        ...(waits.length > 0 ? { retryAfterSeconds: Math.max(...waits) } : {}),
      });
    }
    return undefined;
  };
}
