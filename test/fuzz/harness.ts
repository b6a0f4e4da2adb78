/**
 * The fuzz suite's invariants, checked on every answer, and its counts. A violation throws, with
 * the request as sent and the answer as received, so fast-check shrinks it and reports it.
 */
import fc from 'fast-check';
import type { Agent, IncomingHttpHeaders } from 'node:http';
import { replySchemas, type Seed } from './corpus.js';
import { describeRequest, render, type Case } from './generators.js';
import { frameBytes, send, sendRaw, type Answer, type Outgoing } from './http.js';

export const oracle = replySchemas();

/**
 * No answer may take longer than this (a regex or a filter gone quadratic, a parser gone deep).
 * Generous: a 2-core machine running the whole suite answers any of these cases in milliseconds.
 */
export const LATENCY_BOUND_MS = 5000;

const realProcess = process.getBuiltinModule('node:process');
let gc: (() => void) | undefined;

export interface Snapshot {
  readonly rss: number;
  readonly heapUsed: number;
  /** Buffers and other ArrayBuffers (outside the heap): request and response bodies. */
  readonly arrayBuffers: number;
}

/** Memory after a full collection: what a run keeps, not the garbage it has not collected yet. */
export function memory(): Snapshot {
  if (!gc) {
    process.getBuiltinModule('node:v8').setFlagsFromString('--expose-gc');
    gc = process.getBuiltinModule('node:vm').runInNewContext('gc') as () => void;
  }
  gc();
  const m = realProcess.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers };
}

export interface Tally {
  readonly target: string;
  cases: number;
  aborted: number;
  /** Keep-alive connections the server reset under a new request (sent again on a new one). */
  resets: number;
  readonly byStatus: Map<number, number>;
  /** 200 replies by type (and outcome, for actions): how deep the valid cases went. */
  readonly replies: Map<string, number>;
  ms: number;
  /** The slowest answer, in ms. */
  slowest: number;
  before: Snapshot;
  after: Snapshot;
}

export const tallies: Tally[] = [];

/** What a run kept: memory after it less memory before it (both after a full collection). */
export function growth(t: Tally): Snapshot {
  return {
    rss: t.after.rss - t.before.rss,
    heapUsed: t.after.heapUsed - t.before.heapUsed,
    arrayBuffers: t.after.arrayBuffers - t.before.arrayBuffers,
  };
}

/** Runs `fuzz`, timing it and measuring memory around it. */
export async function measured(t: Tally, fuzz: () => Promise<void>): Promise<void> {
  t.before = memory();
  const started = performance.now();
  try {
    await fuzz();
  } finally {
    t.ms = performance.now() - started;
    t.after = memory();
  }
}

/**
 * FUZZ_SURVEY=1: a violation is recorded (one example per kind) instead of failing the property,
 * so one run lists every kind of violation; printed by `surveyed()`. Never the default.
 */
const SURVEY = process.env['FUZZ_SURVEY'] === '1';
const found = new Map<string, { n: number; example: string }>();
export function surveyed(): string {
  return [...found].map(([k, v]) => `${v.n} x ${k}\n${v.example}`).join('\n\n====\n\n');
}

export function tally(target: string): Tally {
  const t: Tally = {
    target,
    cases: 0,
    aborted: 0,
    resets: 0,
    byStatus: new Map(),
    replies: new Map(),
    ms: 0,
    slowest: 0,
    before: { rss: 0, heapUsed: 0, arrayBuffers: 0 },
    after: { rss: 0, heapUsed: 0, arrayBuffers: 0 },
  };
  tallies.push(t);
  return t;
}

/** The closing table: target, cases, 2xx, 4xx by code, 5xx, aborted uploads, reset connections, time, memory growth. */
export function table(): string {
  const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)}`;
  const rows = tallies.map((t) => {
    const sum = (pred: (s: number) => boolean): number => [...t.byStatus].filter(([s]) => pred(s)).reduce((a, [, n]) => a + n, 0);
    const codes = (lo: number): string =>
      [...t.byStatus]
        .filter(([s]) => s >= lo && s < lo + 100)
        .sort(([a], [b]) => a - b)
        .map(([s, n]) => `${s}:${n}`)
        .join(' ') || '-';
    return [
      t.target,
      String(t.cases),
      `${sum((s) => s < 300)} (${codes(200)})`,
      `${sum((s) => s >= 400 && s < 500)} (${codes(400)})`,
      String(sum((s) => s >= 500)),
      String(t.aborted),
      String(t.resets),
      `${(t.ms / 1000).toFixed(1)} s`,
      `${Math.round(t.slowest)} ms`,
      `${mib(growth(t).rss)} / ${mib(growth(t).heapUsed)} / ${mib(growth(t).arrayBuffers)}`,
    ];
  });
  const head = ['target', 'cases', '2xx', '4xx by code', '5xx', 'aborted', 'resets', 'time', 'slowest', 'growth MiB: RSS / heap / buffers'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join(' | ');
  const replies = tallies
    .filter((t) => t.replies.size > 0)
    .map(
      (t) =>
        `  ${t.target}: ${[...t.replies]
          .sort(([, a], [, b]) => b - a)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')}`,
    );
  const rule = widths.map((w) => '-'.repeat(w)).join('-|-');
  return [line(head), rule, ...rows.map(line), ...(replies.length > 0 ? ['replies (200):', ...replies] : [])].join('\n');
}

