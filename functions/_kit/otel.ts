/**
 * _kit/otel — the kit's Tracer on the OpenTelemetry SDK: one TracerProvider per server (its own
 * service.name), a batch processor, the OTLP/HTTP exporter of the configured protocol. Imported
 * only by _kit/tracing when an OTLP endpoint is set. No global is registered (no global provider,
 * context manager or propagator): parents are passed explicitly, so several functions in one
 * process (the development mesh) keep their own providers, and `traceparent` keeps its one parser,
 * _kit/trace.
 */
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  createTraceState,
  trace,
  type Attributes,
  type Span as OtelSpan,
} from '@opentelemetry/api';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
  type ReadableSpan,
  type Sampler,
  type SpanExporter,
} from '@opentelemetry/sdk-trace';
import type { Logger } from './logger.js';
import type { TraceContext } from './trace.js';
import type { Span, SpanAttributes, StartOptions, Tracer, TracingConfig } from './tracing.js';

const KINDS = { server: SpanKind.SERVER, client: SpanKind.CLIENT, internal: SpanKind.INTERNAL } as const;

/** How often a failing exporter is mentioned in the log: once, then at most once a minute. */
const WARN_EVERY_MS = 60_000;

class Handle implements Span {
  readonly context: TraceContext;
  constructor(readonly inner: OtelSpan) {
    const c = inner.spanContext();
    this.context = {
      traceId: c.traceId,
      spanId: c.spanId,
      flags: (c.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? '01' : '00',
      tracestate: c.traceState?.serialize() || undefined,
    };
  }
  set(attributes: SpanAttributes): void {
    this.inner.setAttributes(defined(attributes));
  }
  event(name: string, attributes: SpanAttributes = {}): void {
    this.inner.addEvent(name, defined(attributes));
  }
  fail(description: string): void {
    this.inner.setStatus({ code: SpanStatusCode.ERROR, message: description });
  }
  end(): void {
    this.inner.end();
  }
}

function defined(attributes: SpanAttributes): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(attributes)) if (v !== undefined) out[k] = v as Attributes[string];
  return out;
}

function samplerOf(s: TracingConfig['sampler']): Sampler {
  const root =
    s.root === 'always_on'
      ? new AlwaysOnSampler()
      : s.root === 'always_off'
        ? new AlwaysOffSampler()
        : new TraceIdRatioBasedSampler(s.ratio);
  return s.parentBased ? new ParentBasedSampler({ root }) : root;
}

/** The exporter of the configured protocol; each is loaded only when chosen. */
async function exporterOf(config: TracingConfig): Promise<SpanExporter> {
  const options = {
    url: config.url,
    headers: { ...config.headers },
    timeoutMillis: config.timeoutMs,
    compression: config.compression as never,
  };
  if (config.protocol === 'http/json') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    return new OTLPTraceExporter(options);
  }
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-proto');
  return new OTLPTraceExporter(options);
}

/** The exporter, saying in the function's log when spans could not be sent (the SDK alone would say nothing). */
function reporting(exporter: SpanExporter, config: TracingConfig, log: Logger): SpanExporter {
  let lastWarned = -Infinity;
  return {
    export(spans: ReadableSpan[], done) {
      exporter.export(spans, (result) => {
        // ExportResultCode.SUCCESS is 0.
        if (result.code !== 0 && Date.now() - lastWarned >= WARN_EVERY_MS) {
          lastWarned = Date.now();
          log.warn('spans could not be exported', { url: config.url, spans: spans.length, error: result.error?.message });
        }
        done(result);
      });
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}

export async function otelTracer(config: TracingConfig, log: Logger): Promise<Tracer> {
  const provider = new TracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ ...config.resource, 'service.name': config.serviceName })),
    sampler: samplerOf(config.sampler),
    spanProcessors: [new BatchSpanProcessor({ exporter: reporting(await exporterOf(config), config, log), ...config.batch })],
  });
  const tracer = provider.getTracer('reflex');
  return {
    start(name: string, options: StartOptions): Span {
      const p = options.parent;
      const parent =
        p === undefined
          ? ROOT_CONTEXT
          : p instanceof Handle
            ? trace.setSpan(ROOT_CONTEXT, p.inner)
            : trace.setSpanContext(ROOT_CONTEXT, remote('traceId' in p ? p : p.context));
      return new Handle(tracer.startSpan(name, { kind: KINDS[options.kind], attributes: defined(options.attributes ?? {}) }, parent));
    },
    shutdown: () => provider.shutdown(),
  };
}

/** A context parsed by _kit/trace (the one traceparent parser), as the SDK's remote parent. */
function remote(c: TraceContext): Parameters<typeof trace.setSpanContext>[1] {
  return {
    traceId: c.traceId,
    spanId: c.spanId,
    traceFlags: Number.parseInt(c.flags, 16) & 0xff,
    isRemote: true,
    ...(c.tracestate ? { traceState: createTraceState(c.tracestate) } : {}),
  };
}
