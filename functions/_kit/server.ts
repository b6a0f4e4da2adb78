/**
 * _kit/server — the production server every function runs in, and the one tests start:
 * accepts (binding + schemas) -> handler -> reply (binary CloudEvent) or 202, with the error
 * contract of docs/architecture.md §6, health, metrics, logs and graceful shutdown.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Server } from 'node:http';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createAuthenticator } from './auth.js';
import { parseRequest, toBinaryResponse, type Mode } from './binding.js';
import { parseRuntimeConfig, type Env, type RuntimeConfig } from './config.js';
import {
  ConfigError,
  InternalError,
  InvalidEventError,
  PayloadTooLargeError,
  ReflexError,
  UnauthenticatedError,
  UnavailableError,
  UnsupportedMediaTypeError,
  asReflexError,
  problemBody,
} from './errors.js';
import { ANY_TYPE, type Accept, type Deps, type FunctionDefinition, type HandlerContext, type Route, type ValidEvent } from './function.js';
import { createEmitter } from './emit.js';
import { answerHttpErrors } from './http.js';
import { kubeCluster, kubeconfigOf, type Cluster, type KubeconfigSource } from './k8s.js';
import { createLogger, type Logger, type Sink } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { Reply } from './reply.js';
import { defaultSchemasDir, faultsOf, loadSchemas } from './schemas.js';
import { childOf, parseTraceparent, type TraceContext } from './trace.js';
import {
  answered,
  cloudEventAttributes,
  startTracing,
  tracedLogger,
  tracingFrom,
  within,
  type Span,
  type SpanAttributes,
  type Tracer,
} from './tracing.js';

export interface ServerOptions {
  /** Environment to read configuration from (default: process.env). */
  readonly env?: Env;
  /** Folders of JSON Schemas (default: the repository's schemas/). */
  readonly schemasDirs?: readonly string[];
  readonly logSink?: Sink;
  /** The Kubernetes port (default: the API server of KUBECONFIG or the in-cluster account). */
  readonly cluster?: Cluster;
  readonly now?: () => Date;
}

export type State = 'starting' | 'ready' | 'draining' | 'stopped';

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly metrics: Metrics;
  readonly log: Logger;
  state(): State;
  /** Stop accepting, let in-flight requests finish (up to the deadline), close. */
  shutdown(): Promise<{ drained: boolean }>;
}

/** What a 503 without its own estimate tells the sender: long enough for an API server to come back from a blip. */
const DEFAULT_RETRY_AFTER_SECONDS = 2;

/** The kit's own paths: a function's routes cannot take them. */
const RESERVED_PATHS = new Set(['/', '/healthz', '/readyz', '/metrics']);

/** Label for types the function does not declare: keeps metric cardinality bounded. */
const OTHER_TYPE = 'other';
/** The outcomes of actions (dev.reflex.action.*'s `outcome` extension), the only values reflex_events_sent_total's label takes. */
const SENT_OUTCOMES: ReadonlySet<string> = new Set(['applied', 'dryrun', 'skipped', 'failed', 'escalated']);

/**
 * The most a shutdown waits for the last spans to reach the collector, after the drain: with the
 * 25 s drain default, what is left of Kubernetes' 30 s grace period, less a margin.
 */
const TRACE_FLUSH_TIMEOUT_MS = 3000;

/** The attributes of an event's span: the CloudEvent's, and the request's. */
const eventAttributes = (event: ValidEvent): SpanAttributes => ({
  ...cloudEventAttributes(event),
  'http.request.method': 'POST',
  'http.route': '/',
});

/** What the kit knows of a handler's decision: the reply's type and id, and its routing extensions (outcome, class…). */
function replyAttributes(reply: Reply | undefined): SpanAttributes {
  if (!reply) return { 'http.response.status_code': 202, 'reflex.outcome': 'noreply' };
  const out: Record<string, string | number | boolean> = {
    'http.response.status_code': 200,
    'reflex.outcome': 'reply',
    'reflex.reply.type': reply.event.type,
    'reflex.reply.id': reply.event.id,
  };
  for (const [k, v] of Object.entries(reply.event))
    if (!CORE_ATTRIBUTES.has(k) && (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) out[`reflex.reply.${k}`] = v;
  return out;
}

/** CloudEvents attributes that are not a reply's routing extensions. */
const CORE_ATTRIBUTES = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'time',
  'subject',
  'datacontenttype',
  'dataschema',
  'data',
  'data_base64',
  'traceparent',
  'tracestate',
]);

