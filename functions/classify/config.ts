/** classify/config — the shared signal configuration plus this server's memory of recent signals. */
import type { Env } from '../_kit/config.js';
import { parseSignalConfig, type SignalConfig } from '../_signals/config.js';
import { Recent } from './recent.js';

export interface ClassifyConfig extends SignalConfig {
  /** This server's memory of recent signals (the one mutable part: per server, never shared). */
  readonly recent: Recent;
}

export function parseClassifyConfig(env: Env): ClassifyConfig {
  return Object.freeze({ ...parseSignalConfig(env), recent: new Recent() });
}
