/**
 * dev/mesh/timeline — what the development broker saw, as lines a person reads: what happened in
 * the cluster, the signal it became, what each function decided and why, and deliveries that
 * failed or were dead-lettered. Each outcome has one sentence template (ACTION_TEMPLATES).
 */
import type { BrokerRecord } from './broker.js';
import type { Event } from './delivery.js';

export interface Line {
  readonly at: Date;
  /** 'event' (from the cluster), 'signal', 'action', 'problem' (failed delivery), 'other'. */
  readonly kind: 'event' | 'signal' | 'action' | 'problem' | 'other';
  readonly text: string;
}

/** `1 signal`, `2 signals`: a count with its noun agreeing. */
export function counted(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

type Obj = {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  reason?: string;
  type?: string;
  count?: number;
  series?: { count?: number };
  involvedObject?: { kind?: string; name?: string; namespace?: string };
  regarding?: { kind?: string; name?: string; namespace?: string };
};

const named = (kind: string | undefined, namespace: string | undefined, name: string | undefined): string =>
  `${kind ?? '?'} ${namespace ? `${namespace}/` : ''}${name ?? '?'}`;

/** One watched object, in a few words: `BackOff x5 (Warning) on Pod shop/web-6f9d8c7b5-q7x2m`. */
export function describeObject(o: Obj, verb = ''): string {
  if (o.kind === 'Event') {
    const inv = o.involvedObject ?? o.regarding;
    const n = o.count ?? o.series?.count ?? 1;
    return `${o.reason ?? ''}${n > 1 ? ` x${n}` : ''} (${o.type ?? ''}) on ${named(inv?.kind, inv?.namespace, inv?.name)}`;
  }
  return `${named(o.kind, o.metadata?.namespace, o.metadata?.name)}${verb ? ` ${verb}` : ''}`;
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

/** An event as a timeline line. */
export function describeEvent(e: Event): Line {
  const at = new Date(e.time ?? Date.now());
  const data = (e.data ?? {}) as { [k: string]: unknown };
  if (e.type.startsWith('dev.knative.apiserver.resource.'))
    return { at, kind: 'event', text: describeObject(data as Obj, VERBS[e.type.split('.').pop()!] ?? '') };
  if (e.type.startsWith('dev.reflex.signal.')) {
    const d = data as { class?: string; severity?: string; reason?: string; target?: { kind?: string; namespace?: string; name?: string } };
    const t = d.target;
    return {
      at,
      kind: 'signal',
      text: `signal ${d.class ?? '?'} ${String(d.severity ?? '').toUpperCase()} on ${named(t?.kind, t?.namespace, t?.name)} (${d.reason ?? ''})`,
    };
  }
  if (e.type.startsWith('dev.reflex.action.')) return { at, kind: 'action', text: decisionText(decisionOf(e)) };
  return { at, kind: 'other', text: `${e.type}${e.subject ? ` ${e.subject}` : ''}` };
}

/** A function's reply as a Decision: its data, else its routing extensions. */
function decisionOf(e: Event): Decision {
  const d = (e.data ?? {}) as {
    verb?: string;
    outcome?: string;
    reason?: string;
    target?: { kind?: string; namespace?: string; name?: string };
    steps?: { detail?: string }[];
  };
  const ext = e as unknown as { [k: string]: unknown };
  const str = (k: string): string | undefined => (typeof ext[k] === 'string' ? (ext[k] as string) : undefined);
  const t = d.target ?? { kind: str('targetkind'), namespace: str('targetns'), name: str('targetname') };
  return {
    who: e.source.split('/').pop() ?? e.source,
    outcome: d.outcome ?? str('outcome') ?? '?',
    verb: d.verb ?? str('reflexaction') ?? e.type.split('.').pop()!,
    target: named(t.kind, t.namespace, t.name),
    reason: d.reason ?? '',
    steps: (d.steps ?? []).map((s) => s.detail).filter((s): s is string => Boolean(s)),
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

/** What a replay came to, in one sentence. */
export function summary(s: {
  readonly bridged: number;
  readonly contextOnly: number;
  readonly signals: number;
  readonly decisions: number;
  readonly problems: number;
}): string {
  return (
    `${counted(s.bridged, 'event')} went through the broker${s.contextOnly ? ` (${s.contextOnly} more only described the cluster)` : ''}; ` +
    `${counted(s.signals, 'signal')}, ${counted(s.decisions, 'decision')}, ` +
    `${s.problems ? counted(s.problems, 'delivery problem') : 'no delivery problems'}.`
  );
}

/** Colour only on a terminal, and never when NO_COLOR is set to anything (https://no-color.org). */
export function colourFor(stream: { readonly isTTY?: boolean }, env: { readonly [k: string]: string | undefined }): boolean {
  return stream.isTTY === true && !env['NO_COLOR'];
}

const COLOURS: { [k in Line['kind']]: string } = { event: '2', signal: '1;33', action: '1;36', problem: '31', other: '0' };

/** The line as printed: `10:00:12  text`, coloured when `colour`. */
export function render(line: Line, colour: boolean): string {
  const time = Number.isNaN(line.at.getTime()) ? '--:--:--' : line.at.toISOString().slice(11, 19);
  const indent = line.kind === 'event' ? '' : '   -> ';
  const text = `${time}  ${indent}${line.text}`;
  return colour ? `\u001b[${COLOURS[line.kind]}m${text}\u001b[0m` : text;
}
