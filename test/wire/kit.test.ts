/** Wire tests: the runtime kit over real HTTP, through the same server factory production runs. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CloudEvent, HTTP } from 'cloudevents';
import { startServer, type RunningServer } from '../../functions/_kit/index.js';
import { orderFunction, schemasDir } from './fixtures/order-function.js';

const TYPE = 'com.example.order.created';
const binaryHeaders = (extra: Record<string, string> = {}): Record<string, string> => ({
  'ce-specversion': '1.0',
  'ce-id': 'order-1',
  'ce-source': '/shop/orders',
  'ce-type': TYPE,
  'content-type': 'application/json',
  ...extra,
});

let server: RunningServer;
const logs: Record<string, unknown>[] = [];

beforeAll(async () => {
  server = await startServer(orderFunction, {
    env: { PORT: '0', REFLEX_HOST: '127.0.0.1', REFLEX_MAX_BODY_BYTES: '4096' },
    schemasDirs: [schemasDir],
    logSink: (line) => logs.push(JSON.parse(line) as Record<string, unknown>),
  });
});
afterAll(async () => {
  await server.shutdown();
});

async function post(
  headers: Record<string, string>,
  body: string | Buffer = '',
): Promise<{ status: number; headers: Headers; text: string; json: () => Record<string, unknown> }> {
  const res = await fetch(server.url + '/', { method: 'POST', headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

/** A problem body names the fault: its detail or one of its errors mentions `what`. */
function expectProblem(r: { status: number; headers: Headers; json: () => Record<string, unknown> }, status: number, what: RegExp): void {
  expect(r.status).toBe(status);
  expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = r.json();
  expect(body['status']).toBe(status);
  const text = JSON.stringify([body['detail'], body['errors']]);
  expect(text).toMatch(what);
}

describe('accepts', () => {
  it('a binary-mode event: 202 with an empty body', async () => {
    const r = await post(binaryHeaders(), JSON.stringify({ orderId: 'a', amount: 3 }));
    expect(r.status).toBe(202);
    expect(r.text).toBe('');
  });

  it('a structured-mode event, with a charset parameter on the content type', async () => {
    const event = {
      specversion: '1.0',
      id: 's-1',
      source: '/shop',
      type: TYPE,
      datacontenttype: 'application/json',
      data: { orderId: 'b', amount: 1 },
    };
    const r = await post({ 'content-type': 'application/cloudevents+json; charset=UTF-8' }, JSON.stringify(event));
    expect(r.status).toBe(202);
  });

  it('a structured event whose data comes as data_base64', async () => {
    const data = Buffer.from(JSON.stringify({ orderId: 'c', amount: 2, reply: true })).toString('base64');
    const event = { specversion: '1.0', id: 's-2', source: '/shop', type: TYPE, datacontenttype: 'application/json', data_base64: data };
    const r = await post({ 'content-type': 'application/cloudevents+json' }, JSON.stringify(event));
    expect(r.status).toBe(200);
  });

  it('a batch, replying with a batch of the replies', async () => {
    const batch = [
      { specversion: '1.0', id: 'b-1', source: '/shop', type: TYPE, data: { orderId: 'x', amount: 1 } },
      { specversion: '1.0', id: 'b-2', source: '/shop', type: TYPE, data: { orderId: 'y', amount: 1, reply: true } },
    ];
    const r = await post({ 'content-type': 'application/cloudevents-batch+json' }, JSON.stringify(batch));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/cloudevents-batch\+json/);
    const replies = JSON.parse(r.text) as { type: string; data: { orderId: string } }[];
    expect(replies.map((e) => [e.type, e.data.orderId])).toEqual([['com.example.order.accepted', 'y']]);
  });

  it('percent-decodes header values, as the HTTP binding requires', async () => {
    const r = await post(binaryHeaders({ 'ce-subject': 'caf%C3%A9', 'ce-id': 'pct-1' }), JSON.stringify({ orderId: 'p', amount: 1 }));
    expect(r.status).toBe(202);
    expect(logs.some((l) => l['ceId'] === 'pct-1' && l['ceSubject'] === 'café')).toBe(true);
  });
});

