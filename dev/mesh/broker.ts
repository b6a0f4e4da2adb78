/**
 * dev/mesh/broker — the development broker: the Brokers and Triggers of the manifests, routed with
 * Knative's semantics on one local HTTP server. Ingress `POST /<namespace>/<broker>` accepts a
 * binary or structured CloudEvent (202; 400 when it is not one or its data nests deeper than
 * MAX_DATA_DEPTH; 413 over `maxBodyBytes`; every refusal a problem body, Node's own too), stamps
 * `knativearrivaltime`, defaults or decrements `knativebrokerttl` (never above `maxTtl`; 400 at 0:
 * reply loops stop), and fans the event out to every Trigger whose filter passes. Each delivery
 * retries and dead-letters as the Trigger's (or else the Broker's) delivery says, each attempt
 * bounded by its `timeout` or `deliveryTimeoutMs`; a reply goes back into the same Broker. Nothing
 * a client or a subscriber does can reject a promise nobody awaits: the broker runs in the same
 * process as every function of the mesh. With a `tracer`, the Broker's spans as Knative's data plane
 * makes them: one per event received (a child of its `traceparent`), one per Trigger delivery (its
 * child), whose context the subscriber gets as `traceparent`; a reply's span is then a child of the
 * subscriber's. docs/tracing.md
 */
import { CloudEvent } from 'cloudevents';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseRequest } from '../../functions/_kit/binding.js';
import { parseRuntimeConfig } from '../../functions/_kit/config.js';
import { asReflexError, problemBody, type Fault, type ReflexError } from '../../functions/_kit/errors.js';
import { answerHttpErrors } from '../../functions/_kit/http.js';
import { deeperThan } from '../../functions/_kit/json.js';
import { formatTraceparent, parseTraceparent, type TraceContext } from '../../functions/_kit/trace.js';
import { answered, cloudEventAttributes, type Span, type Tracer } from '../../functions/_kit/tracing.js';
import { deadLetter, deliver, DEFAULT_DELIVERY_TIMEOUT_MS, type Delivered, type Event } from './delivery.js';
import { compileFilter, type Attributes, type TriggerFilter } from './filters.js';
import type { BrokerManifest, DeliverySpec, Destination, KReference, Mesh, TriggerManifest } from './manifests.js';

export const TTL = 'knativebrokerttl';
export const ARRIVAL = 'knativearrivaltime';
export const MAX_TTL = 255;
/** The functions' REFLEX_MAX_BODY_BYTES default (1 MiB), taken from their own configuration so the two cannot drift. */
export const MAX_BODY_BYTES = parseRuntimeConfig({}, 'dev-broker').maxBodyBytes;
/**
 * After a 413, what the client still sends is dropped (never kept) for at most this long before the
 * connection is cut: closing at once, with its bytes unread, would reset the connection before the
 * client had read the answer (nginx's lingering close, whose lingering_timeout is 5 s).
 */
const LINGER_MS = 5000;
/**
 * Knative forwards data as bytes; here it is parsed, then serialized again for each delivery, and
 * V8's JSON.stringify gives up past ~4,400 levels (fewer on a deeper stack). Deeper data is
 * refused at the ingress (400) rather than accepted and then impossible to deliver.
 */
export const MAX_DATA_DEPTH = 1000;

/** Why the ingress refuses an event: the status and the problem body's title and detail. */
interface Refusal {
  readonly status: number;
  readonly title: string;
  readonly detail: string;
}

/** What happened to one event at one Trigger: the broker's log line, and the timeline's row. */
export type BrokerRecord =
  | {
      readonly kind: 'accepted';
      readonly broker: string;
      readonly event: Event;
      readonly ttl: number;
      /** The Triggers whose filters pass it (`namespace/name`): one `delivered` record will follow for each. */
      readonly triggers: readonly string[];
    }
  | { readonly kind: 'refused'; readonly broker: string; readonly status: number; readonly reason: string }
  | {
      readonly kind: 'delivered';
      readonly trigger: string;
      readonly subscriber: string;
      readonly event: Event;
      readonly result: Delivered;
      readonly deadLettered?: { readonly to: string; readonly result: Delivered } | { readonly to: undefined };
    };

