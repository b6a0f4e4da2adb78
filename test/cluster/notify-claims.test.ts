/**
 * notify's grouping across replicas and restarts, on the real control plane, as notify's own
 * ServiceAccount with exactly knative/notify/rbac.yaml (issue 20). Two notify servers (their own
 * memory, the same cluster) receive the same signal concurrently and repeatedly, 1-5 copies each,
 * interleaved, one restarted in between; a Broker-like sender retries what is answered 5xx. Each
 * sink (local HTTP servers standing in for Slack and a webhook) hears of the problem exactly once
 * per window. The state writes are read from the API server's audit log, per message and per
 * duplicate. Then the same with two notify processes, started as production starts them
 * (scripts/function.ts), in real time, one stopped with SIGTERM and started again between rounds.
 * Crashes between claim and record are staged with a claim record of a replica that never comes back.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import notify from '../../functions/notify/index.js';
import { claimName, notifyPort } from '../../functions/notify/port.js';
import { ConflictError, kubeCluster, startServer, type RunningServer } from '../../functions/_kit/index.js';
import { adminKubeconfigPath, asFunction, writesBy, type AuditedWrite } from './kube.js';
import { startSink, type Sink } from './sink.js';
import { freePort, start, waitFor, type Proc } from '../wire/process.js';

const ACCOUNT = 'system:serviceaccount:reflex:reflex-notify';
const TIMEOUT_MS = 2000;
/** The claim TTL the servers use: the sink timeout and notify's 5 s grace. */
const CLAIM_TTL_MS = TIMEOUT_MS + 5000;
const WINDOW_S = 600;
/**
 * The window of the processes, which run on real time: long enough for a round, a SIGTERM and a
 * start and two more rounds (about 3 s here), short enough to wait out for the next window.
 */
const PROCESS_WINDOW_S = 8;

let kubeconfig: string;
let slack: Sink;
let hook: Sink;
let routes: string;
/** The same sinks and route with a short window, for the processes that run in real time. */
let shortRoutes: string;
/** One clock for both replicas (near real time, so other files' records are never "an hour old" to it). */
let clock = Date.now();
const servers: RunningServer[] = [];

async function replica(): Promise<RunningServer> {
  const s = await startServer(notify, {
    env: {
      PORT: '0',
      REFLEX_HOST: '127.0.0.1',
      KUBECONFIG: kubeconfig,
      REFLEX_NOTIFY_STATE: 'cluster',
      REFLEX_NOTIFY_ROUTES: routes,
      REFLEX_CLUSTER_NAME: 'reflex-test',
      SLACK_URL: slack.url,
      HOOK_URL: hook.url,
      HOOK_SECRET: 'whsec-test',
    },
    now: () => new Date(clock),
    logSink: () => {},
  });
  servers.push(s);
  return s;
}

beforeAll(async () => {
  kubeconfig = await asFunction('notify');
  [slack, hook] = await Promise.all([startSink(200), startSink(200)]);
  routes = join(mkdtempSync(join(tmpdir(), 'reflex-notify-claims-')), 'routes.yaml');
  writeFileSync(
    routes,
    `defaults: { groupWindowSeconds: ${WINDOW_S}, timeoutMs: ${TIMEOUT_MS} }
sinks:
  - { name: slack, type: slack, urlEnv: SLACK_URL }
  - { name: audit, type: webhook, urlEnv: HOOK_URL, secretEnv: HOOK_SECRET }
routes:
  - { sinks: [slack, audit] }
`,
  );
  shortRoutes = join(mkdtempSync(join(tmpdir(), 'reflex-notify-processes-')), 'routes.yaml');
  writeFileSync(
    shortRoutes,
    `defaults: { groupWindowSeconds: ${PROCESS_WINDOW_S}, timeoutMs: ${TIMEOUT_MS} }
sinks:
  - { name: slack, type: slack, urlEnv: SLACK_URL }
  - { name: audit, type: webhook, urlEnv: HOOK_URL, secretEnv: HOOK_SECRET }
routes:
  - { sinks: [slack, audit] }
`,
  );
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.shutdown()));
  await Promise.all([slack, hook].map((s) => s.close()));
});

