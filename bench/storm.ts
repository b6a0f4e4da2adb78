/**
 * bench/storm — classify's repeat suppression in a storm (issue 24): distinct occurrences of one
 * problem, and of 1,000 problems, through the classify handler in one process, as fast as it
 * takes them. Prints one JSON line per shape: events, signals, events/s, and memory.
 *
 *   node --expose-gc --import tsx bench/storm.ts [--events N] [--occurrence-memory N]
 *
 * test/wire/storm.test.ts runs it and checks the signal counts (never the speed).
 */
import { CloudEvent } from 'cloudevents';
import { Registry } from 'prom-client';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import type { Deps, HandlerContext, Reply } from '../functions/_kit/index.js';
import { parseClassifyConfig, type ClassifyConfig } from '../functions/classify/config.js';
import { classifyHandler } from '../functions/classify/handler.js';

const { values } = parseArgs({
  options: { events: { type: 'string', default: '100000' }, 'occurrence-memory': { type: 'string' } },
  strict: false,
});
const EVENTS = Number(values.events);
const START = Date.parse('2026-11-22T10:00:00Z');
const quiet = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return quiet;
  },
} as unknown as Deps['log'];

/** The characters of a generated pod-name suffix (apimachinery's rand.String: no vowels, no 0, 1, 3). */
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const suffix = (n: number): string =>
  Array.from({ length: 5 }, (_, i) => ALPHABET[Math.floor(n / ALPHABET.length ** i) % ALPHABET.length]).join('');

/** A kubelet BackOff on one pod of Deployment `deploy`, past crashloop's threshold of 3. */
export function backoff(deploy: string, pod: number): Record<string, unknown> {
  const name = `${deploy}-6f9d8c7b5-${suffix(pod)}`;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${name}.1879a`, namespace: 'shop', uid: `e-${deploy}-${pod}` },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', name, namespace: 'shop', uid: `p-${deploy}-${pod}` },
    reason: 'BackOff',
    message: `Back-off restarting failed container app in pod ${name}_shop(p)`,
    type: 'Warning',
    source: { component: 'kubelet' },
    count: 5,
    firstTimestamp: '2026-11-22T09:58:00Z',
    lastTimestamp: '2026-11-22T10:00:00Z',
  };
}

/**
 * classify's handler driven directly (the HTTP path is tested elsewhere), on a clock the caller
 * sets: what is counted is what it replies. Shared with functions/classify/storm.test.ts.
 */
export function classifyHarness(env: Record<string, string> = {}) {
  let now = START;
  const config = parseClassifyConfig({ REFLEX_RESOLVE_OWNERS: 'names', ...env });
  const registry = new Registry();
  const handler = classifyHandler(config, { log: quiet, registry, now: () => new Date(now) } as unknown as Deps);
  let replies = 0;
  const ctx = {
    config,
    log: quiet,
    now: () => new Date(now),
    reply: () => {
      replies++;
      return {} as Reply;
    },
    validate: <T>(_s: string, v: unknown) => v as T,
  } as unknown as HandlerContext<ClassifyConfig>;
  let seq = 0;
  return {
    registry,
    /** Milliseconds after the storm's start. */
    at: (ms: number) => (now = START + ms),
    replies: () => replies,
    send: (e: Record<string, unknown>) =>
      handler(new CloudEvent({ id: `x${seq++}`, source: '/s', type: 'dev.knative.apiserver.resource.update', data: e }, false), ctx),
  };
}

async function storm(shape: string, problems: number): Promise<Record<string, unknown>> {
  const env: Record<string, string> = {};
  if (typeof values['occurrence-memory'] === 'string') env['REFLEX_RECENT_OCCURRENCES'] = values['occurrence-memory'];
  const h = classifyHarness(env);
  const registry = h.registry;
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const rssBefore = process.memoryUsage().rss;
  const heapBefore = process.memoryUsage().heapUsed;
  const began = performance.now();
  for (let i = 0; i < EVENTS; i++) {
    h.at(Math.floor((i * 300_000) / EVENTS)); // the whole storm inside 300 s of the 600 s window
    await h.send(backoff(problems === 1 ? 'web' : `web${i % problems}`, Math.floor(i / problems)));
  }
  const ms = performance.now() - began;
  // What the memories hold once garbage is collected (run with --expose-gc); RSS also counts garbage.
  gc?.();
  const heapGrowthMiB = gc ? Math.round((process.memoryUsage().heapUsed - heapBefore) / 2 ** 20) : undefined;
  const metrics = await registry.getMetricsAsJSON();
  const values_ = (name: string) => metrics.find((m) => m.name === name)?.values ?? [];
  return {
    shape,
    events: EVENTS,
    problems,
    signals: h.replies(),
    eventsPerSecond: Math.round(EVENTS / (ms / 1000)),
    rssGrowthMiB: Math.round((process.memoryUsage().rss - rssBefore) / 2 ** 20),
    ...(heapGrowthMiB !== undefined ? { heapGrowthMiB } : {}),
    entries: Object.fromEntries(values_('reflex_recent_entries').map((v) => [v.labels['memory'], v.value])),
    evictions: Object.fromEntries(values_('reflex_recent_evictions_total').map((v) => [v.labels['memory'], v.value])),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href)
  for (const [shape, problems] of [
    ['one problem', 1],
    ['1,000 problems', 1000],
  ] as const)
    console.log(JSON.stringify(await storm(shape, problems)));
