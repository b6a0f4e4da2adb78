/** functions/_kit/auth.test — sender authentication without a cluster: parsing, checks, the cache and its bounds. */
import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { allowedSubject, createAuthenticator, expiryOf, type AuthOptions } from './auth.js';
import { authFrom, type AuthConfig } from './config.js';
import { ConfigError, ForbiddenError, InternalError, UnauthenticatedError, UnavailableError } from './errors.js';
import type { KubeObject } from './k8s.js';
import { createLogger } from './logger.js';

const AUDIENCE = 'reflex.dev/function/reflex/probe';
const T0 = Date.parse('2026-03-01T10:00:00Z');

/** A JWT-shaped token (unsigned: only the fake API server below reads it). */
const jwt = (name: string, expSeconds?: number): string =>
  [
    Buffer.from('{"alg":"RS256"}').toString('base64url'),
    Buffer.from(JSON.stringify({ sub: name, ...(expSeconds === undefined ? {} : { exp: expSeconds }) })).toString('base64url'),
    'c2ln',
  ].join('.');

type Status = { authenticated: boolean; user?: { username: string }; audiences?: string[]; error?: string };

/** The API server's side of TokenReview: `answer` decides per token; every review is counted. */
function fakeCluster(answer: (token: string, audiences: string[]) => Status | Error | Promise<never>) {
  const reviews: string[] = [];
  return {
    reviews,
    cluster: {
      async create<T extends object>(o: KubeObject): Promise<T | undefined> {
        const spec = o['spec'] as { token: string; audiences: string[] };
        expect([o.apiVersion, o.kind]).toEqual(['authentication.k8s.io/v1', 'TokenReview']);
        reviews.push(spec.token);
        const a = answer(spec.token, spec.audiences);
        if (a instanceof Error) throw a;
        return { ...o, status: await a } as T;
      },
    },
  };
}

/** A ServiceAccount token authenticates for the audience it was minted for, as the API server does. */
const sa = (username: string, audience = AUDIENCE): Status => ({ authenticated: true, user: { username }, audiences: [audience] });

function setup(
  answer: Parameters<typeof fakeCluster>[0],
  options: AuthOptions & { subjects?: string[] } = {},
): { auth: ReturnType<typeof createAuthenticator>; reviews: string[]; clock: { t: number }; registry: Registry; logs: string[] } {
  const clock = { t: T0 };
  const logs: string[] = [];
  const { cluster, reviews } = fakeCluster(answer);
  const registry = new Registry();
  const config = { mode: 'oidc', audience: AUDIENCE, subjects: options.subjects ?? [] } as const;
  const log = createLogger('debug', {}, (l) => logs.push(l));
  const auth = createAuthenticator(config, cluster, { log, registry }, { now: () => clock.t, ...options });
  return { auth, reviews, clock, registry, logs };
}

async function refusal(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a refusal');
}

