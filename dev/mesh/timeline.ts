/**
 * dev/mesh/timeline — what the development broker saw, as lines a person reads: what happened in
 * the cluster and whether it became a signal (and why not, in classify's own words), the signal,
 * the evidence enrich gathered about it, what each function decided and why, and deliveries that
 * failed or were dead-lettered. Each outcome has one sentence template (ACTION_TEMPLATES); each
 * line is data too (`--json`).
 */
import type { BrokerRecord } from './broker.js';
import type { Event } from './delivery.js';
import type {
  ContainerFacts,
  Enrichment,
  EventFacts,
  LogTail,
  NodeFacts,
  RolloutChange,
  RolloutDiff,
} from '../../functions/_contracts/events.js';
import { ENRICHED_PREFIX } from '../../functions/_contracts/events.js';
import { truncate } from '../../functions/_signals/model.js';
import { safeText } from '../../functions/_kit/text.js';

/** What a signal or a decision is about: `{kind, namespace, name}` (no namespace when cluster-scoped). */
export interface Target {
  readonly kind: string;
  readonly namespace?: string;
  readonly name: string;
}

interface Row {
  readonly at: Date;
  /** The line as a person reads it. */
  readonly text: string;
}

/**
 * Something that happened in the cluster (a Kubernetes Event, or an object that changed) and what
 * came of it: a signal, or none and why — the reason the function gave (classify's `why` and
 * `rule` on its log line for this CloudEvent), never one recomputed here.
 */
export interface EventLine extends Row {
  readonly kind: 'event';
  readonly namespace?: string;
  /** The object it is about: an Event's involved object, else the object itself. */
  readonly object: { readonly kind: string; readonly name: string };
  readonly reason?: string;
  readonly type?: string;
  readonly count?: number;
  /** On one line, cut to MESSAGE_FIELD characters. */
  readonly message?: string;
  readonly outcome: 'signal' | 'none';
  readonly why?: string;
  readonly rule?: string;
}

export interface SignalLine extends Row {
  readonly kind: 'signal';
  readonly class: string;
  readonly severity: string;
  readonly target: Target;
  readonly rule?: string;
  readonly reason: string;
}

export interface ActionLine extends Row {
  readonly kind: 'action';
  readonly function: string;
  readonly outcome: string;
  readonly verb: string;
  readonly target: Target;
  readonly reason: string;
  readonly dryRun: boolean;
}

/**
 * enrich's reply (dev.reflex.enriched.<class>): the signal again, with the evidence around it. The
 * line says whose; the evidence is shown below it (evidenceLines) and is whole in `--json`.
 */
export interface EnrichedLine extends Row {
  readonly kind: 'enriched';
  readonly class: string;
  readonly target: Target;
  /** As enrich sent it (functions/_contracts/events.ts), redacted there; absent when the event carried none. */
  readonly enrichment?: Enrichment;
}

/** A delivery that failed ('problem'), or any other event ('other'). */
export interface NoteLine extends Row {
  readonly kind: 'problem' | 'other';
}

export type Line = EventLine | SignalLine | EnrichedLine | ActionLine | NoteLine;

/** `1 signal`, `2 signals`: a count with its noun agreeing. */
export function counted(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

type Ref = { kind?: string | undefined; name?: string | undefined; namespace?: string | undefined };
type Obj = {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  reason?: string;
  type?: string;
  message?: string;
  note?: string;
  count?: number;
  deprecatedCount?: number;
  series?: { count?: number } | null;
  involvedObject?: Ref;
  regarding?: Ref;
};

const named = (kind: string | undefined, namespace: string | undefined, name: string | undefined): string =>
  `${kind ?? '?'} ${namespace ? `${namespace}/` : ''}${name ?? '?'}`;

/** A message in the timeline's text: one line, at most this many characters. */
const MESSAGE_TEXT = 100;
/** A message in a `--json` row: one line, at most this many characters (a message can be megabytes). */
const MESSAGE_FIELD = 1024;

/**
 * Text on one line (every run of white space, newlines included, is one space), cut to `max`
 * characters at a word when one ends in the last third, with `…`.
 */
export function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  if (flat.length <= max) return flat;
  const keep = truncate(flat, max).slice(0, -1);
  if (flat.charAt(keep.length) === ' ') return `${keep}…`;
  const space = keep.lastIndexOf(' ');
  return `${space > (max * 2) / 3 ? keep.slice(0, space) : keep}…`;
}

