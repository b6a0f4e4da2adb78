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
}

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
  });
}
