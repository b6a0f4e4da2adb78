/** recover/config — the policy file (REFLEX_RECOVER_POLICY), parsed once; REFLEX_DRY_RUN forces dry-run. */
import { join } from 'node:path';
import { boolFrom, countOrPercent, type CountOrPercent, type Env } from '../_kit/config.js';
import { loadConfigFile } from '../_kit/config-file.js';
import type { GuardPolicy } from '../_act/guard.js';
import { parseGuardPolicy, type RawGuardPolicy } from '../_act/policy.js';
import { projectRoot } from '../_kit/schemas.js';
import { bytesOf } from '../_kit/quantity.js';

export interface Policy extends GuardPolicy {
  readonly oomkilled: { readonly factor: number; readonly ceilingBytes: number };
  readonly evicted: { readonly olderThanSeconds: number };
  readonly nodes: { readonly graceSeconds: number; readonly maxUnhealthy: CountOrPercent };
}

export const POLICY_SCHEMA = 'https://reflex.dev/schemas/config/recover-policy.json';

interface RawPolicy extends RawGuardPolicy {
  oomkilled?: { factor?: number; ceiling?: string };
  evicted?: { olderThanSeconds?: number };
  nodes?: { graceSeconds?: number; maxUnhealthy?: string };
}

export function parsePolicy(raw: RawPolicy, forceDryRun: boolean): Policy {
  return Object.freeze({
    ...parseGuardPolicy(raw, forceDryRun, { budget: { maxActions: 3, windowSeconds: 3600 }, cooldownSeconds: 600 }),
    oomkilled: { factor: raw.oomkilled?.factor ?? 1.5, ceilingBytes: bytesOf(raw.oomkilled?.ceiling ?? '4Gi')! },
    evicted: { olderThanSeconds: raw.evicted?.olderThanSeconds ?? 600 },
    nodes: { graceSeconds: raw.nodes?.graceSeconds ?? 300, maxUnhealthy: countOrPercent(raw.nodes?.maxUnhealthy ?? '20%') },
  });
}

export interface RecoverConfig {
  readonly policy: Policy;
}

export function parseRecoverConfig(env: Env): RecoverConfig {
  const path = env['REFLEX_RECOVER_POLICY']?.trim() || join(projectRoot(), 'knative', 'config', 'recover-policy.yaml');
  const raw = loadConfigFile<RawPolicy>(path, POLICY_SCHEMA);
  return Object.freeze({ policy: parsePolicy(raw, boolFrom(env, 'REFLEX_DRY_RUN', false)) });
}
