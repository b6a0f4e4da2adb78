/** Wire tests of the process lifecycle: a real function process, real signals, real sockets. */
import { describe, expect, it } from '@jest/globals';
import { fileURLToPath } from 'node:url';
import { schemasDir } from './fixtures/order-function.js';
import { freePort, start, waitFor } from './process.js';

const fixture = fileURLToPath(new URL('./fixtures/order-main.ts', import.meta.url));
const repo = fileURLToPath(new URL('../..', import.meta.url));

function order(id: string, slowMs: number): RequestInit {
  return {
    method: 'POST',
    headers: {
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-source': '/test',
      'ce-type': 'com.example.order.created',
      'content-type': 'application/json',
    },
    body: JSON.stringify({ orderId: id, amount: 1, slowMs, reply: true }),
  };
}

describe('graceful shutdown', () => {
  it('SIGTERM during in-flight requests: every one completes, new work is refused, exit 0', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const p = start(process.execPath, ['--import', 'tsx', fixture], {
      PORT: String(port),
      REFLEX_HOST: '127.0.0.1',
      REFLEX_EXTRA_SCHEMAS: schemasDir,
    });
    await waitFor(url + '/readyz');
    const inflight = Array.from({ length: 8 }, (_, i) => fetch(url + '/', order(`inflight-${i}`, 1500)));
    await new Promise((r) => setTimeout(r, 400));
    p.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    // Not ready any more: a new connection is refused (the listener is closed).
    await expect(fetch(url + '/readyz')).rejects.toThrow();
    const results = await Promise.all(inflight);
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    const ids = await Promise.all(results.map(async (r) => ((await r.json()) as { orderId: string }).orderId));
    expect(ids.sort()).toEqual(Array.from({ length: 8 }, (_, i) => `inflight-${i}`).sort());
    expect(await p.exited).toBe(0);
    expect(p.output()).toContain('"drained":true');
  });

  it('past the deadline it exits non-zero and says so (the Broker retries the cut request)', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const p = start(process.execPath, ['--import', 'tsx', fixture], {
      PORT: String(port),
      REFLEX_HOST: '127.0.0.1',
      REFLEX_EXTRA_SCHEMAS: schemasDir,
      REFLEX_SHUTDOWN_TIMEOUT_MS: '300',
    });
    await waitFor(url + '/readyz');
    const slow = fetch(url + '/', order('too-slow', 5000)).then(
      (r) => r.status,
      () => 'cut',
    );
    await new Promise((r) => setTimeout(r, 300));
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(1);
    expect(await slow).toBe('cut');
    expect(p.output()).toContain('shutdown deadline passed');
  });

  it('a bad configuration value stops the process with exit 1 and names the key', async () => {
    const p = start(process.execPath, ['--import', 'tsx', fixture], { PORT: '99999', REFLEX_EXTRA_SCHEMAS: schemasDir });
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/PORT: must be between 0 and 65535/);
  });
});

describe('npm run function -- deadletter', () => {
  it('serves /healthz, /readyz, /metrics and POST /, and stops on SIGTERM', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const p = start('npm', ['run', '--silent', 'function', '--', 'deadletter'], {
      PORT: String(port),
      REFLEX_HOST: '127.0.0.1',
      npm_config_loglevel: 'silent',
    });
    await waitFor(url + '/readyz');
    expect((await fetch(url + '/healthz')).status).toBe(200);
    const res = await fetch(url + '/', {
      method: 'POST',
      headers: {
        'ce-specversion': '1.0',
        'ce-id': 'dl-1',
        'ce-source': '/apis/v1/namespaces/reflex/pingsources/sweep',
        'ce-type': 'dev.reflex.signal.crashloop',
        'ce-knativeerrordest': 'http://recover.reflex.svc.cluster.local',
        'ce-knativeerrorcode': '500',
        'ce-knativeerrordata': Buffer.from('{"title":"boom"}').toString('base64'),
        'content-type': 'application/json',
      },
      body: '{"target":"web"}',
    });
    expect(res.status).toBe(202);
    const metrics = await (await fetch(url + '/metrics')).text();
    expect(metrics).toMatch(/reflex_deadletter_total\{type="dev\.reflex\.signal\.crashloop",code="500",function="deadletter"\} 1/);
    expect(p.output()).toContain('delivery to http://recover.reflex.svc.cluster.local failed with HTTP 500: {\\"title\\":\\"boom\\"}');
    p.child.kill('SIGTERM');
    await p.exited;
    expect(p.output()).toContain('"msg":"stopped"');
  }, 60_000);
});

export { repo };