let n = 0;
const newKey = (): string => Array.from({ length: 16 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');

/** One delivery as the Broker makes it: the same event again while the answer is retryable (5xx). */
async function deliver(url: string, key: string, retries = 40): Promise<{ status: number; attempts: number }> {
  const id = `claims-${++n}`;
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'ce-specversion': '1.0',
        'ce-id': id,
        'ce-source': '/reflex/classify',
        'ce-type': 'dev.reflex.signal.crashloop',
        'content-type': 'application/json',
      },
      body: JSON.stringify({
        class: 'crashloop',
        severity: 'warning',
        reason: 'BackOff',
        message: 'Back-off restarting failed container web',
        target: {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          namespace: 'shop',
          name: `web-${key.slice(0, 6)}`,
          resolvedBy: 'ownerReferences',
        },
        involved: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: `web-${key.slice(0, 6)}-7d9c8b5f4-x2x7q` },
        occurrences: 3,
        firstSeen: new Date(clock - 60_000).toISOString(),
        lastSeen: new Date(clock).toISOString(),
        detectedBy: 'classify',
        key,
      }),
    });
    await res.text();
    if (res.status < 500 || attempt > retries) return { status: res.status, attempts: attempt };
    await new Promise((r) => setTimeout(r, 50 * Math.min(attempt, 6)));
  }
}

/** What each sink was told about the problem `key`. */
const told = (key: string): [number, number] => [
  slack.received.filter((r) => r.body.includes(`problem ${key}`)).length,
  hook.received.filter((r) => r.body.includes(`"key":"${key}"`)).length,
];

/** A seeded sequence, so a failing interleaving replays. */
function seeded(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
}

/** Both replicas get 1-5 copies each, all at once, in a shuffled order. */
async function burst(a: { readonly url: string }, b: { readonly url: string }, key: string, random: () => number): Promise<number> {
  const copies = [...Array<string>(1 + Math.floor(random() * 5)).fill(a.url), ...Array<string>(1 + Math.floor(random() * 5)).fill(b.url)];
  for (let i = copies.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copies[i], copies[j]] = [copies[j]!, copies[i]!];
  }
  const answers = await Promise.all(copies.map((url) => deliver(url, key)));
  expect(answers.map((x) => x.status)).toEqual(copies.map(() => 202));
  return copies.length;
}

const leaseWrites = (key: string): AuditedWrite[] => {
  const names = new Set([claimName('slack', key), claimName('audit', key)]);
  return writesBy(ACCOUNT, (w) => w.resource === 'leases' && names.has(w.name ?? ''));
};

describe('two replicas, one cluster', () => {
  it('exactly one message per sink per window, whatever the copies, the interleaving and a restart', async () => {
    const seed = Number(process.env['NOTIFY_CLAIMS_SEED'] ?? 20);
    const random = seeded(seed);
    const a = await replica();
    let b = await replica();
    const key = newKey();
    let deliveries = 0;

    // Window 1: three bursts, replica B restarted (its memory gone) between the first and the second.
    deliveries += await burst(a, b, key, random);
    await b.shutdown();
    b = await replica();
    clock += 30_000;
    deliveries += await burst(a, b, key, random);
    clock += 30_000;
    deliveries += await burst(b, a, key, random);
    expect(told(key)).toEqual([1, 1]);

    // Window 2: told once more each, and no more.
    clock += WINDOW_S * 1000;
    deliveries += await burst(a, b, key, random);
    deliveries += await burst(b, a, key, random);
    expect(told(key)).toEqual([2, 2]);

    // The figures: state writes per message and per duplicate, from the API server's audit log.
    const writes = leaseWrites(key);
    const ok = writes.filter((w) => w.code < 300);
    const conflicts = writes.filter((w) => w.code === 409);
    const messages = 2 * 2; // two sinks, two windows
    const duplicates = 2 * deliveries - messages; // every delivery routes to both sinks
    process.stderr.write(
      `\nnotify state writes (seed ${seed}): ${deliveries} deliveries x 2 sinks -> ${messages} messages, ${duplicates} duplicates held back; ` +
        `${ok.length} writes (${ok.map((w) => w.verb).join(', ')}) = ${(ok.length / messages).toFixed(2)} per message, ` +
        `${conflicts.length} refused by a precondition (409, a concurrent claim) = ${(conflicts.length / duplicates).toFixed(3)} per duplicate\n`,
    );
    // Claim and record, per sink per window: a create then a patch; then a renew (patch) and a patch.
    expect(ok.map((w) => w.verb).sort()).toEqual(['create', 'create', 'patch', 'patch', 'patch', 'patch', 'patch', 'patch']);
    expect(writes.every((w) => w.code < 300 || w.code === 409)).toBe(true);
    // A duplicate writes nothing: the only other writes are claims that lost a race, at most one per other replica and window.
    expect(conflicts.length).toBeLessThanOrEqual(2 * 2);
  });
});

