/**
 * bench/storm — classify's repeat suppression in a storm (issue 24), through the classify handler,
 * each shape in a process of its own, as fast as it takes them. One JSON line per shape (events, signals, events/s,
 * owner lookups, the memories' sizes and evictions, heap and RSS growth):
 * - one problem / 1,000 problems: 100,000 distinct occurrences (distinct pods) in one window;
 * - a crash loop: the same 300 pods of one Deployment in BackOff again and again, owners resolved
 *   through an in-memory cluster, with the early skip and without it (the same-run baseline);
 * - more problems than REFLEX_RECENT_PROBLEMS holds (25% more), each repeated at once, then cycled;
 * - more occurrences than REFLEX_RECENT_OCCURRENCES holds (20% more), then the first 1,000 again;
 * then the heap each memory takes when full at its default size. Writes the report to
 * bench/results/<date>-storm.md and the raw numbers to <date>-storm.json (as bench/functions.ts
 * and bench/pipeline.ts do; `npm run bench` runs it).
 *
 *   node --expose-gc --import tsx bench/storm.ts [--events N] [--occurrence-memory N] [--rounds 3] [--no-results]
 *
 * test/wire/storm.test.ts runs it (--rounds 1 --no-results) and checks the counts (never the speed).
 */
import { CloudEvent } from 'cloudevents';
import { Registry } from 'prom-client';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Deps, HandlerContext, Reply } from '../functions/_kit/index.js';
import type { Cluster, ObjectRef } from '../functions/_kit/k8s.js';
import { clusterOwnerPort } from '../functions/_signals/owners-kube.js';
import type { OwnerPort } from '../functions/_signals/owners.js';
import { MAX_OCCURRENCES, MAX_PROBLEMS, Recent, type Memory } from '../functions/_signals/recent.js';
import { parseClassifyConfig, type ClassifyConfig } from '../functions/classify/config.js';
import { classifyHandler, type ClassifyOptions } from '../functions/classify/handler.js';

const START = Date.parse('2026-11-22T10:00:00Z');
/** Every shape's events fall inside the first 300 s of the default 600 s repeat window. */
const STORM_MS = 300_000;
/** A Deployment of 300 pods crash-looping: what an SRE watches in a bad rollout. */
const CRASH_PODS = 300;
const EARLY_SKIP = `crash loop: ${CRASH_PODS} pods`;
const BASELINE = `${EARLY_SKIP}, no early skip (baseline)`;
/** Rounds of the crash loop with and without the early skip, interleaved; the median is reported. */
const PAIRED_ROUNDS = 5;
/** More problems than the problem memory holds: 25% more. */
const PROBLEMS_OVER = Math.round(MAX_PROBLEMS * 1.25);
/** How often each of those problems occurs (distinct occurrences: the Event's count goes up). */
const PROBLEM_REPEATS = 4;
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

/**
 * A kubelet BackOff on pod `pod` of Deployment `deploy`, past crashloop's threshold of 3; `count`
 * is the Event's count (the kubelet raises it on each repeat: a new occurrence of the same Event).
 */
export function backoff(deploy: string, pod: number, count = 5): Record<string, unknown> {
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
    count,
    firstTimestamp: '2026-11-22T09:58:00Z',
    lastTimestamp: '2026-11-22T10:00:00Z',
  };
}

/** Pod <rs>-<5> -> ReplicaSet <deploy>-<hash> -> Deployment <deploy>, as the controllers name them. */
function ownedObject(ref: ObjectRef): object {
  const up = ref.name.slice(0, ref.name.lastIndexOf('-'));
  const owner =
    ref.kind === 'Pod'
      ? { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: up }
      : ref.kind === 'ReplicaSet'
        ? { apiVersion: 'apps/v1', kind: 'Deployment', name: up }
        : undefined;
  return {
    metadata: {
      name: ref.name,
      namespace: ref.namespace,
      ownerReferences: owner ? [{ ...owner, uid: `u-${owner.name}`, controller: true }] : [],
    },
  };
}

