import { describe, expect, it } from '@jest/globals';
import type { Env } from './config.js';
import { createLogger } from './logger.js';
import { tracedLogger, tracingFrom, type Span, type SpanAttributes } from './tracing.js';

const ENDPOINT = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };

describe('traces are configured by the standard OTEL_* variables', () => {
  it.each<[string, Env, string | undefined]>([
    // No endpoint: nothing is exported, whatever else is set (the SDK is then never loaded).
    ['no endpoint', { OTEL_SERVICE_NAME: 'x', OTEL_TRACES_SAMPLER: 'always_on' }, undefined],
    // The general endpoint is a base: the signal's path goes under it.
    ['the general endpoint', ENDPOINT, 'http://collector:4318/v1/traces'],
    [
      'the general endpoint with a path and a slash',
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otlp.example/base/' },
      'https://otlp.example/base/v1/traces',
    ],
    // The signal's own endpoint is used as it is, and wins.
    [
      "the traces' own endpoint",
      { ...ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://other:9999/custom' },
      'http://other:9999/custom',
    ],
    // The spec's switches off.
    ['OTEL_SDK_DISABLED', { ...ENDPOINT, OTEL_SDK_DISABLED: 'true' }, undefined],
    ['OTEL_TRACES_EXPORTER=none', { ...ENDPOINT, OTEL_TRACES_EXPORTER: 'none' }, undefined],
  ])('%s', (_why, env, url) => {
    expect(tracingFrom(env, 'classify')?.url).toBe(url);
  });

  it('defaults as the specification says, the service named after the function', () => {
    expect(tracingFrom(ENDPOINT, 'classify')).toEqual({
      url: 'http://collector:4318/v1/traces',
      protocol: 'http/protobuf',
      headers: {},
      timeoutMs: 10_000,
      compression: 'none',
      serviceName: 'classify',
      resource: {},
      sampler: { root: 'always_on', parentBased: true, ratio: 1 },
      batch: { scheduledDelayMillis: 5000, exportTimeoutMillis: 30_000, maxQueueSize: 2048, maxExportBatchSize: 512 },
    });
  });

  it('reads each variable, the signal-specific one first', () => {
    const c = tracingFrom(
      {
        ...ENDPOINT,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
        OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
        OTEL_EXPORTER_OTLP_HEADERS: 'x-team=sre,authorization=Bearer%20general',
        OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'authorization=Bearer%20traces',
        OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: '2500',
        OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,service.name=ignored',
        OTEL_SERVICE_NAME: 'reflex-classify',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
        OTEL_BSP_SCHEDULE_DELAY: '200',
      },
      'classify',
    )!;
    expect(c).toMatchObject({
      protocol: 'http/json',
      headers: { 'x-team': 'sre', authorization: 'Bearer traces' },
      timeoutMs: 2500,
      compression: 'gzip',
      // OTEL_SERVICE_NAME wins over the resource's service.name.
      serviceName: 'reflex-classify',
      resource: { 'deployment.environment.name': 'prod' },
      sampler: { root: 'traceidratio', parentBased: true, ratio: 0.25 },
      batch: { scheduledDelayMillis: 200 },
    });
    // Without OTEL_SERVICE_NAME, the resource's service.name names the service.
    expect(tracingFrom({ ...ENDPOINT, OTEL_RESOURCE_ATTRIBUTES: 'service.name=mine' }, 'classify')?.serviceName).toBe('mine');
  });

  it.each<[string, Env, RegExp]>([
    // gRPC needs another exporter; the collector's HTTP port takes the same spans.
    ['grpc', { ...ENDPOINT, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, /OTEL_EXPORTER_OTLP_PROTOCOL: .*http\/protobuf or http\/json.*4318/],
    ['not a URL', { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, /OTEL_EXPORTER_OTLP_ENDPOINT: an http or https URL/],
    ['another exporter', { ...ENDPOINT, OTEL_TRACES_EXPORTER: 'zipkin' }, /OTEL_TRACES_EXPORTER: otlp or none/],
    ['an unknown sampler', { ...ENDPOINT, OTEL_TRACES_SAMPLER: 'jaeger_remote' }, /OTEL_TRACES_SAMPLER: one of always_on/],
    ['a ratio above 1', { ...ENDPOINT, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }, /OTEL_TRACES_SAMPLER_ARG/],
    ['a batch larger than the queue', { ...ENDPOINT, OTEL_BSP_MAX_QUEUE_SIZE: '10' }, /OTEL_BSP_MAX_EXPORT_BATCH_SIZE/],
    ['a timeout that is not a number', { ...ENDPOINT, OTEL_EXPORTER_OTLP_TIMEOUT: '10s' }, /OTEL_EXPORTER_OTLP_TIMEOUT/],
  ])('%s stops start-up naming the key', (_why, env, message) => {
    expect(() => tracingFrom(env, 'classify')).toThrow(message);
  });

  it('never shows a header value in its complaint: it may be an API key', () => {
    expect(() => tracingFrom({ ...ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS: 'api-key=s3cr3t,oops' }, 'x')).toThrow(
      'configuration OTEL_EXPORTER_OTLP_HEADERS: entry 2 is not key=value',
    );
  });
});

describe('a traced logger', () => {
  it('logs as before and makes each line, at any level, an event of the span with its fields', () => {
    const lines: string[] = [];
    const events: [string, SpanAttributes][] = [];
    const span = { event: (name: string, attributes: SpanAttributes) => events.push([name, attributes]) } as unknown as Span;
    const log = tracedLogger(
      createLogger('info', {}, (l) => lines.push(l)),
      span,
    ).child({ rule: 'crashloop-backoff' });
    log.debug('no signal', { why: 'x'.repeat(600), count: 2, document: { deep: true } });
    log.info('decided', { outcome: 'dryrun', steps: ['roll back'], error: new Error('boom') });
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['decided']);
    expect(events).toEqual([
      // A long reason is cut; an object is left out.
      ['no signal', { 'log.severity': 'debug', rule: 'crashloop-backoff', why: `${'x'.repeat(512)}…`, count: 2, document: undefined }],
      ['decided', { 'log.severity': 'info', rule: 'crashloop-backoff', outcome: 'dryrun', steps: ['roll back'], error: 'boom' }],
    ]);
  });
});
