/**
 * alerts/config — who may post alerts (the credentials Alertmanager's webhook_configs sends, from
 * the Secret reflex-alerts) and how long this replica remembers what it forwarded.
 */
import { ConfigError, intFrom, type Env } from '../_kit/index.js';

export interface Credentials {
  /** `Authorization: Bearer <token>` (Alertmanager http_config.authorization). */
  readonly bearer?: string;
  /** `Authorization: Basic …` (Alertmanager http_config.basic_auth). */
  readonly basic?: { readonly username: string; readonly password: string };
}

export interface AlertsConfig {
  readonly credentials: Credentials;
  /** REFLEX_ALERTS_FOLD_SECONDS: an alert forwarded this recently by this replica is not sent again (default 60). */
  readonly foldSeconds: number;
}

/**
 * Shorter secrets are guessable: Alertmanager sends them on every notification, so they are
 * generated, not typed (`openssl rand -hex 32` is 64 characters).
 */
export const MIN_SECRET_CHARS = 16;
/** The example Secret's placeholder (knative/alerts/secret.example.yaml): running with it would be running with a published secret. */
const PLACEHOLDER = /change-?me/i;
/**
 * Shorter than any sensible repeat_interval (Alertmanager's default is 4 h; Reflex's load route
 * uses 1 m) and longer than the seconds between two Alertmanager replicas' sends of one
 * notification or a retry of one that failed half-way: those are what this replica drops.
 */
const DEFAULT_FOLD_SECONDS = 30;

function secret(env: Env, key: string): string | undefined {
  const value = env[key]?.trim();
  if (!value) return undefined;
  if (PLACEHOLDER.test(value)) throw new ConfigError(key, 'is the placeholder of the example Secret: generate one (openssl rand -hex 32)');
  if (value.length < MIN_SECRET_CHARS)
    throw new ConfigError(key, `must be at least ${MIN_SECRET_CHARS} characters (generate one: openssl rand -hex 32)`);
  return value;
}

/**
 * REFLEX_ALERTS_BEARER_TOKEN, and/or REFLEX_ALERTS_BASIC_USERNAME with REFLEX_ALERTS_BASIC_PASSWORD.
 * None at all is allowed (the install renders and starts before the Secret exists): every request
 * is then refused, 401, and the log says why.
 */
export function parseAlertsConfig(env: Env): AlertsConfig {
  const bearer = secret(env, 'REFLEX_ALERTS_BEARER_TOKEN');
  const username = env['REFLEX_ALERTS_BASIC_USERNAME']?.trim() || undefined;
  const password = secret(env, 'REFLEX_ALERTS_BASIC_PASSWORD');
  if ((username === undefined) !== (password === undefined))
    throw new ConfigError(
      username === undefined ? 'REFLEX_ALERTS_BASIC_USERNAME' : 'REFLEX_ALERTS_BASIC_PASSWORD',
      'basic authentication needs both REFLEX_ALERTS_BASIC_USERNAME and REFLEX_ALERTS_BASIC_PASSWORD',
    );
  // RFC 7617: the user-id cannot hold a colon (the first one separates it from the password).
  if (username?.includes(':')) throw new ConfigError('REFLEX_ALERTS_BASIC_USERNAME', 'must not contain ":"');
  return Object.freeze({
    credentials: Object.freeze({
      ...(bearer ? { bearer } : {}),
      ...(username && password ? { basic: { username, password } } : {}),
    }),
    foldSeconds: intFrom(env, 'REFLEX_ALERTS_FOLD_SECONDS', DEFAULT_FOLD_SECONDS, { min: 0, max: 3600 }),
  });
}