export interface HarnessOptions {
  /** Owners from an in-memory cluster that answers at once (the owner cache as configured), counted. */
  readonly cluster?: boolean;
  /** False: classify without its early skip (the baseline). */
  readonly earlySkip?: boolean;
  readonly log?: Deps['log'];
}

/**
 * classify's handler driven directly (the HTTP path is tested elsewhere), on a clock the caller
 * sets: what is counted is what it replies, and the owner port's calls. Shared with
 * functions/classify/storm.test.ts.
 */
export function classifyHarness(env: Record<string, string> = {}, options: HarnessOptions = {}) {
  let now = START;
  const config = parseClassifyConfig({ REFLEX_RESOLVE_OWNERS: options.cluster ? 'cluster' : 'names', ...env });
  const registry = new Registry();
  const log = options.log ?? quiet;
  let gets = 0;
  let lookups = 0;
  const cluster = {
    get: (ref: ObjectRef) => {
      gets++;
      return Promise.resolve(ownedObject(ref));
    },
  } as unknown as Cluster;
  const port = clusterOwnerPort(cluster, Date.now, config.ownerCache);
  const owners: OwnerPort = {
    owners: (ref) => {
      lookups++;
      return port.owners(ref);
    },
  };
  const seams: ClassifyOptions = {
    ...(options.cluster ? { owners } : {}),
    ...(options.earlySkip !== undefined ? { earlySkip: options.earlySkip } : {}),
  };
  const handler = classifyHandler(config, { log, registry, cluster, now: () => new Date(now) } as unknown as Deps, seams);
  let replies = 0;
  const ctx = {
    config,
    log,
    now: () => new Date(now),
    reply: () => {
      replies++;
      return {} as Reply;
    },
    validate: <T>(_s: string, v: unknown) => v as T,
  } as unknown as HandlerContext<ClassifyConfig>;
  let seq = 0;
  /** A metric's values by its `memory` label. */
  const byMemory = async (name: string): Promise<Partial<Record<Memory, number>>> => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
    return Object.fromEntries((m?.values ?? []).map((v) => [v.labels['memory'], v.value]));
  };
  return {
    config,
    registry,
    /** Milliseconds after the storm's start. */
    at: (ms: number) => (now = START + ms),
    replies: () => replies,
    /** Calls to the owner port (each a cache hit or an API get), with `cluster`. */
    lookups: () => lookups,
    /** API gets behind the owner cache, with `cluster`. */
    gets: () => gets,
    /** reflex_recent_entries, as a scrape reads it. */
    entries: () => byMemory('reflex_recent_entries'),
    evictions: () => byMemory('reflex_recent_evictions_total'),
    send: (e: Record<string, unknown>) =>
      handler(new CloudEvent({ id: `x${seq++}`, source: '/s', type: 'dev.knative.apiserver.resource.update', data: e }, false), ctx),
  };
}

interface Shape {
  readonly shape: string;
  readonly events: number;
  readonly problems: number;
  readonly options?: HarnessOptions;
  /** The i-th event of the storm. */
  readonly event: (i: number) => Record<string, unknown>;
}

function shapes(events: number, occurrenceMemory: number): Shape[] {
  const crashLoop = (i: number) => backoff('web', i % CRASH_PODS, 5 + Math.floor(i / CRASH_PODS));
  /** More than the occurrence memory holds, then the first 1,000 delivered again (their entries evicted). */
  const over = Math.round(occurrenceMemory * 1.2);
  const spread = (j: number) => backoff(`web${j % 1000}`, Math.floor(j / 1000));
  return [
    { shape: 'one problem', events, problems: 1, event: (i) => backoff('web', i) },
    { shape: '1,000 problems', events, problems: 1000, event: spread },
    {
      shape: BASELINE,
      events,
      problems: 1,
      options: { cluster: true, earlySkip: false },
      event: crashLoop,
    },
    { shape: EARLY_SKIP, events, problems: 1, options: { cluster: true }, event: crashLoop },
    {
      shape: `${PROBLEMS_OVER.toLocaleString('en')} problems, each repeated at once`,
      events: PROBLEMS_OVER * PROBLEM_REPEATS,
      problems: PROBLEMS_OVER,
      event: (i) => backoff(`api${Math.floor(i / PROBLEM_REPEATS)}`, 0, 5 + (i % PROBLEM_REPEATS)),
    },
    {
      shape: `${PROBLEMS_OVER.toLocaleString('en')} problems, cycled`,
      events: PROBLEMS_OVER * PROBLEM_REPEATS,
      problems: PROBLEMS_OVER,
      event: (i) => backoff(`api${i % PROBLEMS_OVER}`, 0, 5 + Math.floor(i / PROBLEMS_OVER)),
    },
    {
      shape: `${over.toLocaleString('en')} occurrences of 1,000 problems, then the first 1,000 again`,
      events: over + 1000,
      problems: 1000,
      event: (i) => spread(i < over ? i : i - over),
    },
  ];
}

