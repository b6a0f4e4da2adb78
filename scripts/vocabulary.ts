/**
 * scripts/vocabulary — the upstream Event vocabulary (vocabulary/events.tsv: every reason the
 * kubelet, scheduler, controllers, node-problem-detector and cluster-autoscaler write, with its
 * message format, from their sources) put through the shipped rules exactly as classify does;
 * and the table of docs/events.md generated from it, so the doc cannot drift from the rules.
 *
 *   node --import tsx scripts/vocabulary.ts          check docs/events.md (exit 1 if stale)
 *   node --import tsx scripts/vocabulary.ts --write  rewrite its generated table
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Severity, SignalClass } from '../functions/_contracts/events.js';
import { projectRoot } from '../functions/_kit/schemas.js';
import { occurrenceOf, type KubeEvent } from '../functions/_signals/occurrence.js';
import { classifyOccurrence, loadRules, type Rules } from '../functions/_signals/rules.js';
import { route } from '../functions/notify/decide.js';
import { parseNotifyConfig, type Route } from '../functions/notify/config.js';
import { escalationSummary } from '../functions/recover/escalate.js';

export interface Row {
  readonly component: string;
  readonly reason: string;
  readonly type: string;
  readonly involvedKind: string;
  /** The Go format string (or, for node-problem-detector, `re:` and its pattern). */
  readonly message: string;
  readonly source: string;
  /** The class an SRE expects, or `ignore`: decided per row, checked against the rules. */
  readonly expect: string;
  readonly line: number;
}

const COLUMNS = ['component', 'reason', 'type', 'involvedKind', 'message', 'source', 'expect'] as const;

export function readVocabulary(path = join(projectRoot(), 'vocabulary', 'events.tsv')): Row[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const header = lines[0]!.split('\t');
  if (COLUMNS.some((c, i) => header[i] !== c)) throw new Error(`${path}: the header must be ${COLUMNS.join(' ')}`);
  return lines.slice(1).flatMap((text, i) => {
    if (!text.trim()) return [];
    const f = text.split('\t');
    const unescape = (s: string | undefined): string => (s ?? '').replaceAll('\\t', '\t').replaceAll('\\n', '\n');
    return [
      {
        component: f[0] ?? '',
        reason: f[1] ?? '',
        type: f[2] ?? '',
        involvedKind: f[3] ?? '',
        message: unescape(f[4]),
        source: f[5] ?? '',
        expect: (f[6] ?? '').trim(),
        line: i + 2,
      },
    ];
  });
}

/**
 * A message as the component would write it: each Go verb filled with a neutral value. A value
 * that could change the class (the `%v` of kubelet's "Error: %v") is neutral here; the messages
 * that make the difference are in vocabulary/examples.tsv.
 */
export function sampleMessage(format: string): string {
  if (format.startsWith('re:')) return format.slice(3).replace(/\\(.)/g, '$1');
  return format.replace(/%(?:[-+# 0]*\d*(?:\.\d+)?)([a-zA-Z%])/g, (_m, verb: string) =>
    verb === '%' ? '%' : verb === 'q' ? '"sample"' : /[dx]/.test(verb) ? '3' : verb === 't' ? 'true' : 'sample',
  );
}

/** A core/v1 Event as the component writes it, repeated long enough to pass any threshold. */
export function eventOf(row: Pick<Row, 'component' | 'reason' | 'type' | 'involvedKind'>, message: string, now: Date): KubeEvent {
  const cluster = row.involvedKind === 'Node' || row.involvedKind === 'PersistentVolume' || row.involvedKind === 'Namespace';
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'sample.1', namespace: cluster ? 'default' : 'shop', uid: 'e-1' },
    involvedObject: { kind: row.involvedKind, name: 'sample', ...(cluster ? {} : { namespace: 'shop' }) },
    reason: row.reason,
    message,
    type: row.type,
    source: { component: row.component },
    count: 100,
    firstTimestamp: new Date(now.getTime() - 3600_000).toISOString(),
    lastTimestamp: now.toISOString(),
  } as unknown as KubeEvent;
}

export type Verdict =
  | { readonly class: SignalClass; readonly severity: Severity; readonly rule: string }
  | { readonly class: 'ignore'; readonly rule: string }
  | { readonly class: undefined; readonly why: string };

/** What classify makes of one Event of this row (the shipped rules unless given). */
export function verdictOf(
  row: Pick<Row, 'component' | 'reason' | 'type' | 'involvedKind'>,
  message: string,
  rules: Rules,
  now = new Date(),
): Verdict {
  // The kubelet's `OutOf%s` takes the resource it ran out of; cpu stands for any.
  const event = eventOf({ ...row, reason: row.reason.replace('%s', 'cpu') }, message, now);
  const m = classifyOccurrence(occurrenceOf(event, now), rules, event as unknown as Record<string, unknown>);
  if (m.kind === 'finding') return { class: m.finding.class, severity: m.finding.severity, rule: m.rule.name };
  const ignored = m.rule && rules.rules.find((r) => r.name === m.rule && r.class === 'ignore');
  return ignored ? { class: 'ignore', rule: ignored.name } : { class: undefined, why: m.reason };
}

