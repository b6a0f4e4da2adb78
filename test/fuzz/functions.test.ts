/**
 * Fuzz (issue 15): every function's `POST /`, over real HTTP, with generated and mutated
 * CloudEvents (generators.ts) built from real seeds (corpus.ts). Invariants, per case
 * (harness.ts): no 5xx, 4xx as problem+json naming the fault, 200 a binary CloudEvent whose data
 * satisfies its dataschema, 202 empty; and after each run: /healthz answers, no unhandled
 * rejection or uncaught exception, memory growth bounded. Seeded: a failure replays exactly.
 *
 * No 5xx is allowed at all here, for bad input or for valid events: every dependency a function
 * has in this test cannot fail (a recorded cluster that only ever reads and keeps state
 * annotations and sweep's ConfigMap, local sinks that always answer 2xx), so a 5xx could only be the function's own
 * fault. The one transient fault a function reports by design, notify's 503 when a sink failed,
 * would need a failing sink and has none here: no target sets `Target.transient` (harness.ts).
 *
 * Each target first answers the regression corpus (regressions.ts: the faults of issue 15, and
 * what this suite found), every case of it checked, then RUNS generated cases (fast-check).
 *
 * FUZZ_RUNS=<n> changes the number of cases per target (default 3,000); FUZZ_SEED=<n> the seeds;
 * FUZZ_SURVEY=1 lists every kind of violation instead of stopping at the first (harness.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import alerts from '../../functions/alerts/index.js';
import classify from '../../functions/classify/index.js';
import deadletter from '../../functions/deadletter/index.js';
import enrich from '../../functions/enrich/index.js';
import notify from '../../functions/notify/index.js';
import recover, { RECOVER_CLASSES } from '../../functions/recover/index.js';
import scale from '../../functions/scale/index.js';
import sweep from '../../functions/sweep/index.js';
import {
  ACTION_VERBS,
  actionType,
  ENRICHED_CLASSES,
  enrichedType,
  RESOLVED_TYPE,
  SIGNAL_CLASSES,
  signalType,
  PING_TYPE,
} from '../../functions/_contracts/events.js';
import { ConflictError } from '../../functions/_kit/errors.js';
import { startServer, type FunctionDefinition, type RunningServer } from '../../functions/_kit/index.js';
import type { KubeObject, ObjectRef } from '../../functions/_kit/k8s.js';
import { RecordedCluster } from '../../dev/mesh/recorded.js';
import { attrsOfHeaders, bridgeSeeds, examplesOf, incident, pingSeeds, reflexSeed, type Json, type Seed } from './corpus.js';
import { cases, dataOp, mutateData, render, toJson, type Case } from './generators.js';
import { COMMON, DEEP_EVIDENCE_COUNT, DEEP_EVIDENCE_OBJECT, LONG_TARGET_NAME } from './regressions.js';
import { corpus, growth, measured, problemFault, property, surveyed, table, tally, type Tally, type Target } from './harness.js';
import { agent, send } from './http.js';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 3000);
/** Small, so sizes around it are cheap to send. */
const LIMIT = 65_536;
/**
 * Documented bound on what one target's run of RUNS cases may keep (RSS, heap and buffers, each
 * measured after a full collection): a leak of a few hundred bytes per case would pass it, a leak
 * of a body per case (64 KiB x 3,000) would not. Seen: RSS up to ~90 MiB for the first target
 * (its first run warms everything up), a few MiB of heap and buffers.
 */
const MEMORY_BOUND = 200 * 1024 * 1024;
/** The incident's clock: signals of the recording are recent, so they get past the age guard. */
const NOW = new Date('2026-11-22T10:07:00Z');
const now = (): Date => NOW;
/**
 * A clock that moves on two hours at every reading, for classify and notify: an occurrence
 * classify signalled is never held back as a duplicate (one hour) or a repeat (ten minutes), and
 * notify never groups a signal into one it already sent (ten minutes), so mutated input keeps
 * reaching what they make of it: classify's signal and its schema check, notify's messages.
 */
function moving(): () => Date {
  let ticks = 0;
  return () => new Date(NOW.getTime() + ticks++ * 2 * 3600_000);
}

