/**
 * notify/silences — pure: Alertmanager-like silences. A silence is a set of matchers on a
 * message's labels (class, severity, namespace, target, reason) with a start, an end, who made it
 * and why; a message that every matcher of an active silence matches is counted, not sent.
 * Shared by notify (which reads them) and `reflex silence` (which writes them).
 * @see https://prometheus.io/docs/alerting/latest/alertmanager/#silences
 * @see https://github.com/prometheus/alertmanager/blob/main/pkg/labels/matcher.go (operators, anchored regexes)
 */
import { RE2JS } from 're2js';
import { SIGNAL_CLASSES } from '../_contracts/events.js';

export const MATCHER_NAMES = ['class', 'severity', 'namespace', 'target', 'reason'] as const;
export type MatcherName = (typeof MATCHER_NAMES)[number];
export const MATCHER_OPS = ['=', '!=', '=~', '!~'] as const;
export type MatcherOp = (typeof MATCHER_OPS)[number];

export interface Matcher {
  readonly name: MatcherName;
  readonly op: MatcherOp;
  readonly value: string;
}

/** A silence as it is stored (one JSON value per silence in the ConfigMap; schemas/config/notify-silence.json). */
export interface Silence {
  readonly id: string;
  readonly matchers: readonly Matcher[];
  readonly startsAt: string;
  readonly endsAt: string;
  readonly createdBy: string;
  readonly comment: string;
  readonly createdAt: string;
  readonly updatedAt?: string;
}

export const SILENCE_SCHEMA = 'https://reflex.dev/schemas/config/notify-silence.json';
/** Where silences live: one ConfigMap in Reflex's namespace, one key per silence (its id). */
export const SILENCES_CONFIGMAP = 'reflex-silences';
/** Expired silences are kept this long for `reflex silence list --expired`, as Alertmanager keeps them (--data.retention=120h). */
export const SILENCE_RETENTION_MS = 120 * 3600 * 1000;

/** What a silence is matched against: the labels of a message. `target` is `<kind>/<name>`, the kind in lower case. */
export type Labels = Readonly<Record<MatcherName, string>>;

/** A matcher the CLI or a stored silence gives that cannot be used; the message says why and what would do. */
export class MatcherError extends Error {
  override readonly name = 'MatcherError';
}

const SEVERITIES = ['info', 'warning', 'critical'];
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const KIND = /^[A-Za-z][A-Za-z0-9]*$/;

/** `deployment/web` (any case of the kind) -> the form labels carry; undefined when it is not `<kind>/<name>`. */
export function normalTarget(value: string): string | undefined {
  const slash = value.indexOf('/');
  const kind = value.slice(0, slash);
  const name = value.slice(slash + 1);
  return slash > 0 && KIND.test(kind) && name.length <= 253 && SUBDOMAIN.test(name) ? `${kind.toLowerCase()}/${name}` : undefined;
}

/** The target label of a message's target. */
export const targetLabel = (t: { kind: string; name: string }): string => `${t.kind.toLowerCase()}/${t.name}`;

