/**
 * scale/decide — pure: a load signal or a tick + the workload's replicas, its HPA/KEDA owners,
 * scale's history on it, the policy (with annotation overrides) and now -> a new replica count
 * (or HPA minReplicas) with its reason, or why not.
 */
import { parseState, type ActionRecord, type ActState } from '../_act/guard.js';
import { amountOf, countOrPercent } from '../_kit/config.js';
import type { Scaling, Step } from './config.js';

export const STATE_ANNOTATION = 'reflex.dev/scale';

export type ScaleStep =
  { readonly do: 'replicas'; readonly to: number } | { readonly do: 'hpa-min'; readonly hpa: string; readonly to: number };
export interface ScaleState extends ActState<ScaleStep> {
  /** The last loadhigh seen (acted on or not): down-stabilization and the quiet window start here. */
  readonly lastHigh?: string;
}
export const parseScaleState = (annotations: Readonly<Record<string, string>> | undefined): ScaleState =>
  parseState<ScaleStep>(annotations, STATE_ANNOTATION) as ScaleState;

export interface Owners {
  readonly hpa?: { readonly name: string; readonly minReplicas: number; readonly maxReplicas: number; readonly scalingDisabled: boolean };
  /** A KEDA ScaledObject targets the workload and is paused (autoscaling.keda.sh/paused*). */
  readonly kedaPaused?: string;
}

export type Decision =
  | { readonly kind: 'scale'; readonly step: ScaleStep; readonly from: number; readonly reason: string }
  | { readonly kind: 'skip'; readonly reason: string };

const ANNOTATIONS = {
  min: 'reflex.dev/scale-min',
  max: 'reflex.dev/scale-max',
  stepUp: 'reflex.dev/scale-step-up',
  stepDown: 'reflex.dev/scale-step-down',
  quietSeconds: 'reflex.dev/scale-quiet-seconds',
} as const;

/** The policy with the workload's reflex.dev/scale-* annotations applied; a bad value names the annotation. */
export function limitsFor(policy: Scaling, annotations: Readonly<Record<string, string>>): Scaling | { error: string } {
  const int = (k: keyof typeof ANNOTATIONS, fallback: number): number | string => {
    const v = annotations[ANNOTATIONS[k]];
    if (v === undefined) return fallback;
    return /^\d+$/.test(v.trim()) ? Number(v) : `annotation ${ANNOTATIONS[k]}: expected a whole number, got ${JSON.stringify(v)}`;
  };
  const stepOf = (k: 'stepUp' | 'stepDown', fallback: Step): Step | string => {
    const v = annotations[ANNOTATIONS[k]];
    if (v === undefined) return fallback;
    return /^[1-9]\d*%?$/.test(v.trim())
      ? countOrPercent(v.trim())
      : `annotation ${ANNOTATIONS[k]}: expected a count or a percent like 2 or 50%, got ${JSON.stringify(v)}`;
  };
  const min = int('min', policy.min);
  const max = int('max', policy.max);
  const quietSeconds = int('quietSeconds', policy.quietSeconds);
  const stepUp = stepOf('stepUp', policy.stepUp);
  const stepDown = stepOf('stepDown', policy.stepDown);
  for (const v of [min, max, quietSeconds, stepUp, stepDown]) if (typeof v === 'string') return { error: v };
  if ((min as number) > (max as number))
    return { error: `${ANNOTATIONS.min} (${String(min)}) is above ${ANNOTATIONS.max} (${String(max)})` };
  return {
    ...policy,
    min: min as number,
    max: max as number,
    quietSeconds: quietSeconds as number,
    stepUp: stepUp as Step,
    stepDown: stepDown as Step,
  };
}

const amount = (s: Step, base: number): number => ('count' in s ? s.count : Math.max(1, amountOf(s, base, Math.ceil)));
const since = (iso: string | undefined, now: Date): number => (iso ? (now.getTime() - Date.parse(iso)) / 1000 : Infinity);

export function decide(
  signal: 'loadhigh' | 'loadlow' | 'tick',
  replicas: number,
  limits: Scaling,
  owners: Owners,
  state: ScaleState,
  now: Date,
): Decision {
  if (owners.kedaPaused) return { kind: 'skip', reason: `KEDA has paused this workload (${owners.kedaPaused})` };
  const hpa = owners.hpa;
  if (hpa?.scalingDisabled)
    return { kind: 'skip', reason: `its HPA ${hpa.name} reports ScalingDisabled (the workload is at zero replicas): not touching it` };
  if (hpa && limits.hpa === 'refuse') return { kind: 'skip', reason: `HPA ${hpa.name} owns the replicas and the policy says hpa: refuse` };
  const base = hpa ? hpa.minReplicas : replicas;
  const floor = Math.max(limits.min, limits.allowZero ? 0 : 1);
  const ceiling = hpa ? Math.min(limits.max, hpa.maxReplicas) : limits.max;
  const lastChange = [...state.actions].reverse().find((a: ActionRecord<unknown>) => a.state === 'done' || a.state === 'applying')?.at;
  const target = (to: number): ScaleStep => (hpa ? { do: 'hpa-min', hpa: hpa.name, to } : { do: 'replicas', to });
  const what = hpa ? `HPA ${hpa.name} minReplicas` : 'replicas';

  if (signal === 'loadhigh') {
    const waited = since(lastChange, now);
    if (waited < limits.upStabilizationSeconds)
      return {
        kind: 'skip',
        reason: `stabilizing: scaled ${Math.round(waited)}s ago (upStabilizationSeconds ${limits.upStabilizationSeconds})`,
      };
    const to = Math.min(ceiling, base + amount(limits.stepUp, base));
    if (to <= base) return { kind: 'skip', reason: `${what} ${base} is at the maximum (${ceiling})` };
    return { kind: 'scale', step: target(to), from: base, reason: `load is high: ${what} ${base} -> ${to} (max ${ceiling})` };
  }
  const quiet = since(state.lastHigh, now);
  if (signal === 'tick' && quiet < limits.quietSeconds)
    return { kind: 'skip', reason: `not quiet yet: last loadhigh ${Math.round(quiet)}s ago (quietSeconds ${limits.quietSeconds})` };
  if (quiet < limits.downStabilizationSeconds)
    return {
      kind: 'skip',
      reason: `stabilizing: last loadhigh ${Math.round(quiet)}s ago (downStabilizationSeconds ${limits.downStabilizationSeconds})`,
    };
  const to = Math.max(floor, base - amount(limits.stepDown, base));
  if (to >= base) return { kind: 'skip', reason: `${what} ${base} is at the minimum (${floor})` };
  const why = signal === 'tick' ? `quiet for ${quiet === Infinity ? 'ever' : `${Math.round(quiet)}s`}` : 'load is low';
  return { kind: 'scale', step: target(to), from: base, reason: `${why}: ${what} ${base} -> ${to} (min ${floor})` };
}
