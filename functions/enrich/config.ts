/**
 * enrich/config — how much evidence, how fast, whose logs: each bound has a default an on-call
 * message can carry, and a knob (docs: functions/enrich/README.md).
 */
import { boolFrom, intFrom, oneOf, type Env } from '../_kit/config.js';
import { loadConfigFile } from '../_kit/config-file.js';
import { ConfigError } from '../_kit/errors.js';
import { DEFAULT_OPT_IN, DEFAULT_PROTECTED_NAMESPACES } from '../_act/policy.js';
import { createRedactor, type RedactionRule, type Redactor } from '../_signals/redact.js';

const REDACTIONS_SCHEMA = 'https://reflex.dev/schemas/config/enrich-redactions.json';

export interface EnrichConfig {
  /** The whole gathering's time bound: past it, enrich answers with what it has (partial). */
  readonly timeoutMs: number;
  /** The last lines of each log, and at most this many bytes of it (asked of the kubelet, and cut here). */
  readonly logLines: number;
  readonly logBytes: number;
  /** Events of the pod, of its owners and of the node: the newest this many. */
  readonly maxEvents: number;
  /**
   * Whose logs are read: `opted-in` namespaces (the namespace label reflex.dev/enabled=true, as
   * for acting), `all` non-protected namespaces, or `none`. Never in a protected namespace.
   */
  readonly logs: 'opted-in' | 'all' | 'none';
  readonly optInLabel: readonly [string, string];
  readonly protectedNamespaces: readonly string[];
  /** Whether to ask metrics.k8s.io for the containers' usage (oomkilled). */
  readonly metrics: boolean;
  readonly redact: Redactor;
  /** The names of the operator's rules, for the start-up log. */
  readonly extraRules: readonly string[];
}

function protectedFrom(env: Env): readonly string[] {
  const raw = env['REFLEX_PROTECTED_NAMESPACES'];
  if (raw === undefined || raw.trim() === '') return DEFAULT_PROTECTED_NAMESPACES;
  const list = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const p of list)
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\*?$|^[a-z0-9-]*\*$/.test(p))
      throw new ConfigError('REFLEX_PROTECTED_NAMESPACES', `not a namespace or a prefix ending in *: ${JSON.stringify(p)}`);
  return list;
}

export function parseEnrichConfig(env: Env): EnrichConfig {
  const file = env['REFLEX_ENRICH_REDACTIONS']?.trim();
  const extra: readonly RedactionRule[] = file ? loadConfigFile<{ rules: RedactionRule[] }>(file, REDACTIONS_SCHEMA).rules : [];
  let redact: Redactor;
  try {
    redact = createRedactor(extra);
  } catch (err) {
    throw new ConfigError(file ?? 'REFLEX_ENRICH_REDACTIONS', err instanceof Error ? err.message : String(err));
  }
  const [label, value] = DEFAULT_OPT_IN.split('=') as [string, string];
  return Object.freeze({
    timeoutMs: intFrom(env, 'REFLEX_ENRICH_TIMEOUT_MS', 3000, { min: 100, max: 60_000 }),
    logLines: intFrom(env, 'REFLEX_ENRICH_LOG_LINES', 40, { min: 1, max: 1000 }),
    logBytes: intFrom(env, 'REFLEX_ENRICH_LOG_BYTES', 8192, { min: 256, max: 65_536 }),
    maxEvents: intFrom(env, 'REFLEX_ENRICH_EVENTS', 10, { min: 0, max: 50 }),
    logs: oneOf(env, 'REFLEX_ENRICH_LOGS', ['opted-in', 'all', 'none'] as const, 'opted-in'),
    optInLabel: [label, value] as const,
    protectedNamespaces: protectedFrom(env),
    metrics: boolFrom(env, 'REFLEX_ENRICH_METRICS', true),
    redact,
    extraRules: extra.map((r) => r.name),
  });
}