describe('rejects with 400 and a problem naming the fault', () => {
  for (const attr of ['id', 'source', 'type', 'specversion']) {
    it(`a binary event without ce-${attr}`, async () => {
      const headers = Object.fromEntries(Object.entries(binaryHeaders()).filter(([k]) => k !== `ce-${attr}`));
      expectProblem(await post(headers, JSON.stringify({ orderId: 'a', amount: 1 })), 400, new RegExp(`ce-${attr}|${attr}`));
    });
  }

  it('a structured event without id (the SDK would have invented one)', async () => {
    const r = await post(
      { 'content-type': 'application/cloudevents+json' },
      JSON.stringify({ specversion: '1.0', source: '/s', type: TYPE, data: { orderId: 'a', amount: 1 } }),
    );
    expectProblem(r, 400, /required attribute id is missing/);
  });

  it('a request with no CloudEvent at all', async () => {
    expectProblem(await post({ 'content-type': 'application/json' }, '{}'), 400, /not a CloudEvent/);
  });

  it('bad JSON in binary mode', async () => {
    expectProblem(await post(binaryHeaders(), '{"orderId": "a",'), 400, /not valid JSON/);
  });

  it('bad JSON in structured mode', async () => {
    expectProblem(await post({ 'content-type': 'application/cloudevents+json' }, '{"specversion":'), 400, /not valid JSON/);
  });

  it('a wrong specversion', async () => {
    expectProblem(await post(binaryHeaders({ 'ce-specversion': '0.3' }), JSON.stringify({ orderId: 'a', amount: 1 })), 400, /specversion/);
    expectProblem(await post(binaryHeaders({ 'ce-specversion': '2.0' }), JSON.stringify({ orderId: 'a', amount: 1 })), 400, /specversion/);
  });

  it('an unknown type, listing the accepted ones', async () => {
    expectProblem(
      await post(binaryHeaders({ 'ce-type': 'com.example.unknown' }), '{}'),
      400,
      /com\.example\.unknown.*not accepted|accepted types: com\.example\.order\.created/,
    );
  });

  it('schema-invalid data, with the JSON pointer of the bad field', async () => {
    const r = await post(binaryHeaders(), JSON.stringify({ orderId: 'a', amount: 'lots' }));
    expectProblem(r, 400, /data\/amount/);
  });

  it('a bad time attribute (the SDK would have replaced it by now)', async () => {
    expectProblem(await post(binaryHeaders({ 'ce-time': 'yesterday' }), JSON.stringify({ orderId: 'a', amount: 1 })), 400, /time/);
  });

  it('an invalid extension name in structured mode', async () => {
    const event = { specversion: '1.0', id: 'x', source: '/s', type: TYPE, Bad_Name: 'x', data: { orderId: 'a', amount: 1 } };
    expectProblem(await post({ 'content-type': 'application/cloudevents+json' }, JSON.stringify(event)), 400, /Bad_Name/);
  });

  it('an oversized body with 413', async () => {
    const big = JSON.stringify({ orderId: 'a'.repeat(5000), amount: 1 });
    expectProblem(await post(binaryHeaders(), big), 413, /larger than 4096 bytes/);
  });

  it('an event format it cannot read with 415', async () => {
    expectProblem(await post({ 'content-type': 'application/cloudevents+avro' }, 'x'), 415, /not supported/);
  });

  it('other methods on / with 405', async () => {
    const res = await fetch(server.url + '/');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});

describe('replies', () => {
  it('a handler reply arrives as a valid binary-mode CloudEvent with a fresh id and the trace propagated', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const r = await post(
      binaryHeaders({ traceparent: `00-${traceId}-00f067aa0ba902b7-01` }),
      JSON.stringify({ orderId: 'r1', amount: 9, reply: true }),
    );
    expect(r.status).toBe(200);
    const headers = Object.fromEntries(r.headers.entries());
    expect(headers['ce-specversion']).toBe('1.0');
    const reply = HTTP.toEvent({ headers, body: r.text }) as CloudEvent<{ orderId: string }>;
    expect(reply.validate()).toBe(true);
    expect(reply.type).toBe('com.example.order.accepted');
    expect(reply.id).not.toBe('order-1');
    expect(reply.source).toBe('/reflex/order');
    expect(reply.subject).toBe('orders/r1');
    expect(reply['orderclass']).toBe('test');
    expect(reply.data).toEqual({ orderId: 'r1' });
    // Same trace, a new span: the reply is caused by the incoming event.
    const tp = String(reply['traceparent']);
    expect(tp).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    expect(tp).not.toContain('00f067aa0ba902b7');
    expect(headers['traceparent']).toBe(tp);
  });
});

describe('failures', () => {
  it('a transient error maps to 503 with Retry-After, so the Broker retries', async () => {
    const r = await post(binaryHeaders(), JSON.stringify({ orderId: 't', amount: 1, fail: 'transient' }));
    expectProblem(r, 503, /unreachable/);
    expect(r.headers.get('retry-after')).toBe('2');
  });

  it('RBAC refusal maps to 403 (not retried)', async () => {
    expectProblem(await post(binaryHeaders(), JSON.stringify({ orderId: 'f', amount: 1, fail: 'forbidden' })), 403, /cannot patch/);
  });

  it('an unexpected exception is a 500 that leaks nothing to the caller', async () => {
    const r = await post(binaryHeaders({ 'ce-id': 'crash-1' }), JSON.stringify({ orderId: 'c', amount: 1, fail: 'crash' }));
    expect(r.status).toBe(500);
    expect(r.text).not.toContain('secret internals');
    expect(logs.some((l) => l['ceId'] === 'crash-1' && JSON.stringify(l).includes('secret internals'))).toBe(true);
  });
});

describe('operations', () => {
  it('serves /healthz and /readyz', async () => {
    expect((await fetch(server.url + '/healthz')).status).toBe(200);
    const ready = await fetch(server.url + '/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });
  });

  it('counts received, handled, rejected and failed events by type in /metrics', async () => {
    const res = await fetch(server.url + '/metrics');
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/reflex_events_received_total\{type="com\.example\.order\.created",function="order"\} [1-9]/);
    expect(text).toMatch(/reflex_events_handled_total\{type="com\.example\.order\.created",outcome="reply",function="order"\} [1-9]/);
    expect(text).toMatch(/reflex_events_rejected_total\{type="com\.example\.order\.created",status="400",function="order"\} [1-9]/);
    expect(text).toMatch(/reflex_events_failed_total\{type="com\.example\.order\.created",status="503",function="order"\} [1-9]/);
    expect(text).toMatch(/reflex_handler_duration_seconds_count\{function="order",type="com\.example\.order\.created"\} [1-9]/);
    expect(text).toMatch(/process_cpu_seconds_total/);
    // Unknown types are counted under one label: garbage cannot explode the series count.
    expect(text).not.toContain('com.example.unknown');
  });

  it('logs one JSON line per handled event with id, type, subject and trace', async () => {
    const line = logs.find((l) => l['msg'] === 'handled, replying' && l['ceSubject'] === undefined && l['ceId'] === 'order-1');
    expect(line).toBeDefined();
    expect(line).toMatchObject({ level: 'info', function: 'order', ceType: TYPE, ceSource: '/shop/orders' });
    expect(String(line?.['traceId'])).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('lifecycle', () => {
  it('is not ready while starting, and refuses events then with 503', async () => {
    const starting = startServer(orderFunction, {
      env: { PORT: '0', REFLEX_HOST: '127.0.0.1', TEST_INIT_DELAY_MS: '1500' },
      schemasDirs: [schemasDir],
      logSink: () => {},
    });
    // The port is bound before init ends; find it from the log-less server by polling its promise.
    const s = await Promise.race([starting, new Promise<undefined>((r) => setTimeout(() => r(undefined), 300))]);
    expect(s).toBeUndefined(); // still starting
    const ready = await starting;
    expect(ready.state()).toBe('ready');
    await ready.shutdown();
    expect(ready.state()).toBe('stopped');
  });

  it('a bad configuration value stops start-up with the key named', async () => {
    await expect(startServer(orderFunction, { env: { PORT: 'eighty' }, schemasDirs: [schemasDir], logSink: () => {} })).rejects.toThrow(
      /PORT: expected a whole number/,
    );
    await expect(
      startServer(orderFunction, { env: { REFLEX_MAX_BODY_BYTES: '5' }, schemasDirs: [schemasDir], logSink: () => {} }),
    ).rejects.toThrow(/REFLEX_MAX_BODY_BYTES/);
  });
});