/** How many times an Event happened, whichever API wrote it: the largest of its counts, at least 1. */
const countOf = (o: Obj): number =>
  Math.max(1, ...[o.count, o.deprecatedCount, o.series?.count].filter((n): n is number => typeof n === 'number'));

/** One watched object, in a few words: `BackOff x5 (Warning) on Pod shop/web-6f9d8c7b5-q7x2m`. */
export function describeObject(o: Obj, verb = ''): string {
  if (o.kind === 'Event') {
    const inv = o.involvedObject ?? o.regarding;
    const n = countOf(o);
    return `${o.reason ?? ''}${n > 1 ? ` x${n}` : ''} (${o.type ?? ''}) on ${named(inv?.kind, inv?.namespace, inv?.name)}`;
  }
  return `${named(o.kind, o.metadata?.namespace, o.metadata?.name)}${verb ? ` ${verb}` : ''}`;
}

/** A Kubernetes Event (either API) as an event row: what it is about, its reason, type, count and message. */
function kubeEventLine(at: Date, o: Obj): EventLine {
  const inv = o.involvedObject ?? o.regarding ?? {};
  const message = o.message ?? o.note ?? '';
  const namespace = inv.namespace || o.metadata?.namespace;
  return {
    at,
    kind: 'event',
    text: `${describeObject(o)}${message.trim() ? `: ${oneLine(message, MESSAGE_TEXT)}` : ''}`,
    ...(namespace ? { namespace } : {}),
    object: { kind: inv.kind ?? '', name: inv.name ?? '' },
    ...(o.reason !== undefined ? { reason: o.reason } : {}),
    ...(o.type !== undefined ? { type: o.type } : {}),
    count: countOf(o),
    ...(message ? { message: oneLine(message, MESSAGE_FIELD) } : {}),
    outcome: 'none',
  };
}

/** A bridged object as an event row, its outcome not known yet (Narrator learns it from the functions). */
function eventLine(at: Date, o: Obj, verb: string): EventLine {
  if (o.kind === 'Event') return kubeEventLine(at, o);
  const namespace = o.metadata?.namespace;
  return {
    at,
    kind: 'event',
    text: describeObject(o, verb),
    ...(namespace ? { namespace } : {}),
    object: { kind: o.kind ?? '', name: o.metadata?.name ?? '' },
    outcome: 'none',
  };
}

const VERBS: { [k: string]: string } = { add: 'added', update: 'changed', delete: 'deleted' };

/** An action verb as a person says it: [what one does, what one did]. */
const VERB_FORMS: { readonly [verb: string]: readonly [string, string] } = {
  rolledback: ['roll back', 'rolled back'],
  restarted: ['restart', 'restarted'],
  resized: ['resize', 'resized'],
  replaced: ['replace', 'replaced'],
  drained: ['drain', 'drained'],
  cleaned: ['clean up', 'cleaned up'],
  escalated: ['escalate', 'escalated'],
  scaled: ['scale', 'scaled'],
  // The verb of a reply when a guard stopped a function that has no verb of its own.
  skipped: ['act on', 'acted on'],
};

/** What a function decided, as its reply (a dev.reflex.action.* event) says it. */
export interface Decision {
  /** The function: the last segment of the reply's source. */
  readonly who: string;
  readonly outcome: string;
  readonly verb: string;
  /** `Deployment shop/web`. */
  readonly target: string;
  readonly reason: string;
  readonly steps: readonly string[];
}

/**
 * A dry run's reason reads `<why>: would <plan's reason>` (functions/_act/act.ts): the plan's
 * reason, and why it was a dry run, to place each where the sentence needs it.
 */
