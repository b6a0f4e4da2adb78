/**
 * notify/target-book — the annotations of the objects messages are about (for
 * `reflex.dev/silence-until`), as this replica last read them: each object re-read at most every
 * `refreshMs` (one GET per target per interval, whatever the message rate), a read waited for
 * `waitMs` at most, and what was read kept when a read fails, so a slow or flaky API server
 * neither holds messages back nor lifts a silence by surprise. Read when a message is about to
 * be told, not when the signal was made: an annotation added, changed or removed since applies.
 */
import type { ObjectRef } from '../_kit/k8s.js';
import type { Logger } from '../_kit/logger.js';
import { waitAtMost, within } from '../_kit/deadline.js';

export interface Held {
  /** The annotations as last read; undefined: nothing read (no such object, not a kind notify reads, no answer yet). */
  readonly annotations: Readonly<Record<string, string>> | undefined;
  /** True for the first message to see a read's answer: what it says is logged once per read, not once per message. */
  readonly first: boolean;
}

export interface TargetBook {
  /** `ref` undefined: an object notify does not read (nothing is asked of the API server). */
  annotations(ref: ObjectRef | undefined): Promise<Held>;
}

export const noTargets: TargetBook = { annotations: async () => ({ annotations: undefined, first: false }) };

/** How long a message waits for its target to be read: past it, what was read before applies (or nothing). */
const READ_WAIT_MS = 2000;
/** Objects remembered: past it the oldest read goes (and costs one read when met again). */
const MAX_ENTRIES = 10_000;
/**
 * A read with no answer after this long is given up (the HTTP client's own timeout is minutes):
 * the next message after the refresh interval asks again, so an annotation changed meanwhile is
 * not hidden behind one hung request.
 */
const READ_TIMEOUT_MS = 10_000;

interface Entry {
  annotations: Readonly<Record<string, string>> | undefined;
  readAt: number;
  reading: Promise<void> | undefined;
  /** Which read is the newest: an answer to an older one, come late, is not used. */
  generation: number;
  /** A message has seen the last answer. */
  seen: boolean;
}

export function targetBook(options: {
  readonly load: (ref: ObjectRef) => Promise<Readonly<Record<string, string>> | undefined>;
  readonly refreshMs: number;
  readonly log: Logger;
  /** Monotonic time for the refresh interval (not the clock messages are judged by). */
  readonly clock?: () => number;
  readonly waitMs?: number;
  readonly maxEntries?: number;
  readonly readTimeoutMs?: number;
}): TargetBook {
  const clock = options.clock ?? (() => performance.now());
  const waitMs = options.waitMs ?? READ_WAIT_MS;
  const maxEntries = options.maxEntries ?? MAX_ENTRIES;
  const readTimeoutMs = options.readTimeoutMs ?? READ_TIMEOUT_MS;
  const entries = new Map<string, Entry>();
  /** Kinds whose last read failed: said once when they start failing, not on every message. */
  const failing = new Set<string>();

  const refresh = async (ref: ObjectRef, entry: Entry): Promise<void> => {
    const generation = ++entry.generation;
    try {
      // A hung read's late answer is not used: a newer read may exist.
      const annotations = await within(options.load(ref), readTimeoutMs, () => new Error(`no answer within ${readTimeoutMs} ms`));
      if (generation !== entry.generation) return;
      entry.annotations = annotations;
      entry.seen = false;
      failing.delete(ref.kind);
    } catch (err) {
      if (!failing.has(ref.kind))
        options.log.warn('the annotations of a message target could not be read; reflex.dev/silence-until applies as last read', {
          kind: ref.kind,
          object: ref.namespace ? `${ref.namespace}/${ref.name}` : ref.name,
          error: err instanceof Error ? err.message : String(err),
        });
      failing.add(ref.kind);
    }
  };

  return {
    async annotations(ref) {
      if (!ref) return { annotations: undefined, first: false };
      const id = `${ref.kind}/${ref.namespace ?? ''}/${ref.name}`;
      let entry = entries.get(id);
      if (!entry || (!entry.reading && clock() - entry.readAt >= options.refreshMs)) {
        entry ??= { annotations: undefined, readAt: 0, reading: undefined, generation: 0, seen: true };
        const e = entry;
        e.readAt = clock();
        e.reading = refresh(ref, e).finally(() => (e.reading = undefined));
        // Most recently read last: the oldest go first when there are too many.
        entries.delete(id);
        entries.set(id, e);
        while (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
      }
      const waited = clock() - entry.readAt;
      if (entry.reading && waited < waitMs) await waitAtMost(entry.reading, waitMs - waited);
      const first = !entry.seen;
      entry.seen = true;
      return { annotations: entry.annotations, first };
    },
  };
}
