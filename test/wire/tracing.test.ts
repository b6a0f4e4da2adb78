/**
 * OpenTelemetry traces (issue 23, docs/tracing.md), received by an OTLP/HTTP receiver in this
 * process: a function's span per event, child of the incoming `traceparent` and the parent of its
 * reply, its Kubernetes API calls (client-node against a stand-in API server) and its emits; one
 * incident through the development mesh as ONE trace, broker and functions alike; and, with no
 * OTLP endpoint, a function that never loads the SDK.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineFunction, noConfig, startServer, UnavailableError, type RunningServer } from '../../functions/_kit/index.js';
import { startMesh } from '../../dev/mesh/mesh.js';
import { RecordedCluster } from '../../dev/mesh/recorded.js';
import { startReceiver, type ReceivedSpan, type Receiver } from './otlp.js';
import { freePort, start, waitFor } from './process.js';
import { evictedEvent } from './fixtures/events.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'reflex-tracing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SERVER = 2;
const CLIENT = 3;
const ERROR = 2;
const INCOMING = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7' };
const TRACEPARENT = `00-${INCOMING.traceId}-${INCOMING.spanId}-01`;

/** An HTTP server that answers as `answer` says and keeps what it was sent. */
async function listen(
  answer: (method: string, path: string) => { status: number; body?: unknown },
): Promise<{ url: string; seen: { path: string; headers: IncomingHttpHeaders }[]; close(): Promise<void> }> {
  const seen: { path: string; headers: IncomingHttpHeaders }[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ path: req.url ?? '', headers: req.headers });
      const a = answer(req.method ?? '', (req.url ?? '').split('?')[0]!);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body === undefined ? '' : JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

const post = (url: string, type: string, data: unknown, headers: Record<string, string> = {}): Promise<Response> =>
  fetch(url, {
    method: 'POST',
    headers: {
      'ce-specversion': '1.0',
      'ce-id': `id-${type}`,
      'ce-source': '/test',
      'ce-type': type,
      'content-type': 'application/json',
      ...headers,
    },
    body: JSON.stringify(data),
  });