/** The trace context a request comes with: the W3C header, else the event's own `traceparent` extension. */
function incomingOf(req: Request, carried: ValidEvent | undefined): TraceContext | undefined {
  return parseTraceparent(
    req.header('traceparent') ?? (typeof carried?.['traceparent'] === 'string' ? carried['traceparent'] : undefined),
    req.header('tracestate') ?? (typeof carried?.['tracestate'] === 'string' ? carried['tracestate'] : undefined),
  );
}

interface Outcome {
  readonly replies: Reply[];
}

export async function startServer<C>(definition: FunctionDefinition<C>, options: ServerOptions = {}): Promise<RunningServer> {
  const env = options.env ?? process.env;
  const runtime = parseRuntimeConfig(env, definition.name, definition.runtimeDefaults);
  const log = createLogger(runtime.logLevel, { function: definition.name }, options.logSink);
  const config = definition.configure(env);
  const schemas = loadSchemas(options.schemasDirs ?? [defaultSchemasDir(), ...runtime.extraSchemaDirs]);
  // Compile every accepted type's schema now: a missing schema is a start-up error, not a 500 later.
  const validators = new Map(definition.accepts.map((a) => [a.type, a.schema === null ? null : schemas.validator(a.schema)]));
  const declared = new Set(definition.accepts.map((a) => a.type));
  const metrics = createMetrics(definition.name);
  // Spans only with an OTLP endpoint; then the SDK is loaded now, never on the way of an event.
  const tracer: Tracer | undefined = await startTracing(tracingFrom(env, definition.name), log);
  // Credentials from the same environment as the rest of the configuration (tests pass their own).
  const usesCluster = definition.usesCluster?.(config) ?? false;
  const cluster = options.cluster ?? kubeCluster(credentials(definition.name, env, usesCluster));
  const now = options.now ?? (() => new Date());
  const emitter = runtime.sink ? createEmitter(runtime.sink) : undefined;
  // What a function sends, counted by what it is: our own code makes these types (never input).
  const countSent = (reply: Reply): void => {
    const { type, outcome } = reply.event as { type: string; outcome?: unknown };
    metrics.sent.inc({
      type: type.length <= 80 && /^[a-z0-9.]+$/.test(type) ? type : OTHER_TYPE,
      outcome: typeof outcome === 'string' && SENT_OUTCOMES.has(outcome) ? outcome : '',
    });
  };
  const emit = emitter
    ? async (reply: Reply): Promise<void> => {
        await emitter(reply);
        countSent(reply);
      }
    : undefined;
  const deps: Deps = { runtime, log, cluster, registry: metrics.registry, now };
  const handle = definition.handler(config, deps);
  const routes = routesOf(definition, config, deps);
  // Built only when asked for: with REFLEX_AUTH=none the server never calls the API for senders.
  const authenticator =
    runtime.auth.mode === 'oidc' ? createAuthenticator(runtime.auth, cluster, { log, registry: metrics.registry }) : undefined;

  let state: State = 'starting';
  let inflight = 0;
  let idle: (() => void) | undefined;
  // Requests counted in `inflight`. Every way out (handled, refused by authentication, failed in
  // the body parser) releases once, so shutdown never waits for a request that has ended.
  const counted = new WeakSet<Response>();
  const release = (res: Response): void => {
    if (!counted.delete(res)) return;
    inflight--;
    if (inflight === 0) idle?.();
  };

  const typeLabel = (type: unknown): string => (typeof type === 'string' && declared.has(type) ? type : OTHER_TYPE);

  const accepts = (event: ValidEvent, where: string): Accept => {
    const found = definition.accepts.find((a) => a.type === event.type) ?? definition.accepts.find((a) => a.type === ANY_TYPE);
    if (!found) {
      throw new InvalidEventError(`type ${event.type} is not accepted by ${definition.name}`, {
        faults: [{ where: `${where}type`, message: `accepted types: ${definition.accepts.map((a) => a.type).join(', ')}` }],
      });
    }
    const validate = validators.get(found.type);
    if (validate) {
      if (Buffer.isBuffer(event.data) || event.data === undefined) {
        throw new InvalidEventError(`data of ${event.type} must be JSON`, {
          faults: [{ where: `${where}data`, message: 'expected a JSON document (datacontenttype application/json)' }],
        });
      }
      if (!validate(event.data)) {
        const faults = faultsOf(validate.errors, `${where}data`);
        throw new InvalidEventError(`data does not match the schema of ${event.type}: ${faults[0]?.where} ${faults[0]?.message}`, {
          faults,
        });
      }
    }
    return found;
  };

  /**
   * What a handler or a route gets for one request: its log, its trace, reply and emit. The trace
   * is the request's span when tracing (replies then carry it as their `traceparent`), else a
   * child context of the incoming one.
   */
  const contextFor = (
    fields: Record<string, unknown>,
    incomingType: string,
    incoming: TraceContext | undefined,
    span: Span | undefined,
  ): HandlerContext<C> => {
    const trace = span?.context ?? childOf(incoming);
    const eventLog = log.child({ ...fields, traceId: trace.traceId, spanId: trace.spanId });
    return {
      config,
      runtime,
      log: span ? tracedLogger(eventLog, span) : eventLog,
      trace,
      now,
      reply: (spec) => {
        // Nothing leaves that its own schema refuses: consumers would answer it with 400. A
        // builder that lets input through unchecked is a bug, and a 500 makes it visible.
        if (spec.dataschema && schemas.has(spec.dataschema)) {
          const v = schemas.validator(spec.dataschema);
          if (!v(spec.data)) {
            const faults = faultsOf(v.errors, 'reply data');
            throw new InternalError(`a ${spec.type} reply does not match ${spec.dataschema}: ${faults[0]?.where} ${faults[0]?.message}`, {
              faults,
            });
          }
        }
        return Reply.create(spec, { source: runtime.source, incomingType, trace, now: now() });
      },
      emit,
      validate: <T>(schemaId: string, value: unknown, where: string): T => {
        const v = schemas.validator(schemaId);
        if (!v(value)) {
          const faults = faultsOf(v.errors, where);
          throw new InvalidEventError(`${where} does not match ${schemaId}: ${faults[0]?.where} ${faults[0]?.message}`, { faults });
        }
        return value as T;
      },
    };
  };

  /** A SERVER span per event, `<function> <type>` (a type the function does not declare: `<function> event`). */
  const spanFor = (event: ValidEvent, incoming: TraceContext | undefined): Span | undefined =>
    tracer?.start(`${definition.name} ${declared.has(event.type) ? event.type : 'event'}`, {
      kind: 'server',
      parent: incoming,
      attributes: eventAttributes(event),
    });

  /** A request refused before its handler (not a CloudEvent, a type not accepted, data off its schema): a span that says why. */
  const traceRefusal = (req: Request, err: unknown, event: ValidEvent | undefined): void => {
    if (!tracer) return;
    const e = asReflexError(err);
    const span = event
      ? spanFor(event, incomingOf(req, event))
      : tracer.start(`${definition.name} POST /`, { kind: 'server', parent: incomingOf(req, undefined) });
    span?.set({ 'reflex.outcome': 'refused', 'error.type': e.name });
    answered(span, e.status, e.message);
    span?.end();
  };

  const handleOne = async (event: ValidEvent, req: Request): Promise<Reply | undefined> => {
    const incoming = incomingOf(req, event);
    const span = spanFor(event, incoming);
    const ctx = contextFor(
      { ceId: event.id, ceType: event.type, ceSource: event.source, ceSubject: event.subject },
      event.type,
      incoming,
      span,
    );
    const eventLog = ctx.log;
    const label = typeLabel(event.type);
    const stopTimer = metrics.duration.startTimer({ type: label });
    try {
      const result = await within(tracer, span, () => handle(event, ctx));
      metrics.handled.inc({ type: label, outcome: result ? 'reply' : 'noreply' });
      if (result) countSent(result);
      eventLog.info(result ? 'handled, replying' : 'handled', result ? { replyType: result.event.type, replyId: result.event.id } : {});
      span?.set(replyAttributes(result));
      return result;
    } catch (err) {
      const e = asReflexError(err);
      (e.status >= 500 ? metrics.failed : metrics.rejected).inc({ type: label, status: e.status });
      eventLog[e.status >= 500 ? 'error' : 'warn']('handler failed', {
        status: e.status,
        error: e,
        cause: e.cause instanceof Error ? e.cause.message : undefined,
      });
      span?.set({ 'reflex.outcome': e.status >= 500 ? 'failed' : 'refused', 'error.type': e.name });
      answered(span, e.status, e.message);
      throw e;
    } finally {
      stopTimer();
      span?.end();
    }
  };

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.get('/healthz', (_req, res) => void res.json({ status: 'ok' }));
  app.get('/readyz', (_req, res) => void res.status(state === 'ready' ? 200 : 503).json({ status: state }));
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  /** Ready, or a 503 that sends the sender elsewhere; a request let in is counted until it ends. */
  const admit = (_req: Request, res: Response, next: NextFunction): void => {
    if (state !== 'ready') {
      // Draining: tell the client to go elsewhere and close this keep-alive connection.
      if (state === 'draining') res.setHeader('connection', 'close');
      throw new UnavailableError(`${definition.name} is ${state}`, { retryAfterSeconds: 1 });
    }
    inflight++;
    counted.add(res);
    next();
  };
  mountRoutes(app, { name: definition.name, cloudEvents: definition.accepts.length > 0, maxBodyBytes: runtime.maxBodyBytes }, routes, {
    admit,
    release,
    contextFor,
    tracer,
  });
  app.post(
    '/',
    admit,
    // Who sent it, before the body is read: an unauthenticated sender costs no parsing, no handler.
    async (req, _res, next) => {
      if (authenticator) await authenticator.authenticate(req.header('authorization'));
      next();
    },
    express.raw({ type: () => true, limit: runtime.maxBodyBytes }),
    async (req, res) => {
      let mode: Mode = 'binary';
      try {
        const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
        let parsed;
        try {
          parsed = parseRequest(req.headers, body);
        } catch (err) {
          if (err instanceof ReflexError) metrics.rejected.inc({ type: OTHER_TYPE, status: err.status });
          traceRefusal(req, err, undefined);
          throw err;
        }
        mode = parsed.mode;
        parsed.events.forEach((e, i) => {
          metrics.received.inc({ type: typeLabel(e.type) });
          try {
            accepts(e, mode === 'batch' ? `[${i}].` : '');
          } catch (err) {
            if (err instanceof ReflexError) metrics.rejected.inc({ type: typeLabel(e.type), status: err.status });
            traceRefusal(req, err, e);
            throw err;
          }
        });
        const outcome: Outcome = { replies: [] };
        for (const event of parsed.events) {
          const r = await handleOne(event, req);
          if (r) outcome.replies.push(r);
        }
        respond(res, mode, outcome);
      } finally {
        release(res);
      }
    },
  );
  app.all('/', (_req, res) => {
    res.setHeader('allow', 'POST');
    sendProblem(res, 405, 'Method not allowed', 'POST CloudEvents to /', []);
  });
  app.use((req, res) => sendProblem(res, 404, 'Not found', `no route for ${req.method} ${req.path}`, []));
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    release(res);
    const e = bodyParserError(err, runtime) ?? asReflexError(err);
    if (e.status >= 500 && !(e instanceof UnavailableError)) log.error('request failed', { path: req.path, error: e });
    // Every 503 says when to come back: the fault's own estimate, or a short default.
    const retryAfter = e.retryAfterSeconds ?? (e.status === 503 ? DEFAULT_RETRY_AFTER_SECONDS : undefined);
    if (retryAfter !== undefined) res.setHeader('retry-after', String(retryAfter));
    // RFC 6750 §3: the challenge names the scheme, and the error once a token was sent.
    if (e instanceof UnauthenticatedError)
      res.setHeader('www-authenticate', e.wwwAuthenticate ?? (e.challenge ? `Bearer error="${e.challenge}"` : 'Bearer'));
    // A 5xx detail never carries internals to the caller; the log has them.
    const detail = e.status === 500 ? 'internal error; see the function log' : e.message;
    sendProblem(res, e.status, e.title, detail, e.faults);
  });

  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(runtime.port, runtime.host, () => resolve(s));
    s.once('error', reject);
  });
  // Requests Node itself cannot parse, and unsupported Expect headers: problem+json, not Node's bare text.
  answerHttpErrors(server);
  const port = (server.address() as AddressInfo).port;
  log.info('listening', { port, host: runtime.host, accepts: definition.accepts.map((a) => a.type), auth: runtime.auth.mode });

  try {
    await definition.init?.(config, log);
  } catch (err) {
    await new Promise((r) => server.close(r));
    await flush(tracer, log);
    throw err;
  }
  state = 'ready';
  log.info('ready');
  // Knative starts a function for the event that is waiting: what its first API call needs is
  // loaded now, beside that event, not after it.
  if (usesCluster) void cluster.prepare?.().catch((err: unknown) => log.debug('the cluster client is not prepared yet', { err }));

  let shuttingDown: Promise<{ drained: boolean }> | undefined;
  const shutdown = (): Promise<{ drained: boolean }> => {
    shuttingDown ??= (async () => {
      state = 'draining';
      log.info('draining', { inflight, deadlineMs: runtime.shutdownTimeoutMs });
      const closed = new Promise((r) => server.close(r));
      server.closeIdleConnections();
      const drained =
        inflight === 0 ||
        (await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), runtime.shutdownTimeoutMs);
          idle = () => {
            clearTimeout(timer);
            resolve(true);
          };
        }));
      if (!drained) log.error('shutdown deadline passed with requests in flight', { inflight });
      server.closeAllConnections();
      await closed;
      await flush(tracer, log);
      state = 'stopped';
      log.info('stopped', { drained });
      return { drained };
    })();
    return shuttingDown;
  };

  return {
    url: `http://${runtime.host === '0.0.0.0' ? '127.0.0.1' : runtime.host}:${port}`,
    port,
    metrics,
    log,
    state: () => state,
    shutdown,
  };
}

