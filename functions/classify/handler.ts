/**
 * classify/handler — accepts a bridged Kubernetes object or an Alertmanager alert -> decides which
 * signal it is (pure rules and state checks) -> resolves the target workload -> replies with the
 * signal (a resolved alert: dev.reflex.resolved), or 202.
 */
import { createHash } from 'node:crypto';
import { ALERT_PREFIX, resolvedEvent, type AlertData } from '../_contracts/events.js';
import type { Deps, Handler, HandlerContext, Reply, ValidEvent } from '../_kit/index.js';
import { classifyAlert } from '../_signals/alerts.js';
import { timeOf } from '../_signals/model.js';
import { findingsOf, knownKind, OBJECT_SCHEMAS } from '../_signals/findings.js';
import type { Finding } from '../_signals/model.js';
import { ownerPortFor } from '../_signals/owners-kube.js';
import { resolveTarget, type OwnerPort } from '../_signals/owners.js';
import { problemKey, signalReply } from '../_signals/signal.js';
import type { ClassifyConfig } from './config.js';
import { evictionLog, Recent, type Memory } from '../_signals/recent.js';
import { counter, gauge } from '../_kit/metrics.js';

/** An occurrence seen again within this long is a duplicate delivery (Events live 1 h by default). */
const DUPLICATE_WINDOW_MS = 60 * 60 * 1000;
const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 } as const;
/** The extension the node-Event source sets on what it delivers (knative/source/apiserversource.yaml, ceOverrides). */
const SCOPE_EXTENSION = 'reflexscope';
const NODE_SCOPE = 'nodes';

/** What tests and bench/storm.ts may change; nothing in the configuration reaches these. */
export interface ClassifyOptions {
  /** The port owners are resolved through, instead of the one the configuration names (a counting fake). */
  readonly owners?: OwnerPort;
  /** False: no early skip, every repeat resolves its target first (bench/storm.ts's same-run baseline). */
  readonly earlySkip?: boolean;
}

/** What an entry evicted while it still counted may cost, per memory (said in the log line). */
const EVICTION_COST: Readonly<Record<Memory, string>> = {
  occurrences: 'a redelivery of it is held back as a repeat of its problem while that is remembered',
  problems: 'a repeat of it may be signalled again',
  objects: 'its next occurrence resolves its target again (no extra signal)',
};