function dryRunOf(reason: string): { readonly why: string; readonly reason: string } {
  const m = /^dry-run(?: \(([^)]*)\))?: would (.*)$/s.exec(reason);
  if (!m) return { why: 'dry-run', reason };
  const by = m[1] === undefined ? '' : m[1] === 'policy' ? ', by policy' : `, by the ${m[1]} annotation`;
  return { why: `dry-run${by}`, reason: m[2]! };
}

const stepsOf = (d: Decision): string => (d.steps.length ? ` — ${d.steps.join('; ')}` : '');

/** One sentence per outcome; the verb fills the sentence, it is never printed beside the outcome. */
export const ACTION_TEMPLATES: { readonly [outcome: string]: (d: Decision, does: string, did: string) => string } = {
  applied: (d, _does, did) => `${d.who} ${did} ${d.target}: ${d.reason}${stepsOf(d)}`,
  dryrun: (d, does) => {
    const dry = dryRunOf(d.reason);
    return `${d.who} would ${does} ${d.target} (${dry.why}): ${dry.reason}${stepsOf(d)}`;
  },
  skipped: (d, does) => `${d.who} did not ${does} ${d.target}: ${d.reason}`,
  escalated: (d) => `${d.who} escalated ${d.target} to a person: ${d.reason}`,
  failed: (d, does) => `${d.who} failed to ${does} ${d.target}: ${d.reason}${stepsOf(d)}`,
};

/** The decision as the timeline says it. */
export function decisionText(d: Decision): string {
  const [does, did] = VERB_FORMS[d.verb] ?? [d.verb, d.verb];
  const template = ACTION_TEMPLATES[d.outcome];
  return template ? template(d, does, did) : `${d.who} answered ${d.outcome} (${d.verb}) about ${d.target}: ${d.reason}${stepsOf(d)}`;
}

/** A target as a reply carries it, in its structured form (no namespace for a cluster-scoped one). */
function targetOf(t: Ref | undefined): Target {
  return { kind: t?.kind ?? '?', ...(t?.namespace ? { namespace: t.namespace } : {}), name: t?.name ?? '?' };
}

/** The Kubernetes objects the ApiServerSource bridges (Resource mode: the object; Reference mode: a reference). */
const BRIDGED = /^dev\.knative\.apiserver\.(resource|ref)\.(add|update|delete)$/;

/** An event as a timeline line (a bridged object's outcome is 'none' until a Narrator learns better). */
export function describeEvent(e: Event): Line {
  const at = new Date(e.time ?? Date.now());
  const data = (e.data ?? {}) as { [k: string]: unknown };
  const bridged = BRIDGED.exec(e.type);
  if (bridged) return eventLine(at, data as Obj, VERBS[bridged[2]!] ?? '');
  if (e.type.startsWith('dev.reflex.signal.')) return signalLine(at, data);
  if (e.type.startsWith(ENRICHED_PREFIX)) return enrichedLine(at, data);
  if (e.type.startsWith('dev.reflex.action.')) {
    const { decision, target, dryRun } = decisionOf(e);
    return {
      at,
      kind: 'action',
      text: decisionText(decision),
      function: decision.who,
      outcome: decision.outcome,
      verb: decision.verb,
      target,
      reason: decision.reason,
      dryRun,
    };
  }
  return { at, kind: 'other', text: `${e.type}${e.subject ? ` ${e.subject}` : ''}` };
}

/** A signal as a line: its class, severity, target, the rule that matched (if one did) and its reason. */
function signalLine(at: Date, data: { [k: string]: unknown }): SignalLine {
  const d = data as { class?: string; severity?: string; reason?: string; rule?: string; target?: Ref };
  const rule = typeof d.rule === 'string' && d.rule ? d.rule : undefined;
  const target = targetOf(d.target);
  const reason = d.reason ?? '';
  return {
    at,
    kind: 'signal',
    text: `signal ${d.class ?? '?'} ${String(d.severity ?? '').toUpperCase()} on ${named(target.kind, target.namespace, target.name)} (${reason}${rule ? `, rule ${rule}` : ''})`,
    class: d.class ?? '?',
    severity: d.severity ?? '?',
    target,
    ...(rule ? { rule } : {}),
    reason,
  };
}