/** A notify process as the image runs one (scripts/function.ts), as notify's ServiceAccount, on its own port. */
interface ProcessReplica {
  readonly url: string;
  readonly proc: Proc;
}

const root = fileURLToPath(new URL('../..', import.meta.url));

async function processReplica(): Promise<ProcessReplica> {
  const port = await freePort();
  const proc = start(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'function.ts'), 'notify'], {
    PORT: String(port),
    REFLEX_HOST: '127.0.0.1',
    KUBECONFIG: kubeconfig,
    REFLEX_NOTIFY_STATE: 'cluster',
    REFLEX_NOTIFY_ROUTES: shortRoutes,
    REFLEX_CLUSTER_NAME: 'reflex-test',
    SLACK_URL: slack.url,
    HOOK_URL: hook.url,
    HOOK_SECRET: 'whsec-test',
    // Nothing of the shell running the tests: no traces exported.
    OTEL_EXPORTER_OTLP_ENDPOINT: '',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
  });
  const url = `http://127.0.0.1:${port}`;
  await Promise.race([
    waitFor(`${url}/readyz`, 200, 20_000),
    proc.exited.then((code) => Promise.reject(new Error(`notify exited (${code}) before it was ready:\n${proc.output()}`))),
  ]);
  return { url, proc };
}

/** SIGTERM, as Kubernetes stops a pod: the process drains and exits 0. */
async function stopProcess(r: ProcessReplica): Promise<number | null> {
  r.proc.child.kill('SIGTERM');
  return r.proc.exited;
}

describe('two notify processes, one cluster, real time', () => {
  it('exactly one message per sink per window: copies interleaved across two processes, one stopped (SIGTERM) and started again', async () => {
    const seed = Number(process.env['NOTIFY_CLAIMS_SEED'] ?? 20);
    const random = seeded(seed + 1);
    const key = newKey();
    const windowMs = PROCESS_WINDOW_S * 1000;
    const state = notifyPort(kubeCluster({ file: adminKubeconfigPath() }), 'reflex');
    /** When each sink's window began, as the claim records say (the replicas' clocks, not this one's). */
    const windowStarts = async (): Promise<number[]> =>
      Promise.all(['slack', 'audit'].map(async (sink) => (await state.readClaim(sink, key))?.windowStart ?? Number.NaN));
    const all: ProcessReplica[] = [];
    const replica = async (): Promise<ProcessReplica> => {
      const r = await processReplica();
      all.push(r);
      return r;
    };
    let [a, b] = await Promise.all([replica(), replica()]);
    let deliveries = 0;
    try {
      // Window 1: a round, B stopped and started again (its memory gone), two more rounds.
      deliveries += await burst(a, b, key, random);
      const [first] = await windowStarts();
      expect(await stopProcess(b)).toBe(0);
      b = await replica();
      deliveries += await burst(a, b, key, random);
      deliveries += await burst(b, a, key, random);
      const ended = Date.now();
      expect(told(key)).toEqual([1, 1]);
      // What this test stands on: all of that fell in one window (else the machine was too slow for it).
      expect(ended - first!).toBeLessThan(windowMs);

      // Between the windows A goes the same way, while the first window runs out.
      expect(await stopProcess(a)).toBe(0);
      a = await replica();
      const wait = Math.max(...(await windowStarts())) + windowMs + 100 - Date.now();
      await new Promise((r) => setTimeout(r, Math.max(0, wait)));

      // Window 2: told once more each, and no more.
      deliveries += await burst(a, b, key, random);
      deliveries += await burst(b, a, key, random);
      expect(told(key)).toEqual([2, 2]);
    } catch (err) {
      for (const r of all)
        process.stderr.write(`\n--- notify process ${r.proc.child.pid} ---\n${r.proc.output().split('\n').slice(-30).join('\n')}\n`);
      throw err;
    } finally {
      await Promise.all(
        [a, b].map((r) => (r.proc.child.exitCode === null && r.proc.child.signalCode === null ? stopProcess(r) : undefined)),
      );
    }
    // The claim records were there all along: no replica fell back to grouping alone.
    for (const r of all) expect(r.proc.output()).not.toContain('notify claim records unavailable');

    const writes = leaseWrites(key);
    const ok = writes.filter((w) => w.code < 300);
    const conflicts = writes.filter((w) => w.code === 409);
    const messages = 2 * 2;
    const duplicates = 2 * deliveries - messages;
    process.stderr.write(
      `\nnotify state writes, two processes (seed ${seed + 1}, ${all.length} starts, window ${PROCESS_WINDOW_S}s): ${deliveries} deliveries x 2 sinks -> ${messages} messages, ${duplicates} duplicates held back; ` +
        `${ok.length} writes (${ok.map((w) => w.verb).join(', ')}) = ${(ok.length / messages).toFixed(2)} per message, ` +
        `${conflicts.length} refused by a precondition (409, a concurrent claim) = ${(conflicts.length / duplicates).toFixed(3)} per duplicate\n`,
    );
    expect(ok.map((w) => w.verb).sort()).toEqual(['create', 'create', 'patch', 'patch', 'patch', 'patch', 'patch', 'patch']);
    expect(writes.every((w) => w.code < 300 || w.code === 409)).toBe(true);
    expect(conflicts.length).toBeLessThanOrEqual(2 * 2);
  }, 60_000);
});