describe('configuration (REFLEX_AUTH, REFLEX_AUTH_AUDIENCE, REFLEX_AUTH_SUBJECTS)', () => {
  it.each<[string, Record<string, string>, AuthConfig | string]>([
    // Today's behaviour by default.
    ['nothing set', {}, { mode: 'none' }],
    ['none, any case', { REFLEX_AUTH: ' NONE ' }, { mode: 'none' }],
    ['oidc with an audience', { REFLEX_AUTH: 'oidc', REFLEX_AUTH_AUDIENCE: AUDIENCE }, { mode: 'oidc', audience: AUDIENCE, subjects: [] }],
    // Subjects: exact usernames and prefixes; blanks between commas are ignored.
    [
      'oidc with subjects',
      {
        REFLEX_AUTH: 'oidc',
        REFLEX_AUTH_AUDIENCE: AUDIENCE,
        REFLEX_AUTH_SUBJECTS: 'system:serviceaccount:reflex:, system:serviceaccount:x:y,,',
      },
      { mode: 'oidc', audience: AUDIENCE, subjects: ['system:serviceaccount:reflex:', 'system:serviceaccount:x:y'] },
    ],
    // A misspelt mode names the key.
    ['an unknown mode', { REFLEX_AUTH: 'jwt' }, 'REFLEX_AUTH'],
    // oidc without an audience cannot verify anything.
    ['oidc without an audience', { REFLEX_AUTH: 'oidc' }, 'REFLEX_AUTH_AUDIENCE'],
    ['two audiences', { REFLEX_AUTH: 'oidc', REFLEX_AUTH_AUDIENCE: 'a,b' }, 'REFLEX_AUTH_AUDIENCE'],
    // An audience without the mode: someone meant to turn it on; running open would surprise them.
    ['an audience with mode none', { REFLEX_AUTH_AUDIENCE: AUDIENCE }, 'REFLEX_AUTH'],
    ['subjects with mode none', { REFLEX_AUTH_SUBJECTS: 'system:serviceaccount:reflex:' }, 'REFLEX_AUTH'],
    [
      'a bare colon as a subject',
      { REFLEX_AUTH: 'oidc', REFLEX_AUTH_AUDIENCE: AUDIENCE, REFLEX_AUTH_SUBJECTS: ':' },
      'REFLEX_AUTH_SUBJECTS',
    ],
  ])('%s', (_what, env, expected) => {
    if (typeof expected !== 'string') {
      expect(authFrom(env)).toEqual(expected);
      return;
    }
    let thrown: unknown;
    try {
      authFrom(env);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(ConfigError);
    expect((thrown as ConfigError).key).toBe(expected);
  });
});

describe('allowedSubject', () => {
  it.each<[string[], string, boolean]>([
    // No list: any authenticated account.
    [[], 'system:serviceaccount:any:thing', true],
    // A prefix ending in ':' admits a namespace's accounts, and not a namespace that merely starts alike.
    [['system:serviceaccount:reflex:'], 'system:serviceaccount:reflex:classify-on-resource-oidc-eventing.knative.dev-trigger', true],
    [['system:serviceaccount:reflex:'], 'system:serviceaccount:reflex-other:x', false],
    // Without the colon it is an exact username.
    [['system:serviceaccount:reflex:a'], 'system:serviceaccount:reflex:a', true],
    [['system:serviceaccount:reflex:a'], 'system:serviceaccount:reflex:ab', false],
  ])('%j admits %s: %s', (subjects, username, allowed) => {
    expect(allowedSubject(subjects, username)).toBe(allowed);
  });
});

describe('expiryOf (unverified, only to bound the cache)', () => {
  it('reads exp in milliseconds, or nothing from what is not a JWT', () => {
    expect(expiryOf(jwt('a', 1_800_000_000))).toBe(1_800_000_000_000);
    expect(expiryOf(jwt('a'))).toBeUndefined();
    expect(expiryOf('opaque-token')).toBeUndefined();
    expect(expiryOf('a.!!!.c')).toBeUndefined();
  });
});

describe('authenticate', () => {
  it('no Authorization header: 401 with a bare challenge, and no review', async () => {
    const { auth, reviews } = setup(() => sa('x'));
    const err = await refusal(auth.authenticate(undefined));
    expect(err).toBeInstanceOf(UnauthenticatedError);
    expect((err as UnauthenticatedError).challenge).toBeUndefined();
    expect(reviews).toEqual([]);
  });

  it('another scheme: 401 with the bare challenge, and no review', async () => {
    const { auth, reviews } = setup(() => sa('x'));
    const err = await refusal(auth.authenticate('Basic dXNlcjpwYXNz'));
    expect([err instanceof UnauthenticatedError, (err as UnauthenticatedError).challenge]).toEqual([true, undefined]);
    expect(reviews).toEqual([]);
  });

  it.each([
    // No token, two tokens, characters outside RFC 6750's b64token.
    ['Bearer', 'Bearer'],
    ['Bearer a b', 'Bearer a b'],
    ['Bearer a"b', 'Bearer a"b'],
    // Far larger than any ServiceAccount token.
    ['a 9000-character token', `Bearer ${'a'.repeat(9000)}`],
  ])('%s: 401 invalid_request, never sent to the API server', async (_what, header) => {
    const { auth, reviews } = setup(() => sa('x'));
    const err = await refusal(auth.authenticate(header));
    expect([err instanceof UnauthenticatedError, (err as UnauthenticatedError).challenge]).toEqual([true, 'invalid_request']);
    expect(reviews).toEqual([]);
  });

  it('accepts a token the API server authenticates for the audience, and asks for that audience only', async () => {
    const audiences: string[][] = [];
    const { auth } = setup((_t, a) => {
      audiences.push(a);
      return sa('system:serviceaccount:reflex:t');
    });
    expect(await auth.authenticate(`bearer ${jwt('t')}`)).toEqual({ username: 'system:serviceaccount:reflex:t' });
    expect(audiences).toEqual([[AUDIENCE]]);
  });

  it('a token the API server refuses: 401 invalid_token', async () => {
    const { auth } = setup(() => ({ authenticated: false, error: 'token audiences ["other"] is invalid for the target audiences' }));
    const err = await refusal(auth.authenticate(`Bearer ${jwt('t')}`));
    expect([err instanceof UnauthenticatedError, (err as UnauthenticatedError).challenge]).toEqual([true, 'invalid_token']);
  });

  it('authenticated, but the status does not carry our audience: 401', async () => {
    const { auth } = setup(() => sa('x', 'another'));
    expect(await refusal(auth.authenticate(`Bearer ${jwt('t')}`))).toBeInstanceOf(UnauthenticatedError);
  });

  it('authenticated, but not in REFLEX_AUTH_SUBJECTS: 403', async () => {
    const { auth, registry } = setup(() => sa('system:serviceaccount:shop:app'), { subjects: ['system:serviceaccount:reflex:'] });
    const err = await refusal(auth.authenticate(`Bearer ${jwt('t')}`));
    expect(err).toBeInstanceOf(ForbiddenError);
    expect((err as Error).message).toMatch(/system:serviceaccount:shop:app may not send/);
    expect(await registry.getSingleMetricAsString('reflex_auth_refused_total')).toMatch(/reason="subject"} 1/);
  });

  it('the API server unreachable: 503 with Retry-After, and nothing remembered', async () => {
    let down = true;
    const { auth, reviews } = setup(() => (down ? new UnavailableError('Kubernetes API unreachable: connect ECONNREFUSED') : sa('x')));
    const err = await refusal(auth.authenticate(`Bearer ${jwt('t')}`));
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).retryAfterSeconds).toBeGreaterThan(0);
    down = false;
    expect(await auth.authenticate(`Bearer ${jwt('t')}`)).toEqual({ username: 'x' });
    expect(reviews).toHaveLength(2);
  });

  it('a review that hangs: 503 after the review timeout', async () => {
    const { auth } = setup(() => new Promise<never>(() => {}), { reviewTimeoutMs: 20 });
    expect(await refusal(auth.authenticate(`Bearer ${jwt('t')}`))).toBeInstanceOf(UnavailableError);
  });

  it("this function may not create TokenReviews (its RBAC): 500, our fault, not the sender's", async () => {
    const { auth } = setup(() => new ForbiddenError('Kubernetes API refused (403)'));
    const err = await refusal(auth.authenticate(`Bearer ${jwt('t')}`));
    expect(err).toBeInstanceOf(InternalError);
    expect((err as Error).message).toMatch(/create tokenreviews/);
  });
});

