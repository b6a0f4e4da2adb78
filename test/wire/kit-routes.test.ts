/** The kit's plain HTTP routes (FunctionDefinition.routes), through the real server factory. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { defineFunction, startServer, UnauthenticatedError, type RunningServer } from '../../functions/_kit/index.js';

const route = defineFunction({
  name: 'hook',
  accepts: [],
  configure: () => undefined,
  handler: () => () => Promise.resolve(undefined),
  routes: () => [
    {
      method: 'POST' as const,
      path: '/hook',
      authenticate: (headers) => {
        if (headers['x-key'] !== 'k') throw new UnauthenticatedError('no key', { wwwAuthenticate: 'Key realm="hook"' });
      },
      handle: async (req) =>
        req.body.length === 0 ? { status: 204 as const } : { status: 200 as const, body: { bytes: req.body.length } },
    },
  ],
});

let server: RunningServer;
beforeAll(async () => {
  server = await startServer(route, { env: { PORT: '0', REFLEX_HOST: '127.0.0.1', REFLEX_MAX_BODY_BYTES: '2048' }, logSink: () => {} });
});
afterAll(async () => {
  await server.shutdown();
});

describe('a function route', () => {
  it('answers with the JSON the route returns, or 204', async () => {
    const ok = await fetch(`${server.url}/hook`, { method: 'POST', headers: { 'x-key': 'k' }, body: 'abc' });
    expect([ok.status, await ok.json()]).toEqual([200, { bytes: 3 }]);
    const empty = await fetch(`${server.url}/hook`, { method: 'POST', headers: { 'x-key': 'k' } });
    expect(empty.status).toBe(204);
  });

  it('authenticates before the body is read: an unauthenticated oversized body is 401, not 413', async () => {
    const res = await fetch(`${server.url}/hook`, { method: 'POST', body: 'x'.repeat(10_000) });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Key realm="hook"');
    const big = await fetch(`${server.url}/hook`, { method: 'POST', headers: { 'x-key': 'k' }, body: 'x'.repeat(10_000) });
    expect(big.status).toBe(413);
  });

  it('cannot take the paths of the kit', async () => {
    const clash = defineFunction({ ...route, routes: () => [{ ...route.routes!(undefined, {} as never)[0]!, path: '/healthz' }] });
    await expect(startServer(clash, { env: { PORT: '0', REFLEX_HOST: '127.0.0.1' }, logSink: () => {} })).rejects.toThrow(
      /not a path of its own/,
    );
  });
});
