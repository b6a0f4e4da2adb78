/**
 * notify/render-evidence — pure: a message's Evidence -> each sink's part of the payload, within
 * that sink's limits. Logs are cut from the top (the last lines, written just before the crash,
 * are the ones that matter) and every cut says so; lists keep their first items and say how many
 * more there were.
 * @see https://api.slack.com/reference/block-kit/blocks#section (text ≤ 3000 characters; ≤ 50 blocks)
 * @see https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using (≈28 KB per message)
 * @see https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ (an event ≤ 512 KB)
 */
import type { Evidence, EvidenceLog } from './evidence.js';
import { truncate } from '../_signals/model.js';

/** The lists of an Evidence, in the order a person reads them, with their headings. */
const LISTS = [
  ['termination', 'Last termination'],
  ['containers', 'Containers'],
  ['resources', 'Resources'],
  ['events', 'Recent Events'],
  ['rollout', 'Last rollout'],
  ['node', 'Node'],
  ['notes', 'Notes'],
] as const;
type ListKey = (typeof LISTS)[number][0];
/** The lists shown with the summary, under "Evidence"; the others have a heading each. */
const FACTS: ReadonlySet<ListKey> = new Set(['termination', 'containers', 'resources']);

/** How much of the evidence a sink takes, in characters: each list, and all logs together. */
interface Budget {
  readonly list: number;
  readonly logs: number;
}

const lineCost = (line: string): number => line.length + 1;

/** The first items within `max`, and how many were left out. */
function keepHead(items: readonly string[], max: number, cost = lineCost): { kept: string[]; left: number } {
  const kept: string[] = [];
  let used = 0;
  for (const item of items) {
    used += cost(item);
    if (used > max) break;
    kept.push(item);
  }
  return { kept, left: items.length - kept.length };
}

/** The last items within `max` (oldest first, as they came), and how many before them were left out. */
export function keepTail(items: readonly string[], max: number, cost = lineCost): { kept: string[]; left: number } {
  let used = 0;
  let from = items.length;
  while (from > 0) {
    used += cost(items[from - 1]!);
    if (used > max) break;
    from--;
  }
  return { kept: items.slice(from), left: from };
}

/** Max-min fair shares of `total`: a small want is met in full, the larger ones share what is left equally. */
export function shares(wants: readonly number[], total: number): number[] {
  const out = wants.map(() => 0);
  const order = wants.map((w, i) => [w, i] as const).sort((a, b) => a[0] - b[0]);
  let left = Math.max(0, total);
  order.forEach(([want, i], k) => {
    const share = Math.min(want, Math.floor(left / (order.length - k)));
    out[i] = share;
    left -= share;
  });
  return out;
}

const more = (left: number): string[] => (left > 0 ? [`…and ${left} more`] : []);

/** A log as a sink shows it: the last lines that fit, and how many it cut. */
interface ShownLog {
  readonly label: string;
  readonly container: string;
  readonly previous: boolean;
  readonly lines: readonly string[];
  /** enrich kept only the last lines of the log. */
  readonly truncated: boolean;
  /** How many of enrich's lines this sink left out, from the top. */
  readonly cut: number;
}

/** The logs within `budget` characters together, the newest lines of each kept; a log with no line that fits is left out, and counted. */
function showLogs(logs: readonly EvidenceLog[], budget: number, cost = lineCost): { logs: ShownLog[]; left: number } {
  const given = shares(
    logs.map((l) => l.lines.reduce((n, line) => n + cost(line), 0)),
    budget,
  );
  const shown = logs.map((l, i) => {
    const { kept, left } = keepTail(l.lines, given[i]!, cost);
    return { label: l.label, container: l.container, previous: l.previous, lines: kept, truncated: l.truncated, cut: left };
  });
  const kept = shown.filter((l) => l.lines.length > 0 || l.cut === 0);
  return { logs: kept, left: shown.length - kept.length };
}

/** `previous log of container web (last 1000 lines, redacted) — cut: the 986 earlier lines are not shown here`. */
const labelOf = (l: ShownLog): string =>
  l.cut > 0 ? `${l.label} — cut: the ${l.cut} earlier line${l.cut === 1 ? ' is' : 's are'} not shown here` : l.label;

const logsLeftOut = (n: number): string => `${n} more log${n === 1 ? '' : 's'} left out: no room`;

/** Evidence within a budget, as plain lines: what Teams, PagerDuty and the webhook show. */
interface Bounded {
  readonly summary: string;
  readonly pod: string | undefined;
  /** Every list, in LISTS order; empty when there is nothing to say. */
  readonly lists: ReadonlyArray<readonly [key: ListKey, title: string, lines: readonly string[]]>;
  readonly logs: readonly ShownLog[];
  readonly logsLeft: number;
  /** Set when nothing but the summary fit. */
  readonly leftOut?: string;
}

