/** notify/config — the routes file and the sinks' endpoints and secrets, parsed once at start-up. */
import { join } from 'node:path';
import type { Env } from '../_kit/config.js';
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
};

/** `[{{severity}}] {{class}} on {{name}}` -> a function of the message; an unknown name is refused, naming the place. */
export function compileTemplate(template: string, where: string): (m: Message) => string {
  const parts = template.split(/(\{\{\s*[^}]*?\s*\}\})/);
  const pieces = parts.map((p) => {
    const name = /^\{\{\s*([^}]*?)\s*\}\}$/.exec(p)?.[1];
    if (name === undefined) return () => p;
    const f = PLACEHOLDERS[name];
    if (!f) throw new ConfigError(where, `unknown placeholder {{${name}}}; known: ${Object.keys(PLACEHOLDERS).join(', ')}`);
    return f;
  });
  return (m) => pieces.map((f) => f(m)).join('');
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
}

export interface NotifyConfig {
  readonly sinks: ReadonlyMap<string, Sink>;
  /** Sinks whose URL variable is unset (e.g. the Secret is not created yet): skipped, and said so. */
  readonly disabled: ReadonlySet<string>;
  readonly routes: readonly Route[];
  readonly groupWindowSeconds: number;
  readonly timeoutMs: number;
}

export const ROUTES_SCHEMA = 'https://reflex.dev/schemas/config/notify-routes.json';

interface RawRoutes {
  defaults?: { groupWindowSeconds?: number; timeoutMs?: number };
  sinks: { name: string; type: SinkType; urlEnv: string; secretEnv?: string; title?: string }[];
  routes: {
    name?: string;
    on?: 'signal' | 'action';
    match?: { class?: string[]; severity?: Severity[]; namespace?: string[]; outcome?: string[] };
    sinks: string[];
    continue?: boolean;
  }[];
}

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
  const routes = raw.routes.map((r, i): Route => {
    for (const name of r.sinks)
      if (!sinks.has(name) && !disabled.has(name)) throw new ConfigError(path, `/routes/${i}: unknown sink ${name}`);
    return {
      name: r.name ?? `route ${i + 1}`,
      on: r.on ?? 'signal',
      outcomes: r.match?.outcome ? new Set(r.match.outcome) : undefined,
      classes: r.match?.class ? new Set(r.match.class) : undefined,
      severities: r.match?.severity ? new Set(r.match.severity) : undefined,
      namespaces: r.match?.namespace ? new Set(r.match.namespace) : undefined,
      sinks: r.sinks,
      continue: r.continue ?? false,
    };
  });
  return Object.freeze({
    sinks,
    disabled,
    routes,
    groupWindowSeconds: raw.defaults?.groupWindowSeconds ?? 600,
    timeoutMs: raw.defaults?.timeoutMs ?? 5000,
  });
}
