/** test/wire/auth — sender authentication through the production server over HTTP, with a stand-in TokenReview API. */
import { afterEach, describe, expect, it } from '@jest/globals';
import {
  ANY_TYPE,
  UnavailableError,
  defineFunction,
  noConfig,
  startServer,
  type Cluster,
  type KubeObject,
  type RunningServer,
} from '../../functions/_kit/index.js';

const AUDIENCE = 'reflex.dev/function/reflex/probe';
const GOOD = 'good.token.sig';

/** Records every event it handles: "the handler did nothing" is an empty list. */
function probe(): { seen: string[]; definition: ReturnType<typeof defineFunction<undefined>> } {
  const seen: string[] = [];
  const definition = defineFunction({
    name: 'probe',
    accepts: [{ type: ANY_TYPE, schema: null }],
    configure: noConfig,
    handler: () => async (event) => {
      seen.push(event.id);
      return undefined;
    },
  });
  return { seen, definition };
}

/** The API server's TokenReview: GOOD authenticates for AUDIENCE; `down` makes it unreachable. */
function reviewer(): { cluster: Cluster; reviews: number; down: boolean } {
  const state = {
    reviews: 0,
    down: false,
    cluster: {
      async create<T extends object>(o: KubeObject): Promise<T | undefined> {
        state.reviews++;
        if (state.down) throw new UnavailableError('Kubernetes API unreachable: connect ECONNREFUSED');
        const { token } = o['spec'] as { token: string };
        const status =
          token === GOOD
            ? { authenticated: true, user: { username: 'system:serviceaccount:reflex:t' }, audiences: [AUDIENCE] }
            : { authenticated: false, error: 'invalid bearer token' };
        return { ...o, status } as T;
      },
    } as unknown as Cluster,
  };
  return state;
}

const running: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.shutdown()));
});

async function serve(env: Record<string, string>, cluster?: Cluster): Promise<{ server: RunningServer; seen: string[] }> {
  const { seen, definition } = probe();
  const server = await startServer(definition, {
    env: { PORT: '0', REFLEX_HOST: '127.0.0.1', REFLEX_SHUTDOWN_TIMEOUT_MS: '5000', ...env },
    logSink: () => {},
    ...(cluster ? { cluster } : {}),
  });
  running.push(server);
  return { server, seen };
}

const send = (url: string, headers: Record<string, string> = {}, body = '{}'): Promise<Response> =>
  fetch(url, {
    method: 'POST',
    headers: {
      'ce-specversion': '1.0',
      'ce-id': `e-${Math.random()}`,
      'ce-source': '/test',
      'ce-type': 'dev.reflex.test',
      'content-type': 'application/json',
      ...headers,
    },
    body,
  });

const OIDC = { REFLEX_AUTH: 'oidc', REFLEX_AUTH_AUDIENCE: AUDIENCE };

describe('REFLEX_AUTH', () => {
  it('none (the default): no token needed, as before', async () => {
    const { server, seen } = await serve({});
    expect((await send(server.url)).status).toBe(202);
    expect(seen).toHaveLength(1);
  });

  it('a bad value stops start-up, naming the key', async () => {
    const { definition } = probe();
    await expect(startServer(definition, { env: { PORT: '0', REFLEX_AUTH: 'on' }, logSink: () => {} })).rejects.toThrow(/REFLEX_AUTH\b/);
    await expect(startServer(definition, { env: { PORT: '0', REFLEX_AUTH: 'oidc' }, logSink: () => {} })).rejects.toThrow(
      /REFLEX_AUTH_AUDIENCE/,
    );
  });
});

describe('REFLEX_AUTH=oidc', () => {
  it('no token: 401 problem+json with a Bearer challenge; the handler is not called', async () => {
    const r = reviewer();
    const { server, seen } = await serve(OIDC, r.cluster);
    const res = await send(server.url);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({ status: 401, title: 'Unauthenticated', type: 'https://reflex.dev/problems/unauthenticated' });
    expect(seen).toEqual([]);
    expect(r.reviews).toBe(0);
  });

  it('a token the API server refuses: 401 invalid_token; a good one: handled', async () => {
    const r = reviewer();
    const { server, seen } = await serve(OIDC, r.cluster);
    const bad = await send(server.url, { authorization: 'Bearer not.a.token' });
    expect([bad.status, bad.headers.get('www-authenticate')]).toEqual([401, 'Bearer error="invalid_token"']);
    expect(seen).toEqual([]);
    expect((await send(server.url, { authorization: `Bearer ${GOOD}` })).status).toBe(202);
    expect(seen).toHaveLength(1);
  });

  it('health, readiness and metrics stay open; refusals are counted by reason', async () => {
    const { server } = await serve(OIDC, reviewer().cluster);
    await send(server.url);
    await send(server.url, { authorization: 'Basic abc' });
    for (const path of ['/healthz', '/readyz']) expect((await fetch(server.url + path)).status).toBe(200);
    const metrics = await (await fetch(server.url + '/metrics')).text();
    expect(metrics).toMatch(/reflex_auth_refused_total\{reason="missing",function="probe"\} 1/);
    expect(metrics).toMatch(/reflex_auth_refused_total\{reason="malformed",function="probe"\} 1/);
  });

  it('the review API unreachable: 503 with Retry-After (Knative retries), the handler not called', async () => {
    const r = reviewer();
    r.down = true;
    const { server, seen } = await serve(OIDC, r.cluster);
    const res = await send(server.url, { authorization: `Bearer ${GOOD}` });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(seen).toEqual([]);
  });

  it('refused, unreviewable and oversized requests leave nothing in flight: shutdown drains at once', async () => {
    const r = reviewer();
    const { server } = await serve({ ...OIDC, REFLEX_MAX_BODY_BYTES: '1024' }, r.cluster);
    await send(server.url);
    await send(server.url, { authorization: 'Bearer not.a.token' });
    r.down = true;
    await send(server.url, { authorization: 'Bearer other.token.x' });
    r.down = false;
    expect((await send(server.url, { authorization: `Bearer ${GOOD}` }, 'x'.repeat(4096))).status).toBe(413);
    const started = Date.now();
    expect(await server.shutdown()).toEqual({ drained: true });
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
