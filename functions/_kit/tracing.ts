/**
 * _kit/tracing — OpenTelemetry spans for what a function does: the kit's own small Tracer port,
 * its configuration from the standard OTEL_* variables, and the span that is active for the work
 * under way. Nothing here loads the SDK: with no OTLP endpoint there is no tracer at all (one
 * `undefined` check per event), and with one, _kit/otel is imported once, at start-up.
 * @see docs/tracing.md
 * @see https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/
 * @see https://opentelemetry.io/docs/specs/otel/protocol/exporter/
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { intFrom, type Env } from './config.js';
import { ConfigError } from './errors.js';
import type { Fields, Logger } from './logger.js';
import type { TraceContext } from './trace.js';

export type AttributeValue = string | number | boolean | readonly string[];
/** Span attributes; an undefined value is left out. */
export type SpanAttributes = Readonly<Record<string, AttributeValue | undefined>>;
export type SpanKind = 'server' | 'client' | 'internal';

/** One span, as the kit uses it. */
export interface Span {
  /** The span's own context: what goes out as `traceparent`, so that what it causes are its children. */
  readonly context: TraceContext;
  set(attributes: SpanAttributes): void;
  /** A point in time within the span (a decision logged while handling an event). */
  event(name: string, attributes?: SpanAttributes): void;
  /** Error status, with a short description. */
  fail(description: string): void;
  end(): void;
}

export interface StartOptions {
  readonly kind: SpanKind;
  /** A span of this process, or a context that came from elsewhere (`traceparent`); none: a new trace. */
  readonly parent?: Span | TraceContext | undefined;
  readonly attributes?: SpanAttributes;
}

/** The port the kit and the development broker trace through (implemented by _kit/otel). */
export interface Tracer {
  start(name: string, options: StartOptions): Span;
  /** Exports what has ended and stops; what starts afterwards is dropped. */
  shutdown(): Promise<void>;
}

export type Protocol = 'http/protobuf' | 'http/json';
export type SamplerName = 'always_on' | 'always_off' | 'traceidratio';

/** Traces' configuration, parsed once at start-up from the OTEL_* variables. */
export interface TracingConfig {
  /** Where spans are POSTed: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
  readonly url: string;
  readonly protocol: Protocol;
  /** OTEL_EXPORTER_OTLP_HEADERS and _TRACES_HEADERS (the latter wins). Never logged: they carry API keys. */
  readonly headers: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly compression: 'gzip' | 'none';
  /** OTEL_SERVICE_NAME, else service.name of OTEL_RESOURCE_ATTRIBUTES, else the function's name. */
  readonly serviceName: string;
  /** OTEL_RESOURCE_ATTRIBUTES. */
  readonly resource: Readonly<Record<string, string>>;
  /** OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG (default parentbased_always_on). */
  readonly sampler: { readonly root: SamplerName; readonly parentBased: boolean; readonly ratio: number };
  /** OTEL_BSP_*: the batch span processor. */
  readonly batch: {
    readonly scheduledDelayMillis: number;
    readonly exportTimeoutMillis: number;
    readonly maxQueueSize: number;
    readonly maxExportBatchSize: number;
  };
}

const SAMPLERS: Readonly<Record<string, { root: SamplerName; parentBased: boolean }>> = {
  always_on: { root: 'always_on', parentBased: false },
  always_off: { root: 'always_off', parentBased: false },
  traceidratio: { root: 'traceidratio', parentBased: false },
  parentbased_always_on: { root: 'always_on', parentBased: true },
  parentbased_always_off: { root: 'always_off', parentBased: true },
  parentbased_traceidratio: { root: 'traceidratio', parentBased: true },
};

/** The first of `keys` that is set (non-blank), with its value. */
function first(env: Env, keys: readonly string[]): { key: string; value: string } | undefined {
  for (const key of keys) {
    const value = env[key]?.trim();
    if (value) return { key, value };
  }
  return undefined;
}

/** `k1=v1,k2=v2` (W3C Baggage's shape, values percent-encoded), as OTEL_RESOURCE_ATTRIBUTES and the headers are written. */
function keyValues(env: Env, key: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [i, entry] of (env[key] ?? '').split(',').entries()) {
    if (entry.trim() === '') continue;
    const at = entry.indexOf('=');
    // The value is never shown: a header may be an API key.
    if (at <= 0) throw new ConfigError(key, `entry ${i + 1} is not key=value`);
    try {
      out[decodeURIComponent(entry.slice(0, at).trim())] = decodeURIComponent(entry.slice(at + 1).trim());
    } catch {
      throw new ConfigError(key, `entry ${i + 1} is not percent-encoded correctly`);
    }
  }
  return out;
}