/** The spans not yet exported go now, within TRACE_FLUSH_TIMEOUT_MS: a collector that does not answer cannot hold the exit. */
async function flush(tracer: Tracer | undefined, log: Logger): Promise<void> {
  if (!tracer) return;
  let timer: NodeJS.Timeout | undefined;
  const flushed = await Promise.race([
    tracer.shutdown().then(
      () => true,
      (err: unknown) => (
        log.warn('spans could not be exported at shutdown', { error: err instanceof Error ? err.message : String(err) }),
        true
      ),
    ),
    new Promise<false>((r) => (timer = setTimeout(() => r(false), TRACE_FLUSH_TIMEOUT_MS))),
  ]);
  clearTimeout(timer);
  if (!flushed)
    log.warn('spans could not be exported at shutdown: the collector did not answer in time', { timeoutMs: TRACE_FLUSH_TIMEOUT_MS });
}

/** A function's own routes, each on a path of its own (a start-up error otherwise). */
function routesOf<C>(definition: FunctionDefinition<C>, config: C, deps: Deps): readonly Route<C>[] {
  const routes = definition.routes?.(config, deps) ?? [];
  for (const r of routes)
    if (!/^\/[a-z0-9][a-z0-9/_-]*$/.test(r.path) || RESERVED_PATHS.has(r.path))
      throw new InternalError(`${definition.name}: route path ${JSON.stringify(r.path)} is not a path of its own`);
  return routes;
}