function countReply(t: Tally, a: Extract<Answer, { kind: 'response' }>): void {
  if (a.status !== 200) return;
  const type = first(a.headers, 'ce-type') ?? (first(a.headers, 'content-type') ?? '').split(';')[0]!;
  let outcome = '';
  try {
    const data = JSON.parse(a.body.toString('utf8')) as { outcome?: unknown };
    if (typeof data.outcome === 'string') outcome = ` (${data.outcome})`;
  } catch {
    // not JSON: the invariant says so
  }
  const key = `${type.replace(/^dev\.reflex\./, '')}${outcome}`;
  t.replies.set(key, (t.replies.get(key) ?? 0) + 1);
}

const first = (h: IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * What an answer must be, whatever was sent:
 * - never a 5xx (see `transient` for the one documented exception a target may declare);
 * - 2xx is 200 (a reply) or 202 (accepted, empty body);
 * - every 4xx is application/problem+json with `status` equal to the HTTP status and a non-empty
 *   `detail` or `errors` naming the fault;
 * - every 200 is a CloudEvent in binary mode (a batch of them for a batch request) whose data
 *   satisfies its `dataschema` when one is set.
 */
export function violation(
  mode: Case['mode'],
  a: Extract<Answer, { kind: 'response' }>,
  transient?: (a: Extract<Answer, { kind: 'response' }>) => boolean,
): string | undefined {
  const { status, headers, body } = a;
  if (status >= 500) return transient?.(a) ? undefined : `a ${status} for input (no 5xx is allowed here)`;
  if (status >= 400) return problemFault(status, headers, body.toString('utf8'));
  if (status === 202) return body.length === 0 ? undefined : `a 202 with a body (${body.length} bytes)`;
  if (status !== 200) return `a ${status}: the contract has 200 and 202 only`;
  if (mode === 'batch' && /^application\/cloudevents-batch\+json/.test(first(headers, 'content-type') ?? ''))
    return batchFault(body.toString('utf8'));
  return binaryFault(headers, body);
}

const parsed = (text: string): { ok: true; value: unknown } | { ok: false } => {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
};

/** Why a 4xx answer is not the problem+json the contract asks for (undefined: it is). */
export function problemFault(status: number, headers: IncomingHttpHeaders, text: string): string | undefined {
  const type = first(headers, 'content-type') ?? '';
  if (!/^application\/problem\+json\b/.test(type))
    return `a ${status} with content-type ${JSON.stringify(type)}, not application/problem+json`;
  const json = parsed(text);
  if (!json.ok) return `a ${status} whose problem body is not JSON`;
  const p = (json.value ?? {}) as { status?: unknown; detail?: unknown; errors?: unknown };
  if (p.status !== status) return `a ${status} whose problem says status ${JSON.stringify(p.status)}`;
  const named = (typeof p.detail === 'string' && p.detail.trim() !== '') || (Array.isArray(p.errors) && p.errors.length > 0);
  return named ? undefined : `a ${status} whose problem names no fault (no detail, no errors)`;
}

function batchFault(text: string): string | undefined {
  const json = parsed(text);
  if (!json.ok) return 'a batch reply that is not JSON';
  if (!Array.isArray(json.value) || json.value.length === 0) return 'a batch reply that is not a non-empty array';
  for (const [i, e] of (json.value as Record<string, unknown>[]).entries()) {
    const attrs: Record<string, string> = {};
    for (const [k, v] of Object.entries(e ?? {})) if (k !== 'data' && typeof v === 'string') attrs[k] = v;
    const bad = replyFault(attrs, e?.['data'], `reply [${i}]`);
    if (bad) return bad;
  }
  return undefined;
}

function binaryFault(headers: IncomingHttpHeaders, body: Buffer): string | undefined {
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (!k.startsWith('ce-') || typeof v !== 'string') continue;
    try {
      attrs[k.slice(3)] = decodeURIComponent(v);
    } catch {
      return `reply header ${k} is not valid percent-encoding: ${JSON.stringify(v.slice(0, 100))}`;
    }
  }
  if (body.length === 0) return replyFault(attrs, undefined, 'reply');
  const json = parsed(body.toString('utf8'));
  if (!json.ok) return `a 200 whose body is not JSON (${first(headers, 'content-type')})`;
  return replyFault(attrs, json.value, 'reply');
}