const gc = (globalThis as { gc?: () => void }).gc;
const mib = (bytes: number): number => Math.round(bytes / 2 ** 20);

async function storm(s: Shape, env: Record<string, string>) {
  const h = classifyHarness(env, s.options);
  gc?.();
  const rssBefore = process.memoryUsage().rss;
  const heapBefore = process.memoryUsage().heapUsed;
  const began = performance.now();
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < s.events; i++) {
    h.at(Math.floor((i * STORM_MS) / s.events));
    await h.send(s.event(i));
  }
  const ms = performance.now() - began;
  // CPU time is this process's own: other work on the machine slows the clock, not this.
  const cpu = process.cpuUsage(cpuBefore);
  // What the memories hold once garbage is collected (run with --expose-gc); RSS also counts garbage.
  gc?.();
  const heapGrowthMiB = gc ? mib(process.memoryUsage().heapUsed - heapBefore) : undefined;
  return {
    shape: s.shape,
    events: s.events,
    problems: s.problems,
    signals: h.replies(),
    eventsPerSecond: Math.round(s.events / (ms / 1000)),
    cpuMicrosPerEvent: Math.round(((cpu.user + cpu.system) / s.events) * 100) / 100,
    ...(s.options?.cluster ? { ownerLookups: h.lookups(), apiGets: h.gets() } : {}),
    rssGrowthMiB: mib(process.memoryUsage().rss - rssBefore),
    ...(heapGrowthMiB !== undefined ? { heapGrowthMiB } : {}),
    entries: await h.entries(),
    evictions: await h.evictions(),
  };
}

/**
 * The heap each memory takes when full at its default size, with keys and values shaped as
 * classify makes them (an Event uid is a UUID, a problem key 16 hex digits, a subject
 * Deployment/<ns>/<name>): the three filled one after the other in one Recent, each measured
 * as the heap it added. Needs --expose-gc.
 */
function footprint(): Footprint | undefined {
  if (!gc) return undefined;
  const hex = (s: string, n: number) => createHash('sha256').update(s).digest('hex').slice(0, n);
  const uuid = (s: string) => hex(s, 32).replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
  const fills: Record<Memory, { entries: number; fill: (r: Recent, i: number) => void }> = {
    occurrences: { entries: MAX_OCCURRENCES, fill: (r, i) => r.occurrences.record(`crashloop|${uuid(`e${i}`)}#5`, START, 3_600_000) },
    problems: { entries: MAX_PROBLEMS, fill: (r, i) => r.problems.record(hex(`p${i}`, 16), START, 600_000, `Deployment/shop/web-${i}`) },
    objects: {
      entries: MAX_PROBLEMS,
      fill: (r, i) => r.linkProblem(`crashloop|Pod|shop|web-${i}-6f9d8c7b5-${suffix(i)}`, hex(`p${i}`, 16), START, 600_000),
    },
  };
  const out = {} as Footprint;
  const r = new Recent();
  gc();
  let before = process.memoryUsage().heapUsed;
  for (const [memory, { entries, fill }] of Object.entries(fills) as [Memory, (typeof fills)[Memory]][]) {
    for (let i = 0; i < entries; i++) fill(r, i);
    gc();
    const after = process.memoryUsage().heapUsed;
    const bytes = after - before;
    before = after;
    out[memory] = {
      entries: r.sizes(START)[memory],
      heapMiB: Math.round((bytes / 2 ** 20) * 10) / 10,
      bytesPerEntry: Math.round(bytes / entries),
    };
  }
  return out;
}

