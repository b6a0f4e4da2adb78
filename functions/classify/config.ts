/** classify/config — the shared signal configuration plus this server's memory of recent signals. */
import type { Env } from '../_kit/config.js';
import { parseSignalConfig, type SignalConfig } from '../_signals/config.js';

export type ClassifyConfig = SignalConfig;

export function parseClassifyConfig(env: Env): ClassifyConfig {
  return Object.freeze(parseSignalConfig(env));
}
