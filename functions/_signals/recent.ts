/**
 * _signals/recent — what this replica signalled lately, in memories kept apart so that the
 * traffic one suppresses can never evict the other:
 * - occurrences (an Event's uid and count, a pod's uid and restart count…): drops the same
 *   occurrence delivered twice (at-least-once Broker, two sources). Many, short-lived.
 * - problems (one class on one target): holds back repeats inside the rule's window. Few.
 * - objects (one class on one involved object -> its problem): recognises another occurrence on
 *   an object whose problem is known before its target is resolved. As many as the objects in
 *   trouble; losing one costs a target resolution, never a signal.
 * A storm of 100,000 distinct occurrences of one problem fills the first and leaves the second
 * alone: the problem is signalled once per window. Each memory is bounded by time (an entry past
 * its window no longer counts, and is dropped: see `prune`) and by size; when full, the entry that
 * expires soonest goes (so one past its window before any that still counts, whatever the rules'
 * windows), and if it still counted the eviction is counted (`evictions`), since it may let a
 * repeat through (or, for objects, cost a target resolution).
 * Per replica, in memory: with N replicas a problem can be signalled up to N times per window
 * (docs/reliability.md#repeats-in-a-storm says why that is acceptable).
 */

/** Default sizes; measured heap per memory when full: bench/storm.ts, docs/reliability.md. */
export const MAX_OCCURRENCES = 100_000;
export const MAX_PROBLEMS = 20_000;

export type Memory = 'occurrences' | 'problems' | 'objects';

/**
 * Entries past their window dropped on each record, those that expire soonest first: more than
 * one, so that a memory shrinks back towards what still counts while traffic continues at a lower
 * rate.
 */
const PRUNE_PER_RECORD = 2;
/** A full memory is logged at most once a minute per memory, with the evictions since the last line. */
export const EVICTION_LOG_MS = 60_000;

/**
 * Stale or consumed slots a queue may hold beyond its live entries before it is rebuilt (an O(n)
 * copy, so amortised O(1) a record).
 */
const ORDER_SLACK = 1024;
/**
 * How far back from a queue's end an entry recorded with an earlier clock (records awaiting a
 * lookup finish out of order; the wall clock may step back) is slotted in to keep the queue in
 * expiry order, at O(distance); one further back starts a queue of its own (there are few: one per
 * step back that long ago, while its entries last) ...
 */
const REORDER_MAX = 64;
/** ... up to this many per window; beyond, an entry is slotted in wherever it belongs (O(n), a clock gone wild). */
const QUEUES_PER_WINDOW_MAX = 4;

/**
 * Entries of one window length in expiry order (with the clock, recording order), the soonest at
 * `head`. A slot before `head` is consumed (undefined); one whose key was recorded again since is
 * stale (skipped), its entry kept only for its place in the order.
 */
interface Queue {
  readonly windowMs: number;
  items: Entry[];
  head: number;
  /** Entries here that are the ones their keys map to. */
  live: number;
}

interface Entry {
  readonly key: string;
  readonly at: number;
  readonly until: number;
  readonly value: string;
  /** Recording sequence: among entries that expire at the same time, the earlier recorded goes first. */
  readonly seq: number;
  readonly queue: Queue;
}

/** Whether `a` goes before `b`: expires sooner, or at the same time and was recorded earlier. */
const before = (a: Entry, b: Entry): boolean => a.until < b.until || (a.until === b.until && a.seq < b.seq);

/**
 * One bounded, time-aware memory: key -> when it was recorded, until when it counts, and a value.
 * Entries of different windows (rules differ in repeatAfterSeconds) do not expire in recording
 * order, so they are queued by window: within a queue recording order is expiry order, and the
 * entry that expires soonest is the head of one of the few queues. Expired entries are dropped from
 * there, and a full memory evicts from there: an entry that still counts goes only when none held
 * is past its window, and then the one that would have gone soonest.
 */
