/** notify/config — the routes file and the sinks' endpoints and secrets, parsed once at start-up. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { kubeconfigOf } from '../_kit/k8s.js';
import { boolFrom, intFrom, oneOf, type Env } from '../_kit/config.js';
import { ConfigError } from '../_kit/errors.js';
import { loadConfigFile } from '../_kit/config-file.js';
import { projectRoot } from '../_kit/schemas.js';
import type { Severity } from '../_contracts/events.js';
import type { Message } from './decide.js';

export type SinkType = 'slack' | 'teams' | 'pagerduty' | 'webhook';

export interface Sink {
  readonly name: string;
  readonly type: SinkType;
  readonly url: string;
  /** webhook: HMAC secret; pagerduty: routing key. Never logged. */
  readonly secret: string | undefined;
  /** The sink's own title template, compiled at start-up. */
  readonly title?: (m: Message) => string;
}

/** What a title template may name: fields of the message every kind of message has. */
const PLACEHOLDERS: Readonly<Record<string, (m: Message) => string>> = {
  class: (m) => m.class,
  severity: (m) => m.severity,
  kind: (m) => m.target.kind,
  namespace: (m) => m.target.namespace,
  name: (m) => m.target.name,
  reason: (m) => m.reason,
  what: (m) => m.what,
  where: (m) => m.where,
  why: (m) => m.why,
  done: (m) => m.done,
  key: (m) => m.key,
  action: (m) => m.action ?? 'trigger',
  cluster: (m) => m.cluster ?? '',
};

export type Template = (m: Message) => string;

/**
 * `[{{severity}}] {{class}} on {{name}}` -> a function of the message; an unknown name is refused,
 * naming the place. `encode`: every value is URI-encoded (a runbook URL), so a name from the
 * cluster stays one path segment or query value whatever it contains.
 */
export function compileTemplate(template: string, where: string, options: { encode?: boolean } = {}): Template {
  const parts = template.split(/(\{\{\s*[^}]*?\s*\}\})/);
  const pieces = parts.map((p): Template => {
    const name = /^\{\{\s*([^}]*?)\s*\}\}$/.exec(p)?.[1];
    if (name === undefined) return () => p;
    const f = PLACEHOLDERS[name];
    if (!f) throw new ConfigError(where, `unknown placeholder {{${name}}}; known: ${Object.keys(PLACEHOLDERS).join(', ')}`);
    return options.encode ? (m) => encodeURIComponent(f(m)) : f;
  });
  return (m) => pieces.map((f) => f(m)).join('');
}

/** A runbook URL template: placeholders as in titles, values URI-encoded; what is left must be an http(s) URL. */
export function compileUrlTemplate(template: string, where: string): Template {
  const compiled = compileTemplate(template, where, { encode: true });
  let url: URL | undefined;
  try {
    url = new URL(template.replace(/\{\{[^}]*\}\}/g, 'x'));
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) throw new ConfigError(where, `not an http(s) URL: ${template}`);
  return compiled;
}

export interface Route {
  readonly name: string;
  readonly on: 'signal' | 'action';
  readonly outcomes: ReadonlySet<string> | undefined;
  readonly classes: ReadonlySet<string> | undefined;
  readonly severities: ReadonlySet<Severity> | undefined;
  readonly namespaces: ReadonlySet<string> | undefined;
  readonly sinks: readonly string[];
  readonly continue: boolean;
  /** The runbook of what this route matches (wins over the class's). */
  readonly runbookUrl?: Template;
}

/**
 * Where the grouping state and silences live. `cluster`: claims as Leases and silences in a
 * ConfigMap, in `namespace` (exact across replicas and restarts); `memory`: per replica, no
 * silences (a process with no cluster).
 */
export interface StateConfig {
  readonly grouping: 'cluster' | 'memory';
  readonly silences: boolean;
  readonly namespace: string;
  /** How often a replica re-reads the silences (a new one applies within this time). */
  readonly silencesRefreshMs: number;
  /** A claim older than this, still `sending`, was abandoned (its replica died): it may be retaken. */
  readonly claimTtlMs: number;
}