/** enrich's reply as a line: whose evidence it is; the evidence itself, as enrich sent it. */
function enrichedLine(at: Date, data: { [k: string]: unknown }): EnrichedLine {
  const d = data as { class?: string; target?: Ref; enrichment?: unknown };
  const target = targetOf(d.target);
  const e = d.enrichment;
  const enrichment = e !== null && typeof e === 'object' && !Array.isArray(e) ? (e as Enrichment) : undefined;
  return {
    at,
    kind: 'enriched',
    text: `enrich gathered the evidence on ${named(target.kind, target.namespace, target.name)} (${d.class ?? '?'})`,
    class: d.class ?? '?',
    target,
    ...(enrichment ? { enrichment } : {}),
  };
}

/** The last lines of the previous log the timeline shows; all that enrich sent is in `--json` (and in the message). */
const LOG_LINES_SHOWN = 4;
/** Rollout changes named before `and N more`. */
const CHANGES_SHOWN = 3;
/** A line of evidence in the timeline's text: one line, at most this many characters. */
const EVIDENCE_TEXT = 200;

/**
 * Text from a workload (a log line, a termination message, an Event's) as the timeline prints it:
 * made safe (functions/_kit/text.ts: escape sequences removed, any other control character shown
 * as `?`), on one line, cut at `max`.
 */
function printable(value: unknown, max = EVIDENCE_TEXT): string {
  const s = typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value);
  return oneLine(safeText(s, '?'), max);
}

/** An enrichment arrives as JSON from any sender: a field that should be a list and is not is none. */
const listOf = <T>(v: unknown): readonly T[] => (Array.isArray(v) ? (v as T[]).filter((x) => x !== null && x !== undefined) : []);

/** A time as the line beside it says it (`10:01:42`), with its date when that differs. */
function when(iso: unknown, at: Date): string {
  const t = new Date(typeof iso === 'string' ? iso : NaN);
  if (Number.isNaN(t.getTime())) return printable(iso, 40);
  const full = t.toISOString();
  return !Number.isNaN(at.getTime()) && full.slice(0, 10) === at.toISOString().slice(0, 10)
    ? full.slice(11, 19)
    : `${full.slice(0, 10)} ${full.slice(11, 19)}`;
}

/** `container web: last ended with exit code 1 (Error) at 10:01:42, 3 restarts, now running`. */
function containerText(c: ContainerFacts, at: Date): string {
  const t = c.lastTermination;
  const parts: string[] = [];
  if (t)
    parts.push(
      `last ended with exit code ${printable(t.exitCode, 16)}${t.signal ? ` (signal ${printable(t.signal, 16)})` : ''}` +
        `${t.reason ? ` (${printable(t.reason, 64)})` : ''}${t.finishedAt ? ` at ${when(t.finishedAt, at)}` : ''}`,
    );
  parts.push(counted(Number(c.restartCount) || 0, 'restart'));
  if (c.state) parts.push(`now ${printable(c.state, 64)}`);
  // What an OOM kill is measured against.
  if (t?.reason === 'OOMKilled' && c.limits?.['memory'])
    parts.push(
      `memory limit ${printable(c.limits['memory'], 32)}${c.usage?.['memory'] ? `, using ${printable(c.usage['memory'], 32)}` : ''}`,
    );
  if (t?.message) parts.push(`its message: ${printable(t.message, 100)}`);
  return printable(`container ${printable(c.name, 64)}: ${parts.join(', ')}`);
}

