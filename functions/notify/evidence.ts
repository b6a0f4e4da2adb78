/**
 * notify/evidence — pure: enrich's Enrichment (or why there is none) -> the evidence a person
 * reads, one line per fact. Every string in it came from the cluster: it is made printable here
 * (one line, no control characters) and escaped by each sink's renderer.
 */
import type {
  ContainerFacts,
  Enrichment,
  EventFacts,
  LogTail,
  NodeCondition,
  NodeFacts,
  RolloutChange,
  RolloutDiff,
  SignalData,
} from '../_contracts/events.js';
import { NODE_CLASSES } from '../_contracts/events.js';
import type { DeliveryFailure } from '../_kit/knative-error.js';
import { safeText } from '../_kit/text.js';
import { truncate } from '../_signals/model.js';

export interface EvidenceLog {
  /** `previous log of container web (last 3 lines, redacted)`. */
  readonly label: string;
  readonly container: string;
  readonly previous: boolean;
  /** Oldest first, as the container wrote them; printable, each at most MAX_LOG_LINE characters. */
  readonly lines: readonly string[];
  /** enrich kept only the last lines: more came before. */
  readonly truncated: boolean;
}

/** What notify shows beside a signal: what enrich found, or why it found nothing. */
export interface Evidence {
  /** `gathered at 10:04:01Z in 212 ms`, or `enrichment unavailable (enrich answered 503: …)`. */
  readonly summary: string;
  /** False when enrich could not be asked: the summary says why, and every list is empty. */
  readonly gathered: boolean;
  /** `pod web-7d9c8b5f4-x2x7q (Running) on node node-a, owned by ReplicaSet web-7d9c8b5f4`. */
  readonly pod?: string;
  /** Last terminations, the signal's container first: `web: exit code 1 (Error), finished 10:03:52Z, 5 restarts`. */
  readonly termination: readonly string[];
  /** `web: waiting: CrashLoopBackOff, not ready, image registry.example/web:2.5.0`. */
  readonly containers: readonly string[];
  /** For oomkilled: `web memory: limit 512Mi, request 256Mi, usage 498Mi`. */
  readonly resources: readonly string[];
  /** The signal's container first, its previous instance before the current one. */
  readonly logs: readonly EvidenceLog[];
  /** `Warning BackOff ×5 on Pod web-7d9c8b5f4-x2x7q: Back-off restarting failed container`. */
  readonly events: readonly string[];
  /** Pod problems: the node and its conditions that are not normal. Node problems: conditions, taints, allocatable vs requested, pods. */
  readonly node: readonly string[];
  /** `revision 1 (web-5c6b7d8e9f) -> 2 (web-7d9c8b5f4)`, then `web: image registry.example/web:2.4.0 -> 2.5.0`, `web: env removed: DATABASE_URL`. */
  readonly rollout: readonly string[];
  /** What is missing and why, as enrich said it. */
  readonly notes: readonly string[];
}

/** A log line longer than this is cut: one line of a stack trace must not crowd out the lines around it. */
const MAX_LOG_LINE = 1000;
/** A fact from the cluster (an Event message, a condition message, a note) in one line of at most this much. */
const MAX_FACT = 500;
/** A response body from a failed delivery: enough for a problem's detail. */
const MAX_RESPONSE = 200;
/** Pod names listed for a node problem; the count says how many there are. */
const MAX_POD_NAMES = 10;

/** A log line a person can read: no escape sequences, no control characters (tabs stay; a CRLF's CR goes), bounded. */
function printable(line: string): string {
  return truncate(safeText(line.replace(/\r$/, '')).replace(/[\r\n]/g, '\ufffd'), MAX_LOG_LINE);
}

/** A fact in one line: newlines and control characters become spaces, bounded. */
function oneLine(s: string, n = MAX_FACT): string {
  return truncate(
    safeText(s)
      .replace(/[\r\n\t]+/g, ' ')
      .trim(),
    n,
  );
}

const ISO = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.\d+)?Z$/;

/** `10:03:52Z` on the day enrich gathered the evidence, the whole timestamp on another day. */
function clock(at: string, day: string | undefined): string {
  const m = ISO.exec(at);
  if (!m) return oneLine(at, 40);
  return m[1] === day ? `${m[2]}Z` : `${m[1]} ${m[2]}Z`;
}

const plural = (n: number, one: string): string => `${n} ${one}${n === 1 ? '' : 's'}`;

function terminationLine(c: ContainerFacts, day: string | undefined): string | undefined {
  const t = c.lastTermination;
  if (!t) return undefined;
  const facts = [
    `exit code ${t.exitCode}${t.reason ? ` (${oneLine(t.reason, 64)})` : ''}`,
    ...(t.signal !== undefined ? [`signal ${t.signal}`] : []),
    ...(t.finishedAt ? [`finished ${clock(t.finishedAt, day)}`] : []),
    plural(c.restartCount, 'restart'),
  ];
  return `${oneLine(c.name, 63)}: ${facts.join(', ')}${t.message ? `: ${oneLine(t.message, 300)}` : ''}`;
}