/** A function's own routes (FunctionDefinition.routes), with the same admission, body limit and error contract as /. */
function mountRoutes<C>(
  app: express.Express,
  { name, cloudEvents, maxBodyBytes }: { name: string; cloudEvents: boolean; maxBodyBytes: number },
  routes: readonly Route<C>[],
  server: {
    admit: (req: Request, res: Response, next: NextFunction) => void;
    release: (res: Response) => void;
    contextFor: (
      fields: Record<string, unknown>,
      incomingType: string,
      incoming: TraceContext | undefined,
      span: Span | undefined,
    ) => HandlerContext<C>;
    tracer: Tracer | undefined;
  },
): void {
  const { admit, release, contextFor, tracer } = server;
  for (const route of routes) {
    app.post(
      route.path,
      admit,
      // Who sent it, before the body is read, as on the CloudEvents route.
      async (req, _res, next) => {
        await route.authenticate(req.headers);
        next();
      },
      express.raw({ type: () => true, limit: maxBodyBytes }),
      async (req, res) => {
        const incoming = incomingOf(req, undefined);
        const span = tracer?.start(`${name} ${route.method} ${route.path}`, {
          kind: 'server',
          parent: incoming,
          attributes: { 'http.request.method': route.method, 'http.route': route.path },
        });
        try {
          const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
          const ctx = contextFor({ route: route.path }, '', incoming, span);
          const answer = await within(tracer, span, () => route.handle({ headers: req.headers, body }, ctx));
          answered(span, answer.status);
          if (answer.status === 204 || answer.body === undefined) res.status(answer.status).end();
          else res.status(answer.status).json(answer.body);
        } catch (err) {
          const e = asReflexError(err);
          span?.set({ 'error.type': e.name });
          answered(span, e.status, e.message);
          throw err;
        } finally {
          span?.end();
          release(res);
        }
      },
    );
    app.all(route.path, (_req, res) => {
      res.setHeader('allow', route.method);
      sendProblem(res, 405, 'Method not allowed', `${route.method} to ${route.path}`, []);
    });
  }
  if (routes.length > 0 && !cloudEvents) {
    // A function that takes no CloudEvents (only its own routes) says where to post instead.
    app.all('/', (_req, res) =>
      sendProblem(
        res,
        404,
        'Not found',
        `${name} accepts no CloudEvents; its routes: ${routes.map((r) => `${r.method} ${r.path}`).join(', ')}`,
        [],
      ),
    );
  }
}

