/**
 * notify/ledger — who told which sink about which problem in which window. In a cluster: claim
 * records shared by every replica (claims.ts, port.ts) behind a front cache in memory, so a
 * duplicate this replica already knows about costs no API call; alone: memory (groups.ts).
 */
import { ConflictError, retryOnConflict, UnavailableError } from '../_kit/errors.js';
import type { Logger } from '../_kit/logger.js';
import { judge, type ClaimPolicy, type ClaimRecord, type ClaimState, type Judgement } from './claims.js';
import type { Delivery } from './deliver.js';
import { Groups } from './groups.js';
import type { NotifyPort } from './port.js';
import { within as bounded } from '../_kit/deadline.js';

export type Told =
  /** This delivery told the sink (or tried: `delivery` says how it went). */
  | { readonly kind: 'told'; readonly delivery: Delivery; readonly heldSinceLast: number }
  /** The sink heard of this problem in this window already. */
  | { readonly kind: 'grouped'; readonly reason: string }
  /** Another replica is telling the sink now, or the last try failed: retry later (503), so a message is never lost. */
  | { readonly kind: 'busy'; readonly retryAfterSeconds: number; readonly reason: string };

/** Tells the sink through `send` if no one has in this window; `send` gets how many were held back since the last message. */
export type Send = (heldSinceLast: number) => Promise<Delivery>;

export interface Ledger {
  tell(sink: string, key: string, now: number, send: Send): Promise<Told>;
  /** Deletes claim records no longer needed, at most every so often; resolves to how many. */
  collect(now: number): Promise<number>;
}

/** Per replica, as before there was a cluster to share with: a restart or another replica may tell a sink once more. */
export function memoryLedger(windowMs: number, maxEntries?: number): Ledger {
  const groups = new Groups(maxEntries);
  return {
    async tell(sink, key, now, send) {
      const a = groups.admit(sink, key, now, windowMs);
      if (!a.send) return { kind: 'grouped', reason: a.reason };
      const delivery = await send(a.heldSinceLast);
      if (delivery.kind === 'transient') groups.failed(sink, key);
      else groups.settled(sink, key);
      return { kind: 'told', delivery, heldSinceLast: a.heldSinceLast };
    },
    collect: async () => 0,
  };
}

/** Every state write, by what it was for and how it went: the figures behind "writes per message". */
export type CountWrite = (op: 'create' | 'renew' | 'retake' | 'settle' | 'collect', outcome: 'ok' | 'conflict') => void;

interface Local {
  windowStart: number;
  state: ClaimState;
  /** Deliveries this replica held back in this window (said in the next window's message). */
  held: number;
}

/** Records quiet this long after their window are deleted; a recurring problem's record is reused (one write per window, not three). */
const COLLECT_AFTER_MS = 3600_000;
/** How often a replica looks for records to delete: one list per replica per interval. */
const COLLECT_EVERY_MS = 600_000;
/** Front cache size: past it, the oldest entries go (and cost one read when met again). */
const MAX_ENTRIES = 50_000;
/**
 * How long a delivery waits for the claim records (read and claim, or record): an API server that
 * hangs must not hold every message back; past it the replica groups alone (claim) or moves on
 * (record), and a write that lands late costs at most one extra message.
 */
const STORE_WAIT_MS = 5000;

/** `p`, or UnavailableError after `ms` (p goes on; its outcome is then ignored). */
const within = <T>(ms: number, what: string, p: Promise<T>): Promise<T> =>
  bounded(p, ms, () => new UnavailableError(`${what}: no answer from the API server within ${ms} ms`));