/** Alertmanager anchors regular expressions: `=~web` matches `web`, not `web-2`. Linear-time (RE2). */
function compileRegex(pattern: string, shown: string): RE2JS {
  try {
    return RE2JS.compile(`^(?:${RE2JS.translateRegExp(pattern)})$`);
  } catch (err) {
    throw new MatcherError(`${shown}: not a valid RE2 regular expression: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Checks a matcher's value against what its label can hold; returns the value as labels carry it. */
function checkValue(name: MatcherName, op: MatcherOp, value: string, shown: string): string {
  if (value === '')
    throw new MatcherError(`${shown}: the value is empty; every message has a ${name}, so it would match nothing or everything`);
  if (op === '=~' || op === '!~') {
    compileRegex(value, shown);
    return value;
  }
  switch (name) {
    case 'class':
      if (!(SIGNAL_CLASSES as readonly string[]).includes(value))
        throw new MatcherError(`${shown}: unknown class ${JSON.stringify(value)}; the classes are ${SIGNAL_CLASSES.join(', ')}`);
      return value;
    case 'severity':
      if (!SEVERITIES.includes(value))
        throw new MatcherError(`${shown}: unknown severity ${JSON.stringify(value)}; the severities are ${SEVERITIES.join(', ')}`);
      return value;
    case 'namespace':
      if (value.length > 63 || !LABEL.test(value)) throw new MatcherError(`${shown}: ${JSON.stringify(value)} is not a namespace name`);
      return value;
    case 'target': {
      const t = normalTarget(value);
      if (!t) throw new MatcherError(`${shown}: a target is <kind>/<name>, e.g. deployment/web or node/node-1`);
      return t;
    }
    case 'reason':
      if (value.length > 128) throw new MatcherError(`${shown}: a reason is at most 128 characters`);
      return value;
  }
}

/**
 * `class=crashloop`, `namespace!=kube-system`, `target=~"deployment/web-.*"`, `reason!~Back.*`:
 * a name, an operator and a value (double quotes around it are taken off, as amtool does). Throws
 * MatcherError saying what is wrong.
 */
export function parseMatcher(text: string): Matcher {
  const shown = `matcher ${JSON.stringify(text)}`;
  const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*([\s\S]*?)\s*$/.exec(text);
  if (!m) throw new MatcherError(`${shown}: expected <name><op><value>, e.g. class=crashloop (operators: ${MATCHER_OPS.join(' ')})`);
  const name = m[1]!;
  const op = m[2] as MatcherOp;
  let value = m[3]!;
  if (!(MATCHER_NAMES as readonly string[]).includes(name))
    throw new MatcherError(`${shown}: unknown name ${JSON.stringify(name)}; matchers name ${MATCHER_NAMES.join(', ')}`);
  if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
    try {
      value = JSON.parse(value) as string;
    } catch {
      throw new MatcherError(`${shown}: the quoted value is not a valid string`);
    }
  }
  return { name: name as MatcherName, op, value: checkValue(name as MatcherName, op, value, shown) };
}

/** How a matcher is written back: the form parseMatcher reads. */
export const formatMatcher = (m: Matcher): string =>
  `${m.name}${m.op}${/^[-A-Za-z0-9._/:]*$/.test(m.value) ? m.value : JSON.stringify(m.value)}`;

export type Test = (labels: Labels) => boolean;

function compileMatcher(m: Matcher): Test {
  if (m.op === '=~' || m.op === '!~') {
    const re = compileRegex(m.value, `matcher ${formatMatcher(m)}`);
    return m.op === '=~' ? (l) => re.matches(l[m.name]) : (l) => !re.matches(l[m.name]);
  }
  return m.op === '=' ? (l) => l[m.name] === m.value : (l) => l[m.name] !== m.value;
}

/**
 * A set of matchers that can silence: at least one, and at least one that does not match an
 * empty label (Alertmanager's rule: `class!=crashloop` alone, or `target=~.*`, would silence
 * nearly everything by accident).
 */
export function checkMatchers(matchers: readonly Matcher[]): void {
  if (matchers.length === 0) throw new MatcherError('a silence needs at least one matcher, e.g. class=crashloop namespace=shop');
  const empty: Labels = { class: '', severity: '', namespace: '', target: '', reason: '' };
  if (matchers.every((m) => compileMatcher(m)(empty)))
    throw new MatcherError(
      `${matchers.map(formatMatcher).join(' ')} would silence nearly everything: at least one matcher must be = or =~ with a pattern that does not match an empty value`,
    );
}

export type SilenceState = 'pending' | 'active' | 'expired';

export function stateOf(s: Pick<Silence, 'startsAt' | 'endsAt'>, now: number): SilenceState {
  return now < Date.parse(s.startsAt) ? 'pending' : now < Date.parse(s.endsAt) ? 'active' : 'expired';
}

export interface CompiledSilence {
  readonly silence: Silence;
  readonly start: number;
  readonly end: number;
  readonly test: Test;
}

/** A stored silence, checked again (a hand-edited ConfigMap must not crash notify nor silence by mistake). */
export function compileSilence(s: Silence): CompiledSilence {
  const matchers = s.matchers.map((m) => parseMatcher(formatMatcher(m)));
  checkMatchers(matchers);
  const tests = matchers.map(compileMatcher);
  const start = Date.parse(s.startsAt);
  const end = Date.parse(s.endsAt);
  if (!Number.isFinite(start) || !Number.isFinite(end)) throw new MatcherError(`silence ${s.id}: startsAt and endsAt must be times`);
  return { silence: s, start, end, test: (l) => tests.every((t) => t(l)) };
}

/** The first active silence that matches, if any. */
export function silencing(silences: readonly CompiledSilence[], labels: Labels, now: number): Silence | undefined {
  return silences.find((s) => s.start <= now && now < s.end && s.test(labels))?.silence;
}

/**
 * Reads the ConfigMap's data: every entry that is a valid silence (`valid` checks the schema),
 * and a line per entry that is not, for the log.
 */
export function readSilences(
  data: Readonly<Record<string, string>>,
  valid: (value: unknown) => boolean,
): { silences: CompiledSilence[]; invalid: string[] } {
  const silences: CompiledSilence[] = [];
  const invalid: string[] = [];
  for (const [key, text] of Object.entries(data)) {
    try {
      const value = JSON.parse(text) as unknown;
      if (!valid(value)) throw new MatcherError('does not match schemas/config/notify-silence.json');
      const s = value as Silence;
      if (s.id !== key) throw new MatcherError(`its id ${JSON.stringify(s.id)} is not its key`);
      silences.push(compileSilence(s));
    } catch (err) {
      invalid.push(`${key}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { silences, invalid };
}

/** Prometheus-style durations, as amtool takes them: `90m`, `2h30m`, `1d`, `1w`. */
export function parseDuration(text: string): number | undefined {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
  if (!/^(\d+(ms|s|m|h|d|w))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)(ms|s|m|h|d|w)/g)) total += Number(n) * units[unit!]!;
  return total > 0 ? total : undefined;
}