export const shippedRules = (): Rules => loadRules(join(projectRoot(), 'knative', 'config', 'classify-rules.yaml'));
export const shippedRoutes = (): readonly Route[] =>
  parseNotifyConfig({ REFLEX_NOTIFY_ROUTES: join(projectRoot(), 'knative', 'config', 'notify-routes.yaml') }).routes;

/**
 * What recover does with each class, in a phrase (functions/recover/README.md has the playbooks).
 * For the classes it only escalates, the row's own message picks the phrase from recover's
 * escalation causes (recoverSays), so the table says what the escalation will name.
 */
export const RECOVER_SAYS: Record<SignalClass, string> = {
  crashloop: 'rolls back to a serving revision, or restarts the pod once; then escalates',
  oomkilled: 'raises the memory limit (up to a ceiling); then escalates',
  probefailed: 'replaces the pod',
  imagepull: 'escalates: fix the image or its pull secret',
  unschedulable: 'escalates: capacity or requests',
  mountfailed: 'escalates',
  evicted: 'cleans up evicted pods',
  rolloutstalled: 'rolls back; escalates if it cannot',
  nodenotready: 'cordons and drains after a grace period',
  nodepressure: 'escalates',
  createfailed: 'escalates: quota, admission or policy',
  configerror: 'escalates with what to fix',
  startfailed: 'escalates with the runtime error (e.g. the command not found)',
  sandboxfailed: 'escalates: the network plugin or runtime on the node',
  jobfailed: 'escalates: backoff limit or deadline',
  autoscalerfailed: 'escalates: metrics API or scale target',
  storagefailed: 'escalates',
  nodeproblem: 'escalates: cordon and drain by hand',
  loadhigh: '(scale adds replicas)',
  loadlow: '(scale removes replicas)',
};

/** recover's answer to a signal of this class made from this reason and message. */
export function recoverSays(c: SignalClass, reason: string, message: string): string {
  const cause = escalationSummary({ class: c, reason, message });
  return cause ? `escalates: ${cause}` : RECOVER_SAYS[c];
}

const cell = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** The generated table: one line per reason (and kind), with its class, recover's answer and notify's sinks. */
export function vocabularyTable(rows: readonly Row[], rules: Rules, routes: readonly Route[], examples: readonly Row[] = []): string {
  const byReason = new Map<string, { row: Row; verdicts: Set<string>; components: Set<string> }>();
  const now = new Date('2026-11-22T12:00:00Z');
  // Formats with neutral values, then the real messages whose `%v` decides between classes.
  const messages = [
    ...rows.map((row) => ({ row, text: sampleMessage(row.message) })),
    ...examples.map((row) => ({ row, text: row.message })),
  ];
  for (const { row, text } of messages) {
    const v = verdictOf(row, text, rules, now);
    const k = `${row.reason}|${row.involvedKind}|${row.type}`;
    const entry = byReason.get(k) ?? { row, verdicts: new Set<string>(), components: new Set<string>() };
    entry.components.add(row.component);
    if (v.class === undefined) entry.verdicts.add('(no rule)');
    else if (v.class === 'ignore') entry.verdicts.add(`ignored (${v.rule})`);
    else {
      const sinks = route({ on: 'signal', class: v.class, severity: v.severity, namespace: 'shop' }, routes).sinks;
      entry.verdicts.add(
        `\`${v.class}\` ${v.severity} | ${recoverSays(v.class, row.reason, text)} | ${sinks.length ? sinks.join(', ') : 'not sent'}`,
      );
    }
    byReason.set(k, entry);
  }
  const lines = ['| reason | type | on | written by | class, severity | recover | notify |', '| --- | --- | --- | --- | --- | --- | --- |'];
  const keys = [...byReason.keys()].sort((a, b) => a.localeCompare(b));
  for (const k of keys) {
    const { row, verdicts, components } = byReason.get(k)!;
    for (const v of verdicts) {
      const decided = v.includes(' | ') ? v : `${v} | | `;
      lines.push(`| ${cell(row.reason)} | ${row.type} | ${row.involvedKind} | ${cell([...components].sort().join(', '))} | ${decided} |`);
    }
  }
  return lines.join('\n');
}

const BEGIN = '<!-- vocabulary: generated by scripts/vocabulary.ts; do not edit by hand -->';
const END = '<!-- end of vocabulary -->';

/** docs/events.md with its generated table replaced by `table`. */
export function withTable(doc: string, table: string): string {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`docs/events.md has no ${BEGIN} … ${END} section`);
  return `${doc.slice(0, a + BEGIN.length)}\n\n${table}\n\n${doc.slice(b)}`;
}

export const docPath = (): string => join(projectRoot(), 'docs', 'events.md');

export function generatedDoc(): string {
  const examples = readVocabulary(join(projectRoot(), 'vocabulary', 'examples.tsv'));
  return withTable(readFileSync(docPath(), 'utf8'), vocabularyTable(readVocabulary(), shippedRules(), shippedRoutes(), examples));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const next = generatedDoc();
  if (process.argv.includes('--write')) {
    writeFileSync(docPath(), next);
    console.log(`docs/events.md: the vocabulary table is up to date`);
  } else if (next !== readFileSync(docPath(), 'utf8')) {
    console.error('docs/events.md is stale: run node --import tsx scripts/vocabulary.ts --write');
    process.exit(1);
  }
}