function containerLine(c: ContainerFacts): string {
  const facts = [
    oneLine(c.state ?? 'state unknown', 256),
    ...(c.ready === undefined ? [] : [c.ready ? 'ready' : 'not ready']),
    // The restarts are said once: in the termination line, when there is one.
    ...(c.lastTermination ? [] : [plural(c.restartCount, 'restart')]),
    ...(c.image ? [`image ${oneLine(c.image, 300)}`] : []),
  ];
  return `${oneLine(c.name, 63)}: ${facts.join(', ')}`;
}

/** `web memory: limit 512Mi, request 256Mi, usage 498Mi`, memory first: what an OOM kill is measured against. */
function resourceLines(c: ContainerFacts): string[] {
  const names = [...new Set([...Object.keys(c.limits ?? {}), ...Object.keys(c.requests ?? {}), ...Object.keys(c.usage ?? {})])];
  if (!names.includes('memory')) names.unshift('memory');
  names.sort((a, b) => (a === 'memory' ? -1 : b === 'memory' ? 1 : 0));
  return names.slice(0, 8).map((r) => {
    const of = (what: string, m: Readonly<Record<string, string>> | undefined): string | undefined => {
      const v = m?.[r];
      return v === undefined ? undefined : `${what} ${oneLine(v, 64)}`;
    };
    const parts = [of('limit', c.limits) ?? 'no limit', of('request', c.requests), of('usage', c.usage)].filter((p) => p !== undefined);
    return `${oneLine(c.name, 63)} ${oneLine(r, 64)}: ${parts.join(', ')}`;
  });
}

function logLabel(l: LogTail): string {
  const which = l.previous ? 'previous log' : 'log';
  const n = l.lines.length === 0 ? 'empty' : `last ${plural(l.lines.length, 'line')}, redacted`;
  return `${which} of container ${oneLine(l.container, 63)} (${n})`;
}

function eventLine(e: EventFacts, day: string | undefined): string {
  const when = e.lastSeen ? `, last ${clock(e.lastSeen, day)}` : '';
  return oneLine(`${e.type} ${e.reason} ×${e.count} on ${e.regarding}${when}: ${e.message}`);
}

/** Ready is normal when True; every other condition (MemoryPressure, DiskPressure, …) when False. */
const normal = (c: NodeCondition): boolean => (c.type === 'Ready' ? c.status === 'True' : c.status === 'False');

function conditionLine(c: NodeCondition, day: string | undefined): string {
  const why = [c.reason, c.since ? `since ${clock(c.since, day)}` : undefined].filter((x) => x !== undefined).join(', ');
  return oneLine(`${c.type} ${c.status}${why ? ` (${why})` : ''}${c.message ? `: ${c.message}` : ''}`);
}

function nodeLines(n: NodeFacts, aboutNode: boolean, day: string | undefined): string[] {
  const name = `node ${oneLine(n.name, 253)}${n.unschedulable ? ' (cordoned)' : ''}`;
  if (!aboutNode) {
    const odd = n.conditions.filter((c) => !normal(c));
    return odd.length === 0 ? [`${name}: conditions normal`] : [name, ...odd.map((c) => conditionLine(c, day))];
  }
  const resources = [...new Set([...Object.keys(n.allocatable ?? {}), ...Object.keys(n.requested ?? {})])].slice(0, 8);
  return [
    name,
    ...n.conditions.map((c) => conditionLine(c, day)),
    n.taints.length === 0 ? 'taints: none' : oneLine(`taints: ${n.taints.join(', ')}`),
    ...resources.map((r) => oneLine(`${r}: ${n.requested?.[r] ?? '?'} requested of ${n.allocatable?.[r] ?? '?'} allocatable`, 200)),
    ...(n.pods
      ? [
          oneLine(
            `pods bound: ${n.pods.count}${n.pods.names.length > 0 ? ` (${n.pods.names.slice(0, MAX_POD_NAMES).join(', ')}${n.pods.count > MAX_POD_NAMES ? ', …' : ''})` : ''}`,
          ),
        ]
      : []),
  ];
}

/** `registry.example/web:2.4.0 -> 2.5.0`: the tag alone when only the tag changed. */
function imageChange(before: string, after: string): string {
  const split = (ref: string): [string, string] | undefined => {
    const at = ref.lastIndexOf(':');
    return at > ref.lastIndexOf('/') ? [ref.slice(0, at), ref.slice(at + 1)] : undefined;
  };
  const [b, a] = [split(before), split(after)];
  return b && a && b[0] === a[0] ? `${before} -> ${a[1]}` : `${before} -> ${after}`;
}