/** A function that reads the cluster, emits to K_SINK or fails, as each event asks. */
const probe = defineFunction({
  name: 'probe',
  accepts: [
    { type: 'test.read', schema: null },
    { type: 'test.emit', schema: null },
    { type: 'test.fail', schema: null },
  ],
  configure: noConfig,
  handler: (_config, deps) => async (event, ctx) => {
    if (event.type === 'test.fail') throw new UnavailableError('the API server is away');
    if (event.type === 'test.emit') {
      await ctx.emit!(ctx.reply({ type: 'test.emitted', data: { n: 1 } }));
      return undefined;
    }
    const pod = await deps.cluster.get({ apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-1' });
    await deps.cluster.get({ apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'gone' });
    ctx.log.info('read', { found: pod !== undefined });
    return ctx.reply({ type: 'test.answer', data: {}, extensions: { outcome: 'read' } });
  },
});

describe("a function's spans", () => {
  let receiver: Receiver;
  let apiServer: Awaited<ReturnType<typeof listen>>;
  let sink: Awaited<ReturnType<typeof listen>>;
  const answers: Record<string, Response> = {};
  const named = (name: string): ReceivedSpan[] => receiver.spans.filter((s) => s.name === name);
  const one = (name: string): ReceivedSpan => {
    expect(named(name)).toHaveLength(1);
    return named(name)[0]!;
  };

  beforeAll(async () => {
    // jest's ESM loader fails to link the kit's two concurrent imports of client-node ("not
    // linked"); one after the other here, they are then already loaded when the kit asks.
    await import('@kubernetes/client-node/dist/config.js');
    await import('@kubernetes/client-node/dist/object.js');
    receiver = await startReceiver();
    apiServer = await listen((method, path) => {
      if (path === '/api/v1')
        return {
          status: 200,
          body: {
            kind: 'APIResourceList',
            apiVersion: 'v1',
            groupVersion: 'v1',
            resources: [{ name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list'] }],
          },
        };
      if (method === 'GET' && path === '/api/v1/namespaces/shop/pods/web-1')
        return { status: 200, body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'shop' } } };
      return {
        status: 404,
        body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'not found' },
      };
    });
    sink = await listen(() => ({ status: 202 }));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        // Plain HTTP: client-node wants it said (no TLS to verify).
        clusters: [{ name: 'stand-in', cluster: { server: apiServer.url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'u', user: { token: 'not-a-secret' } }],
        contexts: [{ name: 'c', context: { cluster: 'stand-in', user: 'u' } }],
        'current-context': 'c',
      }),
    );
    const server: RunningServer = await startServer(probe, {
      env: {
        PORT: '0',
        REFLEX_HOST: '127.0.0.1',
        KUBECONFIG: kubeconfig,
        K_SINK: `${sink.url}/reflex/reflex`,
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      },
      logSink: () => {},
    });
    for (const type of ['test.read', 'test.emit', 'test.fail'])
      answers[type] = await post(server.url, type, {}, { traceparent: TRACEPARENT });
    answers['invalid'] = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    // The shutdown exports what is left.
    await server.shutdown();
  });
  afterAll(async () => {
    await receiver?.close();
    await apiServer?.close();
    await sink?.close();
  });

  it('one SERVER span per event, child of the incoming traceparent, named after the function and the type, with the CloudEvent', () => {
    const span = one('probe test.read');
    expect(span).toMatchObject({ service: 'probe', kind: SERVER, traceId: INCOMING.traceId, parentSpanId: INCOMING.spanId, status: 0 });
    expect(span.attributes).toMatchObject({
      'cloudevents.event_id': 'id-test.read',
      'cloudevents.event_type': 'test.read',
      'cloudevents.event_source': '/test',
      'http.response.status_code': 200,
      'reflex.outcome': 'reply',
      'reflex.reply.type': 'test.answer',
      // The reply's routing extensions: what the function decided, where the kit can see it.
      'reflex.reply.outcome': 'read',
    });
    // What the function logged about the event is in its span.
    expect(span.events).toContainEqual({ name: 'read', attributes: { 'log.severity': 'info', found: true } });
  });

  it("the reply's traceparent is the function's span: what the reply causes is its child", () => {
    const span = one('probe test.read');
    const expected = `00-${span.traceId}-${span.spanId}-01`;
    expect(answers['test.read']!.headers.get('traceparent')).toBe(expected);
    expect(answers['test.read']!.headers.get('ce-traceparent')).toBe(expected);
  });

  it('a CLIENT span per Kubernetes API request, discovery included, each sent on as traceparent', () => {
    const fn = one('probe test.read');
    const calls = receiver.spans.filter((s) => s.name.startsWith('k8s '));
    expect(calls.map((s) => [s.name, s.attributes['http.response.status_code'], s.status])).toEqual([
      ['k8s GET discovery', 200, 0],
      ['k8s GET pods', 200, 0],
      // Not found is an answer the port expects (undefined), and an error of the HTTP call.
      ['k8s GET pods', 404, ERROR],
    ]);
    for (const c of calls) expect(c).toMatchObject({ kind: CLIENT, traceId: fn.traceId, parentSpanId: fn.spanId, service: 'probe' });
    expect(calls[1]!.attributes).toMatchObject({
      'http.request.method': 'GET',
      'k8s.api': 'v1',
      'k8s.resource': 'pods',
      'k8s.namespace.name': 'shop',
      'k8s.object.name': 'web-1',
    });
    // The API server can join the trace (its APIServerTracing feature).
    expect(apiServer.seen.map((r) => r.headers['traceparent'])).toEqual(calls.map((c) => `00-${c.traceId}-${c.spanId}-01`));
  });

  it('an emit to K_SINK is a CLIENT span of the event, and the request carries it', () => {
    const fn = one('probe test.emit');
    const emit = one('emit test.emitted');
    expect(emit).toMatchObject({ kind: CLIENT, parentSpanId: fn.spanId, traceId: INCOMING.traceId, status: 0 });
    expect(emit.attributes).toMatchObject({
      'cloudevents.event_type': 'test.emitted',
      'http.response.status_code': 202,
      'reflex.emit.attempts': 1,
    });
    const sent = sink.seen[0]!.headers;
    expect(sent['traceparent']).toBe(`00-${emit.traceId}-${emit.spanId}-01`);
    // The event itself names the function's span, as a reply would.
    expect(sent['ce-traceparent']).toBe(`00-${fn.traceId}-${fn.spanId}-01`);
  });

  it('a failure (5xx) and a refusal (4xx) are errors, with the status and the error type', () => {
    expect(answers['test.fail']!.status).toBe(503);
    expect(one('probe test.fail')).toMatchObject({
      status: ERROR,
      attributes: expect.objectContaining({
        'http.response.status_code': 503,
        'reflex.outcome': 'failed',
        'error.type': 'UnavailableError',
      }),
    });
    expect(answers['invalid']!.status).toBe(400);
    expect(one('probe POST /')).toMatchObject({
      status: ERROR,
      attributes: expect.objectContaining({
        'http.response.status_code': 400,
        'reflex.outcome': 'refused',
        'error.type': 'InvalidEventError',
      }),
    });
  });
});

