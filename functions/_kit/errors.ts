/** _kit/errors — the typed error hierarchy; each status means something to Knative's retries. */

/** One field-level problem, for the `errors` member of a problem body. */
export interface Fault {
  readonly where: string;
  readonly message: string;
}

/**
 * Base class. `status` is what the Broker sees: Knative retries 404, 408, 409, 429 and 5xx,
 * and dead-letters other 4xx at once.
 * @see https://knative.dev/docs/eventing/event-delivery/
 */
export abstract class ReflexError extends Error {
  abstract readonly status: number;
  /** Short, stable, human title for the problem body (RFC 9457 `title`). */
  abstract readonly title: string;
  readonly faults: readonly Fault[];
  /** Seconds the sender should wait before retrying (sent as Retry-After). */
  readonly retryAfterSeconds: number | undefined;

  constructor(message: string, options: { faults?: readonly Fault[]; retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.faults = options.faults ?? [];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

/** Not a CloudEvent, malformed, unknown type or schema-invalid data: never worth a retry. */
export class InvalidEventError extends ReflexError {
  readonly status = 400;
  readonly title = 'Invalid CloudEvent';
}

/** The request body is larger than the configured limit. */
export class PayloadTooLargeError extends ReflexError {
  readonly status = 413;
  readonly title = 'Payload too large';
}

/** The content type is not one the HTTP binding defines a mode for. */
export class UnsupportedMediaTypeError extends ReflexError {
  readonly status = 415;
  readonly title = 'Unsupported media type';
}

/**
 * The sender did not prove who it is (no bearer token, or one the API server does not accept
 * for this function's audience): 401, not retried; the server adds `WWW-Authenticate: Bearer`.
 */
export class UnauthenticatedError extends ReflexError {
  readonly status = 401;
  readonly title = 'Unauthenticated';
  /** The RFC 6750 `error` of the challenge: absent when no credentials were sent at all. */
  readonly challenge: 'invalid_request' | 'invalid_token' | undefined;
  /** The whole WWW-Authenticate value, for a route that takes other schemes than Bearer (e.g. Basic too). */
  readonly wwwAuthenticate: string | undefined;

  constructor(
    message: string,
    options: { challenge?: 'invalid_request' | 'invalid_token'; wwwAuthenticate?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? {} : { cause: options.cause });
    this.challenge = options.challenge;
    this.wwwAuthenticate = options.wwwAuthenticate;
  }
}

/** RBAC refused the call: retrying will not help; someone must fix the Role. */
export class ForbiddenError extends ReflexError {
  readonly status = 403;
  readonly title = 'Forbidden';
}

/** An optimistic-concurrency conflict survived the handler's own re-read and retries. */
export class ConflictError extends ReflexError {
  readonly status = 409;
  readonly title = 'Conflict';
}

/** A transient fault (the API server unreachable, 5xx, 429): the Broker must retry. */
export class UnavailableError extends ReflexError {
  readonly status = 503;
  readonly title = 'Service unavailable';
}

/** A bug or an unexpected answer: 500, which Knative retries, so it is visible and dead-lettered. */
export class InternalError extends ReflexError {
  readonly status = 500;
  readonly title = 'Internal error';
}

/** A bad configuration value: start-up stops with a message naming the key. */
export class ConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`configuration ${key}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** Anything thrown becomes a ReflexError; an unknown throw is an internal error. */
export function asReflexError(err: unknown): ReflexError {
  if (err instanceof ReflexError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new InternalError(message, { cause: err });
}

const PROBLEM_BASE = 'https://reflex.dev/problems/';

/** An RFC 9457 problem body (application/problem+json), the same from every Reflex server. */
export function problemBody(status: number, title: string, detail: string, faults: readonly Fault[] = []): string {
  const slug = title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return JSON.stringify({ type: PROBLEM_BASE + slug, title, status, detail, ...(faults.length > 0 ? { errors: faults } : {}) });
}

/**
 * Knative's SelectiveRetry: what its dispatcher delivers again (network errors are -1 here):
 * 404, 408, 409, 429 and 5xx; never other 4xx or 3xx.
 * @see https://knative.dev/docs/eventing/event-delivery/
 */
export function retryable(status: number): boolean {
  return status === -1 || status === 404 || status === 408 || status === 409 || status === 429 || status >= 500;
}

/** Re-read and re-decide this many times when another writer moved the object first. */
export const MAX_CONFLICTS = 5;

/**
 * Runs `body` again while it throws ConflictError (an optimistic-concurrency precondition that
 * failed: someone else wrote first, so read again and decide again); after MAX_CONFLICTS attempts
 * the conflict goes up (409: the Broker retries later).
 */
export async function retryOnConflict<T>(what: string, body: (attempt: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await body(attempt);
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      if (attempt >= MAX_CONFLICTS)
        throw new ConflictError(`${what} kept changing; gave up after ${MAX_CONFLICTS} attempts`, { cause: err });
    }
  }
}