function respond(res: Response, mode: Mode, outcome: Outcome): void {
  if (outcome.replies.length === 0) {
    res.status(202).end();
    return;
  }
  if (mode === 'batch') {
    res
      .status(200)
      .type('application/cloudevents-batch+json')
      .send(JSON.stringify(outcome.replies.map((r) => r.event.toJSON())));
    return;
  }
  const reply = outcome.replies[0]!;
  const { headers, body } = toBinaryResponse(reply.event);
  // The reply's trace context also travels as the W3C header, for HTTP-level tracing.
  const tp = reply.event['traceparent'];
  if (typeof tp === 'string') headers['traceparent'] = tp;
  res.status(200).set(headers).send(body);
}

function sendProblem(
  res: Response,
  status: number,
  title: string,
  detail: string,
  faults: readonly { where: string; message: string }[],
): void {
  res
    .status(status)
    .type('application/problem+json')
    .send(problemBody(status, title, detail, faults));
}

/**
 * body-parser reports what is wrong with a body (limits, encodings, a corrupt gzip or br stream)
 * as an http-error with a 4xx `status` and a `type`: the sender's fault, never a 500.
 */
function bodyParserError(err: unknown, runtime: RuntimeConfig): ReflexError | undefined {
  if (err instanceof ReflexError) return undefined;
  const { type, status } = (err ?? {}) as { type?: unknown; status?: unknown };
  if (type === 'entity.too.large')
    return new PayloadTooLargeError(`request body is larger than ${runtime.maxBodyBytes} bytes (REFLEX_MAX_BODY_BYTES)`);
  if (type === 'encoding.unsupported' || type === 'charset.unsupported') return new UnsupportedMediaTypeError((err as Error).message);
  if (typeof status === 'number' && status >= 400 && status < 500)
    return new InvalidEventError(`the request body could not be read: ${(err as Error).message}`);
  return undefined;
}