describe('the default protocol', () => {
  it('is OTLP/HTTP protobuf', async () => {
    const receiver = await startReceiver();
    const server = await startServer(probe, {
      env: { PORT: '0', REFLEX_HOST: '127.0.0.1', OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url },
      logSink: () => {},
    });
    await post(server.url, 'test.fail', {}, { traceparent: TRACEPARENT });
    await server.shutdown();
    await receiver.close();
    expect(receiver.requests.map((r) => r.contentType)).toEqual(['application/x-protobuf']);
    // Protobuf keeps strings and ids as they are: the span's name and its trace, in the trace of the request.
    const body = receiver.requests[0]!.body;
    expect(body.includes('probe test.fail')).toBe(true);
    expect(body.includes(Buffer.from(INCOMING.traceId, 'hex'))).toBe(true);
  });
});

/** A crash loop, as the ApiServerSource bridges the kubelet's BackOff Event (its third occurrence). */
function backOffEvent(): { name: string; backOff: Record<string, unknown> } {
  const now = Date.now();
  const name = 'web-7d9c8b5f4-x2x7q.18799a0c1b2d3e4f';
  const backOff = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name, namespace: 'shop', uid: 'e-1' },
    involvedObject: {
      apiVersion: 'v1',
      kind: 'Pod',
      namespace: 'shop',
      name: 'web-7d9c8b5f4-x2x7q',
      uid: 'p-1',
      fieldPath: 'spec.containers{web}',
    },
    reason: 'BackOff',
    message: 'Back-off restarting failed container web in pod web-7d9c8b5f4-x2x7q_shop(p-1)',
    type: 'Warning',
    source: { component: 'kubelet', host: 'node-1' },
    count: 3,
    firstTimestamp: new Date(now - 120_000).toISOString(),
    lastTimestamp: new Date(now).toISOString(),
  };
  return { name, backOff };
}

/** The headers the ApiServerSource puts on it. */
const bridged = (name: string): Record<string, string> => ({
  'ce-kind': 'Event',
  'ce-name': name,
  'ce-namespace': 'shop',
  'ce-apiversion': 'v1',
});