class Window {
  readonly #at = new Map<string, Entry>();
  /**
   * The queues, beside the Map: V8 leaves a slot behind each deletion from a Map and every walk from
   * its oldest end steps over all of them: popping the oldest of 20,000 took ~15 µs, against ~0.3 µs
   * from an array (measured on the 2-core development machine, Node 24), and a full memory pops on
   * every record.
   */
  readonly #queues: Queue[] = [];
  /** The queue each window records into (the last of its queues). */
  readonly #tail = new Map<number, Queue>();
  #seq = 0;
  evictions = 0;
  constructor(
    readonly max: number,
    private readonly onEvict: (now: number) => void = () => {},
  ) {}

  get size(): number {
    return this.#at.size;
  }

  /** Milliseconds since `key` was recorded, if it still counts at `now`. */
  ageWithin(key: string, now: number): number | undefined {
    const e = this.#at.get(key);
    return e !== undefined && now < e.until ? now - e.at : undefined;
  }

  /** The value recorded with `key`, if it still counts at `now`. */
  valueWithin(key: string, now: number): string | undefined {
    const e = this.#at.get(key);
    return e !== undefined && now < e.until ? e.value : undefined;
  }

  record(key: string, now: number, windowMs: number, value = ''): void {
    const old = this.#at.get(key);
    if (old !== undefined) this.#release(old);
    const entry = this.#enqueue(key, now, windowMs, value);
    this.#at.set(key, entry);
    // Those that expire soonest first: a few entries past their window go (amortised, so that
    // expiry keeps pace with recording; the rest go when the size is read); then, while full, the
    // soonest to expire goes (past its window if any is). One that still counted is an eviction,
    // counted, since a repeat of it may now get through.
    let pruned = 0;
    for (let e = this.#soonest(); e !== undefined; e = this.#soonest()) {
      const counts = e.until > now;
      if (!counts && pruned < PRUNE_PER_RECORD) pruned++;
      else if (this.#at.size <= this.max) break;
      else if (counts) {
        this.evictions++;
        this.onEvict(now);
      }
      this.#drop(e);
    }
  }

  /**
   * Drops entries past their window, those that expire soonest first, at most `limit`; returns
   * how many went. Each entry is dropped once, so the cost is amortised over the records.
   */
  prune(now: number, limit = Infinity): number {
    let dropped = 0;
    for (let e = this.#soonest(); e !== undefined && dropped < limit && e.until <= now; e = this.#soonest()) {
      this.#drop(e);
      dropped++;
    }
    return dropped;
  }

  /** Queues a new entry in expiry order in its window's queue. */
  #enqueue(key: string, now: number, windowMs: number, value: string): Entry {
    const until = now + windowMs;
    let q = this.#tail.get(windowMs);
    let at = q === undefined ? 0 : this.#slot(q, until);
    if (q === undefined || (q.items.length - at > REORDER_MAX && this.#queuesOf(windowMs) < QUEUES_PER_WINDOW_MAX)) {
      q = { windowMs, items: [], head: 0, live: 0 };
      this.#queues.push(q);
      this.#tail.set(windowMs, q);
      at = 0;
    }
    const entry: Entry = { key, at: now, until, value, seq: this.#seq++, queue: q };
    if (at === q.items.length) q.items.push(entry);
    else q.items.splice(at, 0, entry);
    q.live++;
    return entry;
  }

  /** Where an entry expiring at `until` goes in `q`: after every entry expiring no later. */
  #slot(q: Queue, until: number): number {
    const items = q.items;
    let lo = q.head;
    let hi = items.length;
    if (hi === lo || items[hi - 1]!.until <= until) return hi;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (items[mid]!.until <= until) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #queuesOf(windowMs: number): number {
    let n = 0;
    for (const q of this.#queues) if (q.windowMs === windowMs) n++;
    return n;
  }

  /** The entry that expires soonest: the first of the queues' heads. */
  #soonest(): Entry | undefined {
    let first: Entry | undefined;
    for (const q of this.#queues) {
      const e = this.#head(q);
      if (e !== undefined && (first === undefined || before(e, first))) first = e;
    }
    return first;
  }