export interface DevBrokerOptions {
  readonly mesh: Mesh;
  /** The address of a referenced object (a Knative Service run locally); undefined if unknown. */
  readonly resolve: (ref: KReference, namespace: string) => string | undefined;
  readonly port?: number;
  readonly host?: string;
  /**
   * The TTL an event without one gets, and the most any event keeps (default 255, Knative's
   * MAX_TTL). Knative's ingress decrements whatever TTL a client sends; here a larger one counts as
   * this, so no client can make a reply loop longer than the default.
   */
  readonly maxTtl?: number;
  /** The largest ingress body, in bytes; larger is 413 (default MAX_BODY_BYTES, the functions' 1 MiB). */
  readonly maxBodyBytes?: number;
  /**
   * The time each delivery attempt gets when the delivery spec sets no `timeout` (default 30 s, the
   * `timeout` knative/broker.yaml declares). Knative's broker-filter then sets none at all; a
   * subscriber that never answers would hold the delivery for good.
   */
  readonly deliveryTimeoutMs?: number;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onRecord?: (r: BrokerRecord) => void;
  /** Spans of the ingress and of each Trigger delivery (none without); its owner shuts it down. */
  readonly tracer?: Tracer;
  /** Other routes on the same port (the web console, dev/console/hub.ts): true when it answered the request. */
  readonly serve?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

export interface DevBroker {
  readonly url: string;
  /** `http://host:port/<namespace>/<broker>` */
  ingress(namespace: string, broker: string): string;
  /** Puts an event into a Broker as its ingress would; the status the ingress would answer. */
  publish(namespace: string, broker: string, event: Event): number;
  /** Resolves when every delivery under way (with its retries, replies and dead letters) is over. */
  idle(): Promise<void>;
  /** Stops the ingress and cuts the connections left open; deliveries under way are idle()'s to wait for. */
  close(): Promise<void>;
}

interface Route {
  readonly trigger: TriggerManifest;
  readonly filter: TriggerFilter;
}

/** A CloudEvent's attributes without its data, as filters see them. */
export function attributesOf(event: Event): Attributes {
  const out: { [k: string]: unknown } = {};
  for (const [k, v] of Object.entries(event)) if (k !== 'data' && k !== 'data_base64' && v !== undefined) out[k] = v;
  return out;
}

/** The same event with `drop` removed and `add` set (the SDK's cloneWith cannot remove). */
function withExtensions(event: Event, add: { [k: string]: unknown }, drop: readonly string[] = []): Event {
  const attrs = Object.entries({ ...attributesOf(event), ...add }).filter(([k]) => !drop.includes(k));
  return new CloudEvent<unknown>({ ...Object.fromEntries(attrs), data: event.data }, false);
}

export async function startDevBroker(options: DevBrokerOptions): Promise<DevBroker> {
  const { mesh, tracer } = options;
  const maxTtl = options.maxTtl ?? MAX_TTL;
  const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const key = (ns: string, name: string): string => `${ns}/${name}`;
  const brokers = new Map<string, BrokerManifest>(mesh.brokers.map((b) => [key(b.namespace, b.name), b]));
  // Filters are compiled up front: a bad CESQL expression stops start-up naming the Trigger.
  const routes = new Map<string, Route[]>();
  for (const t of mesh.triggers) {
    const list = routes.get(key(t.namespace, t.broker)) ?? [];
    list.push({ trigger: t, filter: compileFilter(t) });
    routes.set(key(t.namespace, t.broker), list);
  }
  const inflight = new Set<Promise<void>>();
  const record = (r: BrokerRecord): void => {
    try {
      options.onRecord?.(r);
    } catch (err) {
      // A listener's fault must not stop routing, nor reject a delivery nobody awaits.
      process.emitWarning(`dev broker: onRecord threw: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  let base = '';

  const addressOf = (d: Destination, namespace: string): string | undefined => {
    if (!d.ref) return d.uri;
    const ref = d.ref;
    const at =
      ref.kind === 'Broker' && (ref.apiVersion ?? 'eventing.knative.dev/v1').startsWith('eventing.knative.dev/')
        ? `${base}/${ref.namespace ?? namespace}/${ref.name}`
        : options.resolve(ref, ref.namespace ?? namespace);
    // ref + uri: the uri is resolved against the ref's address, as Knative's Destination does.
    return at && d.uri ? new URL(d.uri, at.endsWith('/') ? at : `${at}/`).href : at;
  };

  /** The ingress: the status Knative's broker-ingress would answer. */
  function publish(namespace: string, name: string, incoming: Event): number {
    return ingest(namespace, name, incoming, undefined)?.status ?? 202;
  }

  /**
   * Routes an event into a Broker; the refusal, when there is one (recorded either way). `parent`:
   * the request's `traceparent` header; else the event's own (a reply carries its function's span).
   */
  function ingest(namespace: string, name: string, incoming: Event, parent: TraceContext | undefined): Refusal | undefined {
    const span = tracer?.start(`broker ${namespace}/${name}`, {
      kind: 'server',
      parent: parent ?? carried(incoming),
      attributes: { ...cloudEventAttributes(incoming), 'knative.broker.namespace': namespace, 'knative.broker.name': name },
    });
    try {
      return fanOut(namespace, name, incoming, span);
    } finally {
      span?.end();
    }
  }

  function fanOut(namespace: string, name: string, incoming: Event, span: Span | undefined): Refusal | undefined {
    const b = brokers.get(key(namespace, name));
    const where = key(namespace, name);
    const refuse = (refusal: Refusal): Refusal => {
      record({ kind: 'refused', broker: where, status: refusal.status, reason: refusal.detail });
      answered(span, refusal.status, refusal.detail);
      return refusal;
    };
    if (!b) return refuse({ status: 404, title: 'Unknown Broker', detail: `no Broker ${where} in the manifests` });
    const given = ttlOf((incoming as unknown as { [k: string]: unknown })[TTL]);
    // Knative's ingress (pkg/broker/ttl.go, TTLDefaulter) decrements any TTL a client sends, so a
    // client could make a loop run a million hops; here no event keeps more than the default.
    const ttl = given === undefined ? maxTtl : Math.min(maxTtl, Math.max(0, given - 1));
    if (ttl <= 0) return refuse({ status: 400, title: 'TTL exhausted', detail: `${TTL} reached 0: dropped (a reply loop?)` });
    if (deeperThan(incoming.data, MAX_DATA_DEPTH))
      return refuse({
        status: 400,
        title: 'Invalid CloudEvent',
        detail: `data nests deeper than ${MAX_DATA_DEPTH} levels, more than the development broker can serialize again for delivery`,
      });
    const event = withExtensions(incoming, { [ARRIVAL]: new Date().toISOString(), [TTL]: ttl });
    const attrs = attributesOf(event);
    const routed = (routes.get(where) ?? []).filter((route) => route.filter(attrs));
    record({ kind: 'accepted', broker: where, event, ttl, triggers: routed.map((r) => key(r.trigger.namespace, r.trigger.name)) });
    span?.set({ 'knative.broker.ttl': ttl, 'knative.triggers': routed.map((r) => r.trigger.name) });
    answered(span, 202);
    const attributes = tracer ? cloudEventAttributes(event) : {};
    for (const route of routed) {
      const t = route.trigger;
      const delivery = tracer?.start(`trigger ${t.name}`, {
        kind: 'client',
        parent: span,
        attributes: { ...attributes, 'knative.trigger.namespace': t.namespace, 'knative.trigger.name': t.name },
      });
      // dispatch does not throw by design; should it, the failure is a record, never an unhandled rejection.
      const p = dispatch(b, t, event, ttl, delivery)
        .catch((err: unknown) =>
          record({
            kind: 'delivered',
            trigger: key(t.namespace, t.name),
            subscriber: '(unresolved)',
            event,
            result: { ok: false, status: 500, attempts: 0, body: '', error: `dev broker: ${errorText(err)}` },
          }),
        )
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }
    return undefined;
  }

  async function dispatch(b: BrokerManifest, t: TriggerManifest, event: Event, ttl: number, span: Span | undefined): Promise<void> {
    try {
      await deliverTo(b, t, event, ttl, span);
    } catch (err) {
      span?.fail(errorText(err));
      throw err;
    } finally {
      span?.end();
    }
  }

  async function deliverTo(b: BrokerManifest, t: TriggerManifest, event: Event, ttl: number, span: Span | undefined): Promise<void> {
    // A Trigger's delivery replaces the Broker's as a whole; the dead-letter sink falls back on its own.
    const spec: DeliverySpec = t.delivery ?? b.delivery ?? {};
    const dls = t.delivery?.deadLetterSink ?? b.delivery?.deadLetterSink;
    const subscriber = addressOf(t.subscriber, t.namespace);
    // Subscribers do not see the TTL; the reply gets it back (broker-filter does the same).
    const out = withExtensions(event, {}, [TTL]);
    // As Knative's dispatcher: the subscriber (and the dead-letter sink) get the delivery's span as the W3C header.
    const how = {
      spec,
      defaultTimeoutMs: options.deliveryTimeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS,
      ...pass(options),
      ...traceHeaders(span),
    };
    const result: Delivered = subscriber
      ? await deliver(subscriber, out, how)
      : { ok: false, status: 404, attempts: 0, body: `subscriber of Trigger ${t.name} does not resolve to an address` };
    let deadLettered: { to: string; result: Delivered } | { to: undefined } | undefined;
    if (!result.ok) {
      const to = dls ? addressOf(dls, t.namespace) : undefined;
      deadLettered = to ? { to, result: await deliver(to, deadLetter(out, subscriber ?? t.name, result), how) } : { to: undefined };
    }
    settle(span, t, subscriber, result, deadLettered);
    record({
      kind: 'delivered',
      trigger: key(t.namespace, t.name),
      subscriber: subscriber ?? '(unresolved)',
      event: out,
      result,
      ...(deadLettered ? { deadLettered } : {}),
    });
    if (result.reply) publish(b.namespace, b.name, withExtensions(result.reply, { [TTL]: ttl }));
  }

  const server: Server = createServer((req, res) => {
    // handle() answers every fault it expects; anything else is a 500 here, never an unhandled rejection.
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else problem(res, 500, 'Internal error', `dev broker: ${errorText(err)}`);
    });
  });
  // What Node's HTTP parser refuses, and an Expect other than 100-continue: problem bodies, as the functions answer.
  answerHttpErrors(server);
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (options.serve?.(req, res)) return;
    const parts = (req.url ?? '/').split('?')[0]!.split('/').filter(Boolean);
    if (req.method === 'GET' && parts.length === 0) return json(res, 200, { brokers: [...brokers.keys()].map((k) => `${base}/${k}`) });
    if (parts.length !== 2) return problem(res, 404, 'Not found', `POST events to ${base}/<namespace>/<broker>`);
    if (req.method !== 'POST') return problem(res, 405, 'Method not allowed', 'a Broker ingress takes POST');
    const body = await readBody(req, maxBodyBytes);
    // The client went away mid-upload: there is nobody to answer, and half an event is no event.
    if (body.kind === 'aborted') return;
    if (body.kind === 'too large') {
      problem(res, 413, 'Payload too large', `request body is larger than ${maxBodyBytes} bytes (the ingress's maxBodyBytes)`);
      return dropRest(req);
    }
    let event: Event;
    try {
      const parsed = parseRequest(req.headers, body.bytes);
      if (parsed.mode === 'batch')
        return problem(res, 400, 'Invalid CloudEvent', 'a Broker ingress takes one event per request, not a batch');
      event = parsed.events[0]!;
    } catch (err) {
      const e: ReflexError = asReflexError(err);
      return problem(res, 400, e.title, e.message, e.faults);
    }
    const refusal = ingest(parts[0]!, parts[1]!, event, parseTraceparent(header(req, 'traceparent'), header(req, 'tracestate')));
    if (refusal) problem(res, refusal.status, refusal.title, refusal.detail);
    else res.writeHead(202).end();
  }

  // A port in use (EADDRINUSE) rejects, for the caller to say which: not an unhandled 'error' event.
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  base = `http://${addr.address}:${addr.port}`;
  return {
    url: base,
    ingress: (ns, name) => `${base}/${ns}/${name}`,
    publish,
    async idle() {
      // Deliveries start more deliveries (replies): wait until none is left.
      while (inflight.size > 0) await Promise.allSettled([...inflight]);
    },
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      // A connection that outlived its refused upload may still count as busy; whatever is left is cut.
      server.closeAllConnections();
      await closed;
    },
  };
}

type Body = { readonly kind: 'complete'; readonly bytes: Buffer } | { readonly kind: 'too large' } | { readonly kind: 'aborted' };

/**
 * The request body, up to `limit` bytes and not one more held in memory. Never rejects: a client
 * that goes away mid-body is `aborted` (async iteration of the request would reject instead).
 */
function readBody(req: IncomingMessage, limit: number): Promise<Body> {
  if (Number(req.headers['content-length']) > limit) return Promise.resolve({ kind: 'too large' });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (body: Body): void => {
      // Without an 'error' listener the request no longer emits one (Node's IncomingMessage), so nothing is left to throw.
      req.off('data', onData).off('end', onEnd).off('error', onGone).off('close', onGone);
      resolve(body);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) finish({ kind: 'too large' });
      else chunks.push(chunk);
    };
    const onEnd = (): void => finish({ kind: 'complete', bytes: Buffer.concat(chunks, size) });
    const onGone = (): void => finish({ kind: 'aborted' });
    req.on('data', onData).on('end', onEnd).on('error', onGone).on('close', onGone);
  });
}

