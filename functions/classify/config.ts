/** classify/config — the rules file and how targets are resolved, parsed once at start-up. */
import { join } from 'node:path';
import { oneOf, type Env } from '../_kit/config.js';
import { projectRoot } from '../_kit/schemas.js';
import { loadRules, type Rules } from '../_signals/rules.js';
import { Recent } from './recent.js';

export interface ClassifyConfig {
  readonly rules: Rules;
  /**
   * cluster: follow ownerReferences through the API (503 when it is unreachable);
   * names: infer from controller naming patterns (no cluster, e.g. a replay).
   */
  readonly owners: 'cluster' | 'names';
  /** This server's memory of recent signals (the one mutable part: per server, never shared). */
  readonly recent: Recent;
}

export const defaultRulesPath = (): string => join(projectRoot(), 'functions', 'classify', 'rules.yaml');

export function parseClassifyConfig(env: Env): ClassifyConfig {
  const rules = loadRules(env['REFLEX_RULES_FILE']?.trim() || defaultRulesPath());
  const mode = oneOf(env, 'REFLEX_RESOLVE_OWNERS', ['auto', 'cluster', 'names'] as const, 'auto');
  const inCluster = Boolean(env['KUBERNETES_SERVICE_HOST'] || env['KUBECONFIG']);
  return Object.freeze({ rules, owners: mode === 'auto' ? (inCluster ? 'cluster' : 'names') : mode, recent: new Recent() });
}