export class ClusterLedger implements Ledger {
  readonly #cache = new Map<string, Local>();
  /** One claim-and-send per sink and problem at a time on this replica; the others wait for it. */
  readonly #inflight = new Map<string, Promise<Told>>();
  #lastCollect = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly port: NotifyPort,
    private readonly policy: ClaimPolicy,
    private readonly io: { readonly log: Logger; readonly count: CountWrite; readonly fallback: Ledger },
  ) {}

  async tell(sink: string, key: string, now: number, send: Send): Promise<Told> {
    const id = `${sink}|${key}`;
    for (let waited = 0; ; waited++) {
      const local = this.#cache.get(id);
      if (local?.state === 'sent' && now - local.windowStart < this.policy.windowMs) {
        local.held++;
        return {
          kind: 'grouped',
          reason: `already told ${sink} about this problem ${Math.max(0, Math.round((now - local.windowStart) / 1000))}s ago`,
        };
      }
      const running = this.#inflight.get(id);
      if (!running) break;
      const r = await running;
      // The delivery ahead did not settle it (another replica holds it, or the sink failed): retry later.
      if (r.kind === 'busy') return r;
      if ((r.kind === 'told' && r.delivery.kind === 'transient') || waited >= 3)
        return { kind: 'busy', retryAfterSeconds: 1, reason: `the last attempt to tell ${sink} failed` };
    }
    const run = this.#run(id, sink, key, now, send);
    this.#inflight.set(id, run);
    try {
      return await run;
    } finally {
      this.#inflight.delete(id);
    }
  }

  #remember(id: string, local: Local): void {
    this.#cache.delete(id);
    this.#cache.set(id, local);
    while (this.#cache.size > MAX_ENTRIES) this.#cache.delete(this.#cache.keys().next().value!);
  }

  async #run(id: string, sink: string, key: string, now: number, send: Send): Promise<Told> {
    const local = this.#cache.get(id);
    const { me, claimTtlMs } = this.policy;
    type Claimed =
      | { readonly j: Exclude<Judgement, { kind: 'claim' }> }
      | { readonly j: Extract<Judgement, { kind: 'claim' }>; readonly next: ClaimRecord; readonly rv: string | undefined };
    let claimed: Claimed;
    try {
      const what = `the claim of ${sink} on problem ${key}`;
      claimed = await within(
        STORE_WAIT_MS,
        what,
        retryOnConflict(what, async () => {
          const record = await this.port.readClaim(sink, key);
          const j = judge(record, now, this.policy);
          if (j.kind !== 'claim') return { j } as Claimed;
          const next: ClaimRecord = {
            sink,
            key,
            windowStart: j.windowStart,
            state: 'sending',
            claimedBy: me,
            claimedAt: now,
            ttlMs: claimTtlMs,
          };
          try {
            const rv = await this.port.writeClaim(next, j.how === 'create' ? undefined : record?.resourceVersion);
            this.io.count(j.how, 'ok');
            return { j, next, rv };
          } catch (err) {
            if (err instanceof ConflictError) this.io.count(j.how, 'conflict');
            throw err;
          }
        }),
      );
    } catch (err) {
      if (err instanceof ConflictError) return { kind: 'busy', retryAfterSeconds: 1, reason: err.message };
      // The claim records cannot be read or written (the API server is down, RBAC, no namespace):
      // people are told anyway, grouped by this replica alone, rather than not at all.
      this.io.log.error('notify claim records unavailable: grouping by this replica alone', {
        sink,
        problem: key,
        error: err instanceof Error ? err.message : String(err),
      });
      const told = await this.io.fallback.tell(sink, key, now, send);
      // This replica at least will not tell the sink again in this window once the records are back.
      if (told.kind === 'told' && told.delivery.kind !== 'transient') this.#remember(id, { windowStart: now, state: 'sent', held: 0 });
      return told;
    }
    if (!('next' in claimed)) {
      const { j } = claimed;
      if (j.kind === 'busy') return j;
      this.#remember(id, { windowStart: j.windowStart, state: 'sent', held: (local?.windowStart === j.windowStart ? local.held : 0) + 1 });
      return { kind: 'grouped', reason: j.reason };
    }
    const { j } = claimed;
    const heldSinceLast = local && local.windowStart !== j.windowStart ? local.held : 0;
    this.#remember(id, { windowStart: j.windowStart, state: 'sending', held: 0 });
    let delivery: Delivery;
    try {
      delivery = await send(heldSinceLast);
    } catch (err) {
      this.#remember(id, { windowStart: j.windowStart, state: 'failed', held: 0 });
      await this.#settle(claimed.next, claimed.rv, 'failed');
      throw err;
    }
    const state: ClaimState = delivery.kind === 'transient' ? 'failed' : 'sent';
    this.#remember(id, { windowStart: j.windowStart, state, held: 0 });
    await this.#settle(claimed.next, claimed.rv, state);
    return { kind: 'told', delivery, heldSinceLast };
  }

  /**
   * Records the outcome on our claim, if it is still ours (same holder, same claim time). Not
   * recorded (the API server failed us): after the claim TTL another replica may retake it and
   * tell the sink once more — one extra message, never none.
   */
  async #settle(claim: ClaimRecord, createdVersion: string | undefined, state: ClaimState): Promise<void> {
    const what = `the claim of ${claim.sink} on problem ${claim.key}`;
    try {
      await within(
        STORE_WAIT_MS,
        what,
        retryOnConflict(what, async (attempt) => {
          let version = attempt === 1 ? createdVersion : undefined;
          if (version === undefined) {
            const now = await this.port.readClaim(claim.sink, claim.key);
            if (!now || now.claimedBy !== claim.claimedBy || now.claimedAt !== claim.claimedAt || now.state !== 'sending') {
              this.io.log.info('notify claim was taken over before its outcome was recorded', { sink: claim.sink, problem: claim.key });
              return;
            }
            version = now.resourceVersion;
          }
          if (version === undefined) return;
          try {
            await this.port.writeClaim({ ...claim, state }, version);
            this.io.count('settle', 'ok');
          } catch (err) {
            if (err instanceof ConflictError) this.io.count('settle', 'conflict');
            throw err;
          }
        }),
      );
    } catch (err) {
      this.io.log.warn('could not record what a sink was told; after the claim TTL one more message may follow', {
        sink: claim.sink,
        problem: claim.key,
        state,
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  async collect(now: number): Promise<number> {
    if (now - this.#lastCollect < COLLECT_EVERY_MS) return 0;
    this.#lastCollect = now;
    let deleted = 0;
    for (const c of await this.port.listClaims()) {
      const live = c.state === 'sending' && now - c.claimedAt < Math.max(c.ttlMs, this.policy.claimTtlMs);
      if (live || now - c.windowStart - this.policy.windowMs < COLLECT_AFTER_MS) continue;
      try {
        if (await this.port.deleteClaim(c)) deleted++;
        this.io.count('collect', 'ok');
      } catch (err) {
        // Renewed since it was listed (a new window): it stays.
        if (!(err instanceof ConflictError)) throw err;
        this.io.count('collect', 'conflict');
      }
    }
    return deleted;
  }
}
