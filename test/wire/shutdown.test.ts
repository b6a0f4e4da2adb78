/** Wire tests of the process lifecycle: a real function process, real signals, real sockets. */
import { describe, expect, it } from '@jest/globals';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
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

/** One request on a connection of its own (no pool): status, body and when it ended. */
function lone(
  url: string,
  init: { headers: Record<string, string>; body: Buffer | string },
): Promise<{ status: number; body: string; at: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: init.headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, at: performance.now() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** A raw connection: what was written so far, the rest later; the whole answer once the server closes. */
function rawConnection(port: number): Promise<{ socket: Socket; answer: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      let got = '';
      socket.on('data', (d: Buffer) => (got += d.toString()));
      const answer = new Promise<string>((r) => socket.on('close', () => r(got)));
      resolve({ socket, answer });
    });
    socket.once('error', reject);
    socket.on('error', () => {});
  });
}

const headersOf = (id: string): Record<string, string> => ({
  'ce-specversion': '1.0',
  'ce-id': id,
  'ce-source': '/test',
  'ce-type': 'com.example.order.created',
  'content-type': 'application/json',
});

/** The header lines of an order event, for raw sockets. */
const rawHeaders = (id: string): string =>
  Object.entries(headersOf(id))
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');

const counted = async (url: string): Promise<number> => {
  const text = await (await fetch(url + '/metrics')).text();
  return Number(/reflex_events_received_total\{type="com\.example\.order\.created",function="order"\} (\d+)/.exec(text)?.[1] ?? 0);
};