function changeLine(c: RolloutChange): string {
  const [before, after] = [
    c.before === undefined ? undefined : oneLine(c.before, 300),
    c.after === undefined ? undefined : oneLine(c.after, 300),
  ];
  const change = (): string => {
    if (c.field === 'env')
      return before === undefined
        ? `env added: ${after ?? '?'}`
        : after === undefined
          ? `env removed: ${before}`
          : before === after
            ? `env changed: ${before}`
            : `env ${before} -> ${after}`;
    if (c.field === 'container')
      return before === undefined ? 'container added' : after === undefined ? 'container removed' : 'container replaced';
    if (c.field === 'image' && before !== undefined && after !== undefined) return `image ${imageChange(before, after)}`;
    return `${c.field} ${before ?? '(none)'} -> ${after ?? '(none)'}`;
  };
  return `${oneLine(c.container, 63)}: ${change()}`;
}

function rolloutLines(r: RolloutDiff): string[] {
  const rev = (s: RolloutDiff['from']): string => `${s.revision} (${oneLine(s.replicaSet, 253)})`;
  return [`revision ${rev(r.from)} -> ${rev(r.to)}`, ...r.changes.map(changeLine)];
}

/** The signal's container first, then in enrich's order. */
function first<T>(items: readonly T[], isFirst: (x: T) => boolean): T[] {
  return [...items.filter(isFirst), ...items.filter((x) => !isFirst(x))];
}

/** The evidence of an enriched signal. */
export function evidenceOf(s: SignalData, e: Enrichment): Evidence {
  const day = ISO.exec(e.gatheredAt)?.[1];
  const mine = (name: string): boolean => name === s.container;
  const containers = first(e.containers ?? [], (c) => mine(c.name));
  const logs = [...(e.logs ?? [])].sort(
    (a, b) => Number(!mine(a.container)) - Number(!mine(b.container)) || Number(!a.previous) - Number(!b.previous),
  );
  const pod = e.pod;
  return {
    summary: `gathered at ${clock(e.gatheredAt, day)} in ${e.tookMs} ms${e.complete ? '' : ', incomplete (see the notes)'}`,
    gathered: true,
    ...(pod
      ? {
          pod: oneLine(
            `pod ${pod.name}${pod.phase ? ` (${pod.phase})` : ''}${pod.node ? ` on node ${pod.node}` : ''}${pod.owner ? `, owned by ${pod.owner}` : ''}${pod.startedAt ? `, started ${clock(pod.startedAt, day)}` : ''}`,
          ),
        }
      : {}),
    termination: containers.flatMap((c) => terminationLine(c, day) ?? []),
    containers: containers.map(containerLine),
    resources: s.class === 'oomkilled' ? containers.flatMap(resourceLines) : [],
    logs: logs.map((l) => ({
      label: logLabel(l),
      container: l.container,
      previous: l.previous,
      lines: l.lines.map(printable),
      truncated: l.truncated,
    })),
    events: (e.events ?? []).map((x) => eventLine(x, day)),
    node: e.node ? nodeLines(e.node, NODE_CLASSES.includes(s.class) || s.target.kind === 'Node', day) : [],
    rollout: e.rollout ? rolloutLines(e.rollout) : [],
    notes: e.notes.map((n) => oneLine(n, 1024)),
  };
}

/** What a failed delivery's response says, in a few words: a problem body's detail or title, else the body. */
function answerOf(response: string | undefined): string | undefined {
  if (!response) return undefined;
  try {
    const p = JSON.parse(response) as { detail?: unknown; title?: unknown };
    const said = typeof p.detail === 'string' && p.detail ? p.detail : typeof p.title === 'string' ? p.title : undefined;
    if (said) return oneLine(said, MAX_RESPONSE);
  } catch {
    // not JSON: the body as it came
  }
  return oneLine(response, MAX_RESPONSE) || undefined;
}

/**
 * The evidence of a signal Knative dead-lettered from enrich to notify: none, and why, so the
 * person knows to look themselves (the message is still sent).
 */
export function unavailable(f: DeliveryFailure): Evidence {
  const said = answerOf(f.response);
  const why =
    f.code !== undefined
      ? `enrich answered ${f.code}${said ? `: ${said}` : ''}`
      : f.destination
        ? 'enrich did not answer: network error or timeout'
        : 'enrich could not take it';
  return {
    summary: `enrichment unavailable (${why})`,
    gathered: false,
    termination: [],
    containers: [],
    resources: [],
    logs: [],
    events: [],
    node: [],
    rollout: [],
    notes: [],
  };
}