function httpUrl(key: string, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(key, `not a URL: ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(key, `an http or https URL, got ${url.protocol}`);
  return url;
}

/** One of `allowed`, from the first of `keys` that is set; `fallback` when none is. */
function choice<T extends string>(env: Env, keys: readonly string[], allowed: readonly T[], fallback: T, hint = ''): T {
  const found = first(env, keys);
  if (!found) return fallback;
  if (!allowed.includes(found.value as T))
    throw new ConfigError(found.key, `${allowed.join(' or ')}, got ${JSON.stringify(found.value)}${hint}`);
  return found.value as T;
}

/** Whether traces are exported at all: OTEL_SDK_DISABLED and OTEL_TRACES_EXPORTER (otlp, the default, or none). */
function exporting(env: Env): boolean {
  if (env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true') return false;
  const exporter = env['OTEL_TRACES_EXPORTER']?.trim().toLowerCase() || 'otlp';
  if (exporter !== 'otlp' && exporter !== 'none')
    throw new ConfigError('OTEL_TRACES_EXPORTER', `otlp or none, got ${JSON.stringify(exporter)}`);
  return exporter === 'otlp';
}

/** The traces' URL: the signal's own endpoint as it is, or the general one as a base the signal's path goes under. */
function endpointOf(env: Env): string | undefined {
  const specific = first(env, ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
  if (specific) return httpUrl(specific.key, specific.value).href;
  const general = first(env, ['OTEL_EXPORTER_OTLP_ENDPOINT']);
  if (!general) return undefined;
  return new URL('v1/traces', httpUrl(general.key, general.value).href.replace(/\/?$/, '/')).href;
}

function samplerFrom(env: Env): TracingConfig['sampler'] {
  const name = first(env, ['OTEL_TRACES_SAMPLER'])?.value.toLowerCase() ?? 'parentbased_always_on';
  const chosen = SAMPLERS[name];
  if (!chosen) throw new ConfigError('OTEL_TRACES_SAMPLER', `one of ${Object.keys(SAMPLERS).join(', ')}, got ${JSON.stringify(name)}`);
  const arg = first(env, ['OTEL_TRACES_SAMPLER_ARG'])?.value;
  const ratio = chosen.root === 'traceidratio' && arg !== undefined ? Number(arg) : 1;
  if (!(ratio >= 0 && ratio <= 1)) throw new ConfigError('OTEL_TRACES_SAMPLER_ARG', `a ratio between 0 and 1, got ${JSON.stringify(arg)}`);
  return Object.freeze({ ...chosen, ratio });
}

function batchFrom(env: Env): TracingConfig['batch'] {
  const batch = {
    scheduledDelayMillis: intFrom(env, 'OTEL_BSP_SCHEDULE_DELAY', 5000, { min: 0, max: 3_600_000 }),
    exportTimeoutMillis: intFrom(env, 'OTEL_BSP_EXPORT_TIMEOUT', 30_000, { min: 1, max: 3_600_000 }),
    maxQueueSize: intFrom(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 2048, { min: 1, max: 1_000_000 }),
    maxExportBatchSize: intFrom(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512, { min: 1, max: 1_000_000 }),
  };
  if (batch.maxExportBatchSize > batch.maxQueueSize)
    throw new ConfigError('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', `must not exceed OTEL_BSP_MAX_QUEUE_SIZE (${batch.maxQueueSize})`);
  return Object.freeze(batch);
}

/**
 * Traces' configuration, or undefined when nothing is to be exported: no OTLP endpoint set,
 * OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER=none. A bad value stops start-up naming its key.
 */
export function tracingFrom(env: Env, defaultServiceName: string): TracingConfig | undefined {
  if (!exporting(env)) return undefined;
  const url = endpointOf(env);
  if (url === undefined) return undefined;
  const timeoutKey = first(env, ['OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 'OTEL_EXPORTER_OTLP_TIMEOUT'])?.key ?? 'OTEL_EXPORTER_OTLP_TIMEOUT';
  const resource = keyValues(env, 'OTEL_RESOURCE_ATTRIBUTES');
  return Object.freeze({
    url,
    protocol: choice<Protocol>(
      env,
      ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL'],
      ['http/protobuf', 'http/json'],
      'http/protobuf',
      // gRPC needs another exporter; the collector's HTTP port takes the same spans.
      ' (send to the collector’s OTLP/HTTP port, 4318)',
    ),
    headers: Object.freeze({ ...keyValues(env, 'OTEL_EXPORTER_OTLP_HEADERS'), ...keyValues(env, 'OTEL_EXPORTER_OTLP_TRACES_HEADERS') }),
    timeoutMs: intFrom(env, timeoutKey, 10_000, { min: 1, max: 600_000 }),
    compression: choice(
      env,
      ['OTEL_EXPORTER_OTLP_TRACES_COMPRESSION', 'OTEL_EXPORTER_OTLP_COMPRESSION'],
      ['gzip', 'none'] as const,
      'none',
    ),
    serviceName: env['OTEL_SERVICE_NAME']?.trim() || resource['service.name'] || defaultServiceName,
    resource: Object.freeze(resource),
    sampler: samplerFrom(env),
    batch: batchFrom(env),
  });
}

/**
 * A tracer for `config`, or undefined when there is none. The SDK is imported here and only here:
 * a function without an OTLP endpoint never reads a byte of it (in a bundle it is a chunk of its
 * own, scripts/bundle.ts). `log` hears about spans that could not be exported.
 */
export async function startTracing(config: TracingConfig | undefined, log: Logger): Promise<Tracer | undefined> {
  if (!config) return undefined;
  const { otelTracer } = await import('./otel.js');
  return otelTracer(config, log);
}

interface Active {
  readonly tracer: Tracer;
  readonly span: Span;
}

/** The span whose work is under way (a handled event), so that what it calls becomes its children. */
const active = new AsyncLocalStorage<Active>();

/** Runs `f` with `span` active; with no span, just runs it. */
export function within<T>(tracer: Tracer | undefined, span: Span | undefined, f: () => T): T {
  return tracer && span ? active.run({ tracer, span }, f) : f();
}

/** Whether the work under way is traced (a cheap test before describing a span). */
export const tracing = (): boolean => active.getStore() !== undefined;

/**
 * A CLIENT span, child of the active one (an API call, a delivery, an emit made while handling an
 * event); undefined when nothing is being traced.
 */
export function clientSpan(name: string, attributes: SpanAttributes): Span | undefined {
  const a = active.getStore();
  return a?.tracer.start(name, { kind: 'client', parent: a.span, attributes });
}

/**
 * A CloudEvent's span attributes.
 * @see https://opentelemetry.io/docs/specs/semconv/cloudevents/cloudevents-spans/
 */
export function cloudEventAttributes(event: {
  readonly id: string;
  readonly type: string;
  readonly source: string;
  readonly subject?: string | undefined;
  readonly specversion: string;
}): SpanAttributes {
  return {
    'cloudevents.event_id': event.id,
    'cloudevents.event_type': event.type,
    'cloudevents.event_source': event.source,
    'cloudevents.event_subject': event.subject,
    'cloudevents.event_spec_version': event.specversion,
  };
}

/** Marks a span with the HTTP status something answered: 4xx and 5xx are errors. */
export function answered(span: Span | undefined, status: number, description?: string): void {
  if (!span) return;
  span.set({ 'http.response.status_code': status });
  if (status >= 400) span.fail(description ?? `HTTP ${status}`);
}

/** The longest string a span keeps from a log field: a decision's reason fits, a document does not. */
const MAX_FIELD_CHARS = 512;

/** A log field as a span attribute: scalars and lists of them; an error as its message; anything else left out. */
function attributeOf(value: unknown): AttributeValue | undefined {
  if (typeof value === 'string') return value.length > MAX_FIELD_CHARS ? `${value.slice(0, MAX_FIELD_CHARS)}…` : value;
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (value instanceof Error) return attributeOf(value.message);
  if (Array.isArray(value) && value.every((v) => typeof v === 'string' || typeof v === 'number'))
    return value.slice(0, 32).map((v) => String(attributeOf(String(v))));
  return undefined;
}

/**
 * `log`, whose lines are also events of `span`: what a function logs about an event (classify's
 * `no signal` and why, recover's decision and why) is then in the trace, at every level, since
 * the trace is where one looks for it.
 */
export function tracedLogger(log: Logger, span: Span, base: Fields = {}): Logger {
  const both =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (msg: string, fields?: Fields): void => {
      log[level](msg, fields);
      const attributes: Record<string, AttributeValue | undefined> = { 'log.severity': level };
      for (const [k, v] of Object.entries({ ...base, ...fields })) attributes[k] = attributeOf(v);
      span.event(msg, attributes);
    };
  return {
    debug: both('debug'),
    info: both('info'),
    warn: both('warn'),
    error: both('error'),
    child: (fields) => tracedLogger(log.child(fields), span, { ...base, ...fields }),
  };
}