function bound(e: Evidence, b: Budget): Bounded {
  const { logs, left } = showLogs(e.logs, b.logs);
  return {
    summary: e.summary,
    pod: e.pod,
    lists: LISTS.map(([key, title]) => {
      const { kept, left: n } = keepHead(e[key], b.list);
      return [key, title, [...kept, ...more(n)]] as const;
    }),
    logs,
    logsLeft: left,
  };
}

function summaryOnly(e: Evidence, sink: string): Bounded {
  return {
    summary: e.summary,
    pod: e.pod,
    lists: LISTS.map(([key, title]) => [key, title, []] as const),
    logs: [],
    logsLeft: 0,
    ...(e.gathered ? { leftOut: `the rest of the evidence is left out: too large for ${sink}` } : {}),
  };
}

/** Sizes are measured as sent: UTF-8 bytes of the JSON. */
export const bytesOf = (value: unknown): number => Buffer.byteLength(JSON.stringify(value), 'utf8');

/** Each try halves the budget; after the last, only the summary is left. */
const SCALES = [1, 1 / 2, 1 / 4, 1 / 8, 1 / 16] as const;

/** The payload with as much evidence as keeps it within `max` bytes: a smaller budget each try, at last only the summary. */
function fitted<T>(e: Evidence, sink: string, build: (x: Bounded) => T, budget: Budget, max: number): T {
  for (const scale of SCALES) {
    const payload = build(bound(e, { list: Math.floor(budget.list * scale), logs: Math.floor(budget.logs * scale) }));
    if (bytesOf(payload) <= max) return payload;
  }
  return build(summaryOnly(e, sink));
}

/** A section's text: Slack refuses a section over 3000 characters. */
const SLACK_SECTION = 3000;
/** Slack refuses a message of more than 50 blocks. */
export const SLACK_BLOCKS = 50;
/** Room kept in a section for its heading and the line saying what was cut. */
const SLACK_RESERVE = 400;
/** A log line longer than this is cut in Slack: escaped, it still fits a section with its heading. */
const SLACK_LINE = 400;

/**
 * Inside a code block Slack ends the block at the next ```: a backtick from a log is followed by
 * a zero-width space, so no three of them ever meet. &, < and > are escaped as everywhere else.
 */
const fenced = (line: string, esc: (s: string) => string): string => esc(truncate(line, SLACK_LINE)).replace(/`/g, '`\u200b');

const section = (text: string): Record<string, unknown> => ({
  type: 'section',
  text: { type: 'mrkdwn', text: truncate(text, SLACK_SECTION) },
});

function slackList(
  title: string,
  lines: readonly string[],
  esc: (s: string) => string,
  before: readonly string[] = [],
): Record<string, unknown> {
  const head = [`*${title}*`, ...before];
  const { kept, left } = keepHead(
    lines.map((l) => `• ${esc(l)}`),
    SLACK_SECTION - SLACK_RESERVE - head.join('\n').length,
  );
  return section([...head, ...kept, ...more(left)].join('\n'));
}

function slackLog(l: EvidenceLog, esc: (s: string) => string): Record<string, unknown> {
  const lines = l.lines.map((x) => fenced(x, esc));
  // Room for the label at its longest (saying every line was cut), the bold marks and the fences.
  const longest = esc(labelOf({ ...l, cut: l.lines.length })).length + '**\n``````'.length;
  const { kept, left } = keepTail(lines, SLACK_SECTION - longest);
  const label = labelOf({ ...l, lines: kept, cut: left });
  return section(`*${esc(label)}*\n` + '```' + (kept.length > 0 ? kept.join('\n') : ' ') + '```');
}

/** The evidence as Block Kit sections (mrkdwn), each at most SLACK_SECTION characters, at most `room` blocks. */
export function slackEvidence(e: Evidence, esc: (s: string) => string, room: number): Record<string, unknown>[] {
  const facts = LISTS.filter(([key]) => FACTS.has(key)).flatMap(([key]) => e[key]);
  const blocks = [
    slackList('Evidence', facts, esc, [e.summary, ...(e.pod ? [e.pod] : [])].map(esc)),
    ...e.logs.map((l) => slackLog(l, esc)),
    ...LISTS.filter(([key]) => !FACTS.has(key) && e[key].length > 0).map(([key, title]) => slackList(title, e[key], esc)),
  ];
  if (blocks.length <= room) return blocks;
  const shown = blocks.slice(0, Math.max(0, room - 1));
  const note = `${blocks.length - shown.length} more evidence sections left out: Slack takes ${SLACK_BLOCKS} blocks`;
  return [...shown, { type: 'context', elements: [{ type: 'mrkdwn', text: note }] }];
}

/** Teams refuses a message over about 28 KB: the whole card stays well under it. */
export const TEAMS_MAX_BYTES = 20_000;
const TEAMS_BUDGET: Budget = { list: 1500, logs: 6000 };

/** Teams reads markdown in a TextBlock: a link written into a log or an Event must not become a link. */
const unlinked = (s: string): string => s.replace(/\]\(/g, ']\u200b(');

function teamsBlocks(x: Bounded): Record<string, unknown>[] {
  const text = (t: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    type: 'TextBlock',
    wrap: true,
    text: unlinked(t),
    ...extra,
  });
  const heading = (t: string): Record<string, unknown> => text(t, { weight: 'Bolder', spacing: 'Medium' });
  const facts = x.lists.filter(([key]) => FACTS.has(key)).flatMap(([, , lines]) => lines);
  return [
    heading('Evidence'),
    text([x.summary, ...(x.pod ? [x.pod] : []), ...facts, ...(x.leftOut ? [x.leftOut] : [])].join('\n')),
    ...x.logs.flatMap((l) => [heading(labelOf(l)), text(l.lines.length > 0 ? l.lines.join('\n') : ' ', { fontType: 'Monospace' })]),
    ...(x.logsLeft > 0 ? [text(logsLeftOut(x.logsLeft), { isSubtle: true })] : []),
    ...x.lists
      .filter(([key, , lines]) => !FACTS.has(key) && lines.length > 0)
      .flatMap(([, title, lines]) => [heading(title), text(lines.join('\n'))]),
  ];
}

