/**
 * _kit/auth — who may send: Knative Eventing's authentication-oidc bearer tokens (ServiceAccount
 * tokens for this function's audience), verified by a TokenReview through the Cluster port, with
 * a short, bounded cache so a burst of deliveries is not a burst of reviews.
 */
import { createHash } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { AuthConfig } from './config.js';
import { ForbiddenError, InternalError, UnauthenticatedError, UnavailableError, asReflexError } from './errors.js';
import type { Cluster } from './k8s.js';
import type { Logger } from './logger.js';
import { counter } from './metrics.js';

/** Why a sender was refused: the `reason` label of reflex_auth_refused_total (a closed set). */
export type Refusal = 'missing' | 'malformed' | 'invalid' | 'audience' | 'subject';

export interface Sender {
  /** The Kubernetes username, e.g. system:serviceaccount:reflex:<trigger>-oidc-eventing.knative.dev-trigger. */
  readonly username: string;
}

export interface AuthOptions {
  /** Milliseconds since the epoch (tests move it). */
  readonly now?: () => number;
  /** How long an accepted token is trusted without a new review (never past its `exp`). */
  readonly ttlMs?: number;
  /** How long a refusal is remembered: short, so a fixed Trigger or Role is seen at once. */
  readonly refusalTtlMs?: number;
  /** Most tokens remembered; the least recently used goes first. */
  readonly maxEntries?: number;
  /** A review that takes longer is answered 503 (Knative retries), not left to the sender's timeout. */
  readonly reviewTimeoutMs?: number;
}

export interface Authenticator {
  /**
   * The sender of a request with this Authorization header, or: UnauthenticatedError (401),
   * ForbiddenError (403: authenticated, not in REFLEX_AUTH_SUBJECTS), UnavailableError (503:
   * the API server could not review it), InternalError (500: this function may not review).
   */
  authenticate(authorization: string | undefined): Promise<Sender>;
  /** Tokens remembered now (for tests of the bound). */
  cached(): number;
}

export const DEFAULT_TTL_MS = 60_000;
export const DEFAULT_REFUSAL_TTL_MS = 5_000;
export const DEFAULT_MAX_ENTRIES = 512;
export const DEFAULT_REVIEW_TIMEOUT_MS = 5_000;
/** A ServiceAccount JWT is about 1 KiB; anything far larger is not one, and is not sent on. */
const MAX_TOKEN_CHARS = 8192;
/** RFC 6750 b64token. */
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** Seconds the sender should wait when the API server could not review its token. */
const RETRY_AFTER_SECONDS = 2;

type Verdict =
  | { readonly ok: true; readonly username: string }
  /** `why`: the API server's own words, for the log only. */
  | { readonly ok: false; readonly reason: Refusal; readonly detail: string; readonly why?: string };

interface TokenReview {
  status?: { authenticated?: boolean; user?: { username?: string }; audiences?: string[]; error?: string };
}

/** May this username send? Entries ending in ':' are prefixes (a namespace's accounts). */
export function allowedSubject(subjects: readonly string[], username: string): boolean {
  return subjects.length === 0 || subjects.some((s) => (s.endsWith(':') ? username.startsWith(s) : username === s));
}