  /** A queue's first entry that is its key's, stepping past stale ones. */
  #head(q: Queue): Entry | undefined {
    for (; q.head < q.items.length; q.head++) {
      const e = q.items[q.head]!;
      if (this.#at.get(e.key) === e) return e;
      // A slot passed holds nothing: the entry, its key and value are garbage now, not in a year.
      (q.items as (Entry | undefined)[])[q.head] = undefined;
    }
    return undefined;
  }

  /** Drops `e`, the head of its queue. */
  #drop(e: Entry): void {
    this.#at.delete(e.key);
    const q = e.queue;
    (q.items as (Entry | undefined)[])[q.head++] = undefined;
    this.#release(e);
  }

  /** `e` is no longer its key's entry: its queue has one live entry fewer, and may be tidied. */
  #release(e: Entry): void {
    const q = e.queue;
    if (--q.live === 0) {
      // Nothing of it counts any more: the queue goes, its stale slots with it.
      this.#queues.splice(this.#queues.indexOf(q), 1);
      if (this.#tail.get(q.windowMs) === q) this.#tail.delete(q.windowMs);
    } else if (q.items.length - q.head > 2 * q.live + ORDER_SLACK) {
      // Stale slots outnumber the live ones: one walk over the queue, now and then.
      q.items = q.items.slice(q.head).filter((x) => x !== e && this.#at.get(x.key) === x);
      q.head = 0;
    } else if (q.head > ORDER_SLACK && q.head * 2 > q.items.length) {
      q.items = q.items.slice(q.head);
      q.head = 0;
    }
  }
}

export class Recent {
  readonly occurrences: Window;
  readonly problems: Window;
  /**
   * The problem an object's finding of a class belongs to (class|involved -> problem key), so that
   * another occurrence on the same object is recognised as a repeat before its target is resolved
   * and its signal built. Bounded like the problems.
   */
  readonly objects: Window;

  constructor(options: { maxOccurrences?: number; maxProblems?: number; onEvict?: (memory: Memory, now: number) => void } = {}) {
    const evicted = options.onEvict ?? (() => {});
    this.occurrences = new Window(options.maxOccurrences ?? MAX_OCCURRENCES, (now) => evicted('occurrences', now));
    this.problems = new Window(options.maxProblems ?? MAX_PROBLEMS, (now) => evicted('problems', now));
    this.objects = new Window(options.maxProblems ?? MAX_PROBLEMS, (now) => evicted('objects', now));
  }

  /** The problem key last seen for this object and class, while that problem still counts. */
  knownProblem(objectKey: string, now: number): string | undefined {
    return this.objects.valueWithin(objectKey, now);
  }

  /** Remembers which problem an object's finding belongs to, for as long as that problem's window. */
  linkProblem(objectKey: string, problemKey: string, now: number, windowMs: number): void {
    this.objects.record(objectKey, now, windowMs, problemKey);
  }

  /** Each memory's size once what no longer counts at `now` is dropped (read when metrics are scraped). */
  sizes(now: number): Record<Memory, number> {
    const sizeOf = (w: Window): number => (w.prune(now), w.size);
    return { occurrences: sizeOf(this.occurrences), problems: sizeOf(this.problems), objects: sizeOf(this.objects) };
  }

  /** Entries evicted while they still counted, per memory (a repeat may have got through). */
  evictions(): Record<Memory, number> {
    return { occurrences: this.occurrences.evictions, problems: this.problems.evictions, objects: this.objects.evictions };
  }
}

/**
 * A full memory, told at most once per memory per `everyMs` (a storm evicts thousands a second):
 * `write` gets the evictions since its last line for that memory, this one included.
 */
export function evictionLog(
  write: (memory: Memory, evicted: number) => void,
  everyMs = EVICTION_LOG_MS,
): (memory: Memory, now: number) => void {
  const last = new Map<Memory, { at: number; since: number }>();
  return (memory, now) => {
    const l = last.get(memory);
    if (l && now - l.at < everyMs && now >= l.at) {
      l.since++;
      return;
    }
    write(memory, (l?.since ?? 0) + 1);
    last.set(memory, { at: now, since: 0 });
  };
}