/** The card (`card` places the evidence's elements in it), within TEAMS_MAX_BYTES. */
export function teamsEvidence<T>(e: Evidence, card: (elements: Record<string, unknown>[]) => T): T {
  return fitted(e, 'Teams', (x) => card(teamsBlocks(x)), TEAMS_BUDGET, TEAMS_MAX_BYTES);
}

/** The lists `which` picks, as an object keyed by their names. */
const listsOf = (x: Bounded, which: (key: ListKey, lines: readonly string[]) => boolean): Record<string, readonly string[]> =>
  Object.fromEntries(x.lists.filter(([key, , lines]) => which(key, lines)).map(([key, , lines]) => [key, lines]));

/** PagerDuty takes an event up to 512 KB; an incident's details are read by a person: far less. */
export const PAGERDUTY_MAX_BYTES = 64 * 1024;
const PAGERDUTY_BUDGET: Budget = { list: 4000, logs: 24_000 };

function pagerdutyDetails(x: Bounded): Record<string, unknown> {
  return {
    evidence: x.leftOut ? `${x.summary}; ${x.leftOut}` : x.summary,
    ...(x.pod ? { pod: x.pod } : {}),
    ...listsOf(x, (key, lines) => FACTS.has(key) && lines.length > 0),
    ...(x.logs.length > 0 ? { logs: x.logs.map((l) => `${labelOf(l)}\n${l.lines.join('\n')}`) } : {}),
    ...(x.logsLeft > 0 ? { logs_left_out: logsLeftOut(x.logsLeft) } : {}),
    ...listsOf(x, (key, lines) => !FACTS.has(key) && lines.length > 0),
  };
}

/** The event (`event` places the evidence in its custom_details), within PAGERDUTY_MAX_BYTES. */
export function pagerdutyEvidence<T>(e: Evidence, event: (details: Record<string, unknown>) => T): T {
  return fitted(e, 'PagerDuty', (x) => event(pagerdutyDetails(x)), PAGERDUTY_BUDGET, PAGERDUTY_MAX_BYTES);
}

/** The webhook's `evidence` (its `data` keeps the enrichment itself, bounded on its own). */
export const WEBHOOK_EVIDENCE_MAX_BYTES = 48 * 1024;
const WEBHOOK_BUDGET: Budget = { list: 4000, logs: 24_000 };

function webhookShape(x: Bounded, gathered: boolean): Record<string, unknown> {
  return {
    summary: x.summary,
    gathered,
    ...(x.pod ? { pod: x.pod } : {}),
    ...listsOf(x, (key) => FACTS.has(key)),
    logs: x.logs,
    ...(x.logsLeft > 0 ? { logsLeftOut: x.logsLeft } : {}),
    ...listsOf(x, (key) => !FACTS.has(key)),
    ...(x.leftOut ? { leftOut: x.leftOut } : {}),
  };
}

/** The evidence as structured JSON, within WEBHOOK_EVIDENCE_MAX_BYTES. */
export function webhookEvidence(e: Evidence): Record<string, unknown> {
  return fitted(e, 'the webhook', (x) => webhookShape(x, e.gathered), WEBHOOK_BUDGET, WEBHOOK_EVIDENCE_MAX_BYTES);
}
