/** notify/decide — pure: a signal or an action outcome, and the routes -> which sinks, and the message. */
import {
  ENRICHED_CLASSES,
  ENRICHED_PREFIX,
  SIGNAL_CLASSES as SIGNAL_CLASS_NAMES,
  type ActionData,
  type ResolvedData,
  type SignalData,
  type Severity,
} from '../_contracts/events.js';
import type { DeliveryFailure } from '../_kit/knative-error.js';
import type { Route, Template } from './config.js';
import { evidenceOf, unavailable, type Evidence } from './evidence.js';
import { targetLabel, type Labels } from './silences.js';

/** What routes match on. */
export interface Facts {
  readonly on: 'signal' | 'action';
  readonly class: string;
  readonly severity: Severity;
  readonly namespace: string;
  readonly outcome?: string;
}

export interface Message {
  /** A new problem or outcome ('trigger'), or the follow-up saying a problem is over ('resolve'). */
  readonly action?: 'trigger' | 'resolve';
  readonly title: string;
  readonly severity: Severity;
  /** what, where, why — one line each. */
  readonly what: string;
  readonly where: string;
  readonly why: string;
  /** What Reflex did or refused to do (signals: nothing yet; actions say what). */
  readonly done: string;
  readonly kubectl: readonly string[];
  /** Grouping key: the problem (signals) or the problem, verb and outcome (actions). */
  readonly key: string;
  readonly heldSinceLast: number;
  readonly target: { readonly kind: string; readonly namespace: string; readonly name: string };
  readonly class: string;
  readonly reason: string;
  readonly at: string;
  /** The event's data as it came, for the webhook. */
  readonly data: unknown;
  /** This cluster's name, when one is configured (one channel may serve several clusters). */
  readonly cluster?: string;
  /** Where the runbook for this problem is, when the routes file names one. */
  readonly runbookUrl?: string;
  /** The `reflex silence add` command line that silences this problem (not on a resolution). */
  readonly silence?: string;
  /** What enrich found around a signal, or why it found nothing; absent for load signals, actions, resolutions. */
  readonly evidence?: Evidence;
}

export function route(f: Facts, routes: readonly Route[]): { sinks: string[]; because: string[]; runbookUrl: Template | undefined } {
  const sinks = new Set<string>();
  const because: string[] = [];
  let runbookUrl: Template | undefined;
  for (const r of routes) {
    const ok =
      r.on === f.on &&
      (!r.classes || r.classes.has(f.class)) &&
      (!r.severities || r.severities.has(f.severity)) &&
      (!r.namespaces || r.namespaces.has(f.namespace)) &&
      (!r.outcomes || (f.outcome !== undefined && r.outcomes.has(f.outcome)));
    if (!ok) continue;
    r.sinks.forEach((s) => sinks.add(s));
    because.push(r.name);
    runbookUrl ??= r.runbookUrl;
    if (!r.continue) break;
  }
  return { sinks: [...sinks], because, runbookUrl };
}

const PLURAL: Record<string, string> = {
  Deployment: 'deployment',
  StatefulSet: 'statefulset',
  DaemonSet: 'daemonset',
  Job: 'job',
  CronJob: 'cronjob',
  Node: 'node',
  Pod: 'pod',
  ReplicaSet: 'replicaset',
};

/** `Deployment shop/web`, `Node n1`. */
const whereOf = (t: { kind: string; namespace: string; name: string }): string =>
  t.namespace ? `${t.kind} ${t.namespace}/${t.name}` : `${t.kind} ${t.name}`;

/**
 * POSIX shell quoting: a word of plainly safe characters as it is, anything else in single
 * quotes (a quote inside becomes '\''), so a pasted command runs with exactly this argument.
 */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9._/:=@,+-]+$/.test(value) && !value.startsWith('-') ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** What the API server accepts: DNS-1123 subdomains (object names), labels (namespaces, containers), kinds. */
const VALID = {
  name: (v: string) => v.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(v),
  label: (v: string) => v.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v),
  kind: (v: string) => /^[A-Za-z][A-Za-z0-9]*$/.test(v),
} as const;

/** A value from the cluster that a command names, and which syntax it must have. */
type Check = readonly [what: string, value: string, valid: keyof typeof VALID];

/**
 * A copy-paste command. Values from the cluster are checked (a name the API server would refuse
 * cannot be a real object, only an attempt at one) and `build` quotes them for POSIX shells
 * anyway, so the message is safe on its own, whatever was validated upstream. A refused value
 * gives a comment line in place of the command, which a shell ignores, and is not repeated.
 */
