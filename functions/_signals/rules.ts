/**
 * _signals/rules — the classification rules file: parsed and validated once at start-up, then a
 * pure matcher from an Occurrence to a Finding or a skip with its reason.
 */
import { RE2JS } from 're2js';
import { ConfigError } from '../_kit/errors.js';
import { loadConfigFile, parseConfigText } from '../_kit/config-file.js';
import { REFLEX_CONTROLLER_PREFIX, type Severity, type SignalClass } from '../_contracts/events.js';
import { refFault, truncate, type Finding } from './model.js';
import type { Occurrence } from './occurrence.js';

export const RULES_SCHEMA = 'https://reflex.dev/schemas/config/classify-rules.json';

type Strings = string | string[];
interface RawRule {
  name: string;
  when: { reason: Strings; type?: string[]; involvedKind?: Strings; component?: Strings; message?: string };
  class: SignalClass | 'ignore';
  severity?: Severity;
  threshold?: { occurrences?: number; withinSeconds?: number; forSeconds?: number };
  repeatAfterSeconds?: number;
}
interface RawAlertRule {
  name: string;
  when: { alertname?: Strings; labels?: Record<string, Strings> };
  class: SignalClass | 'ignore';
  severity?: Severity;
  repeatAfterSeconds?: number;
}
interface RawRules {
  defaults?: { repeatAfterSeconds?: number };
  rules: RawRule[];
  alerts?: RawAlertRule[];
}

export interface Rule {
  readonly name: string;
  readonly reasons: ReadonlySet<string>;
  readonly types: ReadonlySet<string> | undefined;
  readonly kinds: ReadonlySet<string> | undefined;
  readonly components: ReadonlySet<string> | undefined;
  /** Compiled with RE2: matching is linear in the message, whatever the operator wrote. */
  readonly message: RE2JS | undefined;
  readonly class: SignalClass | 'ignore';
  readonly severity: Severity;
  readonly occurrences: number;
  readonly withinSeconds: number | undefined;
  /** How long the problem must have lasted (last seen - first seen): noise that clears sooner is no signal. */
  readonly forSeconds: number;
  readonly repeatAfterSeconds: number;
}

/** A rule for Alertmanager alerts (the `alerts:` section): matched on the alert's name and labels. */
export interface AlertRule {
  readonly name: string;
  readonly alertnames: ReadonlySet<string> | undefined;
  /** Label name -> the values it may have (any of them). */
  readonly labels: ReadonlyMap<string, ReadonlySet<string>>;
  readonly class: SignalClass | 'ignore';
  /** Undefined: the alert's own severity label (info, warning, critical), else warning. */
  readonly severity: Severity | undefined;
  /** One occurrence per this many seconds of firing (0: one while it fires); repeats held back as long. */
  readonly repeatAfterSeconds: number;
}

export interface Rules {
  readonly source: string;
  readonly rules: readonly Rule[];
  readonly alerts: readonly AlertRule[];
}

const DEFAULT_REPEAT_AFTER_SECONDS = 600;
const set = (v: Strings | undefined): ReadonlySet<string> | undefined =>
  v === undefined ? undefined : new Set(Array.isArray(v) ? v : [v]);

/** Parses and validates a rules document; every fault names the file and the place. */
export function parseRules(text: string, source: string): Rules {
  return compileRules(parseConfigText<RawRules>(text, source, RULES_SCHEMA), source);
}

export function loadRules(path: string): Rules {
  return compileRules(loadConfigFile<RawRules>(path, RULES_SCHEMA), path);
}

