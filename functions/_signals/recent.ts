/**
 * _signals/recent — what this replica signalled lately, in two memories kept apart so that the
 * traffic one suppresses can never evict the other:
 * - occurrences (an Event's uid and count, a pod's uid and restart count…): drops the same
 *   occurrence delivered twice (at-least-once Broker, two sources). Many, short-lived.
 * - problems (one class on one target): holds back repeats inside the rule's window. Few.
 * A storm of 100,000 distinct occurrences of one problem fills the first and leaves the second
 * alone: the problem is signalled once per window. Each memory is bounded by time (an entry past
 * its window no longer counts) and by size; when full, the oldest entry goes, and if it still
 * counted the eviction is counted (`evictions`), since it may let a repeat through.
 * Per replica, in memory: with N replicas a problem can be signalled up to N times per window;
 * signal ids are deterministic and notify groups by problem key, so people hear of it once
 * (docs/reliability.md).
 */

/** Default sizes: ~300 bytes of heap per entry (measured: bench/storm.ts), so about 30 MiB and 12 MiB at most (docs/reliability.md). */
export const MAX_OCCURRENCES = 100_000;
export const MAX_PROBLEMS = 20_000;

/** One bounded, time-aware memory: key -> when it was recorded, until when it counts, and a value. */
type Memory = 'occurrences' | 'problems';

class Window {
  /** Insertion order is recording order (a re-record moves the key to the end). */
  readonly #at = new Map<string, { at: number; until: number; value: string }>();
  evictions = 0;
  constructor(
    readonly max: number,
    private readonly onEvict: () => void = () => {},
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
    this.#at.delete(key);
    this.#at.set(key, { at: now, until: now + windowMs, value });
    // Full: the oldest goes (O(1); Map keeps recording order). One past its window is simply gone;
    // one that still counted is an eviction, counted, since a repeat of it may now get through.
    while (this.#at.size > this.max) {
      const [oldest, e] = this.#at.entries().next().value!;
      this.#at.delete(oldest);
      if (e.until > now) {
        this.evictions++;
        this.onEvict();
      }
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
  readonly #problemOf: Window;

  constructor(options: { maxOccurrences?: number; maxProblems?: number; onEvict?: (memory: Memory) => void } = {}) {
    const evicted = options.onEvict ?? (() => {});
    this.occurrences = new Window(options.maxOccurrences ?? MAX_OCCURRENCES, () => evicted('occurrences'));
    this.problems = new Window(options.maxProblems ?? MAX_PROBLEMS, () => evicted('problems'));
    this.#problemOf = new Window(options.maxProblems ?? MAX_PROBLEMS);
  }

  /** The problem key last seen for this object and class, while that problem still counts. */
  knownProblem(objectKey: string, now: number): string | undefined {
    return this.#problemOf.valueWithin(objectKey, now);
  }

  /** Remembers which problem an object's finding belongs to, for as long as that problem's window. */
  linkProblem(objectKey: string, problemKey: string, now: number, windowMs: number): void {
    this.#problemOf.record(objectKey, now, windowMs, problemKey);
  }

  /** Entries evicted while they still counted, per memory (a repeat may have got through). */
  evictions(): { occurrences: number; problems: number } {
    return { occurrences: this.occurrences.evictions, problems: this.problems.evictions };
  }
}