type Row = Awaited<ReturnType<typeof storm>> & { eventsPerSecondRounds?: number[] };
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
type Footprint = Record<Memory, { entries: number; heapMiB: number; bytesPerEntry: number }>;
/** The early skip against the baseline, as ratios: medians of each round's pair, and owner lookups. */
interface Comparison {
  readonly rounds: number;
  readonly eventsPerSecond: number;
  readonly cpuPerEvent: number;
  readonly ownerLookups: number;
}
const n = (x: number | undefined): string => (x === undefined ? '' : x.toLocaleString('en'));
const perMemory = (v: Partial<Record<Memory, number>>): string =>
  Object.entries(v)
    .map(([k, x]) => `${k} ${n(x)}`)
    .join(', ') || 'none';

function report(rows: readonly Row[], date: string, comparison: Comparison | undefined, fp: Footprint | undefined): string {
  const lines = [
    `# classify's repeat suppression in a storm — ${date}`,
    '',
    `Node ${process.versions.node}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, load average ${loadavg()[0]!.toFixed(2)} at the end; bench/storm.ts: classify's handler driven directly, each shape in a process of its own, every shape within ${STORM_MS / 1000} s of the 600 s window; the crash loop with and without the early skip in interleaved rounds (its row: the median round).`,
    '',
    '| shape | events | signals | events/s | CPU per event | owner lookups (API gets) | evictions | entries at the end | heap growth after GC | RSS growth |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(
      (r) =>
        `| ${r.shape} | ${n(r.events)} | ${n(r.signals)} | ${n(r.eventsPerSecond)}${r.eventsPerSecondRounds ? ` (median of ${r.eventsPerSecondRounds.map(n).join(', ')})` : ''} | ${r.cpuMicrosPerEvent} µs | ${r.ownerLookups === undefined ? 'by name' : `${n(r.ownerLookups)} (${n(r.apiGets)})`} | ${perMemory(r.evictions)} | ${perMemory(r.entries)} | ${r.heapGrowthMiB ?? '?'} MiB | ${r.rssGrowthMiB} MiB |`,
    ),
  ];
  if (comparison)
    lines.push(
      '',
      `Crash loop, the early skip against the same run's baseline (without it), the median of ${comparison.rounds} rounds' ratios: ${comparison.eventsPerSecond.toFixed(2)}x the events/s, ${comparison.cpuPerEvent.toFixed(2)}x the CPU time per event, ${comparison.ownerLookups.toFixed(4)}x the owner lookups.`,
    );
  if (fp)
    lines.push(
      '',
      '| memory, full at its default size | entries | heap | per entry |',
      '| --- | --- | --- | --- |',
      ...Object.entries(fp).map(([m, f]) => `| ${m} | ${n(f.entries)} | ${f.heapMiB} MiB | ${f.bytesPerEntry} bytes |`),
    );
  return lines.join('\n') + '\n';
}

/**
 * Each shape (and the footprint) in a process of its own: measured alone, with the same cold start
 * for the baseline as for the early skip, and its heap growth not blurred by what the last one
 * left (V8 kept a finished shape's memories alive into the next one's measurement).
 */
function alone(args: readonly string[]): string {
  return execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 2 ** 20,
  }).trim();
}

/** Every shape, each alone; the crash loop's pair in interleaved rounds (its row: the median round). */
function runShapes(list: readonly Shape[], forwarded: readonly string[], rounds: number): Map<number, Row[]> {
  // Interleaved, so that a shared machine's noise falls on the baseline and the early skip alike.
  const paired = [...list.keys()].filter((k) => list[k]!.options?.cluster);
  const runs = new Map<number, Row[]>();
  for (let round = 0; round < (paired.length ? rounds : 1); round++)
    for (const k of round === 0 ? list.keys() : paired) {
      const line = alone([...forwarded, `--shape=${k}`]);
      runs.set(k, [...(runs.get(k) ?? []), JSON.parse(line) as Row]);
      console.log(line);
    }
  return runs;
}