/** A log's header, then its last `n` lines, each behind `| ` (one line: on the header's). */
function logText(l: LogTail, n: number): string[] {
  const lines = listOf<unknown>(l.lines).slice(-n);
  const secrets = Object.values(l.redactions ?? {}).reduce<number>((a, b) => a + (Number(b) || 0), 0);
  const what = `${l.previous === true ? 'previous' : 'current'} log of ${printable(l.container, 64)}${secrets ? ` (${counted(secrets, 'secret')} redacted)` : ''}`;
  if (lines.length === 0) return [`${what}: empty`];
  if (lines.length === 1) return [`${what}, its last line: ${printable(lines[0])}`];
  return [`${what}, its last ${lines.length} lines:`, ...lines.map((x) => `  | ${printable(x)}`)];
}

/** One change of a rollout in words; an env name comes apart, to be said with its container's others. */
function changeText(c: RolloutChange): string | { readonly container: string; readonly name: string } {
  const who = printable(c.container, 64);
  const before = c.before === undefined ? undefined : printable(c.before, 120);
  const after = c.after === undefined ? undefined : printable(c.after, 120);
  if (c.field === 'env') return { container: who, name: after !== undefined ? `+${after}` : `-${before ?? '?'}` };
  if (c.field === 'container') return after !== undefined ? `container ${after} added` : `container ${before ?? '?'} removed`;
  if (c.field === 'command') return `${who} command changed`;
  return `${who} ${printable(c.field, 32)} ${before ?? 'none'} -> ${after ?? 'none'}`;
}

/** What a rollout changed, container by container: `web image a -> b`, `web env +NEW -OLD`. */
function rolloutText(r: RolloutDiff): string {
  // In the order the changes came, a container's env names together where its first one was.
  const said: (string | { readonly env: string })[] = [];
  const env = new Map<string, string[]>();
  for (const c of listOf<RolloutChange>(r.changes)) {
    const t = changeText(c);
    if (typeof t === 'string') said.push(t);
    else if (env.has(t.container)) env.get(t.container)!.push(t.name);
    else {
      env.set(t.container, [t.name]);
      said.push({ env: t.container });
    }
  }
  const texts = said.map((x) => (typeof x === 'string' ? x : `${x.env} env ${env.get(x.env)!.join(' ')}`));
  const from = `${printable(r.from?.revision, 16)} (${printable(r.from?.replicaSet, 64)})`;
  const to = `${printable(r.to?.revision, 16)} (${printable(r.to?.replicaSet, 64)})`;
  const shown = texts.slice(0, CHANGES_SHOWN).join('; ');
  const more = texts.length > CHANGES_SHOWN ? `; and ${texts.length - CHANGES_SHOWN} more` : '';
  return printable(
    `rollout from revision ${from} to ${to}: ${shown ? `${shown}${more}` : "the containers' templates are the same"}`,
    EVIDENCE_TEXT * 2,
  );
}

/** `BackOff x3 (Warning) on Pod web-6f9d8c7b5-q7x2m`. */
const eventText = (e: EventFacts): string =>
  `${printable(e.reason, 64)}${Number(e.count) > 1 ? ` x${Number(e.count)}` : ''} (${printable(e.type, 16)}) on ${printable(e.regarding, 128)}`;

/** A node's state, when it is not the usual: conditions that are not, taints, cordoned, its pods. */
function nodeText(n: NodeFacts): string | undefined {
  const off = listOf<NodeFacts['conditions'][number]>(n.conditions).filter((c) =>
    c.type === 'Ready' ? c.status !== 'True' : c.status === 'True',
  );
  const taints = listOf<unknown>(n.taints).map((t) => printable(t, 128));
  const parts = [
    ...off.map((c) => `${printable(c.type, 64)} ${printable(c.status, 16)}${c.reason ? ` (${printable(c.reason, 64)})` : ''}`),
    ...(n.unschedulable === true ? ['cordoned'] : []),
    ...(taints.length > 0 ? [`${counted(taints.length, 'taint')}: ${taints.join(', ')}`] : []),
    ...(n.pods ? [`${counted(Number(n.pods.count) || 0, 'pod')} on it`] : []),
  ];
  return parts.length > 0 ? printable(`node ${printable(n.name, 64)}: ${parts.join('; ')}`) : undefined;
}