function compileRules(raw: RawRules, source: string): Rules {
  const names = new Set<string>();
  const rules = raw.rules.map((r, i): Rule => {
    if (names.has(r.name)) throw new ConfigError(source, `/rules/${i}/name: duplicate rule name ${r.name}`);
    names.add(r.name);
    const message = r.when.message === undefined ? undefined : compilePattern(r.when.message, r.name, `/rules/${i}/when/message`, source);
    return {
      name: r.name,
      reasons: set(r.when.reason)!,
      types: r.when.type ? new Set(r.when.type) : undefined,
      kinds: set(r.when.involvedKind),
      components: set(r.when.component),
      message,
      class: r.class,
      severity: r.severity ?? 'warning',
      occurrences: r.threshold?.occurrences ?? 1,
      withinSeconds: r.threshold?.withinSeconds,
      forSeconds: r.threshold?.forSeconds ?? 0,
      repeatAfterSeconds: r.repeatAfterSeconds ?? raw.defaults?.repeatAfterSeconds ?? DEFAULT_REPEAT_AFTER_SECONDS,
    };
  });
  const repeatAfter = (own: number | undefined): number => own ?? raw.defaults?.repeatAfterSeconds ?? DEFAULT_REPEAT_AFTER_SECONDS;
  const alerts = (raw.alerts ?? []).map((r, i): AlertRule => {
    // One namespace of names for both sections: a signal's `rule` names exactly one rule.
    if (names.has(r.name)) throw new ConfigError(source, `/alerts/${i}/name: duplicate rule name ${r.name}`);
    names.add(r.name);
    return {
      name: r.name,
      alertnames: set(r.when.alertname),
      labels: new Map(Object.entries(r.when.labels ?? {}).map(([k, v]) => [k, set(v)!])),
      class: r.class,
      severity: r.severity,
      repeatAfterSeconds: repeatAfter(r.repeatAfterSeconds),
    };
  });
  return { source, rules, alerts };
}

/**
 * What RE2 refuses because it cannot be matched in linear time, named so the fix is obvious.
 * The pattern is read as tokens (an escape, a character class, one character), so an escaped
 * `\(?=` or a class `[(?=]` is not taken for a lookahead.
 */
