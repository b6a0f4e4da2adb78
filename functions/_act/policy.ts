/** _act/policy — the guard part of an acting function's policy file, with its defaults. */
import { ConfigError } from '../_kit/errors.js';
import type { GuardPolicy } from './guard.js';

export interface RawGuardPolicy {
  dryRun?: boolean;
  protectedNamespaces?: string[];
  optIn?: { namespaceLabel?: string; workloadAnnotation?: string };
  budget?: { maxActions: number; windowSeconds: number };
  cooldownSeconds?: number;
  maxSignalAgeSeconds?: number;
}

/** The opt-in label (on a namespace) and annotation (on a workload) unless a policy names others. */
export const DEFAULT_OPT_IN = 'reflex.dev/enabled=true';

/** Never read, let alone written, unless a policy names others: the platform's and Reflex's own. */
export const DEFAULT_PROTECTED_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease', 'knative-*', 'reflex'];

function pair(v: string | undefined, key: string): readonly [string, string] | undefined {
  if (!v) return undefined;
  const [k, val] = v.split('=');
  if (!k || val === undefined) throw new ConfigError(key, `expected name=value, got ${JSON.stringify(v)}`);
  return [k, val];
}

/** `forceDryRun`: REFLEX_DRY_RUN=true wins over the file. Budget and cooldown defaults differ per function. */
export function parseGuardPolicy(
  raw: RawGuardPolicy,
  forceDryRun: boolean,
  defaults: Pick<GuardPolicy, 'budget' | 'cooldownSeconds'>,
): GuardPolicy {
  return {
    dryRun: forceDryRun || (raw.dryRun ?? false),
    protectedNamespaces: raw.protectedNamespaces ?? DEFAULT_PROTECTED_NAMESPACES,
    optIn: {
      namespaceLabel: pair(raw.optIn?.namespaceLabel ?? DEFAULT_OPT_IN, 'optIn.namespaceLabel'),
      workloadAnnotation: pair(raw.optIn?.workloadAnnotation ?? DEFAULT_OPT_IN, 'optIn.workloadAnnotation'),
    },
    budget: raw.budget ?? defaults.budget,
    cooldownSeconds: raw.cooldownSeconds ?? defaults.cooldownSeconds,
    // Classify re-signals a lasting problem every repeat window (600 s by default): 15 minutes
    // covers that and the Broker's retries; anything older is history.
    maxSignalAgeSeconds: raw.maxSignalAgeSeconds ?? 900,
  };
}
