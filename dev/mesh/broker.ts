/**
 * dev/mesh/broker — the development broker: the Brokers and Triggers of the manifests, routed with
 * Knative's semantics on one local HTTP server. Ingress `POST /<namespace>/<broker>` accepts a
 * binary or structured CloudEvent (202; 400 when it is not one), stamps `knativearrivaltime`,
 * defaults or decrements `knativebrokerttl` (400 at 0: reply loops stop), and fans the event out
 * to every Trigger whose filter passes. Each delivery retries and dead-letters as the Trigger's
 * (or else the Broker's) delivery says; a reply goes back into the same Broker.
 */
import { CloudEvent } from 'cloudevents';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseRequest } from '../../functions/_kit/binding.js';
import { asReflexError, problemBody, type Fault, type ReflexError } from '../../functions/_kit/errors.js';
import { deadLetter, deliver, type Delivered, type Event } from './delivery.js';
import { compileFilter, type Attributes, type TriggerFilter } from './filters.js';
import type { BrokerManifest, DeliverySpec, Destination, KReference, Mesh, TriggerManifest } from './manifests.js';

export const TTL = 'knativebrokerttl';
export const ARRIVAL = 'knativearrivaltime';
export const MAX_TTL = 255;

/** What happened to one event at one Trigger: the broker's log line, and the timeline's row. */
export type BrokerRecord =
  | { readonly kind: 'accepted'; readonly broker: string; readonly event: Event; readonly ttl: number }
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
  readonly maxTtl?: number;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onRecord?: (r: BrokerRecord) => void;
}

export interface DevBroker {
  readonly url: string;
  /** `http://host:port/<namespace>/<broker>` */
  ingress(namespace: string, broker: string): string;
  /** Puts an event into a Broker as its ingress would; the status the ingress would answer. */
  publish(namespace: string, broker: string, event: Event): number;
  /** Resolves when every delivery under way (with its retries, replies and dead letters) is over. */
  idle(): Promise<void>;
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
  const { mesh } = options;
  const maxTtl = options.maxTtl ?? MAX_TTL;
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
  const record = (r: BrokerRecord): void => options.onRecord?.(r);
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
    const b = brokers.get(key(namespace, name));
    const where = key(namespace, name);
    if (!b) {
      record({ kind: 'refused', broker: where, status: 404, reason: `no Broker ${where} in the manifests` });
      return 404;
    }
    const raw = (incoming as unknown as { [k: string]: unknown })[TTL];
    const n = raw === undefined ? NaN : Number(raw);
    const ttl = Number.isInteger(n) ? Math.max(0, n - 1) : maxTtl;
    if (ttl <= 0) {
      record({ kind: 'refused', broker: where, status: 400, reason: `${TTL} reached 0: dropped (a reply loop?)` });
      return 400;
    }
    const event = withExtensions(incoming, { [ARRIVAL]: new Date().toISOString(), [TTL]: ttl });
    record({ kind: 'accepted', broker: where, event, ttl });
    const attrs = attributesOf(event);
    for (const route of routes.get(where) ?? []) {
      if (!route.filter(attrs)) continue;
      const p = dispatch(b, route.trigger, event, ttl).finally(() => inflight.delete(p));
      inflight.add(p);
    }
    return 202;
  }

  async function dispatch(b: BrokerManifest, t: TriggerManifest, event: Event, ttl: number): Promise<void> {
    // A Trigger's delivery replaces the Broker's as a whole; the dead-letter sink falls back on its own.
    const spec: DeliverySpec = t.delivery ?? b.delivery ?? {};
    const dls = t.delivery?.deadLetterSink ?? b.delivery?.deadLetterSink;
    const subscriber = addressOf(t.subscriber, t.namespace);
    // Subscribers do not see the TTL; the reply gets it back (broker-filter does the same).
    const out = withExtensions(event, {}, [TTL]);
    const result: Delivered = subscriber
      ? await deliver(subscriber, out, { spec, ...pass(options) })
      : { ok: false, status: 404, attempts: 0, body: `subscriber of Trigger ${t.name} does not resolve to an address` };
    let deadLettered: { to: string; result: Delivered } | { to: undefined } | undefined;
    if (!result.ok) {
      const to = dls ? addressOf(dls, t.namespace) : undefined;
      deadLettered = to
        ? { to, result: await deliver(to, deadLetter(out, subscriber ?? t.name, result), { spec, ...pass(options) }) }
        : { to: undefined };
    }
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

  const server: Server = createServer((req, res) => void handle(req, res));
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts = (req.url ?? '/').split('?')[0]!.split('/').filter(Boolean);
    if (req.method === 'GET' && parts.length === 0) return json(res, 200, { brokers: [...brokers.keys()].map((k) => `${base}/${k}`) });
    if (parts.length !== 2) return problem(res, 404, 'Not found', `POST events to ${base}/<namespace>/<broker>`);
    if (req.method !== 'POST') return problem(res, 405, 'Method not allowed', 'a Broker ingress takes POST');
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    let event: Event;
    try {
      const parsed = parseRequest(req.headers, Buffer.concat(chunks));
      if (parsed.mode === 'batch')
        return problem(res, 400, 'Invalid CloudEvent', 'a Broker ingress takes one event per request, not a batch');
      event = parsed.events[0]!;
    } catch (err) {
      const e: ReflexError = asReflexError(err);
      return problem(res, 400, e.title, e.message, e.faults);
    }
    const status = publish(parts[0]!, parts[1]!, event);
    if (status === 202) {
      res.writeHead(202).end();
      return;
    }
    problem(
      res,
      status,
      status === 404 ? 'Unknown Broker' : 'TTL exhausted',
      status === 404 ? `no Broker ${parts.join('/')}` : `${TTL} reached 0`,
    );
  }

  await new Promise<void>((r) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', r));
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
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

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