// The real process (jest hands tests a copy whose listeners never fire): crashes are counted here.
const realProcess = process.getBuiltinModule('node:process');
const crashes: string[] = [];
const onRejection = (reason: unknown): void =>
  void crashes.push(`unhandledRejection: ${reason instanceof Error ? reason.stack : String(reason)}`);
const onException = (err: Error): void => void crashes.push(`uncaughtException: ${err.stack}`);

/** A local HTTP server that answers every request with `status` (K_SINK, notify's sinks). */
async function stub(status: number): Promise<{ url: string; hits: () => number; close(): Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits++;
      res.writeHead(status).end(status === 200 ? 'ok' : '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    hits: () => hits,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * The recording as a cluster. sweep keeps its open problems in a ConfigMap, which a replay's
 * cluster refuses to write (it never acts): here that one ConfigMap is kept, with its
 * resourceVersion precondition, so a tick runs to its end. Everything else is the recording's.
 */
class SweepCluster extends RecordedCluster {
  override async create<T extends object>(object: KubeObject & { kind: string }): Promise<T | undefined> {
    if (object.kind !== 'ConfigMap') return super.create(object);
    this.observe('ADDED', { ...object, metadata: { ...object.metadata, resourceVersion: '1' } } as never);
    return object as T;
  }

  override async patch(ref: ObjectRef, patch: object, type: 'merge' | 'json'): Promise<boolean> {
    if (ref.kind !== 'ConfigMap') return super.patch(ref, patch, type);
    const cm = await this.get<KubeObject & { data?: Record<string, string> }>(ref);
    if (!cm) return false;
    const { metadata, data } = patch as { metadata?: { resourceVersion?: string }; data?: Record<string, string> };
    if (metadata?.resourceVersion !== undefined && metadata.resourceVersion !== cm.metadata?.resourceVersion)
      throw new ConflictError(`${ref.name} changed`);
    const rv = String(Number(cm.metadata?.resourceVersion ?? '0') + 1);
    this.observe('MODIFIED', { ...cm, metadata: { ...cm.metadata, resourceVersion: rv }, data: { ...cm.data, ...data } } as never);
    return true;
  }
}

function recorded<C extends RecordedCluster>(cluster: C): C {
  for (const r of incident) cluster.observe(r.type, r.object as never);
  return cluster;
}

/** Every log line is written (debug), and dropped: logging odd input is part of handling it. */
const base = { PORT: '0', REFLEX_HOST: '127.0.0.1', REFLEX_MAX_BODY_BYTES: String(LIMIT), REFLEX_LOG_LEVEL: 'debug' };
const quiet = (): void => {};

let sink: Awaited<ReturnType<typeof stub>>;
let hooks: Awaited<ReturnType<typeof stub>>[] = [];
const servers: Record<string, RunningServer> = {};
const seeds: Record<string, Seed[]> = {};
let via: Agent;

/**
 * What `fn` really replies to each of `inputs`, as seeds: the signals classify sends for the
 * incident (recover's, scale's and notify's seeds), the actions recover and scale reply to those.
 */
async function replies(fn: string, inputs: readonly Seed[]): Promise<Seed[]> {
  const out: Seed[] = [];
  for (const s of inputs) {
    const plain = { mode: 'binary' as const, events: [{ seed: 0, attrOps: [], dataOps: [] }], headerOps: [], bodyOps: [] };
    const a = await send(servers[fn]!.url, render(plain, [s]), via);
    if (a.kind === 'response' && a.status === 200)
      out.push({ attrs: attrsOfHeaders(a.headers), data: JSON.parse(a.body.toString()) as Json });
  }
  return out;
}

beforeAll(async () => {
  realProcess.on('unhandledRejection', onRejection);
  realProcess.on('uncaughtException', onException);
  via = agent();
  sink = await stub(202);
  hooks = await Promise.all([stub(200), stub(200), stub(200), stub(200)]);
  const dir = mkdtempSync(join(tmpdir(), 'reflex-fuzz-'));
  writeFileSync(
    join(dir, 'routes.yaml'),
    `defaults: { groupWindowSeconds: 600, timeoutMs: 10000 }
sinks:
  - { name: slack, type: slack, urlEnv: SLACK_URL }
  - { name: teams, type: teams, urlEnv: TEAMS_URL }
  - { name: pager, type: pagerduty, urlEnv: PD_URL, secretEnv: PD_KEY }
  - { name: audit, type: webhook, urlEnv: HOOK_URL, secretEnv: HOOK_SECRET }
routes:
  - { name: everything audited, sinks: [audit], continue: true }
  - { name: page on critical, match: { severity: [critical] }, sinks: [pager, slack] }
  - { name: shop to teams, match: { namespace: [shop] }, sinks: [teams] }
  - { name: other warnings, match: { severity: [warning] }, sinks: [slack] }
  - { name: outcomes, on: action, match: { outcome: [escalated, failed, applied, dryrun] }, sinks: [slack, pager] }
`,
  );
  const start = <C>(def: FunctionDefinition<C>, env: Record<string, string>, extra: { cluster?: RecordedCluster; now?: () => Date } = {}) =>
    startServer(def, { env: { ...base, ...env }, logSink: quiet, now, ...extra });
  servers['classify'] = await start(classify, { REFLEX_RESOLVE_OWNERS: 'names' }, { now: moving() });
  servers['sweep'] = await start(sweep, { K_SINK: sink.url, REFLEX_RESOLVE_OWNERS: 'cluster' }, { cluster: recorded(new SweepCluster()) });
  servers['recover'] = await start(recover, { REFLEX_DRY_RUN: 'true' }, { cluster: recorded(new RecordedCluster()) });
  servers['scale'] = await start(scale, { REFLEX_DRY_RUN: 'true', K_SINK: sink.url }, { cluster: recorded(new RecordedCluster()) });
  servers['notify'] = await start(
    notify,
    {
      REFLEX_NOTIFY_ROUTES: join(dir, 'routes.yaml'),
      SLACK_URL: hooks[0]!.url,
      TEAMS_URL: hooks[1]!.url,
      PD_URL: hooks[2]!.url,
      PD_KEY: 'R0UTINGKEY0000000000000000000000',
      HOOK_URL: hooks[3]!.url,
      HOOK_SECRET: 'whsec-fuzz',
    },
    { now: moving() },
  );
  servers['deadletter'] = await start(deadletter, {});
  servers['enrich'] = await start(enrich, { REFLEX_ENRICH_TIMEOUT_MS: '500' }, { cluster: recorded(new RecordedCluster()) });

  // Seeds: real objects, and what the functions really make of them.
  const signalExample = examplesOf('dev.reflex.signal.json')[0] as Record<string, Json>;
  const asSignal = (data: Record<string, Json>): Seed =>
    reflexSeed(signalType(data['class'] as never), data, {
      reflexclass: String(data['class']),
      severity: String(data['severity']),
      targetkind: 'Deployment',
      targetns: 'shop',
      targetname: 'web',
      reason: String(data['reason']),
    });
  const signals = [...(await replies('classify', bridgeSeeds())), asSignal(signalExample)];
  const classOf = (s: Seed): string => (s.data as { class?: string }).class ?? '';
  const failures = signals.filter((s) => (RECOVER_CLASSES as readonly string[]).includes(classOf(s)));
  const high = signals.filter((s) => classOf(s) === 'loadhigh');
  const low = high.map((s) => ({
    attrs: { ...s.attrs, type: signalType('loadlow'), reflexclass: 'loadlow' },
    data: { ...(s.data as Record<string, Json>), class: 'loadlow' },
  }));
  const acted = [...(await replies('recover', failures)), ...(await replies('scale', [...high, ...low]))];
  const enriched = [
    ...(await replies('enrich', failures)),
    reflexSeed(enrichedType('crashloop'), examplesOf('dev.reflex.enriched.json')[0]!),
  ];
  seeds['classify'] = bridgeSeeds();
  seeds['sweep'] = [...pingSeeds, { ...pingSeeds[0]!, data: 'tick' }, { ...pingSeeds[0]!, data: undefined }];
  seeds['recover'] = failures;
  seeds['scale'] = [...high, ...low, ...pingSeeds];
  seeds['enrich'] = failures;
  seeds['notify'] = [
    ...signals,
    ...enriched,
    ...acted,
    reflexSeed(RESOLVED_TYPE, examplesOf('dev.reflex.resolved.json')[0]!),
    reflexSeed(actionType('rolledback'), examplesOf('dev.reflex.action.json')[0]!),
  ];
  seeds['deadletter'] = [...seeds['notify'], ...seeds['classify'].slice(0, 4), pingSeeds[0]!].map((s, i) =>
    i % 2 === 0
      ? s
      : {
          ...s,
          attrs: {
            ...s.attrs,
            knativeerrordest: 'http://recover.reflex.svc.cluster.local',
            knativeerrorcode: '500',
            knativeerrordata: Buffer.from('{"title":"boom"}').toString('base64'),
          },
        },
  );
  // The seeds must be what they claim: real events that reach the handlers.
  expect({ failures: failures.length > 3, high: high.length > 0, acted: acted.length > 3, enriched: enriched.length > 3 }).toEqual({
    failures: true,
    high: true,
    acted: true,
    enriched: true,
  });
}, 60_000);

afterAll(async () => {
  realProcess.off('unhandledRejection', onRejection);
  realProcess.off('uncaughtException', onException);
  for (const s of Object.values(servers)) await s.shutdown();
  await sink?.close();
  for (const h of hooks) await h.close();
  via?.destroy();
  console.log(
    `fuzz: functions (${RUNS} cases per target, body limit ${LIMIT} bytes)\n${table()}\n` +
      `notify's sinks received ${hooks.reduce((n, h) => n + h.hits(), 0)} messages; K_SINK (sweep's signals, scale's ticks) ${sink?.hits() ?? 0} events`,
  );
  if (process.env['FUZZ_SURVEY'] === '1') console.log(`fuzz survey:\n${surveyed()}`);
});

const TYPES: Record<string, string[]> = {
  classify: [
    'dev.knative.apiserver.resource.add',
    'dev.knative.apiserver.resource.update',
    'dev.knative.apiserver.resource.delete',
    'dev.knative.apiserver.ref.add',
    'dev.knative.apiserver.ref.delete',
  ],
  sweep: [PING_TYPE],
  recover: RECOVER_CLASSES.map(signalType),
  scale: [signalType('loadhigh'), signalType('loadlow'), PING_TYPE],
  enrich: ENRICHED_CLASSES.map(signalType),
  notify: [...SIGNAL_CLASSES.map(signalType), ...ENRICHED_CLASSES.map(enrichedType), ...ACTION_VERBS.map(actionType), RESOLVED_TYPE],
  deadletter: ['anything.at.all', RESOLVED_TYPE],
};

/** Each target's own regression cases (regressions.ts), beside the common ones. */
const EXAMPLES: Record<string, Case[]> = {
  classify: [LONG_TARGET_NAME],
  recover: [LONG_TARGET_NAME],
  scale: [LONG_TARGET_NAME, DEEP_EVIDENCE_COUNT],
  notify: [LONG_TARGET_NAME],
  enrich: [LONG_TARGET_NAME, DEEP_EVIDENCE_OBJECT],
};

/**
 * Seeds fixed per target: a failure names its seed and path, and replays exactly. FUZZ_SEED=<n>
 * explores elsewhere (n + 1 … n + 6), for a longer hunt by hand.
 */
const BASE_SEED = Number(process.env['FUZZ_SEED'] ?? 1500);
const NAMES = ['classify', 'sweep', 'recover', 'scale', 'notify', 'deadletter', 'enrich'];
const SEED: Record<string, number> = Object.fromEntries(NAMES.map((name, i) => [name, BASE_SEED + i + 1]));

const counted = new Map<string, Tally>();
/** One row per target in the closing table: its corpus and its generated cases. */
const countsOf = (name: string): Tally => counted.get(name) ?? counted.set(name, tally(name)).get(name)!;
const targetOf = (name: string): Target => ({ name, url: servers[name]!.url, seeds: seeds[name]!, agent: via });

describe('fuzz: every function, POST /', () => {
  it.each(NAMES)('%s: the regression corpus (every case answered by the contract)', async (name) => {
    await corpus(targetOf(name), [...COMMON, ...(EXAMPLES[name] ?? [])], countsOf(name));
  });

  it.each(NAMES)(
    '%s: generated cases: no 5xx, 4xx problem+json, 200 schema-valid, no crash, bounded memory',
    async (name) => {
      const t = targetOf(name);
      const counts = countsOf(name);
      const arbitrary = cases(t.seeds.length, {
        pristine: 20,
        modes: ['binary', 'binary', 'structured', 'batch'],
        types: TYPES[name]!,
        limit: LIMIT,
      });
      await measured(counts, () => fc.assert(property(t, arbitrary, counts), { seed: SEED[name]!, numRuns: RUNS }));
      // Still alive and well, and nothing escaped.
      const health = await send(t.url, { method: 'GET', path: '/healthz', headers: {}, body: Buffer.alloc(0) }, via);
      expect(health.kind === 'response' ? health.status : health).toBe(200);
      const ready = await send(t.url, { method: 'GET', path: '/readyz', headers: {}, body: Buffer.alloc(0) }, via);
      expect(ready.kind === 'response' ? ready.status : ready).toBe(200);
      expect(crashes).toEqual([]);
      const kept = growth(counts);
      expect([kept.rss, kept.heapUsed, kept.arrayBuffers].map((n) => n < MEMORY_BOUND)).toEqual([true, true, true]);
      // Enough of the cases were valid events the handler took (not all refused at the door).
      const accepted = [...counts.byStatus].filter(([s]) => s < 300).reduce((a, [, n]) => a + n, 0);
      expect(accepted).toBeGreaterThan(RUNS / 10);
    },
    170_000,
  );
});

/**
 * alerts takes Alertmanager's own JSON on POST /alertmanager, not CloudEvents: its notifications
 * (the schema's examples, as Alertmanager v0.35.0 posts them) mutated, with and without its
 * credentials and as other media types. Every answer is a 2xx or a problem+json 4xx (its sink,
 * K_SINK, always takes what it sends), and it stays healthy.
 */
describe('fuzz: alerts, POST /alertmanager', () => {
  const TOKEN = 'fuzz-alerts-token';
  it('mutated notifications: no 5xx, every 4xx problem+json, still healthy', async () => {
    const server = await startServer(alerts, {
      env: { ...base, K_SINK: sink.url, REFLEX_ALERTS_BEARER_TOKEN: TOKEN },
      logSink: quiet,
    });
    const counts = countsOf('alerts');
    const seeds = examplesOf('alertmanager/webhook.v4.json');
    const statuses = new Map<number, number>();
    try {
      await measured(counts, () =>
        fc.assert(
          fc.asyncProperty(
            fc.nat(seeds.length - 1),
            fc.array(dataOp, { maxLength: 5 }),
            fc.constantFrom('token', 'token', 'token', 'none', 'wrong', 'text/plain', 'no type'),
            async (i, ops, how) => {
              const { data, deep } = mutateData(seeds[i], ops);
              const headers: Record<string, string> = {
                ...(how === 'no type' ? {} : { 'content-type': how === 'text/plain' ? 'text/plain' : 'application/json' }),
                ...(how === 'none' ? {} : { authorization: `Bearer ${how === 'wrong' ? 'not-it' : TOKEN}` }),
              };
              const body = Buffer.from(toJson(data, deep));
              const a = await send(server.url, { method: 'POST', path: '/alertmanager', headers, body }, via);
              if (a.kind !== 'response') throw new Error(`no answer (${a.kind}) to ${body.subarray(0, 200).toString()}`);
              statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
              counts.byStatus.set(a.status, (counts.byStatus.get(a.status) ?? 0) + 1);
              const fault =
                a.status >= 500
                  ? `a ${a.status} for input`
                  : a.status >= 400
                    ? problemFault(a.status, a.headers, a.body.toString('utf8'))
                    : undefined;
              if (fault) throw new Error(`${fault}: ${how}, ${body.subarray(0, 300).toString()} -> ${a.body.subarray(0, 300).toString()}`);
            },
          ),
          { seed: BASE_SEED + 7, numRuns: Math.min(RUNS, 1500) },
        ),
      );
      const health = await send(server.url, { method: 'GET', path: '/healthz', headers: {}, body: Buffer.alloc(0) }, via);
      expect(health.kind === 'response' ? health.status : health).toBe(200);
      expect(crashes).toEqual([]);
      // Both ways out were taken: notifications taken, and refusals (401, 400, 415).
      expect([...statuses.keys()].some((s) => s < 300)).toBe(true);
      expect([...statuses.keys()].some((s) => s === 401)).toBe(true);
      expect([...statuses.keys()].some((s) => s === 400 || s === 415)).toBe(true);
    } finally {
      await server.shutdown();
    }
  }, 170_000);
});