/** The row of a shape run in rounds: its median round by events/s, with every round's events/s. */
const medianRow = (r: readonly Row[]): Row => ({
  ...[...r].sort((a, b) => a.eventsPerSecond - b.eventsPerSecond)[Math.floor(r.length / 2)]!,
  ...(r.length > 1 ? { eventsPerSecondRounds: r.map((x) => x.eventsPerSecond) } : {}),
});

/** Each round's early skip against the same round's baseline; the medians of those ratios. */
function compare(baseline: readonly Row[], skipping: readonly Row[]): Comparison | undefined {
  if (!baseline.length || baseline.length !== skipping.length) return undefined;
  const ratios = (f: (r: Row) => number) => median(skipping.map((s, i) => f(s) / f(baseline[i]!)));
  return {
    rounds: baseline.length,
    eventsPerSecond: ratios((r) => r.eventsPerSecond),
    cpuPerEvent: ratios((r) => r.cpuMicrosPerEvent),
    ownerLookups: ratios((r) => r.ownerLookups ?? NaN),
  };
}

/** bench/results/<date>-storm.md, and the raw numbers in <date>-storm.json. */
async function writeResults(rows: readonly Row[], comparison: Comparison | undefined, fp: Footprint | undefined): Promise<void> {
  const date = new Date().toISOString().slice(0, 10);
  const md = report(rows, date, comparison, fp);
  const dir = fileURLToPath(new URL('results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}${date}-storm.md`, md);
  // In the repository's style (prettier --check . runs in npm run lint), as bench/functions.ts writes its JSON.
  const jsonFile = `${dir}${date}-storm.json`;
  const prettier = await import('prettier');
  const style = (await prettier.resolveConfig(jsonFile)) ?? {};
  const raw = {
    date,
    node: process.versions.node,
    cpus: `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}`,
    load1AtEnd: loadavg()[0],
    shapes: rows,
    earlySkipVsBaseline: comparison,
    footprint: fp,
  };
  writeFileSync(jsonFile, await prettier.format(JSON.stringify(raw), { ...style, parser: 'json' }));
  process.stderr.write(md);
  process.stderr.write(`written: bench/results/${date}-storm.md and .json\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '100000' },
      'occurrence-memory': { type: 'string' },
      rounds: { type: 'string', default: String(PAIRED_ROUNDS) },
      'no-results': { type: 'boolean', default: false },
      shape: { type: 'string' },
      footprint: { type: 'boolean', default: false },
    },
  });
  const memory = values['occurrence-memory'];
  const env: Record<string, string> = memory === undefined ? {} : { REFLEX_RECENT_OCCURRENCES: memory };
  const list = shapes(Number(values.events), parseClassifyConfig({ REFLEX_RESOLVE_OWNERS: 'names', ...env }).maxOccurrences);
  // In a process of its own (see alone()): one shape, or the footprint.
  if (values.shape !== undefined) return void console.log(JSON.stringify(await storm(list[Number(values.shape)]!, env)));
  if (values.footprint) return void console.log(JSON.stringify({ footprint: footprint() ?? null }));

  const runs = runShapes(
    list,
    [`--events=${values.events}`, ...(memory === undefined ? [] : [`--occurrence-memory=${memory}`])],
    Number(values.rounds),
  );
  const rows = [...runs.values()].map(medianRow);
  const fpLine = alone(['--footprint']);
  console.log(fpLine);
  const fp = (JSON.parse(fpLine) as { footprint: Footprint | null }).footprint ?? undefined;
  const comparison = compare(
    runs.get(list.findIndex((x) => x.shape === BASELINE)) ?? [],
    runs.get(list.findIndex((x) => x.shape === EARLY_SKIP)) ?? [],
  );
  if (comparison) console.log(JSON.stringify({ earlySkipVsBaseline: comparison }));
  if (!values['no-results']) await writeResults(rows, comparison, fp);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
