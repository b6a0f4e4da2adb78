/** scale/config — the policy file (REFLEX_SCALE_POLICY), parsed once; REFLEX_DRY_RUN forces dry-run. */
import { join } from 'node:path';
import type { GuardPolicy } from '../_act/guard.js';
import { parseGuardPolicy, type RawGuardPolicy } from '../_act/policy.js';
import { boolFrom, countOrPercent, type CountOrPercent, type Env } from '../_kit/config.js';
import { ConfigError } from '../_kit/errors.js';
import { loadConfigFile } from '../_kit/config-file.js';
import { projectRoot } from '../_kit/schemas.js';

export type Step = CountOrPercent;

export interface Scaling {
  readonly min: number;
  readonly max: number;
  readonly stepUp: Step;
  readonly stepDown: Step;
  readonly upStabilizationSeconds: number;
  readonly downStabilizationSeconds: number;
  readonly quietSeconds: number;
  readonly allowZero: boolean;
  readonly hpa: 'adjust' | 'refuse';
}

export interface ScalePolicy extends GuardPolicy {
  readonly scaling: Scaling;
}

export interface ScaleConfig {
  readonly policy: ScalePolicy;
  /**
   * REFLEX_ALERTMANAGER_URL: where a load signal made from an Alertmanager alert is confirmed
   * (the alert active there now). Unset or empty: by the alert's own labels only (docs/security.md).
   */
  readonly alertmanagerUrl: string | undefined;
}

export const SCALE_POLICY_SCHEMA = 'https://reflex.dev/schemas/config/scale-policy.json';

interface RawScalePolicy extends RawGuardPolicy {
  scaling?: {
    min?: number;
    max?: number;
    stepUp?: string;
    stepDown?: string;
    upStabilizationSeconds?: number;
    downStabilizationSeconds?: number;
    quietSeconds?: number;
    allowZero?: boolean;
    hpa?: 'adjust' | 'refuse';
  };
}

export function parseScalePolicy(raw: RawScalePolicy, forceDryRun: boolean): ScalePolicy {
  const s = raw.scaling ?? {};
  return Object.freeze({
    ...parseGuardPolicy(raw, forceDryRun, { budget: { maxActions: 60, windowSeconds: 3600 }, cooldownSeconds: 0 }),
    scaling: {
      min: s.min ?? 1,
      max: s.max ?? 10,
      stepUp: countOrPercent(s.stepUp ?? '1'),
      stepDown: countOrPercent(s.stepDown ?? '1'),
      upStabilizationSeconds: s.upStabilizationSeconds ?? 30,
      downStabilizationSeconds: s.downStabilizationSeconds ?? 300,
      quietSeconds: s.quietSeconds ?? 600,
      allowZero: s.allowZero ?? false,
      hpa: s.hpa ?? 'adjust',
    },
  });
}

export function parseScaleConfig(env: Env): ScaleConfig {
  const path = env['REFLEX_SCALE_POLICY']?.trim() || join(projectRoot(), 'knative', 'config', 'scale-policy.yaml');
  const alertmanagerUrl = env['REFLEX_ALERTMANAGER_URL']?.trim() || undefined;
  if (alertmanagerUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(alertmanagerUrl))
    throw new ConfigError('REFLEX_ALERTMANAGER_URL', `expected an http(s) URL of Alertmanager, got ${JSON.stringify(alertmanagerUrl)}`);
  return Object.freeze({
    policy: parseScalePolicy(loadConfigFile<RawScalePolicy>(path, SCALE_POLICY_SCHEMA), boolFrom(env, 'REFLEX_DRY_RUN', false)),
    alertmanagerUrl,
  });
}