describe('one incident through the development mesh (the shipped manifests)', () => {
  let receiver: Receiver;
  let hook: Awaited<ReturnType<typeof listen>>;
  let spans: ReceivedSpan[];

  beforeAll(async () => {
    receiver = await startReceiver();
    hook = await listen(() => ({ status: 200 }));
    const mesh = await startMesh({
      port: 0,
      cluster: new RecordedCluster(),
      env: { REFLEX_SLACK_WEBHOOK_URL: `${hook.url}/services/T000/B000/XXXX` },
      serviceEnv: { classify: { REFLEX_RESOLVE_OWNERS: 'names' } },
      telemetry: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' },
    });
    const { name, backOff } = backOffEvent();
    const res = await post(mesh.broker.ingress('reflex', 'reflex'), 'dev.knative.apiserver.resource.update', backOff, bridged(name));
    expect(res.status).toBe(202);
    // close() waits for every delivery, then each tracer exports what it holds.
    await mesh.close();
    spans = receiver.spans;
  });
  afterAll(async () => {
    await receiver?.close();
    await hook?.close();
  });

  const byId = (): Map<string, ReceivedSpan> => new Map(spans.map((s) => [s.spanId, s]));

  it('is one trace, with spans from the broker and from classify, recover, enrich and notify', () => {
    expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
    expect([...new Set(spans.map((s) => s.service))].sort()).toEqual(['classify', 'dev-broker', 'enrich', 'notify', 'recover']);
    // Its root: the ingress receiving the bridged Event.
    const roots = spans.filter((s) => s.parentSpanId === undefined);
    expect(roots.map((s) => [s.service, s.name, s.kind, s.attributes['cloudevents.event_type']])).toEqual([
      ['dev-broker', 'broker reflex/reflex', SERVER, 'dev.knative.apiserver.resource.update'],
    ]);
  });

  it("each function's span is a child of the broker's delivery to it, named after its Trigger", () => {
    const spansById = byId();
    const functions = spans.filter((s) => s.service !== 'dev-broker' && s.kind === SERVER);
    expect(functions.map((s) => s.name).sort()).toEqual([
      'classify dev.knative.apiserver.resource.update',
      'enrich dev.reflex.signal.crashloop',
      'notify dev.reflex.action.skipped',
      'notify dev.reflex.enriched.crashloop',
      'recover dev.reflex.signal.crashloop',
    ]);
    for (const f of functions) {
      const delivery = spansById.get(f.parentSpanId!)!;
      expect(delivery).toMatchObject({ service: 'dev-broker', kind: CLIENT, status: 0 });
      expect(delivery.name).toBe(`trigger ${String(delivery.attributes['knative.trigger.name'])}`);
      expect(delivery.attributes).toMatchObject({
        'knative.subscriber': `Service/${f.service}`,
        'knative.delivery.attempts': 1,
        'knative.dead_lettered': false,
        'cloudevents.event_type': f.attributes['cloudevents.event_type'],
      });
      // A delivery is a child of the ingress that received its event.
      expect(spansById.get(delivery.parentSpanId!)).toMatchObject({ service: 'dev-broker', name: 'broker reflex/reflex', kind: SERVER });
    }
  });

  it("a reply's ingress span is a child of the span of the function that replied", () => {
    const spansById = byId();
    const replies = spans.filter((s) => s.name === 'broker reflex/reflex' && s.parentSpanId !== undefined);
    expect(replies.map((s) => s.attributes['cloudevents.event_type']).sort()).toEqual([
      'dev.reflex.action.skipped',
      'dev.reflex.enriched.crashloop',
      'dev.reflex.signal.crashloop',
    ]);
    for (const r of replies) {
      const fn = spansById.get(r.parentSpanId!)!;
      expect(fn.kind).toBe(SERVER);
      expect(fn.attributes['reflex.reply.type']).toBe(r.attributes['cloudevents.event_type']);
      expect(fn.attributes['reflex.reply.id']).toBe(r.attributes['cloudevents.event_id']);
    }
  });

  it("notify's delivery to Slack is a CLIENT span named after the sink, never showing its URL", () => {
    const spansById = byId();
    const told = spans.filter((s) => s.name === 'notify slack');
    expect(told).toHaveLength(1);
    expect(told[0]).toMatchObject({ kind: CLIENT, service: 'notify', status: 0 });
    expect(told[0]!.attributes).toMatchObject({
      'reflex.sink.name': 'slack',
      'reflex.sink.type': 'slack',
      'http.response.status_code': 200,
    });
    expect(spansById.get(told[0]!.parentSpanId!)!.name).toBe('notify dev.reflex.enriched.crashloop');
    expect(JSON.stringify(spans)).not.toContain('T000/B000/XXXX');
  });
});

