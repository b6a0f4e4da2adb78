/** classify/config — the shared signal configuration plus the size of this server's memory of recent signals. */
import { intFrom, type Env } from '../_kit/config.js';
import { parseSignalConfig, type SignalConfig } from '../_signals/config.js';
import { OWNER_CACHE } from '../_signals/owners-kube.js';
import { MAX_OCCURRENCES, MAX_PROBLEMS } from '../_signals/recent.js';

export interface ClassifyConfig extends SignalConfig {
  /** REFLEX_RECENT_OCCURRENCES: occurrences remembered to drop duplicate deliveries (default 100,000). */
  readonly maxOccurrences: number;
  /** REFLEX_RECENT_PROBLEMS: problems remembered to hold back repeats in their window (default 20,000). */
  readonly maxProblems: number;
  /** REFLEX_OWNER_CACHE: owner lookups kept for a minute, sparing the API server in a burst (default 5,000). */
  readonly ownerCache: number;
}

export function parseClassifyConfig(env: Env): ClassifyConfig {
  return Object.freeze({
    ...parseSignalConfig(env),
    maxOccurrences: intFrom(env, 'REFLEX_RECENT_OCCURRENCES', MAX_OCCURRENCES, { min: 100, max: 10_000_000 }),
    maxProblems: intFrom(env, 'REFLEX_RECENT_PROBLEMS', MAX_PROBLEMS, { min: 100, max: 1_000_000 }),
    ownerCache: intFrom(env, 'REFLEX_OWNER_CACHE', OWNER_CACHE, { min: 0, max: 1_000_000 }),
  });
}
