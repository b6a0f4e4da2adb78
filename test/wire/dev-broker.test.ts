/**
 * The development broker over real HTTP: manifests written to a temporary kustomization, events
 * posted to its ingress by plain HTTP clients, local servers as subscribers. Checks Knative's
 * routing rules for each filter dialect, retries and backoff, dead letters with their
 * extensions, replies and the TTL that stops reply loops.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevBroker, type DevBroker, type DevBrokerOptions, type BrokerRecord } from '../../dev/mesh/broker.js';
import { loadMesh } from '../../dev/mesh/manifests.js';

interface Hit {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}
type Answer = (hit: Hit, n: number) => { status: number; headers?: Record<string, string>; body?: string; delayMs?: number };
interface Subscriber {
  url: string;
  hits: Hit[];
  answer: Answer;
  close(): Promise<void>;
}

async function subscriber(answer: Answer = () => ({ status: 202 })): Promise<Subscriber> {
  const s: Subscriber = { url: '', hits: [], answer, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const hit = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() };
      s.hits.push(hit);
      const a = s.answer(hit, s.hits.length);
      setTimeout(() => res.writeHead(a.status, a.headers).end(a.body ?? ''), a.delayMs ?? 0);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  s.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  s.close = () =>
    new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return s;
}

/** A kustomization with the given objects, as YAML documents. */
function manifests(objects: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'reflex-mesh-'));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'kustomization.yaml'), 'resources: [mesh.yaml]\nnamespace: dev\n');
  writeFileSync(join(dir, 'mesh.yaml'), objects.join('\n---\n'));
  return dir;
}

const broker = (delivery = ''): string => `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default }
spec:
${delivery || '  {}'}`;

const trigger = (name: string, url: string, rest: string): string => `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: ${name} }
spec:
  broker: default
  subscriber: { uri: "${url}" }
${rest}`;

function post(url: string, attrs: Record<string, string>, data: unknown = { hello: 'world' }): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const [k, v] of Object.entries(attrs)) headers[`ce-${k}`] = v;
  return fetch(url, { method: 'POST', headers, body: JSON.stringify(data) });
}
const ce = (type: string, extra: Record<string, string> = {}): Record<string, string> => ({
  specversion: '1.0',
  id: `id-${Math.random().toString(36).slice(2)}`,
  source: '/test',
  type,
  ...extra,
});

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

type Tuning = Partial<Pick<DevBrokerOptions, 'maxBodyBytes' | 'deliveryTimeoutMs'>>;

async function start(objects: string[], extra: { sleeps?: number[]; records?: BrokerRecord[]; options?: Tuning } = {}): Promise<DevBroker> {
  const b = await startDevBroker({
    mesh: loadMesh(manifests(objects)),
    resolve: () => undefined,
    sleep: async (ms) => void extra.sleeps?.push(ms),
    ...(extra.records ? { onRecord: (r) => extra.records!.push(r) } : {}),
    ...extra.options,
  });
  open.push({ close: async () => (await b.idle(), await b.close()) });
  return b;
}