describe('the cache', () => {
  it('an accepted token is reviewed once per TTL (60 s)', async () => {
    const { auth, reviews, clock } = setup(() => sa('x'));
    const token = `Bearer ${jwt('t')}`;
    for (let i = 0; i < 5; i++) await auth.authenticate(token);
    expect(reviews).toHaveLength(1);
    clock.t += 59_000;
    await auth.authenticate(token);
    expect(reviews).toHaveLength(1);
    clock.t += 2_000;
    await auth.authenticate(token);
    expect(reviews).toHaveLength(2);
  });

  it("never past the token's own exp", async () => {
    const { auth, reviews, clock } = setup(() => sa('x'));
    const token = `Bearer ${jwt('t', T0 / 1000 + 10)}`;
    await auth.authenticate(token);
    clock.t += 9_000;
    await auth.authenticate(token);
    expect(reviews).toHaveLength(1);
    clock.t += 2_000;
    await auth.authenticate(token);
    expect(reviews).toHaveLength(2);
  });

  it('a refusal is remembered for a few seconds only', async () => {
    let valid = false;
    const { auth, reviews, clock } = setup(() => (valid ? sa('x') : { authenticated: false }));
    const token = `Bearer ${jwt('t')}`;
    await refusal(auth.authenticate(token));
    await refusal(auth.authenticate(token));
    expect(reviews).toHaveLength(1);
    valid = true;
    clock.t += 5_000;
    expect(await auth.authenticate(token)).toEqual({ username: 'x' });
    expect(reviews).toHaveLength(2);
  });

  it('holds at most maxEntries tokens, dropping the least recently used', async () => {
    const { auth, reviews } = setup(() => sa('x'), { maxEntries: 3 });
    const tokens = ['a', 'b', 'c', 'd', 'e'].map((n) => `Bearer ${jwt(n)}`);
    await auth.authenticate(tokens[0]!);
    for (const t of tokens.slice(1)) {
      await auth.authenticate(t);
      // 'a' is used between the others, so it stays while b and c go.
      await auth.authenticate(tokens[0]!);
      expect(auth.cached()).toBeLessThanOrEqual(3);
    }
    expect(reviews).toHaveLength(5);
    await auth.authenticate(tokens[0]!);
    await auth.authenticate(tokens[4]!);
    expect(reviews).toHaveLength(5);
    await auth.authenticate(tokens[1]!);
    expect(reviews).toHaveLength(6);
  });

  it('a burst of deliveries with one new token is one review', async () => {
    let resolve!: (s: Status) => void;
    const { auth, reviews } = setup(() => new Promise<never>((r) => (resolve = r as unknown as (s: Status) => void)));
    const token = `Bearer ${jwt('t')}`;
    const burst = Array.from({ length: 20 }, () => auth.authenticate(token));
    await new Promise((r) => setImmediate(r));
    resolve(sa('x'));
    expect(await Promise.all(burst)).toEqual(Array.from({ length: 20 }, () => ({ username: 'x' })));
    expect(reviews).toHaveLength(1);
  });

  it('never logs the token, whatever the outcome', async () => {
    const { auth, logs } = setup((t) => (t.includes('fine') ? sa('x') : { authenticated: false, error: 'invalid bearer token' }), {
      subjects: ['y'],
    });
    const tokens = [jwt('fine'), jwt('bad')];
    for (const t of tokens) await refusal(auth.authenticate(`Bearer ${t}`));
    expect(logs.length).toBeGreaterThan(0);
    for (const t of tokens) for (const part of t.split('.').slice(1, 2)) expect(logs.join('\n')).not.toContain(part);
  });
});