/** The token's own `exp` in milliseconds, read without verifying (only to bound the cache). */
export function expiryOf(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const exp = (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { exp?: unknown }).exp;
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export function createAuthenticator(
  config: Extract<AuthConfig, { mode: 'oidc' }>,
  cluster: Pick<Cluster, 'create'>,
  deps: { readonly log: Logger; readonly registry: Registry },
  options: AuthOptions = {},
): Authenticator {
  const now = options.now ?? Date.now;
  const ttlMs = options.ttlMs ?? DEFAULT_TTL_MS;
  const refusalTtlMs = options.refusalTtlMs ?? DEFAULT_REFUSAL_TTL_MS;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const reviewTimeoutMs = options.reviewTimeoutMs ?? DEFAULT_REVIEW_TIMEOUT_MS;
  const refused = counter(deps.registry, 'reflex_auth_refused_total', 'Requests refused by sender authentication (401, 403), by reason', [
    'reason',
  ]);
  const reviews = counter(
    deps.registry,
    'reflex_auth_reviews_total',
    'TokenReviews sent (cache misses), by outcome (authenticated | refused | unavailable | error)',
    ['outcome'],
  );

  // Keyed by the token's SHA-256: the token itself is never kept, logged or compared as text.
  const cache = new Map<string, { readonly verdict: Verdict; readonly until: number }>();
  // One review per token at a time: concurrent deliveries with the same token wait for it.
  const pending = new Map<string, Promise<Verdict>>();

  const remember = (key: string, verdict: Verdict, until: number): void => {
    if (until <= now()) return;
    cache.delete(key);
    while (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
    cache.set(key, { verdict, until });
  };

  const review = async (token: string): Promise<Verdict> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new UnavailableError(`the TokenReview took longer than ${reviewTimeoutMs} ms`)), reviewTimeoutMs);
    });
    let answer: TokenReview | undefined;
    try {
      answer = await Promise.race([
        cluster.create<TokenReview>({
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          metadata: {},
          spec: { token, audiences: [config.audience] },
        }),
        timeout,
      ]);
    } catch (err) {
      const e = asReflexError(err);
      if (e instanceof UnavailableError) {
        reviews.inc({ outcome: 'unavailable' });
        throw new UnavailableError(`cannot verify the sender now: ${e.message}`, { retryAfterSeconds: RETRY_AFTER_SECONDS, cause: e });
      }
      reviews.inc({ outcome: 'error' });
      // Our own RBAC, not the sender's fault: 500, retried and visible, until the Role is fixed.
      if (e instanceof ForbiddenError)
        throw new InternalError(`cannot verify senders: may this function's ServiceAccount create tokenreviews? ${e.message}`, {
          cause: e,
        });
      throw e;
    } finally {
      clearTimeout(timer);
    }
    const status = answer?.status;
    if (!status) {
      reviews.inc({ outcome: 'error' });
      throw new InternalError('the TokenReview came back without a status');
    }
    if (status.authenticated !== true) {
      reviews.inc({ outcome: 'refused' });
      // status.error says why (expired, another audience, unknown signer): for the log, not the sender.
      return {
        ok: false,
        reason: 'invalid',
        detail: `the bearer token is not valid for audience ${config.audience} (expired, revoked, or another audience)`,
        why: status.error ?? 'not authenticated',
      };
    }
    reviews.inc({ outcome: 'authenticated' });
    const username = status.user?.username ?? '';
    // The API server only authenticates a token for one of the audiences asked; checked again all the same.
    if (!(status.audiences ?? []).includes(config.audience))
      return { ok: false, reason: 'audience', detail: `the bearer token is not for audience ${config.audience}` };
    if (!allowedSubject(config.subjects, username))
      return { ok: false, reason: 'subject', detail: `${username} may not send to this function (REFLEX_AUTH_SUBJECTS)` };
    return { ok: true, username };
  };

  const refuse = (reason: Refusal, detail: string, challenge?: 'invalid_request' | 'invalid_token', why?: string): never => {
    refused.inc({ reason });
    deps.log.warn('sender refused', { reason, detail, ...(why === undefined ? {} : { why }) });
    if (reason === 'subject') throw new ForbiddenError(detail);
    throw new UnauthenticatedError(detail, challenge ? { challenge } : {});
  };

  return {
    async authenticate(authorization) {
      if (authorization === undefined || authorization.trim() === '')
        return refuse('missing', 'this function requires a bearer token (Knative Eventing authentication-oidc)');
      const [scheme, token, ...rest] = authorization.trim().split(/\s+/);
      // Another scheme carries no bearer credentials at all: the bare challenge (RFC 6750 §3.1).
      if (scheme?.toLowerCase() !== 'bearer') return refuse('malformed', 'expected Authorization: Bearer <token>');
      if (token === undefined || rest.length > 0 || token.length > MAX_TOKEN_CHARS || !TOKEN.test(token))
        return refuse('malformed', 'expected Authorization: Bearer <token>', 'invalid_request');

      const key = createHash('sha256').update(token).digest('hex');
      let verdict: Verdict;
      const hit = cache.get(key);
      if (hit && hit.until > now()) {
        // Least recently used goes first: a hit moves to the back.
        cache.delete(key);
        cache.set(key, hit);
        verdict = hit.verdict;
      } else {
        if (hit) cache.delete(key);
        let inflight = pending.get(key);
        if (!inflight) {
          inflight = review(token)
            .then((v) => {
              // Accepted: up to ttlMs, never past the token's own expiry. Refused: a few seconds.
              remember(key, v, v.ok ? Math.min(now() + ttlMs, expiryOf(token) ?? Infinity) : now() + refusalTtlMs);
              return v;
            })
            .finally(() => pending.delete(key));
          pending.set(key, inflight);
        }
        verdict = await inflight;
      }
      if (!verdict.ok) return refuse(verdict.reason, verdict.detail, 'invalid_token', verdict.why);
      return { username: verdict.username };
    },
    cached: () => cache.size,
  };
}
