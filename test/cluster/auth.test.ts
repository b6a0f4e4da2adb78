/**
 * test/cluster/auth — sender authentication on the real control plane: tokens minted by the
 * TokenRequest API (as Knative mints a Trigger's), reviewed by the real API server as the
 * function's own ServiceAccount with only the RBAC of knative/auth.yaml.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import deadletter from '../../functions/deadletter/index.js';
import { startServer, type RunningServer } from '../../functions/_kit/index.js';
import { admin, asServiceAccount, freshNamespace, kubectl } from './kube.js';

const a = admin();
/** The audience production gives deadletter (overlays/production). */
const AUDIENCE = 'reflex.dev/function/reflex/deadletter';
let ns: string;
/** A kubeconfig of reflex/reflex-deadletter: the account production runs deadletter as. */
let reviewer: string;
const servers: RunningServer[] = [];
const logs: Record<string, unknown>[] = [];

beforeAll(async () => {
  try {
    await a.core.createNamespace({ body: { metadata: { name: 'reflex' } } });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err; // another test file made it
  }
  kubectl('apply', '-f', fileURLToPath(new URL('../../knative/auth.yaml', import.meta.url)));
  reviewer = (await asServiceAccount('reflex', 'reflex-deadletter')).kubeconfig;
  ns = await freshNamespace('auth');
  for (const name of ['trigger', 'intruder']) await a.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name } } });
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.shutdown()));
  await a.core.deleteNamespace({ name: ns });
});

/** A real ServiceAccount token for `audience`, as Knative asks for one per delivery target. */
async function token(name: string, audience: string): Promise<string> {
  const tr = await a.core.createNamespacedServiceAccountToken({
    name,
    namespace: ns,
    body: { spec: { audiences: [audience], expirationSeconds: 600 } },
  });
  if (!tr.status?.token) throw new Error(`no token for ${ns}/${name}`);
  return tr.status.token;
}

async function serve(env: Record<string, string>): Promise<RunningServer> {
  const server = await startServer(deadletter, {
    env: { PORT: '0', REFLEX_HOST: '127.0.0.1', KUBECONFIG: reviewer, ...env },
    logSink: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
  });
  servers.push(server);
  return server;
}

const oidc = (): Record<string, string> => ({
  REFLEX_AUTH: 'oidc',
  REFLEX_AUTH_AUDIENCE: AUDIENCE,
  REFLEX_AUTH_SUBJECTS: `system:serviceaccount:${ns}:trigger`,
});

let n = 0;
/** Delivers one dead letter; its id tells whether deadletter handled it (it logs each one). */
async function deliver(url: string, authorization?: string): Promise<{ res: Response; id: string; handled: () => boolean }> {
  const id = `dl-${++n}`;
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-source': '/apis/v1/namespaces/reflex/brokers/reflex',
      'ce-type': 'dev.reflex.signal.crashloop',
      'ce-knativeerrorcode': '503',
      'content-type': 'application/json',
      ...(authorization ? { authorization } : {}),
    },
    body: '{}',
  });
  return { res, id, handled: () => logs.some((l) => l['msg'] === 'dead-lettered event' && l['ceId'] === id) };
}

async function expectRefused(d: Awaited<ReturnType<typeof deliver>>, status: number): Promise<void> {
  expect(d.res.status).toBe(status);
  expect(d.res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(((await d.res.json()) as { status: number }).status).toBe(status);
  expect(d.handled()).toBe(false);
}

describe('REFLEX_AUTH=oidc, reviewed by the real API server', () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await serve(oidc());
  });

  it('no Authorization header: 401 with a Bearer challenge, and deadletter did nothing', async () => {
    const d = await deliver(server.url);
    expect(d.res.headers.get('www-authenticate')).toBe('Bearer');
    await expectRefused(d, 401);
  });

  it('a garbage token: 401', async () => {
    const d = await deliver(server.url, 'Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl');
    expect(d.res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    await expectRefused(d, 401);
  });

  it("a real token for another audience (another function's): 401", async () => {
    await expectRefused(await deliver(server.url, `Bearer ${await token('trigger', 'reflex.dev/function/reflex/recover')}`), 401);
  });

  it('a real token for this audience from an allowed sender: handled (202), reviewed once for many deliveries', async () => {
    const bearer = `Bearer ${await token('trigger', AUDIENCE)}`;
    for (let i = 0; i < 5; i++) {
      const d = await deliver(server.url, bearer);
      expect(d.res.status).toBe(202);
      expect(d.handled()).toBe(true);
    }
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/reflex_auth_reviews_total\{outcome="authenticated",function="deadletter"\} 1\n/);
  });

  it('a real token for this audience from an account not in REFLEX_AUTH_SUBJECTS: 403', async () => {
    const d = await deliver(server.url, `Bearer ${await token('intruder', AUDIENCE)}`);
    await expectRefused(d, 403);
    expect(logs.some((l) => l['msg'] === 'sender refused' && String(l['detail']).includes(`system:serviceaccount:${ns}:intruder`))).toBe(
      true,
    );
  });

  it('refusals are counted by reason; the token never reaches the log', async () => {
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    for (const reason of ['missing', 'invalid', 'subject'])
      expect(metrics).toMatch(new RegExp(`reflex_auth_refused_total\\{reason="${reason}",function="deadletter"\\} [1-9]`));
    const t = await token('trigger', AUDIENCE);
    await deliver(server.url, `Bearer ${t}`);
    expect(JSON.stringify(logs)).not.toContain(t.split('.')[2]);
  });
});

describe('when the review cannot be made', () => {
  it('the API server unreachable: 503 with Retry-After (Knative retries), deadletter did nothing', async () => {
    // The same account's kubeconfig, pointed at a port where nothing listens.
    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const path = join(mkdtempSync(join(tmpdir(), 'reflex-auth-')), 'kubeconfig');
    writeFileSync(path, readFileSync(reviewer, 'utf8').replace(/server: https:\/\/[\d.]+:\d+/, `server: https://127.0.0.1:${closed}`));
    const server = await serve({ ...oidc(), KUBECONFIG: path });
    const d = await deliver(server.url, `Bearer ${await token('trigger', AUDIENCE)}`);
    expect(Number(d.res.headers.get('retry-after'))).toBeGreaterThan(0);
    await expectRefused(d, 503);
  });

  it('an account without `create tokenreviews`: 500 (our RBAC, retried and logged), not the sender refused', async () => {
    const { kubeconfig } = await asServiceAccount(ns, 'no-review');
    const server = await serve({ ...oidc(), KUBECONFIG: kubeconfig });
    await expectRefused(await deliver(server.url, `Bearer ${await token('trigger', AUDIENCE)}`), 500);
    expect(logs.some((l) => l['msg'] === 'request failed' && JSON.stringify(l).includes('create tokenreviews'))).toBe(true);
  });
});

describe('REFLEX_AUTH=none', () => {
  it('keeps the behaviour before authentication: no token needed', async () => {
    const server = await serve({});
    const d = await deliver(server.url);
    expect(d.res.status).toBe(202);
    expect(d.handled()).toBe(true);
  });
});
