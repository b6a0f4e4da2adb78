/**
 * The ledger over a shared store (an in-memory stand-in with the API server's resourceVersion
 * preconditions): replicas that share it tell each sink once per window; a crash between claim
 * and record costs at most one extra message, never none (issue 20). The real API server's part
 * is test/cluster/notify-claims.test.ts.
 */
import { describe, expect, it } from '@jest/globals';
import { ConflictError, UnavailableError } from '../_kit/errors.js';
import { createLogger } from '../_kit/logger.js';
import type { ClaimRecord } from './claims.js';
import type { Delivery } from './deliver.js';
import { ClusterLedger, memoryLedger, type Told } from './ledger.js';
import { claimName, type NotifyPort, type StoredClaim } from './port.js';

class FakeStore implements NotifyPort {
  readonly records = new Map<string, { record: ClaimRecord; rv: number }>();
  writes = 0;
  reads = 0;
  down = false;
  #rv = 0;

  async readClaim(sink: string, key: string): Promise<ClaimRecord | undefined> {
    if (this.down) throw new UnavailableError('API server down');
    this.reads++;
    await Promise.resolve();
    const r = this.records.get(claimName(sink, key));
    return r && { ...r.record, resourceVersion: String(r.rv) };
  }
  async writeClaim(next: ClaimRecord, rv: string | undefined): Promise<string | undefined> {
    if (this.down) throw new UnavailableError('API server down');
    this.writes++;
    await Promise.resolve();
    const name = claimName(next.sink, next.key);
    const cur = this.records.get(name);
    if (rv === undefined ? cur !== undefined : cur === undefined || String(cur.rv) !== rv) throw new ConflictError('conflict');
    const { resourceVersion: _, ...plain } = next;
    this.records.set(name, { record: plain, rv: ++this.#rv });
    return rv === undefined ? String(this.#rv) : undefined;
  }
  async listClaims(): Promise<StoredClaim[]> {
    return [...this.records.entries()].map(([name, r]) => ({ ...r.record, resourceVersion: String(r.rv), name }));
  }
  async deleteClaim(c: StoredClaim): Promise<boolean> {
    this.writes++;
    const cur = this.records.get(c.name);
    if (!cur) return false;
    if (String(cur.rv) !== c.resourceVersion) throw new ConflictError('conflict');
    return this.records.delete(c.name);
  }
  async silences(): Promise<undefined> {
    return undefined;
  }
  async annotations(): Promise<undefined> {
    return undefined;
  }
}

const quiet = createLogger('error', {}, () => {});
const policy = (me: string) => ({ windowMs: 600_000, claimTtlMs: 10_000, me });
const replica = (store: FakeStore, me: string): ClusterLedger =>
  new ClusterLedger(store, policy(me), { log: quiet, count: () => {}, fallback: memoryLedger(600_000) });

/** A sink that counts what it was told, answering `delivery` after a tick. */
function sink(delivery: Delivery = { kind: 'sent', status: 200 }) {
  const told: number[] = [];
  return {
    told,
    send: async (held: number): Promise<Delivery> => {
      told.push(held);
      await new Promise((r) => setTimeout(r, 1));
      return delivery;
    },
  };
}

const T = 1_000_000_000;

describe('ClusterLedger', () => {
  it('two replicas, many concurrent copies: one message; the copies are grouped or asked to retry, never sent', async () => {
    const store = new FakeStore();
    const [a, b] = [replica(store, 'a'), replica(store, 'b')];
    const s = sink();
    const outcomes = await Promise.all([a, b, a, b, a, a, b].map((r) => r.tell('slack', 'k1', T, s.send)));
    expect(s.told).toEqual([0]);
    expect(outcomes.filter((o) => o.kind === 'told')).toHaveLength(1);
    // Retried later (as the Broker does), every copy is grouped.
    const retried = await Promise.all(
      outcomes.filter((o) => o.kind === 'busy').map((_, i) => (i % 2 ? a : b).tell('slack', 'k1', T + 2000, s.send)),
    );
    expect(retried.every((o) => o.kind === 'grouped')).toBe(true);
    expect(s.told).toHaveLength(1);
  });

  it('costs two writes per message (claim, record) and none per duplicate; a duplicate this replica knows costs no read either', async () => {
    const store = new FakeStore();
    const a = replica(store, 'a');
    const s = sink();
    await a.tell('slack', 'k2', T, s.send);
    expect(store.writes).toBe(2);
    const reads = store.reads;
    for (let i = 0; i < 50; i++) expect((await a.tell('slack', 'k2', T + i * 1000, s.send)).kind).toBe('grouped');
    expect([store.writes, store.reads]).toEqual([2, reads]);
    // A replica that restarted (empty memory) reads once, then knows.
    const fresh = replica(store, 'a2');
    for (let i = 0; i < 5; i++) await fresh.tell('slack', 'k2', T + 60_000, s.send);
    expect([store.writes, store.reads]).toEqual([2, reads + 1]);
    // The next window: one renew and one record, and the count of what this replica held back.
    await a.tell('slack', 'k2', T + 600_000, s.send);
    expect(store.writes).toBe(4);
    expect(s.told).toEqual([0, 50]);
  });

  it('a transient sink failure is recorded, so the retry on any replica tells the sink at once', async () => {
    const store = new FakeStore();
    const [a, b] = [replica(store, 'a'), replica(store, 'b')];
    const failing = sink({ kind: 'transient', detail: 'HTTP 502' });
    expect(((await a.tell('slack', 'k3', T, failing.send)) as Told & { kind: 'told' }).delivery.kind).toBe('transient');
    const ok = sink();
    expect((await b.tell('slack', 'k3', T + 500, ok.send)).kind).toBe('told');
    expect((await a.tell('slack', 'k3', T + 1000, ok.send)).kind).toBe('grouped');
    expect([failing.told.length, ok.told.length]).toEqual([1, 1]);
  });

  it('a replica that dies after claiming: the others retry until the claim lapses, then one tells the sink (never none)', async () => {
    const store = new FakeStore();
    const dead = replica(store, 'dead');
    // It claims, and never comes back: no outcome is ever recorded.
    void dead.tell('slack', 'k4', T, () => new Promise<Delivery>(() => {}));
    await new Promise((r) => setTimeout(r, 5));
    const b = replica(store, 'b');
    const s = sink();
    const early = await b.tell('slack', 'k4', T + 3000, s.send);
    expect(early).toMatchObject({ kind: 'busy', retryAfterSeconds: 7 });
    expect((await b.tell('slack', 'k4', T + 10_000, s.send)).kind).toBe('told');
    expect(s.told).toHaveLength(1);
  });

  it('a replica that dies after telling the sink, before recording it: at most one extra message', async () => {
    const store = new FakeStore();
    const told: string[] = [];
    const dead = replica(store, 'dead');
    void dead.tell('slack', 'k5', T, async () => {
      told.push('dead');
      return new Promise<Delivery>(() => {});
    });
    await new Promise((r) => setTimeout(r, 5));
    const [b, c] = [replica(store, 'b'), replica(store, 'c')];
    const send = async (): Promise<Delivery> => {
      told.push('retake');
      return { kind: 'sent', status: 200 };
    };
    const after = await Promise.all([b, c, b, c].map((r) => r.tell('slack', 'k5', T + 11_000, send)));
    expect(told).toEqual(['dead', 'retake']);
    expect(after.filter((o) => o.kind === 'told')).toHaveLength(1);
  });

  it('when the store cannot be reached, people are still told, grouped by this replica alone', async () => {
    const store = new FakeStore();
    store.down = true;
    const a = replica(store, 'a');
    const s = sink();
    expect((await a.tell('slack', 'k6', T, s.send)).kind).toBe('told');
    expect((await a.tell('slack', 'k6', T + 1000, s.send)).kind).toBe('grouped');
    expect(s.told).toHaveLength(1);
  });

  it('collects records quiet for an hour after their window, at most every ten minutes, never a live claim', async () => {
    const store = new FakeStore();
    const a = replica(store, 'a');
    const s = sink();
    await a.tell('slack', 'old', T, s.send);
    await a.tell('slack', 'recent', T + 3_500_000, s.send);
    void replica(store, 'dying').tell('slack', 'live', T + 4_200_000, () => new Promise<Delivery>(() => {}));
    await new Promise((r) => setTimeout(r, 5));
    expect(await a.collect(T + 4_200_001)).toBe(1);
    expect([...store.records.values()].map((r) => r.record.key).sort()).toEqual(['live', 'recent']);
    expect(await a.collect(T + 4_300_000)).toBe(0);
  });
});
