/**
 * Fuzz (issue 15): the development broker's ingress, over real HTTP, with the same generated and
 * mutated CloudEvents as the functions (generators.ts). Its Brokers and Triggers are the real
 * ones of knative/ (every filter dialect Reflex ships) plus a Broker whose Triggers filter with
 * CESQL over the attributes the cases mutate, so every accepted event also runs the filters and
 * a delivery to a local subscriber. Invariants as for the functions (harness.ts): 202 empty,
 * 4xx problem+json naming the fault, never a 5xx; then the ingress still answers, every delivery
 * settles, nothing escaped as an unhandled rejection or exception, memory growth bounded.
 *
 * FUZZ_RUNS=<n> changes the number of cases (default 3,000); FUZZ_SEED=<n> the seed; FUZZ_SURVEY=1
 * lists every kind of violation instead of stopping at the first (harness.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevBroker, type BrokerRecord, type DevBroker } from '../../dev/mesh/broker.js';
import { loadMesh } from '../../dev/mesh/manifests.js';
import { bridgeSeeds, examplesOf, pingSeeds, reflexSeed, repo, type Json, type Seed } from './corpus.js';
import { cases, type Case } from './generators.js';
import { corpus, growth, measured, property, surveyed, table, tally, type Tally, type Target } from './harness.js';
import { COMMON } from './regressions.js';
import { agent, send } from './http.js';

const RUNS = Number(process.env['FUZZ_RUNS'] ?? 3000);
const LIMIT = 65_536;
/** Documented bound on what the run may keep (RSS, heap, buffers, after a full collection); see functions.test.ts. */
const MEMORY_BOUND = 200 * 1024 * 1024;

const realProcess = process.getBuiltinModule('node:process');
const crashes: string[] = [];
const onRejection = (reason: unknown): void =>
  void crashes.push(`unhandledRejection: ${reason instanceof Error ? reason.stack : String(reason)}`);
const onException = (err: Error): void => void crashes.push(`uncaughtException: ${err.stack}`);

/** Filters over what the cases mutate: the CESQL evaluator meets every odd value the generators make. */
const CESQL = [
  "type LIKE 'dev.reflex.signal.%' AND (severity = 'critical' OR LENGTH(subject) > 10)",
  "LOWER(source) LIKE '%10.96%' OR INT(knativeerrorcode) >= 500",
  "CONCAT(type, source, id, subject) LIKE '%a%b%c%d%e%f%g%h%'",
  "UPPER(name) IN ('WEB', 'WORKER', 'NODE-3') AND NOT EXISTS nope",
  "SUBSTRING(id, 1, 3) = 'bri' XOR IS_INT(reason)",
  "CONCAT_WS(',', kind, name, namespace, reason, validate, schemaurl, tojson) <> ''",
  'ABS(INT(knativebrokerttl)) % 7 = 3 OR TRIM(LEFT(subject, 5)) = RIGHT(type, 5)',
  "BOOL(validate) OR STRING(INT(time)) = '0' AND reflexclass LIKE '_rash%'",
];

function manifests(subscriber: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'reflex-fuzz-mesh-'));
  const triggers = CESQL.map(
    (expr, i) => `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: cesql-${i}, namespace: dev }
spec:
  broker: default
  filters:
    - cesql: ${JSON.stringify(expr)}
  subscriber: { uri: "${subscriber}" }`,
  );
  const legacy = `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: legacy, namespace: dev }
spec:
  broker: default
  filter: { attributes: { type: dev.knative.apiserver.resource.add, kind: Event } }
  subscriber: { uri: "${subscriber}" }`;
  const broker = `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default, namespace: dev }
spec:
  delivery: { retry: 1, deadLetterSink: { uri: "${subscriber}dead" } }`;
  writeFileSync(join(dir, 'mesh.yaml'), [broker, legacy, ...triggers].join('\n---\n'));
  // The repository's own Brokers and Triggers, and the CESQL ones beside them.
  writeFileSync(join(dir, 'kustomization.yaml'), `resources: [${JSON.stringify(join(repo, 'knative'))}, mesh.yaml]\n`);
  return dir;
}

let broker: DevBroker;
let subscriber: Server;
let subscriberUrl: string;
let delivered = 0;
const records: { delivered: number; failed: Map<string, number>; refused: number } = { delivered: 0, failed: new Map(), refused: 0 };
/** Deliveries that failed since the last case was checked. */
let failures: string[] = [];
let via: Agent;