describe('a replica that dies between claim and record', () => {
  /** A claim of a replica that never comes back, as it left it: `sending`, claimed now. */
  async function abandoned(sink: string, key: string): Promise<void> {
    const port = notifyPort(kubeCluster({ file: adminKubeconfigPath() }), 'reflex');
    await port.writeClaim(
      { sink, key, windowStart: clock, state: 'sending', claimedBy: 'dead-replica', claimedAt: clock, ttlMs: CLAIM_TTL_MS },
      undefined,
    );
  }

  it('died before telling the sink: deliveries are retried (503) until the claim lapses, then the sink is told once — never none', async () => {
    const [a, b] = [await replica(), await replica()];
    const key = newKey();
    await abandoned('slack', key);
    const early = await deliver(a.url, key, 0);
    expect(early.status).toBe(503);
    // The webhook, which nobody claimed, was told at once; Slack waits for the claim to lapse.
    expect(told(key)).toEqual([0, 1]);
    clock += CLAIM_TTL_MS;
    const answers = await Promise.all([a, b, a, b].map((s) => deliver(s.url, key)));
    expect(answers.map((x) => x.status)).toEqual([202, 202, 202, 202]);
    expect(told(key)).toEqual([1, 1]);
  });

  it('died after telling the sink, before recording it: at most one extra message', async () => {
    const [a, b] = [await replica(), await replica()];
    const key = newKey();
    await abandoned('slack', key);
    // What the dead replica sent before it died.
    await fetch(slack.url, { method: 'POST', body: JSON.stringify({ text: `problem ${key}` }) });
    clock += CLAIM_TTL_MS;
    await Promise.all([a, b, b, a, a].map((s) => deliver(s.url, key)));
    expect(told(key)).toEqual([2, 1]);
    clock += 60_000;
    await Promise.all([b, a].map((s) => deliver(s.url, key)));
    expect(told(key)).toEqual([2, 1]);
  });
});

describe('old claim records', () => {
  it('are deleted only at the version read (a delete precondition on the real API server)', async () => {
    const port = notifyPort(kubeCluster({ file: adminKubeconfigPath() }), 'reflex');
    const key = newKey();
    const claim = { sink: 'slack', key, windowStart: clock, state: 'sent' as const, claimedBy: 'x', claimedAt: clock, ttlMs: 7000 };
    await port.writeClaim(claim, undefined);
    const listed = (await port.listClaims()).find((c) => c.key === key)!;
    await port.writeClaim({ ...claim, windowStart: clock + 1 }, listed.resourceVersion);
    await expect(port.deleteClaim(listed)).rejects.toBeInstanceOf(ConflictError);
    const again = (await port.listClaims()).find((c) => c.key === key)!;
    expect(await port.deleteClaim(again)).toBe(true);
    expect(await port.readClaim('slack', key)).toBeUndefined();
  });
});