describe('ingress', () => {
  let b: DevBroker;
  let sub: Subscriber;
  beforeAll(async () => {
    sub = await subscriber();
    b = await startDevBroker({ mesh: loadMesh(manifests([broker(), trigger('all', sub.url, '')])), resolve: () => undefined });
  });
  afterAll(async () => {
    await b.close();
    await sub.close();
  });

  it('accepts binary and structured CloudEvents with 202 and delivers them in binary mode', async () => {
    expect((await post(b.ingress('dev', 'default'), ce('t.binary'))).status).toBe(202);
    const structured = await fetch(b.ingress('dev', 'default'), {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify({ specversion: '1.0', id: 's1', source: '/s', type: 't.structured', data: { n: 1 } }),
    });
    expect(structured.status).toBe(202);
    await b.idle();
    const types = sub.hits.map((h) => h.headers['ce-type']);
    expect(types).toEqual(expect.arrayContaining(['t.binary', 't.structured']));
    const s = sub.hits.find((h) => h.headers['ce-type'] === 't.structured')!;
    expect([s.headers['ce-id'], s.headers['prefer'], JSON.parse(s.body)]).toEqual(['s1', 'reply', { n: 1 }]);
    // The broker's own attributes: arrival time is stamped; the TTL is not shown to subscribers.
    expect(s.headers['ce-knativearrivaltime']).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(s.headers['ce-knativebrokerttl']).toBeUndefined();
  });

  it('refuses what is not a CloudEvent with 400 and says what is wrong', async () => {
    const res = await post(b.ingress('dev', 'default'), { specversion: '1.0', source: '/s', type: 't' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(JSON.stringify(await res.json())).toMatch(/id/);
    expect((await fetch(b.ingress('dev', 'default'), { method: 'POST', body: 'hello' })).status).toBe(400);
  });

  it('404 for a Broker the manifests do not have, 405 for GET', async () => {
    expect((await post(b.ingress('dev', 'nope'), ce('t'))).status).toBe(404);
    expect((await fetch(b.ingress('dev', 'default'))).status).toBe(405);
  });
});

/** Resolves with what `promise` gives, or rejects after `ms`: a regression must fail, not hang the suite. */
function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** A binary-mode request whose body is JSON of exactly `bytes` bytes. */
function sized(url: string, bytes: number): Promise<Response> {
  const body = `{"p":"${'x'.repeat(bytes - 8)}"}`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  for (const [k, v] of Object.entries(ce('t.sized'))) headers[`ce-${k}`] = v;
  return fetch(url, { method: 'POST', headers, body });
}

describe('ingress limits', () => {
  it('a client that aborts its upload mid-body is dropped: no unhandled rejection, and the broker goes on answering', async () => {
    const rejections: unknown[] = [];
    const spy = (reason: unknown): void => void rejections.push(reason);
    process.on('unhandledRejection', spy);
    try {
      const sub = await subscriber();
      open.push(sub);
      const b = await start([broker(), trigger('all', sub.url, '')]);
      // Headers promising 1000 bytes, half of them, then the connection goes away.
      await new Promise<void>((resolve, reject) => {
        const socket = connect(Number(new URL(b.url).port), '127.0.0.1', () => {
          const head = Object.entries(ce('t.aborted')).map(([k, v]) => `ce-${k}: ${v}\r\n`);
          socket.write(
            `POST /dev/default HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n${head.join('')}content-length: 1000\r\n\r\n`,
          );
          socket.write(`{"half":"${'x'.repeat(490)}`, () => setTimeout(() => (socket.destroy(), resolve()), 50));
        });
        socket.on('error', reject);
      });
      // Long enough for the server to see the abort and for a rejection to be reported.
      await new Promise((r) => setTimeout(r, 200));
      expect((await post(b.ingress('dev', 'default'), ce('t.after'))).status).toBe(202);
      await b.idle();
      expect(sub.hits.map((h) => h.headers['ce-type'])).toEqual(['t.after']);
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', spy);
    }
  });

  it('a body over maxBodyBytes is 413 with a problem body; exactly at the limit is accepted', async () => {
    const b = await start([broker()], { options: { maxBodyBytes: 4096 } });
    const over = await sized(b.ingress('dev', 'default'), 4097);
    expect(over.status).toBe(413);
    expect(over.headers.get('content-type')).toBe('application/problem+json');
    expect(await over.json()).toMatchObject({ status: 413, title: 'Payload too large', detail: expect.stringMatching(/4096 bytes/) });
    // The refused upload does not spoil what follows (on the same keep-alive connection, as fetch reuses it).
    expect((await sized(b.ingress('dev', 'default'), 4096)).status).toBe(202);
    expect((await sized(b.ingress('dev', 'default'), 5000)).status).toBe(413);
  });

  it('data nested deeper than the broker can serialize again is refused at the ingress (400), never accepted and lost', async () => {
    const sub = await subscriber();
    open.push(sub);
    const records: BrokerRecord[] = [];
    const b = await start([broker(), trigger('all', sub.url, '')], { records });
    // JSON.parse takes any depth; JSON.stringify (here too) gives up past ~4,400 levels.
    const nested = (attrs: Record<string, string>, n: number): Promise<Response> => {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      for (const [k, v] of Object.entries(attrs)) headers[`ce-${k}`] = v;
      return fetch(b.ingress('dev', 'default'), { method: 'POST', headers, body: `${'['.repeat(n)}${']'.repeat(n)}` });
    };
    const deep = await nested(ce('t.deep'), 5000);
    expect(deep.status).toBe(400);
    expect(await deep.json()).toMatchObject({ status: 400, detail: expect.stringMatching(/nests deeper than 1000 levels/) });
    expect((await nested(ce('t.fine', { id: 'fine' }), 1000)).status).toBe(202);
    await b.idle();
    expect(sub.hits.map((h) => [h.headers['ce-id'], h.body.length])).toEqual([['fine', 2000]]);
    expect(records.filter((r) => r.kind === 'delivered' && !r.result.ok)).toEqual([]);
  });

  it("what Node's HTTP parser refuses is answered with a problem body too, as by the functions", async () => {
    const b = await start([broker()]);
    /** The raw answer to raw bytes. */
    const raw = (request: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connect(Number(new URL(b.url).port), '127.0.0.1', () => socket.end(request));
        let answer = '';
        socket.on('data', (d: Buffer) => (answer += d.toString()));
        socket.on('end', () => resolve(answer));
        socket.on('error', reject);
      });
    const both = await raw('POST /dev/default HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n');
    expect(both).toMatch(/^HTTP\/1\.1 400 [^]*content-type: application\/problem\+json[^]*"status":400/);
    const expect100 = await raw('POST /dev/default HTTP/1.1\r\nhost: x\r\nexpect: 200-ok\r\ncontent-length: 0\r\n\r\n');
    expect(expect100).toMatch(/^HTTP\/1\.1 417 [^]*content-type: application\/problem\+json[^]*"status":417/);
  });

  it("the default limit is the functions' REFLEX_MAX_BODY_BYTES default, 1 MiB", async () => {
    const b = await start([broker()]);
    expect((await sized(b.ingress('dev', 'default'), 1024 * 1024)).status).toBe(202);
    expect((await sized(b.ingress('dev', 'default'), 1024 * 1024 + 1)).status).toBe(413);
  });

  it('reading stops at the limit: a chunked upload that never ends gets its 413 while still sending', async () => {
    const b = await start([broker()], { options: { maxBodyBytes: 4096 } });
    const url = new URL(b.ingress('dev', 'default'));
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    for (const [k, v] of Object.entries(ce('t.endless'))) headers[`ce-${k}`] = v;
    const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers });
    req.on('error', () => {}); // the server closes the connection after its answer
    const pump = setInterval(() => req.write('x'.repeat(1024)), 5);
    try {
      const res = await within(5000, new Promise<IncomingMessage>((r) => req.on('response', r)), 'the 413');
      expect(res.statusCode).toBe(413);
      res.resume();
    } finally {
      clearInterval(pump);
      req.destroy();
    }
  });
});

