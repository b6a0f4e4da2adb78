/**
 * notify/silence-book — the silences in force, as this replica last read them: re-read at most
 * every `refreshMs` (one GET of one ConfigMap, whatever the message rate), and kept as they were
 * when a read fails, so a flaky API server neither floods nor silences people by surprise.
 */
import type { Logger } from '../_kit/logger.js';
import { readSilences, type CompiledSilence } from './silences.js';
import { waitAtMost } from '../_kit/deadline.js';

export interface SilenceBook {
  /** The silences as last read (refreshed first when older than the interval). */
  current(): Promise<readonly CompiledSilence[]>;
}

/** How long a message waits for the silences to be re-read. */
const READ_WAIT_MS = 2000;

export const noSilences: SilenceBook = { current: async () => [] };

export function silenceBook(options: {
  readonly load: () => Promise<Readonly<Record<string, string>> | undefined>;
  readonly valid: (value: unknown) => boolean;
  readonly refreshMs: number;
  readonly log: Logger;
  /** Monotonic time for the refresh interval (not the clock messages are judged by). */
  readonly clock?: () => number;
  readonly waitMs?: number;
}): SilenceBook {
  const clock = options.clock ?? (() => performance.now());
  const waitMs = options.waitMs ?? READ_WAIT_MS;
  let silences: readonly CompiledSilence[] = [];
  let readAt = Number.NEGATIVE_INFINITY;
  let reading: Promise<void> | undefined;
  let complained = '';
  const refresh = async (): Promise<void> => {
    try {
      const data = await options.load();
      const { silences: read, invalid } = readSilences(data ?? {}, options.valid);
      silences = read;
      // Said once per change, not on every read.
      const said = invalid.join('\n');
      if (said !== complained && invalid.length > 0) options.log.warn('silences that cannot be used are ignored', { invalid });
      complained = said;
    } catch (err) {
      options.log.warn('silences could not be read; the last ones read still apply', {
        error: err instanceof Error ? err.message : String(err),
      });
    }
  };
  return {
    async current() {
      if (!reading && clock() - readAt >= options.refreshMs) {
        readAt = clock();
        reading = refresh().finally(() => (reading = undefined));
      }
      // A slow API server holds messages back for waitMs at most, once per read: then the last silences read apply.
      const waited = clock() - readAt;
      if (reading && waited < waitMs) await waitAtMost(reading, waitMs - waited);
      return silences;
    },
  };
}