export function classifyHandler(config: ClassifyConfig, deps: Deps, options: ClassifyOptions = {}): Handler<ClassifyConfig> {
  const owners = options.owners ?? ownerPortFor(config.owners, deps.cluster, config.ownerCache);
  const earlySkip = options.earlySkip ?? true;
  const evictions = counter(
    deps.registry,
    'reflex_recent_evictions_total',
    'Entries of the recent-signal memory evicted while they still counted (a repeat may get through; objects: a target resolved again), by memory',
    ['memory'],
  );
  // A storm evicts thousands a second: the counter has each, the log one line a minute per memory.
  const logEvictions = evictionLog((memory, evicted) =>
    deps.log.warn('the recent-signal memory is full: evicting entries that still count (reflex_recent_evictions_total)', {
      memory,
      max: recent[memory].max,
      evictedSinceLastLine: evicted,
      cost: EVICTION_COST[memory],
    }),
  );
  /** What this server signalled lately (per server, never shared), bounded by configuration. */
  const recent = new Recent({
    maxOccurrences: config.maxOccurrences,
    maxProblems: config.maxProblems,
    onEvict: (memory, now) => {
      evictions.inc({ memory });
      logEvictions(memory, now);
    },
  });
  // Read when scraped: what no longer counts is dropped first, so after a storm the sizes fall
  // back to what still holds repeats back instead of staying at their caps.
  gauge(deps.registry, 'reflex_recent_entries', 'Entries in the recent-signal memory that still count, by memory', ['memory'], (g) => {
    for (const [memory, size] of Object.entries(recent.sizes(deps.now().getTime()))) g.set({ memory }, size);
  });

  // Every decision is explained: `why` (and the `rule` that matched, if one did) on the request's
  // log line, which carries its CloudEvent id (ceId); `reflex replay` attaches it to the event. At
  // debug: one line per Event a cluster writes is too much for info (REFLEX_LOG_LEVEL=debug shows it).
  const skip = (ctx: HandlerContext<ClassifyConfig>, reason: string, rule?: string): undefined => {
    ctx.log.debug('no signal', { why: reason, ...(rule ? { rule } : {}) });
    return undefined;
  };

  const handle = async (event: ValidEvent, ctx: HandlerContext<ClassifyConfig>): Promise<Reply | undefined> => {
    if (event.type.startsWith(ALERT_PREFIX)) return alert(event, ctx);
    if (event.type.endsWith('.delete')) return skip(ctx, 'a deleted object is not a problem');
    if (event.type.startsWith('dev.knative.apiserver.ref.')) {
      ctx.log.warn('Reference-mode events carry no object to classify; set the ApiServerSource to mode: Resource');
      return undefined;
    }
    const object = event.data as Record<string, unknown>;
    const kind = knownKind(object);
    if (!kind) return skip(ctx, `${String(object['apiVersion'])} ${String(object['kind'])} is not a kind classify reads`);
    ctx.validate(OBJECT_SCHEMAS[kind], object, 'data');
    // The source reflex-node-events watches all of `default` for the Node Events the kubelet and
    // node-problem-detector write there; it speaks for Nodes only, so Pods in a `default` that did
    // not opt in stay unwatched. If `default` is opted in too, reflex-events delivers the same Node
    // Event again: the same occurrence, which `recent` below drops as a duplicate delivery.
    if (event[SCOPE_EXTENSION] === NODE_SCOPE && !aboutNode(object))
      return skip(ctx, 'from the node-Event source, which only speaks for Nodes');
    const now = ctx.now();
    const outcome = findingsOf(kind, object, config.rules, now);
    if (outcome.kind === 'skip') return skip(ctx, outcome.reason, outcome.rule);
    return signalOf(outcome.findings, outcome.repeatAfterSeconds, ctx, now);
  };

  /** An Alertmanager alert: firing, a signal through the same memory as Events; resolved, dev.reflex.resolved. */
  const alert = async (event: ValidEvent, ctx: HandlerContext<ClassifyConfig>): Promise<Reply | undefined> => {
    const data = event.data as AlertData;
    const now = ctx.now();
    // When the alerts function received it: what the round and the signal's lastSeen are measured
    // at (a Broker retry later does not make it newer); never later than now.
    const sent = timeOf(event.time);
    const seenAt = sent && sent.getTime() <= now.getTime() ? sent : now;
    const outcome = classifyAlert(data, config.rules, seenAt);
    if (outcome.kind === 'skip') return skip(ctx, outcome.reason, outcome.rule);
    const f = outcome.finding;
    if (data.status === 'firing') return signalOf([f], outcome.rule.repeatAfterSeconds, ctx, now);
    const at = now.getTime();
    if (recent.occurrences.ageWithin(occurrenceKey(f), at) !== undefined) return skip(ctx, 'duplicate delivery of a resolved alert');
    const target = await resolveTarget(f.involved, owners);
    const key = problemKey(f, target);
    recent.occurrences.record(occurrenceKey(f), at, DUPLICATE_WINDOW_MS);
    const { apiVersion, kind, namespace, name } = target;
    return ctx.reply(
      resolvedEvent(`resolved-${key}-${hash(f.occurrence)}`, {
        key,
        class: f.class,
        severity: f.severity,
        reason: f.reason,
        target: { ...(apiVersion ? { apiVersion } : {}), kind, namespace, name },
        firstSeen: f.firstSeen.toISOString(),
        lastSeen: f.lastSeen.toISOString(),
        resolvedAt: f.lastSeen.toISOString(),
        resolvedBy: 'alertmanager',
      }),
    );
  };

  /** Findings -> at most one signal: duplicates dropped, repeats inside their window held back, the target resolved. */
  const signalOf = async (
    findings: readonly Finding[],
    repeatAfterSeconds: number,
    ctx: HandlerContext<ClassifyConfig>,
    now: Date,
  ): Promise<Reply | undefined> => {
    const at = now.getTime();
    const fresh = findings.filter((f) => recent.occurrences.ageWithin(occurrenceKey(f), at) === undefined);
    if (fresh.length === 0) return skip(ctx, 'duplicate delivery of an occurrence already signalled');
    const first = [...fresh].sort((a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity])[0]!;
    const repeatMs = repeatAfterSeconds * 1000;
    /** Why this occurrence is a repeat of a problem signalled inside its window, if it is. */
    const repeat = (key: string): string | undefined => {
      const age = recent.problems.ageWithin(key, at);
      return age === undefined
        ? undefined
        : `${first.class} on ${recent.problems.valueWithin(key, at)} was signalled ${Math.round(age / 1000)}s ago (repeatAfterSeconds ${repeatAfterSeconds})`;
    };
    const holdBack = (why: string): undefined => {
      recent.occurrences.record(occurrenceKey(first), at, DUPLICATE_WINDOW_MS);
      return skip(ctx, why, first.rule);
    };
    // The cheap path in a storm: another occurrence on an object whose problem is already known
    // (the same pod's BackOff again) is held back before its target is resolved or its signal built.
    const objectKey = `${first.class}|${first.involved.kind}|${first.involved.namespace ?? ''}|${first.involved.name}`;
    const known = earlySkip ? recent.knownProblem(objectKey, at) : undefined;
    const knownRepeat = known === undefined ? undefined : repeat(known);
    if (knownRepeat) return holdBack(knownRepeat);

    const target = await resolveTarget(first.involved, owners);
    const key = problemKey(first, target);
    const again = repeat(key);
    if (earlySkip && repeatMs > 0) recent.linkProblem(objectKey, key, at, repeatMs);
    if (again) return holdBack(again);
    const spec = signalReply(first, target, 'classify');
    recent.occurrences.record(occurrenceKey(first), at, DUPLICATE_WINDOW_MS);
    if (repeatMs > 0) recent.problems.record(key, at, repeatMs, spec.subject);
    if (fresh.length > 1)
      ctx.log.info('more problems on the same object; the sweep reports them', {
        also: fresh.filter((f) => f !== first).map((f) => f.class),
      });
    return ctx.reply(spec);
  };

  return handle;
}

const occurrenceKey = (f: Finding): string => `${f.class}|${f.occurrence}`;
const hash = (s: string): string => createHash('sha256').update(s).digest('hex').slice(0, 12);

/** An Event about a Node (core/v1 involvedObject, events.k8s.io/v1 regarding). */
function aboutNode(object: Record<string, unknown>): boolean {
  const about = (object['involvedObject'] ?? object['regarding']) as { kind?: unknown } | undefined;
  return object['kind'] === 'Event' && about?.kind === 'Node';
}
