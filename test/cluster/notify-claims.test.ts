/**
 * notify's grouping across replicas and restarts, on the real control plane, as notify's own
 * ServiceAccount with exactly knative/notify/rbac.yaml (issue 20). Two notify servers (their own
 * memory, the same cluster) receive the same signal concurrently and repeatedly, 1-5 copies each,
 * interleaved, one restarted in between; a Broker-like sender retries what is answered 5xx. Each
 * sink (local HTTP servers standing in for Slack and a webhook) hears of the problem exactly once
 * per window. The state writes are read from the API server's audit log, per message and per
 * duplicate. Crashes between claim and record are staged with a claim record of a replica that
 * never comes back.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import notify from '../../functions/notify/index.js';
import { claimName, notifyPort } from '../../functions/notify/port.js';
import { ConflictError, kubeCluster, startServer, type RunningServer } from '../../functions/_kit/index.js';
import { adminKubeconfigPath, asFunction, writesBy, type AuditedWrite } from './kube.js';
import { startSink, type Sink } from './sink.js';

const ACCOUNT = 'system:serviceaccount:reflex:reflex-notify';
const TIMEOUT_MS = 2000;
/** The claim TTL the servers use: the sink timeout and notify's 5 s grace. */
const CLAIM_TTL_MS = TIMEOUT_MS + 5000;
const WINDOW_S = 600;

let kubeconfig: string;
let slack: Sink;
let hook: Sink;
let routes: string;
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
async function burst(a: RunningServer, b: RunningServer, key: string, random: () => number): Promise<number> {
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