function command(checks: readonly Check[], build: () => string): string {
  const bad = checks.find(([, value, valid]) => !VALID[valid](value));
  return bad ? `# no command: the ${bad[0]} is not a valid Kubernetes name (see Where)` : build();
}

const q = shellQuote;
const resourceOf = (kind: string): string => PLURAL[kind] ?? kind.toLowerCase();
const targetChecks = (t: { kind: string; namespace: string; name: string }): Check[] => [
  ['kind', t.kind, 'kind'],
  [`${t.kind} name`, t.name, 'name'],
  ...(t.namespace ? [['namespace', t.namespace, 'label'] as const] : []),
];
const nsFlag = (namespace: string): string => (namespace ? ` -n ${q(namespace)}` : '');

/** The commands an on-call engineer types first. */
function describeTarget(t: { kind: string; namespace: string; name: string }): string {
  return command(targetChecks(t), () => `kubectl describe ${q(resourceOf(t.kind))} ${q(t.name)}${nsFlag(t.namespace)}`);
}

export function kubectlHints(s: SignalData): string[] {
  const t = s.target;
  const ns = nsFlag(t.namespace);
  const hints = [describeTarget(t)];
  const inv = s.involved;
  if (inv.kind === 'Pod' && inv.name !== t.name) {
    const pod: Check[] = [...targetChecks(t), ['Pod name', inv.name, 'name']];
    hints.push(command(pod, () => `kubectl get events${ns} --field-selector ${q(`involvedObject.name=${inv.name}`)}`));
    if (s.class === 'crashloop' || s.class === 'oomkilled') {
      const c = s.container;
      hints.push(
        command(
          c ? [...pod, ['container name', c, 'label']] : pod,
          () => `kubectl logs${ns} ${q(inv.name)}${c ? ` -c ${q(c)}` : ''} --previous`,
        ),
      );
    }
  }
  if (t.kind === 'Deployment' && (s.class === 'crashloop' || s.class === 'rolloutstalled'))
    hints.push(command(targetChecks(t), () => `kubectl rollout history deployment ${q(t.name)}${ns}`));
  return hints;
}

/**
 * A signal event as notify reads it: enrich's reply (dev.reflex.enriched.<class>) and the raw
 * signal are one problem (same data, same key, so they group together). Only enrich's reply is
 * believed about evidence: an `enrichment` on a raw signal is dropped (anyone who may send a
 * signal could write one). A raw signal of a class enrich takes that carries Knative's error
 * extensions is enrich's dead letter: the message says the evidence could not be gathered.
 */
export function readSignal(
  type: string,
  data: SignalData,
  failure: DeliveryFailure | undefined,
): { readonly signal: SignalData; readonly evidence: Evidence | undefined } {
  if (type.startsWith(ENRICHED_PREFIX)) return { signal: data, evidence: data.enrichment && evidenceOf(data, data.enrichment) };
  const { enrichment: _ignored, ...signal } = data;
  return { signal, evidence: failure && ENRICHED_CLASSES.includes(signal.class) ? unavailable(failure) : undefined };
}

export function message(s: SignalData, heldSinceLast: number, evidence?: Evidence): Message {
  const where = whereOf(s.target);
  const more = heldSinceLast > 0 ? ` (${heldSinceLast} more since the last notice)` : '';
  return {
    title: `${s.class} on ${where}`,
    severity: s.severity,
    what: `${s.class}: ${s.reason}, ${s.occurrences} occurrence${s.occurrences === 1 ? '' : 's'}${more}`,
    where:
      s.involved.name !== s.target.name
        ? `${where} (seen on ${s.involved.kind} ${s.involved.name}${s.container ? `, container ${s.container}` : ''})`
        : where,
    why: s.message || s.reason,
    done: 'Reflex has not acted on this signal; it is reported for a human to look at.',
    kubectl: kubectlHints(s),
    key: s.key,
    heldSinceLast,
    target: s.target,
    class: s.class,
    reason: s.reason,
    at: s.lastSeen,
    data: s,
    ...(evidence ? { evidence } : {}),
  };
}

export const signalFacts = (s: SignalData): Facts => ({
  on: 'signal',
  class: s.class,
  severity: s.severity,
  namespace: s.target.namespace,
});

/** A failure needs eyes now; an escalation needs a person; the rest is for the record. */
const OUTCOME_SEVERITY: Record<ActionData['outcome'], Severity> = {
  failed: 'critical',
  escalated: 'warning',
  applied: 'info',
  dryrun: 'info',
  skipped: 'info',
};