beforeAll(async () => {
  realProcess.on('unhandledRejection', onRejection);
  realProcess.on('uncaughtException', onException);
  via = agent();
  subscriber = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      delivered++;
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => subscriber.listen(0, '127.0.0.1', r));
  subscriberUrl = `http://127.0.0.1:${(subscriber.address() as AddressInfo).port}/`;
  broker = await startDevBroker({
    mesh: loadMesh(manifests(subscriberUrl)),
    // Every Knative Service of knative/ is the local subscriber.
    resolve: () => subscriberUrl,
    maxBodyBytes: LIMIT,
    deliveryTimeoutMs: 10_000,
    sleep: async () => {},
    onRecord: (r: BrokerRecord) => {
      if (r.kind === 'refused') records.refused++;
      if (r.kind !== 'delivered') return;
      if (r.result.ok) records.delivered++;
      else {
        const why = `${r.result.status} ${(r.result.error ?? 'answered by the subscriber').replace(/\d+/g, '#').slice(0, 100)}`;
        records.failed.set(why, (records.failed.get(why) ?? 0) + 1);
        // Only what failed inside the broker (no answer from the subscriber at all): a subscriber's
        // own refusal (a 431 for attributes too large for its headers) is Knative's behaviour too.
        if (r.result.error !== undefined) failures.push(`Trigger ${r.trigger}: ${r.result.status} ${r.result.error}`);
      }
    },
  });
});

afterAll(async () => {
  realProcess.off('unhandledRejection', onRejection);
  realProcess.off('uncaughtException', onException);
  await broker?.idle();
  await broker?.close();
  await new Promise<void>((r) => {
    subscriber.closeAllConnections();
    subscriber.close(() => r());
  });
  via?.destroy();
  console.log(
    `fuzz: development broker (${RUNS} cases, maxBodyBytes ${LIMIT})\n${table()}\n` +
      `deliveries: ${records.delivered} ok, ${[...records.failed].map(([k, n]) => `${n} x ${k}`).join('; ') || 'none failed'}; ` +
      `${delivered} requests at the subscriber; ${records.refused} refused at the ingress`,
  );
  if (process.env['FUZZ_SURVEY'] === '1') console.log(`fuzz survey:\n${surveyed()}`);
});

/** Every kind of event there is: what the bridge sends, ticks, and Reflex's own. */
function seeds(): Seed[] {
  const signal = examplesOf('dev.reflex.signal.json')[0] as Record<string, Json>;
  return [
    ...bridgeSeeds(),
    ...pingSeeds,
    reflexSeed('dev.reflex.signal.crashloop', signal, { reflexclass: 'crashloop', severity: 'critical', reason: 'BackOff' }),
    reflexSeed('dev.reflex.action.rolledback', examplesOf('dev.reflex.action.json')[0]!),
    reflexSeed('dev.reflex.resolved', examplesOf('dev.reflex.resolved.json')[0]!),
    { ...pingSeeds[0]!, attrs: { ...pingSeeds[0]!.attrs, knativebrokerttl: '1' } },
  ];
}

/** Which Broker a case goes to: the repository's, the CESQL one, or one that does not exist (404). */
function pathOf(c: Case): string {
  const n = c.events[0]?.seed ?? 0;
  return n % 10 === 9 ? '/dev/nope' : n % 2 === 0 ? '/reflex/reflex' : '/dev/default';
}

function target(): Target {
  return {
    name: 'dev-broker',
    url: broker.url,
    seeds: seeds(),
    agent: via,
    path: pathOf,
    /**
     * The broker's own invariant: an event it accepted (202) is put on the wire to every
     * subscriber whose filter passes. The subscriber here answers 202 to whatever it can read,
     * so a delivery that failed without its answer failed inside the broker: the event was
     * accepted, then lost.
     */
    after: async () => {
      await broker.idle();
      const lost = failures;
      failures = [];
      return lost.length > 0
        ? `accepted, then not delivered: ${lost[0]!.slice(0, 300)}${lost.length > 1 ? ` (and ${lost.length - 1} more)` : ''}`
        : undefined;
    },
  };
}

let counts: Tally;

describe('fuzz: the development broker, POST /<namespace>/<broker>', () => {
  it('the regression corpus (every case answered by the contract)', async () => {
    counts = tally('dev-broker');
    // Seed 0 is even: every corpus case goes to the repository's Broker.
    await corpus(target(), COMMON, counts);
  });

  it('generated cases: no 5xx, 4xx problem+json, 202 empty, no crash, every delivery settles, bounded memory', async () => {
    const t = target();
    counts ??= tally('dev-broker');
    const arbitrary = cases(t.seeds.length, {
      pristine: 20,
      modes: ['binary', 'binary', 'structured', 'batch'],
      types: ['dev.knative.apiserver.resource.add', 'dev.reflex.signal.crashloop', 'dev.knative.sources.ping'],
      limit: LIMIT,
    });
    await measured(counts, async () => {
      await fc.assert(property(t, arbitrary, counts), { seed: Number(process.env['FUZZ_SEED'] ?? 1500) + 7, numRuns: RUNS });
      await broker.idle();
    });
    const listing = await send(broker.url, { method: 'GET', path: '/', headers: {}, body: Buffer.alloc(0) }, via);
    expect(listing.kind === 'response' ? listing.status : listing).toBe(200);
    expect(crashes).toEqual([]);
    const kept = growth(counts);
    expect([kept.rss, kept.heapUsed, kept.arrayBuffers].map((n) => n < MEMORY_BOUND)).toEqual([true, true, true]);
    expect(counts.byStatus.get(202) ?? 0).toBeGreaterThan(RUNS / 10);
  }, 170_000);
});