/**
 * The evidence under an enriched line, a few lines a person reads first: the container's last
 * termination, the tail of its previous log (and the last line of its current one), what the last
 * rollout changed, the newest Event, the node when it is not well, and what could not be read.
 * Everything else enrich sent is in the `--json` row. Nothing here reads a clock: the same
 * enrichment always reads the same.
 */
export function evidenceLines(e: Enrichment, at: Date): string[] {
  const containers = listOf<ContainerFacts>(e.containers);
  const shown = containers.find((c) => c.lastTermination !== undefined) ?? containers[0];
  const events = listOf<EventFacts>(e.events);
  const node = e.node && typeof e.node === 'object' ? nodeText(e.node) : undefined;
  return [
    ...(shown ? [containerText(shown, at)] : []),
    ...logsText(listOf<LogTail>(e.logs), shown?.name),
    ...(e.rollout && typeof e.rollout === 'object' ? [rolloutText(e.rollout)] : []),
    ...(events[0] ? [`${counted(events.length, 'Event')}, the newest: ${eventText(events[0])}`] : []),
    ...(node ? [node] : []),
    ...notesText(e),
  ];
}

/** The container's previous log (its last lines) and current one (its last line; its last lines if there is no previous). */
function logsText(all: readonly LogTail[], container: string | undefined): string[] {
  const mine = all.filter((l) => l.container === container);
  const logs = mine.length > 0 ? mine : all;
  const previous = logs.find((l) => l.previous === true);
  const current = logs.find((l) => l.previous !== true);
  return [...(previous ? logText(previous, LOG_LINES_SHOWN) : []), ...(current ? logText(current, previous ? 1 : LOG_LINES_SHOWN) : [])];
}

/** What enrich could not read (the first note, and how many), and whether the evidence is partial for it. */
function notesText(e: Enrichment): string[] {
  const notes = listOf<unknown>(e.notes);
  const partial = e.complete === false ? ' (the evidence is partial)' : '';
  if (notes.length === 0) return partial ? ['the evidence is partial'] : [];
  return [printable(`${counted(notes.length, 'note')}${partial}: ${printable(notes[0])}${notes.length > 1 ? ' …' : ''}`)];
}

/** A function's reply as a Decision: its data, else its routing extensions. */
function decisionOf(e: Event): { decision: Decision; target: Target; dryRun: boolean } {
  const d = (e.data ?? {}) as {
    verb?: string;
    outcome?: string;
    reason?: string;
    target?: Ref;
    steps?: { detail?: string }[];
    dryRun?: boolean;
  };
  const ext = e as unknown as { [k: string]: unknown };
  const str = (k: string): string | undefined => (typeof ext[k] === 'string' ? (ext[k] as string) : undefined);
  const t = d.target ?? { kind: str('targetkind'), namespace: str('targetns'), name: str('targetname') };
  const outcome = d.outcome ?? str('outcome') ?? '?';
  return {
    decision: {
      who: e.source.split('/').pop() ?? e.source,
      outcome,
      verb: d.verb ?? str('reflexaction') ?? e.type.split('.').pop()!,
      target: named(t.kind, t.namespace, t.name),
      reason: d.reason ?? '',
      steps: (d.steps ?? []).map((s) => s.detail).filter((s): s is string => Boolean(s)),
    },
    target: targetOf(t),
    dryRun: typeof d.dryRun === 'boolean' ? d.dryRun : outcome === 'dryrun',
  };
}

/** What a refusal said: a problem body's detail (the functions' error contract), else its first 200 characters. */
function problemDetail(body: string): string {
  try {
    const { detail } = JSON.parse(body) as { detail?: unknown };
    if (typeof detail === 'string' && detail) return detail;
  } catch {
    // not a problem body: said as it came
  }
  return body.length > 200 ? `${body.slice(0, 200)}…` : body;
}