export const actionFacts = (a: ActionData): Facts => ({
  on: 'action',
  class: a.signal.class ?? '',
  severity: OUTCOME_SEVERITY[a.outcome],
  namespace: a.target.namespace,
  outcome: a.outcome,
});

export function actionMessage(a: ActionData, heldSinceLast: number, at: string): Message {
  const t = a.target;
  const where = whereOf(t);
  const more = heldSinceLast > 0 ? ` (${heldSinceLast} more since the last notice)` : '';
  return {
    title: `Reflex ${a.verb} ${where}: ${a.outcome}`,
    severity: OUTCOME_SEVERITY[a.outcome],
    what: `${a.outcome} (${a.verb}) for ${a.signal.class ?? a.signal.type}${more}`,
    where,
    why: a.reason,
    done:
      a.steps.length > 0
        ? a.steps.map((s) => `${s.done ? 'done' : a.dryRun ? 'would' : 'planned'}: ${s.detail}`).join('; ')
        : a.outcome === 'escalated'
          ? 'Nothing: a person must decide.'
          : 'Nothing was changed.',
    kubectl: [
      describeTarget(t),
      command(targetChecks(t), () => `kubectl events${nsFlag(t.namespace)} --for ${q(`${resourceOf(t.kind)}/${t.name}`)}`),
    ],
    key: `${a.signal.key}:${a.verb}:${a.outcome}`,
    heldSinceLast,
    target: t,
    class: a.signal.class ?? a.verb,
    reason: a.reason,
    at,
    data: a,
  };
}

/** A resolution is routed as its problem was (same class, severity, namespace): the same sinks hear the end of it. */
export const resolvedFacts = (r: ResolvedData): Facts => ({
  on: 'signal',
  class: r.class,
  severity: r.severity,
  namespace: r.target.namespace,
});

function lasted(from: string, to: string): string {
  const s = Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

export function resolvedMessage(r: ResolvedData): Message {
  const t = r.target;
  const where = whereOf(t);
  return {
    action: 'resolve',
    title: `Resolved: ${r.class} on ${where}`,
    severity: r.severity,
    what: `${r.class}${r.reason ? ` (${r.reason})` : ''} is over: first found ${r.firstSeen}, last found ${r.lastSeen} (${lasted(r.firstSeen, r.lastSeen)})`,
    where,
    why:
      r.resolvedBy === 'alertmanager' ? 'Alertmanager resolved the alert it came from' : 'sweep no longer finds the problem on its ticks',
    done: 'Nothing more to do.',
    kubectl: [describeTarget(t)],
    // Its own grouping key: the problem's messages must not swallow it, repeats of it are one.
    key: `${r.key}:resolved`,
    heldSinceLast: 0,
    target: t,
    class: r.class,
    reason: r.reason ?? '',
    at: r.resolvedAt,
    data: r,
  };
}

/** The labels silences match a message on. */
export const labelsOf = (m: Message): Labels => ({
  class: m.class,
  severity: m.severity,
  namespace: m.target.namespace,
  target: targetLabel(m.target),
  reason: m.reason,
});

/** How long the silence a message suggests lasts: long enough to fix, short enough not to be forgotten. */
const SUGGESTED_SILENCE = '1h';

/**
 * The command line that silences this problem (its class and target), safe to paste: every value
 * is checked as a Kubernetes name and shell-quoted, like the kubectl hints. `<why>` is for the
 * person to replace (`reflex silence add` refuses it as it is).
 */
export function silenceCommand(m: Message): string | undefined {
  if (m.action === 'resolve') return undefined;
  const t = m.target;
  const known = (SIGNAL_CLASS_NAMES as readonly string[]).includes(m.class);
  return command(targetChecks(t), () =>
    [
      'reflex silence add',
      ...(known ? [`class=${m.class}`] : []),
      ...(t.namespace ? [q(`namespace=${t.namespace}`)] : []),
      q(`target=${targetLabel(t)}`),
      `--duration ${SUGGESTED_SILENCE}`,
      "--comment '<why>'",
    ].join(' '),
  );
}

/** The message with what the routes file and this deployment add: the cluster, the runbook, how to silence it. */
export function withContext(m: Message, context: { cluster: string | undefined; runbook: Template | undefined }): Message {
  const located = context.cluster === undefined ? m : { ...m, cluster: context.cluster };
  const silence = silenceCommand(located);
  return {
    ...located,
    ...(context.runbook ? { runbookUrl: context.runbook(located) } : {}),
    ...(silence === undefined ? {} : { silence }),
  };
}