describe('graceful shutdown under load (issue 15)', () => {
  it('after good and bad requests, 200 in flight at SIGTERM all complete; /readyz 503 while draining; new connections refused; exit 0', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const DEADLINE_MS = 15_000;
    const SLOW_MS = 2_000;
    const p = start(process.execPath, ['--import', 'tsx', fixture], {
      PORT: String(port),
      REFLEX_HOST: '127.0.0.1',
      REFLEX_EXTRA_SCHEMAS: schemasDir,
      REFLEX_MAX_BODY_BYTES: '4096',
      REFLEX_SHUTDOWN_TIMEOUT_MS: String(DEADLINE_MS),
    });
    const sockets: Socket[] = [];
    try {
      await waitFor(url + '/readyz');

      // 1. A mix of good and bad requests, each answered as the contract says.
      const good = JSON.stringify({ orderId: 'ok', amount: 1, reply: true });
      const mix: [string, Promise<{ status: number }>, number][] = [];
      for (let i = 0; i < 10; i++) {
        mix.push(['good', lone(url, { headers: headersOf(`good-${i}`), body: good }), 200]);
        mix.push([
          '413',
          lone(url, { headers: headersOf(`big-${i}`), body: JSON.stringify({ orderId: 'x'.repeat(5000), amount: 1 }) }),
          413,
        ]);
        mix.push(['415', lone(url, { headers: { 'content-type': 'application/cloudevents+avro' }, body: 'x' }), 415]);
        mix.push(['400 bad JSON', lone(url, { headers: headersOf(`bad-${i}`), body: '{"orderId":' }), 400]);
        mix.push(['400 no id', lone(url, { headers: { ...headersOf('x'), 'ce-id': '' }, body: good }), 400]);
        mix.push([
          '400 corrupt gzip',
          lone(url, { headers: { ...headersOf(`gz-${i}`), 'content-encoding': 'gzip' }, body: gzipSync(good).subarray(0, 10) }),
          400,
        ]);
        mix.push([
          '415 unknown encoding',
          lone(url, { headers: { ...headersOf(`enc-${i}`), 'content-encoding': 'x-unknown' }, body: good }),
          415,
        ]);
      }
      const answered = await Promise.all(mix.map(([, r]) => r.then((x) => x.status)));
      expect(mix.map(([what], i) => [what, answered[i]])).toEqual(mix.map(([what, , status]) => [what, status]));
      // Uploads cut halfway, before and after the body limit: nobody to answer, nothing to keep counted.
      for (let i = 0; i < 20; i++) {
        const c = await rawConnection(port);
        sockets.push(c.socket);
        const length = i % 2 === 0 ? 1000 : 100_000;
        c.socket.write(`POST / HTTP/1.1\r\nhost: x\r\n${rawHeaders(`cut-${i}`)}content-length: ${length}\r\n\r\n{"orderId":`);
        await new Promise((r) => setTimeout(r, 5));
        c.socket.destroy();
      }
      expect((await fetch(url + '/readyz')).status).toBe(200);

      // 2. Work in flight at SIGTERM: 200 slow requests, 5 uploads whose body is still coming, and
      // connections that begin a request before SIGTERM and end it during the drain.
      const before = await counted(url);
      const uploads = await Promise.all(Array.from({ length: 5 }, () => rawConnection(port)));
      const upload = (i: number): [string, string] => {
        const body = JSON.stringify({ orderId: `upload-${i}`, amount: 1, reply: true, slowMs: 100 });
        const head = `POST / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n${rawHeaders(`upload-${i}`)}content-length: ${body.length}\r\n\r\n`;
        return [head + body.slice(0, 10), body.slice(10)];
      };
      sockets.push(...uploads.map((c) => c.socket));
      uploads.forEach((c, i) => c.socket.write(upload(i)[0]));
      const lateReady = await rawConnection(port);
      lateReady.socket.write('GET /readyz HTTP/1.1\r\nhost: x\r\n');
      const latePost = await rawConnection(port);
      sockets.push(lateReady.socket, latePost.socket);
      latePost.socket.write(`POST / HTTP/1.1\r\nhost: x\r\n${rawHeaders('late')}`);
      const sent = performance.now();
      const inflight = Array.from({ length: 200 }, (_, i) =>
        lone(url, {
          headers: headersOf(`inflight-${i}`),
          body: JSON.stringify({ orderId: `inflight-${i}`, amount: 1, reply: true, slowMs: SLOW_MS }),
        }),
      );
      // Every one of them has reached its handler (they are counted as received) before the signal.
      for (let tries = 0; (await counted(url)) < before + 200; tries++) {
        if (tries > 100) throw new Error('the 200 requests did not all reach the server');
        await new Promise((r) => setTimeout(r, 20));
      }
      const sigterm = performance.now();
      p.child.kill('SIGTERM');
      const exited = p.exited.then((code) => ({ code, at: performance.now() }));
      await new Promise((r) => setTimeout(r, 150));

      // 3. Draining: the listener is closed, so a new connection is refused…
      await expect(fetch(url + '/readyz')).rejects.toThrow();
      await expect(fetch(url + '/', { method: 'POST', headers: headersOf('new'), body: good })).rejects.toThrow();
      // …and on a connection that was already open, /readyz says 503 draining and a new event 503 with Retry-After.
      lateReady.socket.write('connection: close\r\n\r\n');
      latePost.socket.write(`content-length: ${good.length}\r\n\r\n${good}`);
      const [ready, refused] = await Promise.all([lateReady.answer, latePost.answer]);
      expect(ready).toMatch(/^HTTP\/1\.1 503 /);
      expect(ready).toContain('{"status":"draining"}');
      expect(refused).toMatch(/^HTTP\/1\.1 503 /);
      expect(refused).toMatch(/retry-after: 1/i);
      expect(refused).toMatch(/connection: close/i);
      // The uploads in progress finish their bodies during the drain, and are handled.
      uploads.forEach((c, i) => c.socket.write(upload(i)[1]));
      const uploaded = await Promise.all(uploads.map((c) => c.answer));
      expect(uploaded.map((a) => a.slice(0, 15))).toEqual(Array(5).fill('HTTP/1.1 200 OK'));

      // 4. Nothing lost: every request in flight ends with its normal answer, then the process exits 0.
      const results = await Promise.all(inflight);
      expect(results.map((r) => r.status)).toEqual(Array(200).fill(200));
      const ids = results.map((r) => (JSON.parse(r.body) as { orderId: string }).orderId).sort();
      expect(ids).toEqual(Array.from({ length: 200 }, (_, i) => `inflight-${i}`).sort());
      const { code, at } = await exited;
      expect(code).toBe(0);
      expect(p.output()).toContain('"drained":true');
      const lastAnswer = Math.max(...results.map((r) => r.at));
      expect(at - sigterm).toBeLessThan(DEADLINE_MS);
      // Nothing else kept it: a cut upload still counted in flight would hold it to the deadline.
      expect(at - lastAnswer).toBeLessThan(2000);
      console.log(
        `shutdown under load: ${mix.length} good and bad requests and 20 cut uploads first; at SIGTERM ${results.length} requests ` +
          `in flight (handler ${SLOW_MS} ms, sent ${Math.round(sigterm - sent)} ms before), 5 uploads mid-body, 2 requests mid-headers. ` +
          `Completed ${results.filter((r) => r.status === 200).length}/200 with 200, uploads ${uploaded.length}/5 with 200, ` +
          `late readyz 503, late POST 503; last answer ${Math.round(lastAnswer - sigterm)} ms after SIGTERM; ` +
          `exit ${code} ${Math.round(at - sigterm)} ms after SIGTERM (deadline ${DEADLINE_MS} ms).`,
      );
    } finally {
      // A failed expectation must not leave the process (and jest) running.
      for (const s of sockets) s.destroy();
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  }, 60_000);
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