/** A broker record as a line; undefined for what a person need not see (a successful delivery). */
export function lineOf(r: BrokerRecord): Line | undefined {
  if (r.kind === 'accepted') return describeEvent(r.event);
  if (r.kind === 'refused')
    return { at: new Date(), kind: 'problem', text: `Broker ${r.broker} refused an event (${r.status}): ${r.reason}` };
  if (r.result.ok) return undefined;
  const dl = r.deadLettered;
  const where = dl?.to
    ? `dead-lettered to ${dl.to}${dl.result.ok ? '' : `, which failed too (${dl.result.status})`}`
    : 'dropped: the Trigger and the Broker have no dead-letter sink';
  const { attempts, status, error, body } = r.result;
  const said = error ?? problemDetail(body);
  const why = attempts > 0 ? `after ${counted(attempts, 'attempt')}, the last answered ${status}${said ? ` (${said})` : ''}` : `(${said})`;
  return {
    at: new Date(),
    kind: 'problem',
    text: `Trigger ${r.trigger} could not deliver ${r.event.type} to ${r.subscriber} ${why}; ${where}`,
  };
}

/** Why an event became a signal, from the signal itself: the rule that matched, else the object's state. */
function signalWhy(s: SignalLine): string {
  return s.rule ? `rule ${s.rule} matched: ${s.class}, ${s.severity}` : `its state shows ${s.class}, ${s.severity} (${s.reason})`;
}

/** A function's log line, read for a decision: its CloudEvent (`ceId`, the kit's per-request field), `why` and `rule`. */
export function decisionIn(logLine: string): { id: string; why: string; rule?: string } | undefined {
  if (!logLine.includes('"why"')) return undefined;
  try {
    const { ceId, why, rule } = JSON.parse(logLine) as { ceId?: unknown; why?: unknown; rule?: unknown };
    if (typeof ceId !== 'string' || typeof why !== 'string') return undefined;
    return { id: ceId, why, ...(typeof rule === 'string' && rule ? { rule } : {}) };
  } catch {
    return undefined;
  }
}

interface Waiting {
  line: EventLine;
  /** Deliveries of it still under way. */
  routes: number;
}

/**
 * Turns what the broker records and what the functions log into timeline lines, each event row
 * with its outcome. A bridged object's row waits for its deliveries: the function that handled it
 * logs its decision with the CloudEvent's id (classify: `no signal` with `why` and `rule`, at info),
 * or replies with a signal; the row is written when every Trigger that routed it has delivered it,
 * or as soon as one replied with a signal (before the signal's own line), or at `flush()`.
 */
export class Narrator {
  private readonly waiting = new Map<string, Waiting>();

  constructor(private readonly emit: (line: Line) => void) {}

  /** A log line of any function (`logSink`): a decision about an event row still waiting is kept for it. */
  log(logLine: string): void {
    const d = decisionIn(logLine);
    const w = d && this.waiting.get(d.id);
    if (!d || !w || w.line.why !== undefined) return;
    w.line = { ...w.line, why: d.why, ...(d.rule ? { rule: d.rule } : {}) };
  }

  record(r: BrokerRecord): void {
    if (r.kind === 'accepted' && BRIDGED.test(r.event.type)) {
      const line = describeEvent(r.event) as EventLine;
      // A CloudEvent id posted twice while the first is under way: the first is written as it stands.
      if (this.waiting.has(r.event.id)) this.finish(r.event.id);
      if (r.triggers.length === 0) this.emit({ ...line, why: `no Trigger of Broker ${r.broker} routes ${r.event.type}` });
      else this.waiting.set(r.event.id, { line, routes: r.triggers.length });
      return;
    }
    if (r.kind === 'delivered') {
      const w = this.waiting.get(r.event.id);
      if (w) {
        w.routes--;
        const reply = r.result.reply;
        if (reply?.type.startsWith('dev.reflex.signal.')) {
          const s = describeEvent(reply) as SignalLine;
          const { why: _w, rule: _r, ...line } = w.line;
          w.line = { ...line, outcome: 'signal', why: signalWhy(s), ...(s.rule ? { rule: s.rule } : {}) };
        }
        if (w.line.outcome === 'signal' || w.routes <= 0) this.finish(r.event.id);
      }
    }
    const line = lineOf(r);
    if (line) this.emit(line);
  }