describe('filters', () => {
  /** Posts events, returns which triggers' subscribers got which types. */
  async function route(triggers: Record<string, string>, events: Record<string, string>[]): Promise<Record<string, string[]>> {
    const subs: Record<string, Subscriber> = {};
    for (const name of Object.keys(triggers)) {
      subs[name] = await subscriber();
      open.push(subs[name]);
    }
    const b = await start([broker(), ...Object.entries(triggers).map(([name, f]) => trigger(name, subs[name]!.url, f))]);
    for (const e of events) expect((await post(b.ingress('dev', 'default'), e)).status).toBe(202);
    await b.idle();
    return Object.fromEntries(Object.entries(subs).map(([n, s]) => [n, s.hits.map((h) => String(h.headers['ce-id']))]));
  }

  it('filter.attributes: exact; "" means present and non-empty; a missing extension fails', async () => {
    const got = await route(
      {
        exact: '  filter: { attributes: { type: a.b, team: shop } }',
        anyteam: '  filter: { attributes: { team: "" } }',
        subject: '  filter: { attributes: { subject: "" } }',
        none: '',
      },
      [
        ce('a.b', { id: '1', team: 'shop' }),
        ce('a.b', { id: '2', team: 'other' }),
        ce('a.b', { id: '3' }),
        ce('x', { id: '4', team: '', subject: 's' }),
      ],
    );
    expect(got).toEqual({ exact: ['1'], anyteam: ['1', '2'], subject: ['4'], none: ['1', '2', '3', '4'] });
  });

  it('filters: exact, prefix, suffix, all, any, not; AND at the top level; filters win over filter', async () => {
    const got = await route(
      {
        prefix: '  filters: [{ prefix: { type: dev.reflex.signal. } }]',
        suffix: '  filters: [{ suffix: { type: .crashloop } }]',
        and: '  filters: [{ prefix: { type: dev.reflex. } }, { exact: { reflexclass: oomkilled } }]',
        any: '  filters: [{ any: [{ exact: { reflexclass: oomkilled } }, { exact: { reflexclass: crashloop } }] }]',
        notload: '  filters: [{ prefix: { type: dev.reflex.signal. } }, { not: { any: [{ exact: { reflexclass: loadhigh } }] } }]',
        all: '  filters: [{ all: [{ prefix: { type: dev. } }, { suffix: { type: high } }] }]',
        wins: '  filter: { attributes: { type: nothing } }\n  filters: [{ exact: { reflexclass: loadhigh } }]',
      },
      [
        ce('dev.reflex.signal.crashloop', { id: 'c', reflexclass: 'crashloop' }),
        ce('dev.reflex.signal.oomkilled', { id: 'o', reflexclass: 'oomkilled' }),
        ce('dev.reflex.signal.loadhigh', { id: 'l', reflexclass: 'loadhigh' }),
        ce('other', { id: 'x' }),
      ],
    );
    expect(got).toEqual({
      prefix: ['c', 'o', 'l'],
      suffix: ['c'],
      and: ['o'],
      any: ['c', 'o'],
      notload: ['c', 'o'],
      all: ['l'],
      wins: ['l'],
    });
  });

  it('filters: a missing attribute fails; an empty value makes the filter match everything (Knative skips it)', async () => {
    const got = await route(
      {
        missing: '  filters: [{ exact: { team: shop } }]',
        empty: '  filters: [{ exact: { team: "" } }]',
        notmissing: '  filters: [{ not: { exact: { team: shop } } }]',
        emptycesql: '  filters: [{ cesql: "" }]',
      },
      [ce('t', { id: '1', team: 'shop' }), ce('t', { id: '2' })],
    );
    expect(got).toEqual({ missing: ['1'], empty: ['1', '2'], notmissing: ['2'], emptycesql: ['1', '2'] });
  });

  it('filters: cesql, where an evaluation error does not match', async () => {
    const got = await route(
      {
        like: `  filters: [{ cesql: "type LIKE 'dev.reflex.signal.%' AND reflexclass IN ('crashloop', 'oomkilled')" }]`,
        sequence: '  filters: [{ cesql: "INT(sequence) > 5" }]',
        missing: '  filters: [{ cesql: "team = \'shop\' OR true" }]',
      },
      [
        ce('dev.reflex.signal.crashloop', { id: 'c', reflexclass: 'crashloop', sequence: '10' }),
        ce('dev.reflex.signal.loadhigh', { id: 'l', reflexclass: 'loadhigh', sequence: '3' }),
        ce('x', { id: 'x', sequence: 'ten' }),
      ],
    );
    // `team` is missing everywhere: an error, so no match even though the OR is true.
    expect(got).toEqual({ like: ['c'], sequence: ['c'], missing: [] });
  });

  it('a Trigger with an invalid CESQL expression, or two dialects in one filter, is left out at load, naming it (test/wire/mesh-skips.test.ts)', () => {
    const bad = loadMesh(manifests([broker(), trigger('bad', 'http://127.0.0.1:1/', '  filters: [{ cesql: "type = = 1" }]')]));
    expect(bad.triggers).toEqual([]);
    expect(bad.problems.map((p) => p.message)).toEqual([expect.stringMatching(/Trigger bad: cesql "type = = 1"/)]);
    const two = loadMesh(
      manifests([broker(), trigger('two', 'http://127.0.0.1:1/', '  filters: [{ exact: { a: b }, prefix: { c: d } }]')]),
    );
    expect(two.problems.map((p) => p.message)).toEqual([expect.stringMatching(/Trigger two: spec\.filters\[0\]: multiple dialects/)]);
  });
});

