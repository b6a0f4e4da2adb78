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
 * its window no longer counts, and is dropped: see `prune`) and by size; when full, the oldest
 * entry goes, and if it still counted the eviction is counted (`evictions`), since it may let a
 * repeat through (or, for objects, cost a target resolution).
 * Per replica, in memory: with N replicas a problem can be signalled up to N times per window
 * (docs/reliability.md#repeats-in-a-storm says why that is acceptable).
 */

/** Default sizes; measured heap per memory when full: bench/storm.ts, docs/reliability.md. */
export const MAX_OCCURRENCES = 100_000;
export const MAX_PROBLEMS = 20_000;

export type Memory = 'occurrences' | 'problems' | 'objects';

/**
 * Entries past their window dropped from the oldest end on each record: more than one, so that a
 * memory shrinks back towards what still counts while traffic continues at a lower rate.
 */
const PRUNE_PER_RECORD = 2;
/** A full memory is logged at most once a minute per memory, with the evictions since the last line. */
export const EVICTION_LOG_MS = 60_000;

/**
 * Stale or consumed slots the recording order may hold beyond its live entries before it is
 * rebuilt (an O(n) copy, so amortised O(1) a record).
 */
const ORDER_SLACK = 1024;

interface Entry {
  readonly key: string;
  readonly at: number;
  readonly until: number;
  readonly value: string;
}

/** One bounded, time-aware memory: key -> when it was recorded, until when it counts, and a value. */
class Window {
  /** Insertion order is recording order (a re-record moves the key to the end). */
  readonly #at = new Map<string, Entry>();
  /**
   * The entries in recording order, the oldest at #head, so roughly expiry order. The Map has that
   * order too, but V8 leaves a slot behind each deletion and every walk from its oldest end steps
   * over all of them: popping the oldest of 20,000 took ~15 µs, against ~0.3 µs here (measured on
   * the 2-core development machine, Node 24), and a full memory pops on every record. An entry
   * whose key was recorded again since is stale: skipped.
   */
  #order: (Entry | undefined)[] = [];
  #head = 0;
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
    const entry = { key, at: now, until: now + windowMs, value };
    this.#at.delete(key);
    this.#at.set(key, entry);
    this.#order.push(entry);
    // From the oldest end: a few entries past their window go (amortised, so that expiry keeps
    // pace with recording; the rest go when the size is read); then, while full, the oldest goes.
    // One that still counted is an eviction, counted, since a repeat of it may now get through.
    let pruned = 0;
    for (let e = this.#oldest(); e !== undefined; e = this.#oldest()) {
      const counts = e.until > now;
      if (!counts && pruned < PRUNE_PER_RECORD) pruned++;
      else if (this.#at.size <= this.max) break;
      else if (counts) {
        this.evictions++;
        this.onEvict(now);
      }
      this.#dropOldest(e);
    }
    this.#compact();
  }

  /**
   * Drops entries past their window from the oldest end, at most `limit`, stopping at the first
   * that still counts; returns how many went. Each entry is dropped once, so the cost is
   * amortised over the records. Recording order is expiry order while a memory's windows agree
   * (occurrences: always; problems: each rule's repeatAfterSeconds, 600 s unless a rule says
   * otherwise); an entry behind a longer-windowed one waits for it, at most the longest window.
   */
  prune(now: number, limit = Infinity): number {
    let dropped = 0;
    for (let e = this.#oldest(); e !== undefined && dropped < limit && e.until <= now; e = this.#oldest()) {
      this.#dropOldest(e);
      dropped++;
    }
    this.#compact();
    return dropped;
  }

  /** The oldest entry, stepping past stale ones. */
  #oldest(): Entry | undefined {
    for (; this.#head < this.#order.length; this.#head++) {
      const e = this.#order[this.#head];
      if (e !== undefined && this.#at.get(e.key) === e) return e;
      // A slot passed holds nothing: the entry, its key and value are garbage now, not in a year.
      this.#order[this.#head] = undefined;
    }
    return undefined;
  }

  #dropOldest(e: Entry): void {
    this.#at.delete(e.key);
    this.#order[this.#head++] = undefined;
  }

  /** Forgets the consumed front, and stale entries once they outnumber the live ones. */
  #compact(): void {
    if (this.#order.length - this.#head > 2 * this.#at.size + ORDER_SLACK) {
      // The Map's order is recording order: one walk over it, now and then.
      this.#order = [...this.#at.values()];
      this.#head = 0;
    } else if (this.#head > ORDER_SLACK && this.#head * 2 > this.#order.length) {
      this.#order = this.#order.slice(this.#head);
      this.#head = 0;
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