  /** Writes every event row still waiting (when the broker is idle: nothing more will be said of them). */
  flush(): void {
    for (const id of [...this.waiting.keys()]) this.finish(id);
  }

  private finish(id: string): void {
    const w = this.waiting.get(id);
    if (!w) return;
    this.waiting.delete(id);
    this.emit(w.line);
  }
}

/** What a replay came to, in one sentence. */
export function summary(s: {
  readonly bridged: number;
  readonly contextOnly: number;
  /** Container logs the recording carried (PodLog records). */
  readonly logs?: number;
  readonly signals: number;
  readonly decisions: number;
  readonly problems: number;
}): string {
  const besides = [
    ...(s.contextOnly ? [`${s.contextOnly} more only described the cluster`] : []),
    ...(s.logs ? [counted(s.logs, 'container log')] : []),
  ];
  return (
    `${counted(s.bridged, 'event')} went through the broker${besides.length ? ` (${besides.join(', ')})` : ''}; ` +
    `${counted(s.signals, 'signal')}, ${counted(s.decisions, 'decision')}, ` +
    `${s.problems ? counted(s.problems, 'delivery problem') : 'no delivery problems'}.`
  );
}

/** Colour only on a terminal, and never when NO_COLOR is set to anything (https://no-color.org). */
export function colourFor(stream: { readonly isTTY?: boolean }, env: { readonly [k: string]: string | undefined }): boolean {
  return stream.isTTY === true && !env['NO_COLOR'];
}

const COLOURS: { [k in Line['kind']]: string } = { event: '2', signal: '1;33', enriched: '36', action: '1;36', problem: '31', other: '0' };

/** The width of `10:00:12  `: what the line under an event row is indented by. */
const TIME_WIDTH = 10;
/** What a line after an event row begins with, past the time. */
const ARROW = '   -> ';

/**
 * The line as printed: `10:00:12  text`, coloured when `colour`; an event that became no signal
 * says why on the line below (a signal says it on its own line, after it); the evidence enrich
 * gathered is indented below its line.
 */
export function render(line: Line, colour: boolean): string {
  const time = Number.isNaN(line.at.getTime()) ? '--:--:--' : line.at.toISOString().slice(11, 19);
  const indent = line.kind === 'event' ? '' : ARROW;
  const below =
    line.kind === 'event' && line.outcome === 'none'
      ? `\n${' '.repeat(TIME_WIDTH)}no signal${line.why ? `: ${line.why}` : ''}`
      : line.kind === 'enriched' && line.enrichment
        ? evidenceLines(line.enrichment, line.at)
            .map((l) => `\n${' '.repeat(TIME_WIDTH + ARROW.length)}${l}`)
            .join('')
        : '';
  const text = `${time}  ${indent}${line.text}${below}`;
  return colour
    ? text
        .split('\n')
        .map((l) => `\u001b[${COLOURS[line.kind]}m${l}\u001b[0m`)
        .join('\n')
    : text;
}

/**
 * A timeline printer: each line rendered (with its newline), and the date (UTC, as the times are)
 * on a line of its own before the first line and whenever it changes.
 */
export function printer(colour: boolean): (line: Line) => string {
  let date: string | undefined;
  return (line) => {
    const day = Number.isNaN(line.at.getTime()) ? undefined : line.at.toISOString().slice(0, 10);
    const header = day !== undefined && day !== date ? `${colour ? `\u001b[1m${day}\u001b[0m` : day}\n` : '';
    if (day !== undefined) date = day;
    return `${header}${render(line, colour)}\n`;
  };
}

/** The line as a `--json` row: `at` (ISO 8601, or null), `kind`, `text`, then its structured fields. */
export function jsonRow(line: Line): { readonly [k: string]: unknown } {
  const { at, kind, text, ...fields } = line;
  return { at: Number.isNaN(at.getTime()) ? null : at.toISOString(), kind, text, ...fields };
}