/** Where the cluster's credentials come from, checked at start-up when the function needs them. */
function credentials(name: string, env: Env, needed: boolean): KubeconfigSource | undefined {
  const source = kubeconfigOf(env);
  if (!needed) return source;
  if (source === undefined)
    throw new ConfigError(
      'KUBECONFIG',
      `${name} reads the cluster, and no credentials were found: set KUBECONFIG, provide ~/.kube/config, or run it in a Pod with a ServiceAccount`,
    );
  if (source !== 'in-cluster' && !existsSync(source.file)) throw new ConfigError('KUBECONFIG', `${source.file}: no such file`);
  return source;
}

/** Runs a function as a process: config from the environment, SIGTERM/SIGINT drain, exit codes. */
export async function run<C>(definition: FunctionDefinition<C>): Promise<void> {
  let server: RunningServer;
  try {
    server = await startServer(definition);
  } catch (err) {
    const msg = err instanceof ConfigError || err instanceof Error ? err.message : String(err);
    process.stderr.write(
      JSON.stringify({
        time: new Date().toISOString(),
        level: 'error',
        msg: `${definition.name} cannot start: ${msg}`,
        function: definition.name,
      }) + '\n',
    );
    process.exit(1);
  }
  let signals = 0;
  const stop = (signal: string): void => {
    if (++signals > 1) {
      server.log.warn('second signal, exiting now', { signal });
      process.exit(1);
    }
    server.log.info('signal received', { signal });
    void server.shutdown().then(({ drained }) => process.exit(drained ? 0 : 1));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
