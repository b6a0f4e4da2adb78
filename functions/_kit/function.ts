/** _kit/function — what a function declares: the types it accepts, its config and its handler. */
import type { CloudEvent } from 'cloudevents';
import type { IncomingHttpHeaders } from 'node:http';
import type { Registry } from 'prom-client';
import type { Env, RuntimeConfig } from './config.js';
import type { Cluster } from './k8s.js';
import type { Logger } from './logger.js';
import type { Reply, ReplySpec } from './reply.js';
import type { TraceContext } from './trace.js';

/** Matches any type: only for functions that must never refuse an event (deadletter). */
export const ANY_TYPE = '*';

export interface Accept {
  /** The CloudEvent `type`, exactly, or ANY_TYPE. */
  readonly type: string;
  /**
   * `$id` of the JSON Schema `data` must satisfy, or null when data is not inspected.
   * @see schemas/README.md
   */
  readonly schema: string | null;
}

/** A CloudEvent that passed the envelope checks and its type's schema. */
export type ValidEvent = CloudEvent<unknown>;

export interface HandlerContext<C> {
  readonly config: C;
  readonly runtime: RuntimeConfig;
  readonly log: Logger;
  /** The trace context of the work this event causes (a child of the incoming one). */
  readonly trace: TraceContext;
  readonly now: () => Date;
  /** The reply event for this handler (200, binary mode); the kit fills id, source, time, trace. */
  reply(spec: ReplySpec): Reply;
  /** Sends an event to K_SINK (the Broker) now; undefined when no sink is configured. */
  readonly emit: ((reply: Reply) => Promise<void>) | undefined;
  /** Validates a value against a schema from schemas/; throws InvalidEventError naming the fault. */
  validate<T>(schemaId: string, value: unknown, where: string): T;
}

/** A handler answers with a Reply (200 + CloudEvent) or nothing (202, empty body). */
export type Handler<C> = (event: ValidEvent, ctx: HandlerContext<C>) => Promise<Reply | undefined>;

/** A request on a function's own route: its headers and its body as it came (at most maxBodyBytes). */
export interface RouteRequest {
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

/** The answer of a route: a status and, unless it is 204, a JSON body. */
export interface RouteResponse {
  readonly status: 200 | 202 | 204;
  readonly body?: unknown;
}

/**
 * A plain HTTP route beside the CloudEvents one, for a sender that does not speak CloudEvents
 * (Alertmanager's webhook). It runs in the same server, with the same draining, body limit,
 * error contract (a thrown ReflexError is its problem+json; a 503 carries Retry-After), logs and
 * context (`emit` to K_SINK, `reply` to build events). REFLEX_AUTH does not apply here: each
 * route authenticates its sender itself, before its body is read.
 */
export interface Route<C> {
  readonly method: 'POST';
  /** An absolute path of its own, e.g. /alertmanager (not /, /healthz, /readyz, /metrics). */
  readonly path: string;
  /** Throws UnauthenticatedError (401) or ForbiddenError (403); a route open to anyone says so by doing nothing. */
  readonly authenticate: (headers: IncomingHttpHeaders) => void | Promise<void>;
  readonly handle: (request: RouteRequest, ctx: HandlerContext<C>) => Promise<RouteResponse>;
}

/** What a server gives a function once, at start-up, to build its handler with. */
export interface Deps {
  readonly runtime: RuntimeConfig;
  readonly log: Logger;
  /** The one port to Kubernetes (the API server; a recording in replays). */
  readonly cluster: Cluster;
  /** The server's Prometheus registry, for a function's own metrics (see counter()). */
  readonly registry: Registry;
  readonly now: () => Date;
}

export interface FunctionDefinition<C = undefined> {
  /** Same name everywhere: functions/<name>, knative/<name>, the ksvc. */
  readonly name: string;
  readonly accepts: readonly Accept[];
  /** Parses this function's own environment once; a bad value throws ConfigError. */
  readonly configure: (env: Env) => C;
  /** Work before the function is ready (e.g. load rules); /readyz stays 503 until it ends. */
  readonly init?: (config: C, log: Logger) => Promise<void>;
  /**
   * Builds the handler once per server. What lives between events (ports, memory of recent
   * signals) lives in this closure, never in the configuration.
   */
  readonly handler: (config: C, deps: Deps) => Handler<C>;
  /** Plain HTTP routes (see Route), built once per server like the handler. */
  readonly routes?: (config: C, deps: Deps) => readonly Route<C>[];
  /**
   * Whether this configuration reads or changes the cluster: then a server with no credentials,
   * or a KUBECONFIG naming a missing file, does not start (it says why) instead of failing on
   * every event.
   */
  readonly usesCluster?: (config: C) => boolean;
  /** Runtime defaults this function needs (environment variables still win). */
  readonly runtimeDefaults?: { readonly maxBodyBytes?: number };
}

/** Identity with inference: `export default defineFunction({...})`. */
export function defineFunction<C>(definition: FunctionDefinition<C>): FunctionDefinition<C> {
  return definition;
}

/** For functions with no configuration of their own. */
export function noConfig(): undefined {
  return undefined;
}