function replyFault(attrs: Record<string, string>, data: unknown, where: string): string | undefined {
  if (attrs['specversion'] !== '1.0') return `${where}: specversion ${JSON.stringify(attrs['specversion'])}, not 1.0`;
  for (const a of ['id', 'source', 'type'])
    if (!attrs[a]) return `${where}: required attribute ${a} is missing or empty (binary mode headers expected)`;
  const schema = attrs['dataschema'];
  if (schema === undefined) return undefined;
  if (!oracle.has(schema)) return `${where}: dataschema ${schema} is not a schema of schemas/`;
  const v = oracle.validator(schema);
  if (!v(data)) return `${where}: a ${attrs['type']} whose data does not match ${schema}: ${JSON.stringify(v.errors?.slice(0, 3))}`;
  return undefined;
}

export interface Target {
  readonly name: string;
  readonly url: string;
  readonly seeds: readonly Seed[];
  readonly agent: Agent;
  /** The path events are posted to (the function's `/`, a Broker's `/<ns>/<name>`). */
  readonly path?: string | ((c: Case) => string);
  /** Documented: when a 5xx is the target legitimately reporting a transient fault. */
  readonly transient?: (a: Extract<Answer, { kind: 'response' }>) => boolean;
  /** A target's own invariant, checked after each answer: a violation's description, or undefined. */
  readonly after?: (a: Answer) => Promise<string | undefined>;
}

/** The violation an answer shows, if any: [its kind, the whole account with request and answer]. */
async function check(
  t: Target,
  c: Case,
  a: Exclude<Answer, { kind: 'aborted' }>,
  shown: string,
  counts: Tally,
): Promise<[string, string] | undefined> {
  if (a.kind === 'error') return [`no answer (${a.error})`, `${t.name}: no answer (${a.error})\n--- request ---\n${shown}`];
  counts.byStatus.set(a.status, (counts.byStatus.get(a.status) ?? 0) + 1);
  countReply(counts, a);
  counts.slowest = Math.max(counts.slowest, a.ms);
  const bad =
    a.ms > LATENCY_BOUND_MS ? `an answer after ${Math.round(a.ms)} ms (bound ${LATENCY_BOUND_MS} ms)` : violation(c.mode, a, t.transient);
  if (bad) {
    const body = a.body.toString('utf8');
    const answer = `${a.status} ${JSON.stringify(a.headers['content-type'])}\n${body.length > 2000 ? body.slice(0, 2000) + '…' : body}`;
    return [bad, `${t.name}: ${bad}\n--- request ---\n${shown}\n--- answer ---\n${answer}`];
  }
  const after = await t.after?.(a);
  return after ? [after, `${t.name}: ${after}\n--- request ---\n${shown}`] : undefined;
}

/** How many reset keep-alive connections one target's run may meet before that is the server's fault. */
const MAX_RESETS = 3;

/** Sends one case, counts it, checks it: the account of its violation, or undefined. */
export async function runCase(t: Target, c: Case, counts: Tally): Promise<string | undefined> {
  const path = typeof t.path === 'function' ? t.path(c) : t.path;
  const out: Outgoing = { ...render(c, t.seeds), ...(path ? { path } : {}) };
  const a = c.frame ? await sendRaw(t.url, frameBytes(out, c.frame)) : await send(t.url, out, t.agent);
  counts.cases++;
  if (a.kind === 'aborted') {
    counts.aborted++;
    return undefined;
  }
  const shown = `${c.frame ? `(on a raw socket, framing: ${c.frame})\n` : ''}${describeRequest(out)}`;
  const report =
    a.kind === 'response' && a.resetAfter !== undefined && ++counts.resets > MAX_RESETS
      ? ([
          'keep-alive connections reset',
          `${t.name}: the server reset ${counts.resets} reused keep-alive connections under a new request (a race any client may meet now and then, not this often); the last one had carried: ${a.resetAfter}\n--- request ---\n${shown}`,
        ] as [string, string])
      : await check(t, c, a, shown, counts);
  if (!report) return undefined;
  if (!SURVEY) return report[1];
  const kind = `${t.name}: ${report[0].replace(/\d+/g, '#').slice(0, 120)}`;
  const seen = found.get(kind);
  if (seen) seen.n++;
  else found.set(kind, { n: 1, example: `${JSON.stringify(c).slice(0, 1500)}\n${report[1]}` });
  return undefined;
}

/**
 * A fuzz case as a property: sent, counted, checked. Throws (and fast-check shrinks) on a
 * violation. Counts are of requests sent, so a failing run's include its shrinking.
 */
export function property(t: Target, arbitrary: fc.Arbitrary<Case>, counts: Tally): fc.IAsyncPropertyWithHooks<[Case]> {
  return fc.asyncProperty(arbitrary, async (c) => {
    const bad = await runCase(t, c, counts);
    if (bad) throw new Error(bad);
  });
}

/** Every case of a corpus, each checked; throws with the account of every one that violates, each with its case. */
export async function corpus(t: Target, examples: readonly Case[], counts: Tally): Promise<void> {
  const failed: string[] = [];
  for (const c of examples) {
    const bad = await runCase(t, c, counts);
    if (bad) failed.push(`case ${JSON.stringify(c)}\n${bad}`);
  }
  if (failed.length > 0) throw new Error(`${failed.length} of ${examples.length} cases violate the contract:\n\n${failed.join('\n\n')}`);
}