describe('one incident through `reflex dev`, the command', () => {
  it('is one trace, with spans from the broker and each function, exported by the process', async () => {
    const receiver = await startReceiver();
    const home = mkdtempSync(join(tmpdir(), 'reflex-home-'));
    // No kubeconfig: the functions read an empty cluster; traces go where OTEL_* says.
    const p = start('node', ['bin/reflex.js', 'dev', '--port', '0'], {
      HOME: home,
      KUBECONFIG: '',
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    });
    try {
      const ingress = await (async () => {
        for (let i = 0; i < 300; i++) {
          const m = /broker ingress (http:\/\/\S+)/.exec(p.output());
          if (m) return m[1]!;
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`reflex dev did not start:\n${p.output()}`);
      })();
      expect(p.output()).toContain(`traces: OTLP http/json to ${receiver.url}/v1/traces`);
      const { name, backOff } = backOffEvent();
      expect((await post(ingress, 'dev.knative.apiserver.resource.update', backOff, bridged(name))).status).toBe(202);
      // The timeline shows enrich's reply (the last function on the path but notify); then Ctrl-C:
      // reflex dev waits for the deliveries under way (notify's), and each tracer exports what it holds.
      for (let i = 0; i < 300 && !/enrich gathered the evidence/.test(p.output()); i++) await new Promise((r) => setTimeout(r, 100));
      expect(p.output()).toMatch(/-> recover /);
      p.child.kill('SIGINT');
      await p.exited;
      const spans = receiver.spans;
      expect(new Set(spans.map((s) => s.traceId)).size).toBe(1);
      expect([...new Set(spans.map((s) => s.service))].sort()).toEqual(['classify', 'dev-broker', 'enrich', 'notify', 'recover']);
      expect(spans.filter((s) => s.parentSpanId === undefined).map((s) => s.service)).toEqual(['dev-broker']);
    } finally {
      p.child.kill('SIGKILL');
      await receiver.close();
      rmSync(home, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('with no OTLP endpoint', () => {
  const hook = join(root, 'test', 'wire', 'record-loads.mjs');
  const evicted = evictedEvent('ev-1');

  /** classify as `npm run function` runs it, with `otel`; what it loaded, and its answer to one event. */
  async function run(otel: Record<string, string>): Promise<{ loads: string[]; answer: Response; code: number | null }> {
    const loads = join(dir, `loads-${Math.random().toString(36).slice(2)}.txt`);
    writeFileSync(loads, '');
    const port = await freePort();
    const p = start(process.execPath, ['--import', 'tsx', '--import', hook, join(root, 'scripts', 'function.ts'), 'classify'], {
      PORT: String(port),
      REFLEX_HOST: '127.0.0.1',
      REFLEX_RESOLVE_OWNERS: 'names',
      REFLEX_TEST_LOADS: loads,
      KUBECONFIG: '',
      // Whatever the shell running the tests has, only `otel` counts.
      OTEL_EXPORTER_OTLP_ENDPOINT: '',
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
      ...otel,
    });
    await waitFor(`http://127.0.0.1:${port}/readyz`);
    const answer = await post(`http://127.0.0.1:${port}/`, 'dev.knative.apiserver.resource.add', evicted, { traceparent: TRACEPARENT });
    p.child.kill('SIGTERM');
    const code = await p.exited;
    return { loads: readFileSync(loads, 'utf8').split('\n').filter(Boolean), answer, code };
  }

  const sdk = (url: string): boolean => /\/functions\/_kit\/otel\.ts$|node_modules\/@opentelemetry\/(?!api\/)/.test(url);

  it('a function exports nothing and never loads the SDK, whatever other OTEL_* variables say', async () => {
    const { loads, answer, code } = await run({ OTEL_SERVICE_NAME: 'classify', OTEL_TRACES_SAMPLER: 'always_on' });
    expect(answer.status).toBe(200);
    // The trace context still goes on, as before.
    expect(answer.headers.get('traceparent')).toMatch(new RegExp(`^00-${INCOMING.traceId}-[0-9a-f]{16}-01$`));
    expect(code).toBe(0);
    // The hook saw the kit (tracing.ts is what decides), and nothing of the SDK.
    expect(loads.some((u) => u.endsWith('/functions/_kit/tracing.ts'))).toBe(true);
    expect(loads.filter(sdk)).toEqual([]);
  }, 60_000);

  it('with one, it loads the SDK at start-up and exports at shutdown (SIGTERM) what it holds', async () => {
    const receiver = await startReceiver();
    // A batch delay longer than the test: only the shutdown's flush can send the span.
    const { loads, code } = await run({
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '600000',
    });
    await receiver.close();
    expect(code).toBe(0);
    expect(loads.some((u) => u.endsWith('/functions/_kit/otel.ts'))).toBe(true);
    expect(loads.some((u) => u.includes('node_modules/@opentelemetry/sdk-trace/'))).toBe(true);
    expect(receiver.spans.map((s) => [s.service, s.name, s.traceId, s.parentSpanId])).toEqual([
      ['classify', 'classify dev.knative.apiserver.resource.add', INCOMING.traceId, INCOMING.spanId],
    ]);
  }, 60_000);
});