export interface NotifyConfig {
  readonly sinks: ReadonlyMap<string, Sink>;
  /** Sinks whose URL variable is unset (e.g. the Secret is not created yet): skipped, and said so. */
  readonly disabled: ReadonlySet<string>;
  readonly routes: readonly Route[];
  readonly groupWindowSeconds: number;
  readonly timeoutMs: number;
  /** The cluster's name in every message (REFLEX_CLUSTER_NAME, else the routes file's `cluster`); undefined: not said. */
  readonly cluster: string | undefined;
  /** Runbook URL templates by class (`default`: any other class). */
  readonly runbooks: ReadonlyMap<string, Template>;
  readonly state: StateConfig;
}

/**
 * Time a claimant has, beyond the sink's own timeout, to record that it told the sink. It must
 * keep the claim TTL below the Broker's retry horizon (knative/broker.yaml: 5 retries from 0.5 s,
 * about 15 s), so the retry of a delivery whose replica died finds the claim abandoned.
 */
const CLAIM_GRACE_MS = 5000;

export const ROUTES_SCHEMA = 'https://reflex.dev/schemas/config/notify-routes.json';

interface RawRoutes {
  cluster?: string;
  runbooks?: Record<string, string>;
  defaults?: { groupWindowSeconds?: number; timeoutMs?: number };
  sinks: { name: string; type: SinkType; urlEnv: string; secretEnv?: string; title?: string }[];
  routes: {
    name?: string;
    on?: 'signal' | 'action';
    match?: { class?: string[]; severity?: Severity[]; namespace?: string[]; outcome?: string[] };
    sinks: string[];
    continue?: boolean;
    runbookUrl?: string;
  }[];
}

const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function parseNotifyConfig(env: Env): NotifyConfig {
  const path = env['REFLEX_NOTIFY_ROUTES']?.trim() || join(projectRoot(), 'knative', 'config', 'notify-routes.yaml');
  const raw = loadConfigFile<RawRoutes>(path, ROUTES_SCHEMA);
  const sinks = new Map<string, Sink>();
  const disabled = new Set<string>();
  for (const [i, s] of raw.sinks.entries()) {
    if (sinks.has(s.name) || disabled.has(s.name)) throw new ConfigError(path, `duplicate sink ${s.name}`);
    // Checked even for a disabled sink: a typo must not wait for the Secret to surface.
    const title = s.title === undefined ? undefined : compileTemplate(s.title, `${path}: /sinks/${i}/title`);
    const url = env[s.urlEnv]?.trim();
    if (!url) {
      disabled.add(s.name);
      continue;
    }
    if (!/^https?:\/\/[^\s]+$/.test(url)) throw new ConfigError(s.urlEnv, `sink ${s.name}: not an http(s) URL (value not shown)`);
    const secret = s.secretEnv ? env[s.secretEnv]?.trim() || undefined : undefined;
    if ((s.type === 'webhook' || s.type === 'pagerduty') && !secret) {
      throw new ConfigError(
        s.secretEnv ?? `${s.name}.secretEnv`,
        `sink ${s.name} (${s.type}) needs ${s.type === 'webhook' ? 'a signing secret' : 'a routing key'} in secretEnv`,
      );
    }
    sinks.set(s.name, { name: s.name, type: s.type, url, secret, ...(title ? { title } : {}) });
  }
  const routes = raw.routes.map((r, i) => routeOf(r, i, path, (name) => sinks.has(name) || disabled.has(name)));
  const runbooks = new Map(
    Object.entries(raw.runbooks ?? {}).map(([cls, t]) => [cls, compileUrlTemplate(t, `${path}: /runbooks/${cls}`)] as const),
  );
  const timeoutMs = raw.defaults?.timeoutMs ?? 5000;
  return Object.freeze({
    sinks,
    disabled,
    routes,
    groupWindowSeconds: raw.defaults?.groupWindowSeconds ?? 600,
    timeoutMs,
    cluster: clusterOf(env, raw.cluster, path),
    runbooks,
    state: stateOf(env, timeoutMs),
  });
}