function unsupported(pattern: string): string | undefined {
  const tokens = pattern.match(/\\[\s\S]|\[\^?\]?(?:\\[\s\S]|[^\]\\])*\]|[\s\S]/g) ?? [];
  if (tokens.some((t, i) => /^\\[1-9]$/.test(t) || (t === '\\k' && tokens[i + 1] === '<'))) return 'a backreference';
  const bare = tokens.map((t) => (t.length > 1 ? '_' : t)).join('');
  if (/\(\?[=!]/.test(bare)) return 'a lookahead';
  if (/\(\?<[=!]/.test(bare)) return 'a lookbehind';
  return undefined;
}

/**
 * An operator's pattern, in JavaScript syntax, compiled for RE2 (re2js): linear-time matching, so
 * no pattern can make a message stall classify. Inline flags work as RE2 reads them: `(?i)` for
 * the whole pattern, `(?i:…)` for a part (also `s`, `m`). What RE2 cannot run (backreferences,
 * lookaround) or cannot parse stops start-up, naming the rule and the pattern.
 */
function compilePattern(pattern: string, rule: string, where: string, source: string): RE2JS {
  const refuse = (why: string): never => {
    throw new ConfigError(source, `${where}: rule ${rule}: message pattern \`${pattern}\` ${why}`);
  };
  const feature = unsupported(pattern);
  if (feature)
    refuse(`uses ${feature}, which linear-time matching (RE2) does not support; rewrite it without backreferences or lookaround`);
  try {
    // translateRegExp maps JavaScript-only syntax (\uXXXX, \cX, (?<name>…), [^]) to RE2's.
    return RE2JS.compile(RE2JS.translateRegExp(pattern));
  } catch (err) {
    return refuse(`is not a valid RE2 pattern: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** A skip names the rule that matched (ignored it, or whose threshold is not met yet), if one did. */
export type Match =
  | { readonly kind: 'finding'; readonly finding: Finding; readonly rule: Rule }
  | { readonly kind: 'skip'; readonly reason: string; readonly rule?: string };

/** Everything a rule asks of an occurrence but its message pattern. */
function takes(rule: Rule, o: Occurrence): boolean {
  return (
    rule.reasons.has(o.reason) &&
    (!rule.types || rule.types.has(o.type)) &&
    (!rule.kinds || rule.kinds.has(o.involved.kind)) &&
    (!rule.components || rule.components.has(o.component))
  );
}

function matches(rule: Rule, o: Occurrence, message: string): boolean {
  return takes(rule, o) && (!rule.message || rule.message.test(message));
}

/**
 * Occurrences within the rule's window, estimated from the aggregate: an Event only keeps its
 * count and its first and last times, so a longer span is assumed to have an even rate.
 */
export function occurrencesWithin(o: Occurrence, withinSeconds: number | undefined): number {
  if (withinSeconds === undefined) return o.count;
  const spanSeconds = (o.lastSeen.getTime() - o.firstSeen.getTime()) / 1000;
  if (spanSeconds <= withinSeconds) return o.count;
  return Math.floor((o.count * withinSeconds) / spanSeconds);
}

/** Pure: which signal (if any) an Event occurrence is, and why not when it is none. */
export function classifyOccurrence(o: Occurrence, rules: Rules, eventObject: Record<string, unknown>, container?: string): Match {
  if (o.component.startsWith(REFLEX_CONTROLLER_PREFIX)) return { kind: 'skip', reason: `written by Reflex itself (${o.component})` };
  if (!o.involved.kind || !o.involved.name) return { kind: 'skip', reason: 'the Event names no involved object' };
  const fault = refFault(o.involved);
  if (fault) return { kind: 'skip', reason: `the Event's involved object: ${fault}` };
  // Patterns see what the signal will carry (the first MAX_MESSAGE characters), so any match can
  // be reproduced from the signal's own message, and each rule's cost is bounded per Event.
  const message = truncate(o.message);
  const rule = rules.rules.find((r) => matches(r, o, message));
  if (!rule) {
    // A rule that takes this reason but not this message says more than "no rule": the pattern
    // is what to read (or to widen) when a signal was expected.
    const missed = rules.rules.find((r) => r.message !== undefined && takes(r, o));
    if (missed)
      return {
        kind: 'skip',
        reason: `rule ${missed.name} takes reason ${o.reason} (${o.type || 'no type'}) on ${o.involved.kind}, and its message pattern does not match this message`,
        rule: missed.name,
      };
    return { kind: 'skip', reason: `no rule matches reason ${o.reason || '(none)'} (${o.type || 'no type'}) on ${o.involved.kind}` };
  }
  if (rule.class === 'ignore') return { kind: 'skip', reason: `rule ${rule.name} ignores it`, rule: rule.name };
  const seen = occurrencesWithin(o, rule.withinSeconds);
  if (seen < rule.occurrences) {
    const within = rule.withinSeconds ? ` within ${rule.withinSeconds}s` : '';
    return { kind: 'skip', reason: `rule ${rule.name}: ${seen} of ${rule.occurrences} occurrences${within}`, rule: rule.name };
  }
  const lasted = Math.max(0, Math.floor((o.lastSeen.getTime() - o.firstSeen.getTime()) / 1000));
  if (lasted < rule.forSeconds)
    return {
      kind: 'skip',
      reason: `rule ${rule.name}: seen for ${lasted}s of the ${rule.forSeconds}s it must last (it may be start-up noise)`,
      rule: rule.name,
    };
  return {
    kind: 'finding',
    rule,
    finding: {
      class: rule.class,
      severity: rule.severity,
      reason: o.reason,
      message,
      rule: rule.name,
      involved: o.involved,
      ...(container ? { container } : {}),
      occurrences: o.count,
      firstSeen: o.firstSeen,
      lastSeen: o.lastSeen,
      occurrence: `${o.uid}#${o.count}`,
      evidence: { api: o.api, object: eventObject },
    },
  };
}
