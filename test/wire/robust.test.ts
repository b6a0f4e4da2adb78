/**
 * The error contract for every byte (issue 15): input the CloudEvents SDK, Node's HTTP parser or
 * body-parser choke on is a 4xx problem+json naming the fault, never a 500; a function that needs
 * the cluster and has no credentials does not start, and says why.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import deadletter from '../../functions/deadletter/index.js';
import recover from '../../functions/recover/index.js';
import { defineFunction, noConfig, startServer, type RunningServer } from '../../functions/_kit/index.js';
import { RESOLVED_SCHEMA, RESOLVED_TYPE } from '../../functions/_contracts/events.js';
import { orderFunction, schemasDir } from './fixtures/order-function.js';

let server: RunningServer;
let dead: RunningServer;
const deadLogs: string[] = [];

const headers = (extra: Record<string, string> = {}): Record<string, string> => ({
  'ce-specversion': '1.0',
  'ce-id': 'order-1',
  'ce-source': '/shop/orders',
  'ce-type': 'com.example.order.created',
  'content-type': 'application/json',
  ...extra,
});
const order = JSON.stringify({ orderId: 'o-1', amount: 1, reply: true });

beforeAll(async () => {
  server = await startServer(orderFunction, { env: { PORT: '0', REFLEX_HOST: '127.0.0.1' }, schemasDirs: [schemasDir], logSink: () => {} });
  dead = await startServer(deadletter, { env: { PORT: '0', REFLEX_HOST: '127.0.0.1' }, logSink: (l) => deadLogs.push(l) });
});
afterAll(async () => {
  await server.shutdown();
  await dead.shutdown();
});

/** Raw bytes on a socket, for what fetch would refuse to send; the whole answer as text. */
function raw(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => s.end(bytes));
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString()));
    // Node ends such sockets with an answer and destroys them: 'close' comes either way.
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
}

describe('the binding', () => {
  it('a legal extension named validate is carried, not a 500 (it shadowed the SDK method)', async () => {
    const res = await fetch(server.url, { method: 'POST', headers: headers({ 'ce-validate': 'yes' }), body: order });
    expect(res.status).toBe(200);
  });

  it.each(['schemaurl', 'constructor'])('an extension named %s the SDK cannot carry: 400 naming it', async (name) => {
    const res = await fetch(server.url, { method: 'POST', headers: headers({ [`ce-${name}`]: 'x' }), body: order });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await res.json()).toMatchObject({ errors: [{ where: `header ce-${name}`, message: expect.stringContaining(name) }] });
  });

  it('a structured event with an extension named validate is carried too', async () => {
    const event = {
      specversion: '1.0',
      id: 'x',
      source: '/s',
      type: 'com.example.order.created',
      validate: 1,
      data: JSON.parse(order) as unknown,
    };
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify(event),
    });
    expect(res.status).toBe(200);
  });
});

describe('bodies', () => {
  it.each([
    ['gzip', Buffer.from('not gzip at all')],
    ['br', Buffer.from('neither is this')],
    // A real gzip stream cut in half.
    ['gzip', gzipSync(Buffer.from(order)).subarray(0, 12)],
  ])('a corrupt %s body is 400 problem+json', async (encoding, body) => {
    const res = await fetch(server.url, { method: 'POST', headers: headers({ 'content-encoding': encoding }), body });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('JSON nested 4,000 levels: the dead-letter sink logs it (bounded) instead of failing', async () => {
    const deep = '['.repeat(4000) + ']'.repeat(4000);
    const res = await fetch(dead.url, { method: 'POST', headers: headers({ 'ce-type': 'anything' }), body: deep });
    expect(res.status).toBe(202);
    const line = deadLogs.find((l) => l.includes('dead-lettered event'));
    expect(line).toBeDefined();
    expect(line).toContain('cut: nested deeper than 64 levels');
  });
});

describe("what Node's HTTP parser refuses", () => {
  it('a malformed request line: 400 problem+json', async () => {
    const answer = await raw(server.url, 'BLAH / HTTP/1.1 extra\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/content-type: application\/problem\+json/i);
    expect(JSON.parse(answer.split('\r\n\r\n')[1]!)).toMatchObject({ status: 400, title: 'Bad request' });
  });

  it('an Expect header other than 100-continue: 417 problem+json', async () => {
    const answer = await raw(server.url, 'POST / HTTP/1.1\r\nhost: x\r\nexpect: 200-ok\r\ncontent-length: 0\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 417 /);
    expect(answer).toMatch(/content-type: application\/problem\+json/i);
    expect(JSON.parse(answer.split('\r\n\r\n')[1]!)).toMatchObject({ status: 417 });
  });

  it('headers too large: 431 problem+json', async () => {
    const answer = await raw(server.url, `POST / HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(answer.split('\r\n\r\n')[1]!)).toMatchObject({ status: 431 });
  });
});

describe('credentials, checked at start-up', () => {
  it('recover with no credentials at all does not start, and says why', async () => {
    await expect(
      startServer(recover, { env: { PORT: '0', REFLEX_HOST: '127.0.0.1', HOME: '/nonexistent' }, logSink: () => {} }),
    ).rejects.toThrow(/configuration KUBECONFIG: recover reads the cluster, and no credentials were found/);
  });

  it('a KUBECONFIG naming a missing file: it does not start, naming the file', async () => {
    await expect(
      startServer(recover, { env: { PORT: '0', REFLEX_HOST: '127.0.0.1', KUBECONFIG: '/nonexistent/kubeconfig' }, logSink: () => {} }),
    ).rejects.toThrow('configuration KUBECONFIG: /nonexistent/kubeconfig: no such file');
  });

  it('a function that needs no cluster starts whatever KUBECONFIG says', async () => {
    const s = await startServer(deadletter, {
      env: { PORT: '0', REFLEX_HOST: '127.0.0.1', KUBECONFIG: '/nonexistent/kubeconfig' },
      logSink: () => {},
    });
    await s.shutdown();
  });
});

describe('replies', () => {
  it('a reply its own schema refuses is never sent: 500, naming the field (a builder bug made visible)', async () => {
    const liar = await startServer(
      defineFunction({
        name: 'liar',
        accepts: [{ type: 'com.example.any', schema: null }],
        configure: noConfig,
        handler: () => async (event, ctx) =>
          ctx.reply({
            type: RESOLVED_TYPE,
            dataschema: RESOLVED_SCHEMA,
            data: (event.data as { ok?: boolean }).ok ? resolved : { ...resolved, lastSeen: '+010000-01-01T00:00:00.000Z' },
          }),
      }),
      { env: { PORT: '0', REFLEX_HOST: '127.0.0.1' }, logSink: () => {} },
    );
    try {
      const send = (data: unknown) =>
        fetch(liar.url, { method: 'POST', headers: headers({ 'ce-type': 'com.example.any' }), body: JSON.stringify(data) });
      expect((await send({ ok: true })).status).toBe(200);
      const bad = await send({ ok: false });
      expect(bad.status).toBe(500);
      expect(bad.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    } finally {
      await liar.shutdown();
    }
  });
});

const resolved = {
  key: 'k',
  class: 'crashloop',
  severity: 'warning',
  target: { kind: 'Deployment', namespace: 'shop', name: 'web' },
  firstSeen: '2026-11-22T10:00:00Z',
  lastSeen: '2026-11-22T10:20:00Z',
  resolvedAt: '2026-11-22T10:30:00Z',
};
