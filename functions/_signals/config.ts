/** _signals/config — what classify and sweep share: the rules file and how targets are resolved. */
import { join } from 'node:path';
import { oneOf, type Env } from '../_kit/config.js';
import { kubeconfigOf } from '../_kit/k8s.js';
import { projectRoot } from '../_kit/schemas.js';
import { loadRules, type Rules } from './rules.js';

export interface SignalConfig {
  readonly rules: Rules;
  /**
   * cluster: follow ownerReferences through the API (503 when it is unreachable);
   * names: infer from controller naming patterns (no cluster, e.g. a replay).
   */
  readonly owners: 'cluster' | 'names';
}

/** The shipped rules: one file, used by the functions' default and by the ConfigMap in knative/. */
export const defaultRulesPath = (): string => join(projectRoot(), 'knative', 'config', 'classify-rules.yaml');

/** REFLEX_RULES_FILE (default: the shipped rules), REFLEX_RESOLVE_OWNERS (auto | cluster | names). */
export function parseSignalConfig(env: Env): SignalConfig {
  const rules = loadRules(env['REFLEX_RULES_FILE']?.trim() || defaultRulesPath());
  const mode = oneOf(env, 'REFLEX_RESOLVE_OWNERS', ['auto', 'cluster', 'names'] as const, 'auto');
  return { rules, owners: mode === 'auto' ? (kubeconfigOf(env) ? 'cluster' : 'names') : mode };
}
