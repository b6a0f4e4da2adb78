/** sweep/config — scope, window and look-back, parsed once at start-up. */
import { intFrom, type Env } from '../_kit/config.js';
import { ConfigError } from '../_kit/errors.js';
import { parseSignalConfig, type SignalConfig } from '../_signals/config.js';

export interface SweepConfig extends SignalConfig {
  /** Label selector of opted-in namespaces (REFLEX_NAMESPACE_SELECTOR). */
  readonly namespaceSelector: string;
  /** One signal per problem per window (REFLEX_SWEEP_WINDOW_SECONDS). */
  readonly windowSeconds: number;
  /** Warning Events older than this are history, not news (REFLEX_SWEEP_EVENT_LOOKBACK_SECONDS). */
  readonly eventLookbackSeconds: number;
  readonly sweepNodes: boolean;
  /** Ticks in a row a problem must be absent before it is declared resolved (REFLEX_SWEEP_RESOLVE_AFTER_TICKS). */
  readonly resolveAfterTicks: number;
}

export const DEFAULT_NAMESPACE_SELECTOR = 'reflex.dev/enabled=true';

export function parseSweepConfig(env: Env): SweepConfig {
  const selector = env['REFLEX_NAMESPACE_SELECTOR']?.trim() || DEFAULT_NAMESPACE_SELECTOR;
  // A selector that matches every namespace would sweep kube-system too: refuse the empty one.
  if (!/^[A-Za-z0-9./_-]+(\s*(=|==|!=)\s*[A-Za-z0-9._-]*)?(\s*,\s*[A-Za-z0-9./_-]+(\s*(=|==|!=)\s*[A-Za-z0-9._-]*)?)*$/.test(selector)) {
    throw new ConfigError('REFLEX_NAMESPACE_SELECTOR', `not a label selector: ${JSON.stringify(selector)}`);
  }
  return Object.freeze({
    ...parseSignalConfig(env),
    namespaceSelector: selector,
    windowSeconds: intFrom(env, 'REFLEX_SWEEP_WINDOW_SECONDS', 600, { min: 60, max: 86_400 }),
    eventLookbackSeconds: intFrom(env, 'REFLEX_SWEEP_EVENT_LOOKBACK_SECONDS', 900, { min: 60, max: 86_400 }),
    sweepNodes: env['REFLEX_SWEEP_NODES']?.trim().toLowerCase() !== 'false',
    resolveAfterTicks: intFrom(env, 'REFLEX_SWEEP_RESOLVE_AFTER_TICKS', 2, { min: 1, max: 100 }),
  });
}