describe('delivery', () => {
  const dls = (url: string): string => `    deadLetterSink: { uri: "${url}" }`;

  it('retries 503 with exponential backoff and stops at the first success', async () => {
    const sub = await subscriber((_h, n) => ({ status: n < 3 ? 503 : 202 }));
    open.push(sub);
    const sleeps: number[] = [];
    const b = await start([broker(), trigger('t', sub.url, '  delivery: { retry: 5, backoffPolicy: exponential, backoffDelay: PT0.1S }')], {
      sleeps,
    });
    await post(b.ingress('dev', 'default'), ce('t'));
    await b.idle();
    expect(sub.hits).toHaveLength(3);
    expect(sleeps).toEqual([100, 200]);
  });

  it('linear backoff: the first retry does not wait (as Knative codes it); retry + 1 attempts in all', async () => {
    const sub = await subscriber(() => ({ status: 500 }));
    open.push(sub);
    const sleeps: number[] = [];
    const records: BrokerRecord[] = [];
    const b = await start([broker(), trigger('t', sub.url, '  delivery: { retry: 3, backoffPolicy: linear, backoffDelay: PT1S }')], {
      sleeps,
      records,
    });
    await post(b.ingress('dev', 'default'), ce('t'));
    await b.idle();
    expect(sub.hits).toHaveLength(4);
    expect(sleeps).toEqual([0, 1000, 2000]);
    // Each attempt is on the record (the console lists them), with the backoff before it.
    const delivered = records.find((r) => r.kind === 'delivered');
    expect(delivered?.kind === 'delivered' && delivered.result.tries).toEqual([
      { status: 500, afterMs: 0 },
      { status: 500, afterMs: 0 },
      { status: 500, afterMs: 1000 },
      { status: 500, afterMs: 2000 },
    ]);
  });

  it.each([404, 408, 409, 429, 500, 502, 504])('%i is retried', async (status) => {
    const sub = await subscriber((_h, n) => ({ status: n === 1 ? status : 202 }));
    open.push(sub);
    const b = await start([broker(), trigger('t', sub.url, '  delivery: { retry: 1 }')]);
    await post(b.ingress('dev', 'default'), ce('t'));
    await b.idle();
    expect(sub.hits).toHaveLength(2);
  });

  it('a 400 is not retried: dead-lettered at once with knativeerrordest, knativeerrorcode and base64 knativeerrordata', async () => {
    const sub = await subscriber(() => ({ status: 400, body: 'bad event: no reflexclass' }));
    const dead = await subscriber();
    open.push(sub, dead);
    const b = await start([broker(), trigger('t', sub.url, `  delivery:\n    retry: 5\n${dls(dead.url)}`)]);
    await post(b.ingress('dev', 'default'), ce('t', { id: 'gone' }), { a: 1 });
    await b.idle();
    expect(sub.hits).toHaveLength(1);
    expect(dead.hits).toHaveLength(1);
    const h = dead.hits[0]!;
    expect([h.headers['ce-id'], h.headers['ce-knativeerrordest'], h.headers['ce-knativeerrorcode']]).toEqual(['gone', sub.url, '400']);
    expect(Buffer.from(String(h.headers['ce-knativeerrordata']), 'base64').toString()).toBe('bad event: no reflexclass');
    expect(JSON.parse(h.body)).toEqual({ a: 1 });
  });

  it("retries exhausted: the Broker's dead-letter sink is used when the Trigger has none; a network error is code 500", async () => {
    const dead = await subscriber();
    open.push(dead);
    const b = await start([
      broker(`  delivery:\n    retry: 1\n${dls(dead.url)}`),
      trigger('t', 'http://127.0.0.1:1/', '  delivery: { retry: 2 }'),
    ]);
    await post(b.ingress('dev', 'default'), ce('t'));
    await b.idle();
    expect(dead.hits).toHaveLength(1);
    expect(dead.hits[0]!.headers['ce-knativeerrorcode']).toBe('500');
    expect(Buffer.from(String(dead.hits[0]!.headers['ce-knativeerrordata']), 'base64').toString()).toMatch(/^dispatch error: /);
  });

  it('delivery format json sends the structured mode', async () => {
    const sub = await subscriber();
    open.push(sub);
    const b = await start([broker(), trigger('t', sub.url, '  delivery: { format: json }')]);
    await post(b.ingress('dev', 'default'), ce('t', { id: 'st' }), { n: 2 });
    await b.idle();
    expect(sub.hits[0]!.headers['content-type']).toMatch(/^application\/cloudevents\+json/);
    expect(JSON.parse(sub.hits[0]!.body)).toMatchObject({ specversion: '1.0', id: 'st', type: 't', data: { n: 2 } });
  });

  it('a timeout per attempt counts as a failure and is retried', async () => {
    const sub = await subscriber((_h, n) => ({ status: 202, delayMs: n === 1 ? 1000 : 0 }));
    open.push(sub);
    const b = await start([broker(), trigger('t', sub.url, '  delivery: { retry: 1, timeout: PT0.2S }')]);
    await post(b.ingress('dev', 'default'), ce('t'));
    await b.idle();
    expect(sub.hits).toHaveLength(2);
  });
});

