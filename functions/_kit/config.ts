/** _kit/config — environment parsed once at start-up into a frozen, typed object. */
import { ConfigError } from './errors.js';

export type Env = Readonly<Record<string, string | undefined>>;
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface RuntimeConfig {
  /** Listening port; Knative sets PORT. */
  readonly port: number;
  /** Interface to bind; Knative needs all interfaces, tests use loopback. */
  readonly host: string;
  /** Largest accepted request body (REFLEX_MAX_BODY_BYTES). */
  readonly maxBodyBytes: number;
  /**
   * Time in-flight requests get after SIGTERM (REFLEX_SHUTDOWN_TIMEOUT_MS). Knative's grace
   * period equals the revision's timeoutSeconds and SIGTERM only arrives after queue-proxy has
   * drained, so this must stay below timeoutSeconds.
   */
  readonly shutdownTimeoutMs: number;
  readonly logLevel: LogLevel;
  /** The CloudEvents `source` of replies: a URI-reference naming this function. */
  readonly source: string;
  /** Where emitted events go (K_SINK, set by a Knative SinkBinding or by hand). */
  readonly sink: string | undefined;
  /** Extra folders of JSON Schemas beside schemas/ (REFLEX_EXTRA_SCHEMAS, ':'-separated). */
  readonly extraSchemaDirs: readonly string[];
  /** Who may POST events (REFLEX_AUTH, REFLEX_AUTH_AUDIENCE, REFLEX_AUTH_SUBJECTS); see _kit/auth. */
  readonly auth: AuthConfig;
}

/**
 * Sender authentication. `none`: anyone who reaches the port (the visibility label and the
 * NetworkPolicy decide who can). `oidc`: Knative Eventing's authentication-oidc feature, a
 * ServiceAccount token for `audience` in `Authorization: Bearer`, from one of `subjects`.
 */
export type AuthConfig =
  | { readonly mode: 'none' }
  | {
      readonly mode: 'oidc';
      /** The audience every token must carry (the Trigger's spec.subscriber.audience). */
      readonly audience: string;
      /** Usernames, or prefixes ending in ':' (a namespace's accounts); empty: any authenticated account. */
      readonly subjects: readonly string[];
    };

const MiB = 1024 * 1024;
/** Generous for a Kubernetes object (etcd's own limit is 1.5 MiB), small enough to refuse abuse. */
const DEFAULT_MAX_BODY_BYTES = MiB;
/** Below Knative's default timeoutSeconds (300) and the 30 s Kubernetes default grace period. */
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 25_000;

/** An integer from the environment, or the default; anything else names the key. */
export function intFrom(env: Env, key: string, fallback: number, range: { min: number; max: number }): number {
  const raw = env[key];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(key, `expected a whole number, got ${JSON.stringify(raw)}`);
  const value = Number(raw.trim());
  if (value < range.min || value > range.max) {
    throw new ConfigError(key, `must be between ${range.min} and ${range.max}, got ${value}`);
  }
  return value;
}

/** One of a fixed set of words, or the default. */
export function oneOf<T extends string>(env: Env, key: string, allowed: readonly T[], fallback: T): T {
  const raw = env[key];
  if (raw === undefined || raw === '') return fallback;
  const found = allowed.find((a) => a === raw.trim().toLowerCase());
  if (found === undefined) throw new ConfigError(key, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(raw)}`);
  return found;
}

/** A size given as a count (`2`) or a share (`50%`): a step, a threshold. */
export type CountOrPercent = { readonly count: number } | { readonly percent: number };

export const countOrPercent = (v: string): CountOrPercent => (v.endsWith('%') ? { percent: Number(v.slice(0, -1)) } : { count: Number(v) });

/** How many of `total` a CountOrPercent is, rounded as `round` says. */
export const amountOf = (c: CountOrPercent, total: number, round: (n: number) => number): number =>
  'count' in c ? c.count : round((total * c.percent) / 100);

/** true/false (also 1/0, yes/no), or the default. */
export function boolFrom(env: Env, key: string, fallback: boolean): boolean {
  const raw = env[key]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['true', '1', 'yes'].includes(raw)) return true;
  if (['false', '0', 'no'].includes(raw)) return false;
  throw new ConfigError(key, `expected true or false, got ${JSON.stringify(env[key])}`);
}

/** REFLEX_AUTH and its companions; a half-configured authentication stops start-up. */
export function authFrom(env: Env): AuthConfig {
  const mode = oneOf(env, 'REFLEX_AUTH', ['none', 'oidc'] as const, 'none');
  const audience = env['REFLEX_AUTH_AUDIENCE']?.trim() ?? '';
  const rawSubjects = env['REFLEX_AUTH_SUBJECTS'] ?? '';
  if (mode === 'none') {
    // Someone meant to turn authentication on: running open would be a silent surprise.
    for (const key of ['REFLEX_AUTH_AUDIENCE', 'REFLEX_AUTH_SUBJECTS'])
      if (env[key]?.trim())
        throw new ConfigError('REFLEX_AUTH', `is none (the default) but ${key} is set: set REFLEX_AUTH=oidc or unset ${key}`);
    return Object.freeze({ mode });
  }
  if (audience === '') throw new ConfigError('REFLEX_AUTH_AUDIENCE', "required when REFLEX_AUTH=oidc (the audience senders' tokens carry)");
  if (/\s|,/.test(audience))
    throw new ConfigError('REFLEX_AUTH_AUDIENCE', `one audience, without spaces or commas, got ${JSON.stringify(audience)}`);
  const subjects = rawSubjects
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const s of subjects)
    if (/\s/.test(s) || s === ':') throw new ConfigError('REFLEX_AUTH_SUBJECTS', `not a username or a prefix: ${JSON.stringify(s)}`);
  return Object.freeze({ mode, audience, subjects: Object.freeze(subjects) });
}

export function parseRuntimeConfig(env: Env, functionName: string, defaults: { maxBodyBytes?: number } = {}): RuntimeConfig {
  return Object.freeze({
    port: intFrom(env, 'PORT', 8080, { min: 0, max: 65535 }),
    host: env['REFLEX_HOST']?.trim() || '0.0.0.0',
    maxBodyBytes: intFrom(env, 'REFLEX_MAX_BODY_BYTES', defaults.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, { min: 1024, max: 64 * MiB }),
    shutdownTimeoutMs: intFrom(env, 'REFLEX_SHUTDOWN_TIMEOUT_MS', DEFAULT_SHUTDOWN_TIMEOUT_MS, { min: 0, max: 600_000 }),
    logLevel: oneOf(env, 'REFLEX_LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, 'info'),
    source: env['REFLEX_SOURCE']?.trim() || `/reflex/${functionName}`,
    sink: env['K_SINK']?.trim() || undefined,
    extraSchemaDirs: Object.freeze((env['REFLEX_EXTRA_SCHEMAS'] ?? '').split(':').filter((d) => d.trim() !== '')),
    auth: authFrom(env),
  });
}