/** After a refusal: the rest of the body is read and dropped, for at most LINGER_MS, then the connection is cut. */
function dropRest(req: IncomingMessage): void {
  if (req.complete) return;
  req.resume();
  const cut = setTimeout(() => req.socket.destroy(), LINGER_MS).unref();
  // Both listeners go once either fires: a keep-alive socket refusing many uploads gathers none.
  const done = (): void => {
    clearTimeout(cut);
    req.off('end', done);
    req.socket.off('close', done);
  };
  req.once('end', done);
  req.socket.once('close', done);
}

/**
 * A client's knativebrokerttl as an integer, or undefined when absent or not one, which the
 * ingress then replaces by the default, as Knative does with one it cannot read as an Integer.
 */
function ttlOf(raw: unknown): number | undefined {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*[+-]?\d+\s*$/.test(raw) ? Number(raw) : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** What a Trigger delivery's span says of how it went: to whom, in how many attempts, dead-lettered or not, and the reply. */
function settle(
  span: Span | undefined,
  t: TriggerManifest,
  subscriber: string | undefined,
  result: Delivered,
  deadLettered: { to: string; result: Delivered } | { to: undefined } | undefined,
): void {
  if (!span) return;
  const dls = deadLettered?.to ? deadLettered : undefined;
  span.set({
    'knative.subscriber': t.subscriber.ref ? `${t.subscriber.ref.kind}/${t.subscriber.ref.name}` : withoutQuery(t.subscriber.uri),
    'knative.subscriber.uri': withoutQuery(subscriber),
    'knative.delivery.attempts': result.attempts,
    'knative.dead_lettered': dls?.result.ok === true,
    'knative.dead_letter.uri': withoutQuery(dls?.to),
    'knative.dead_letter.status': dls?.result.status,
    'knative.reply.type': result.reply?.type,
    'knative.reply.id': result.reply?.id,
  });
  answered(span, result.status, result.ok ? undefined : (result.error ?? `HTTP ${result.status}`));
}

/** The trace context an event carries in its own `traceparent` extension (a reply: its function's span). */
const carried = (event: Event): TraceContext | undefined => {
  const e = event as unknown as { traceparent?: unknown; tracestate?: unknown };
  return parseTraceparent(
    typeof e.traceparent === 'string' ? e.traceparent : undefined,
    typeof e.tracestate === 'string' ? e.tracestate : undefined,
  );
};

/** A delivery's `headers` option: its span's context, as the W3C headers (none without a span). */
const traceHeaders = (span: Span | undefined): { headers?: Record<string, string> } =>
  span
    ? {
        headers: {
          traceparent: formatTraceparent(span.context),
          ...(span.context.tracestate ? { tracestate: span.context.tracestate } : {}),
        },
      }
    : {};

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** An address for a span: a query may carry a token, and is left out. */
const withoutQuery = (url: string | undefined): string | undefined => {
  const u = url === undefined ? null : URL.parse(url);
  return u ? `${u.origin}${u.pathname}` : undefined;
};

const pass = (o: DevBrokerOptions): { fetch?: typeof fetch; sleep?: (ms: number) => Promise<void> } => ({
  ...(o.fetch ? { fetch: o.fetch } : {}),
  ...(o.sleep ? { sleep: o.sleep } : {}),
});

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function problem(res: ServerResponse, status: number, title: string, detail: string, faults: readonly Fault[] = []): void {
  res.writeHead(status, { 'content-type': 'application/problem+json' }).end(problemBody(status, title, detail, faults));
}