function routeOf(r: RawRoutes['routes'][number], i: number, path: string, known: (sink: string) => boolean): Route {
  for (const name of r.sinks) if (!known(name)) throw new ConfigError(path, `/routes/${i}: unknown sink ${name}`);
  const set = <T>(values: T[] | undefined): ReadonlySet<T> | undefined => (values ? new Set(values) : undefined);
  return {
    name: r.name ?? `route ${i + 1}`,
    on: r.on ?? 'signal',
    outcomes: set(r.match?.outcome),
    classes: set(r.match?.class),
    severities: set(r.match?.severity),
    namespaces: set(r.match?.namespace),
    sinks: r.sinks,
    continue: r.continue ?? false,
    ...(r.runbookUrl === undefined ? {} : { runbookUrl: compileUrlTemplate(r.runbookUrl, `${path}: /routes/${i}/runbookUrl`) }),
  };
}

/**
 * REFLEX_CLUSTER_NAME, else the routes file's `cluster`, else the API server's host as the
 * ApiServerSource names it in every event's `source` (in a pod: KUBERNETES_SERVICE_HOST; else the
 * kubeconfig's current cluster). In a pod that host is the `kubernetes` Service's ClusterIP, often
 * the same in every cluster: set a name when several clusters share a channel.
 */
function clusterOf(env: Env, fromFile: string | undefined, path: string): string | undefined {
  const fromEnv = env['REFLEX_CLUSTER_NAME']?.trim();
  const cluster = fromEnv || fromFile;
  if (cluster !== undefined && !CLUSTER_NAME.test(cluster))
    throw new ConfigError(
      fromEnv ? 'REFLEX_CLUSTER_NAME' : `${path}: /cluster`,
      `${JSON.stringify(cluster)} is not a cluster name (letters, digits, . _ -; at most 63)`,
    );
  if (cluster !== undefined) return cluster;
  const host = apiServerHost(env);
  return host !== undefined && CLUSTER_NAME.test(host) ? host : undefined;
}

/** The API server's host (no scheme, no port), as the functions reach it; undefined if unknown. */
export function apiServerHost(env: Env): string | undefined {
  const source = kubeconfigOf(env);
  if (source === 'in-cluster') return env['KUBERNETES_SERVICE_HOST']?.trim() || undefined;
  if (!source || !existsSync(source.file)) return undefined;
  try {
    const kc = parse(readFileSync(source.file, 'utf8')) as {
      'current-context'?: string;
      contexts?: { name?: string; context?: { cluster?: string } }[];
      clusters?: { name?: string; cluster?: { server?: string } }[];
    };
    const context = kc.contexts?.find((c) => c.name === kc['current-context'])?.context?.cluster;
    const server = kc.clusters?.find((c) => c.name === context)?.cluster?.server;
    return server ? new URL(server).hostname || undefined : undefined;
  } catch {
    return undefined;
  }
}

function stateOf(env: Env, timeoutMs: number): StateConfig {
  const kept = oneOf(env, 'REFLEX_NOTIFY_STATE', ['cluster', 'memory'] as const, 'memory');
  // A rehearsal (the development mesh runs every function with REFLEX_DRY_RUN=true) writes nothing
  // to the cluster: its grouping stays in memory; silences are still read.
  const rehearsal = boolFrom(env, 'REFLEX_DRY_RUN', false);
  const namespace = env['REFLEX_NOTIFY_NAMESPACE']?.trim() || 'reflex';
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace))
    throw new ConfigError('REFLEX_NOTIFY_NAMESPACE', `not a namespace name: ${namespace}`);
  return Object.freeze({
    grouping: kept === 'cluster' && !rehearsal ? 'cluster' : 'memory',
    silences: kept === 'cluster',
    namespace,
    silencesRefreshMs: intFrom(env, 'REFLEX_NOTIFY_SILENCES_REFRESH_SECONDS', 10, { min: 1, max: 600 }) * 1000,
    claimTtlMs: timeoutMs + CLAIM_GRACE_MS,
  });
}