describe('delivery without a timeout', () => {
  it('a subscriber that never answers is a timed-out attempt: retried, then dead-lettered', async () => {
    const hung: { count: number } = { count: 0 };
    // Reads the request and never answers.
    const silent = createServer((req) => void (hung.count++, req.resume()));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    open.push({ close: () => new Promise((r) => (silent.closeAllConnections(), silent.close(() => r()))) });
    const dead = await subscriber();
    open.push(dead);
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`;
    const b = await start([broker(), trigger('t', url, `  delivery:\n    retry: 1\n    deadLetterSink: { uri: "${dead.url}" }`)], {
      options: { deliveryTimeoutMs: 200 },
    });
    const started = Date.now();
    await post(b.ingress('dev', 'default'), ce('t'));
    await within(5000, b.idle(), 'the delivery');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(hung.count).toBe(2);
    expect(dead.hits).toHaveLength(1);
    expect(dead.hits[0]!.headers['ce-knativeerrorcode']).toBe('500');
    expect(Buffer.from(String(dead.hits[0]!.headers['ce-knativeerrordata']), 'base64').toString()).toMatch(/^dispatch error: .*time/i);
  });

  it('a delivery with a duration that is not ISO-8601 is left out at load, naming the Trigger', () => {
    const bad = loadMesh(manifests([broker(), trigger('slow', 'http://127.0.0.1:1/', '  delivery: { timeout: 30s }')]));
    expect(bad.triggers).toEqual([]);
    expect(bad.problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/Trigger slow: spec\.delivery\.timeout: invalid value: 30s/),
    ]);
  });
});

describe('replies', () => {
  /** Answers every event with a reply of the same type: a reply loop. */
  async function echoSubscriber(): Promise<Subscriber> {
    const echo = await subscriber((hit) => ({
      status: 200,
      headers: { 'ce-specversion': '1.0', 'ce-id': `${String(hit.headers['ce-id'])}+`, 'ce-source': '/echo', 'ce-type': 'loop' },
    }));
    open.push(echo);
    return echo;
  }

  it('a reply goes back into the Broker and is routed like any event', async () => {
    const first = await subscriber(() => ({
      status: 200,
      headers: { 'ce-specversion': '1.0', 'ce-id': 'r1', 'ce-source': '/fn', 'ce-type': 'the.reply', 'content-type': 'application/json' },
      body: '{"ok":true}',
    }));
    const second = await subscriber();
    open.push(first, second);
    const b = await start([
      broker(),
      trigger('first', first.url, '  filters: [{ exact: { type: the.request } }]'),
      trigger('second', second.url, '  filters: [{ exact: { type: the.reply } }]'),
    ]);
    await post(b.ingress('dev', 'default'), ce('the.request'));
    await b.idle();
    expect(second.hits.map((h) => [h.headers['ce-id'], h.body])).toEqual([['r1', '{"ok":true}']]);
  });

  it('a reply larger than the ingress takes is a failed delivery (502), not read to the end', async () => {
    const records: BrokerRecord[] = [];
    const big = await subscriber(() => ({
      status: 200,
      headers: { 'ce-specversion': '1.0', 'ce-id': 'r', 'ce-source': '/big', 'ce-type': 'big.reply', 'content-type': 'application/json' },
      body: JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) }),
    }));
    open.push(big);
    const b = await start([broker(), trigger('big', big.url, '')], { records });
    expect((await post(b.ingress('dev', 'default'), ce('loop'))).status).toBe(202);
    await b.idle();
    const delivered = records.filter((r) => r.kind === 'delivered') as Extract<BrokerRecord, { kind: 'delivered' }>[];
    expect(delivered[0]?.result).toMatchObject({ ok: false, status: 502, error: expect.stringMatching(/larger than 1048576 bytes/) });
  });

  it('a reply loop stops when knativebrokerttl runs out', async () => {
    const records: BrokerRecord[] = [];
    const echo = await echoSubscriber();
    const b = await start([broker(), trigger('echo', echo.url, '')], { records });
    expect((await post(b.ingress('dev', 'default'), ce('loop', { knativebrokerttl: '5' }))).status).toBe(202);
    await b.idle();
    // TTL 5 -> 4 at the ingress, then 3, 2, 1 on each reply; the reply carrying 1 is refused.
    expect(echo.hits).toHaveLength(4);
    expect(records.filter((r) => r.kind === 'refused').map((r) => (r as { status: number }).status)).toEqual([400]);
    // An event already at the end of its TTL is refused by the ingress itself.
    expect((await post(b.ingress('dev', 'default'), ce('loop', { knativebrokerttl: '1' }))).status).toBe(400);
  });

  it('without a TTL the loop still ends, after 255 hops', async () => {
    const echo = await echoSubscriber();
    const b = await start([broker(), trigger('echo', echo.url, '')]);
    await post(b.ingress('dev', 'default'), ce('loop'));
    await b.idle();
    expect(echo.hits).toHaveLength(255);
  });

  it('a client cannot lengthen a loop: a knativebrokerttl above 255 counts as 255', async () => {
    // Stops replying after 300 hops, so that a regression fails instead of looping a million times.
    const echo = await subscriber((hit, n) =>
      n > 300
        ? { status: 202 }
        : {
            status: 200,
            headers: { 'ce-specversion': '1.0', 'ce-id': `${String(hit.headers['ce-id'])}+`, 'ce-source': '/echo', 'ce-type': 'loop' },
          },
    );
    open.push(echo);
    const records: BrokerRecord[] = [];
    const b = await start([broker(), trigger('echo', echo.url, '')], { records });
    expect((await post(b.ingress('dev', 'default'), ce('loop', { knativebrokerttl: '1000000' }))).status).toBe(202);
    await b.idle();
    expect(echo.hits).toHaveLength(255);
    const first = records.find((r) => r.kind === 'accepted');
    expect(first?.kind === 'accepted' && first.ttl).toBe(255);
  });

  it('a non-empty reply that is not a CloudEvent is a failed delivery (502): retried, then dead-lettered', async () => {
    const sub = await subscriber(() => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'done!' }));
    const dead = await subscriber();
    open.push(sub, dead);
    const b = await start([broker(), trigger('t', sub.url, `  delivery:\n    retry: 1\n    deadLetterSink: { uri: "${dead.url}" }`)]);
    await post(b.ingress('dev', 'default'), ce('t'));
    await b.idle();
    expect(sub.hits).toHaveLength(2);
    expect(dead.hits[0]!.headers['ce-knativeerrorcode']).toBe('502');
  });
});

describe('subscribers', () => {
  it('subscriber.ref to a Knative Service resolves to the local function; ref + uri appends the path', async () => {
    const svc = await subscriber();
    open.push(svc);
    const mesh = loadMesh(
      manifests([
        broker(),
        `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: by-ref }
spec:
  broker: default
  subscriber:
    ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: worker }
    uri: /hooks/reflex`,
      ]),
    );
    const asked: string[] = [];
    const b = await startDevBroker({
      mesh,
      resolve: (ref, ns) => (asked.push(`${ref.kind} ${ns}/${ref.name}`), svc.url.replace(/\/$/, '')),
    });
    open.push({ close: () => b.close() });
    await post(b.ingress('dev', 'default'), ce('t'));
    await b.idle();
    expect(asked).toEqual(['Service dev/worker']);
    expect(svc.hits.map((h) => h.path)).toEqual(['/hooks/reflex']);
  });
});
