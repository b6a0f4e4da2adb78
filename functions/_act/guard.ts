/**
 * _act/guard — pure: what every function that changes the cluster (recover, scale) checks first,
 * and the action history it keeps on the target, shared by replicas.
 */
import type { ActionVerb } from '../_contracts/events.js';

export interface ActionRecord<S = unknown> {
  readonly at: string;
  readonly signal: string;
  readonly key: string;
  readonly verb: ActionVerb;
  readonly state: 'applying' | 'done';
  readonly steps: readonly S[];
}

/** The history a function keeps on its target (an annotation), most recent last. */
export interface ActState<S = unknown> {
  readonly actions: readonly ActionRecord<S>[];
}

export const PAUSE_ANNOTATION = 'reflex.dev/paused';
export const DRY_RUN_ANNOTATION = 'reflex.dev/dry-run';
/** Actions kept in the annotation: enough for any budget window, small enough for metadata. */
const MAX_RECORDS = 20;

export function parseState<S>(annotations: Readonly<Record<string, string>> | undefined, key: string): ActState<S> {
  const raw = annotations?.[key];
  if (!raw) return { actions: [] };
  try {
    const v = JSON.parse(raw) as ActState<S>;
    return Array.isArray(v.actions) ? v : { actions: [] };
  } catch {
    // A hand-edited, broken annotation must not stop the function; it is replaced on the next write.
    return { actions: [] };
  }
}

/** The annotation value with `record` added (or replaced); other fields of the state are kept. */
export function withRecord<S, T extends ActState<S>>(state: T, record: ActionRecord<S>): string {
  const others = state.actions.filter((a) => a.signal !== record.signal);
  return JSON.stringify({ ...state, actions: [...others, record].slice(-MAX_RECORDS) });
}

export interface TargetView {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly annotations: Readonly<Record<string, string>>;
  /** Labels of the target's namespace ({} for cluster-scoped targets). */
  readonly namespaceLabels: Readonly<Record<string, string>>;
}

export interface GuardPolicy {
  readonly dryRun: boolean;
  readonly protectedNamespaces: readonly string[];
  readonly optIn: {
    readonly namespaceLabel: readonly [string, string] | undefined;
    readonly workloadAnnotation: readonly [string, string] | undefined;
  };
  readonly budget: { readonly maxActions: number; readonly windowSeconds: number };
  readonly cooldownSeconds: number;
  /** A signal last seen longer ago than this is history, not a reason to act. */
  readonly maxSignalAgeSeconds: number;
}

/**
 * Why a request was refused before it could be trusted. Nothing is written on such a target:
 * the refusal is counted and recorded in Reflex's own namespace.
 */
export type Refusal = 'invalid' | 'kind' | 'protected' | 'stale' | 'not-opted-in';

export type Verdict =
  | { readonly kind: 'pass'; readonly dryRun: boolean; readonly why: string }
  | { readonly kind: 'skip'; readonly reason: string; readonly refusal?: Refusal }
  | { readonly kind: 'escalate'; readonly reason: string };

/** DNS-1123 subdomain (object names) and label (namespaces), as the API server validates them. */
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const KIND = /^[A-Z][A-Za-z0-9]*$/;

/**
 * Why an object reference could not name a real object (the API server would refuse the name),
 * or undefined: checked before any API call, so `.` or `a/b` never become a URL.
 */
export function invalidName(ref: { readonly kind: string; readonly namespace: string; readonly name: string }): string | undefined {
  const { kind, namespace, name } = ref;
  if (!KIND.test(kind)) return `${JSON.stringify(kind)} is not a Kubernetes kind`;
  if (name.length > 253 || !SUBDOMAIN.test(name)) return `${JSON.stringify(name)} is not a valid ${kind} name`;
  if (namespace !== '' && (namespace.length > 63 || !LABEL.test(namespace))) return `${JSON.stringify(namespace)} is not a valid namespace`;
  return undefined;
}

/**
 * Pure, before any API call: a target whose name could not exist, a kind this function does not
 * act on, a protected namespace, a stale signal. `kinds` undefined: any kind.
 */
export function preGuard(
  target: { readonly kind: string; readonly namespace: string; readonly name: string },
  seenAt: string | undefined,
  policy: GuardPolicy,
  now: Date,
  kinds?: ReadonlySet<string>,
): Extract<Verdict, { kind: 'skip' }> | undefined {
  const { kind, namespace } = target;
  const invalid = invalidName(target);
  if (invalid) return { kind: 'skip', refusal: 'invalid', reason: invalid };
  if (kinds && !kinds.has(kind)) return { kind: 'skip', refusal: 'kind', reason: `${kind} is not a kind this function acts on` };
  const p = namespace ? protectedBy(namespace, policy.protectedNamespaces) : undefined;
  if (p) return { kind: 'skip', refusal: 'protected', reason: `namespace ${namespace} is protected (${p})` };
  if (seenAt !== undefined) {
    const age = (now.getTime() - Date.parse(seenAt)) / 1000;
    if (!(age <= policy.maxSignalAgeSeconds))
      return {
        kind: 'skip',
        refusal: 'stale',
        reason: Number.isNaN(age)
          ? `the signal's lastSeen ${JSON.stringify(seenAt)} is not a time`
          : `the signal was last seen ${Math.round(age)}s ago, longer than maxSignalAgeSeconds (${policy.maxSignalAgeSeconds}s)`,
      };
  }
  return undefined;
}

/** The pattern of `patterns` (a name, or a prefix ending in `*`) that protects `ns`, if any. */
export const protectedBy = (ns: string, patterns: readonly string[]): string | undefined =>
  patterns.find((p) => (p.endsWith('*') ? ns.startsWith(p.slice(0, -1)) : ns === p));

/** The guard layer, in order; the first that stops says why. `actor` names the function that acts. */
export function guard(actor: string, signalId: string, view: TargetView, state: ActState, policy: GuardPolicy, now: Date): Verdict {
  const where = view.namespace ? `${view.kind} ${view.namespace}/${view.name}` : `${view.kind} ${view.name}`;
  const p = view.namespace ? protectedBy(view.namespace, policy.protectedNamespaces) : undefined;
  if (p) return { kind: 'skip', refusal: 'protected', reason: `namespace ${view.namespace} is protected (${p})` };
  const ns = policy.optIn.namespaceLabel;
  const wl = policy.optIn.workloadAnnotation;
  const optedIn = (ns !== undefined && view.namespaceLabels[ns[0]] === ns[1]) || (wl !== undefined && view.annotations[wl[0]] === wl[1]);
  if (!optedIn) {
    const how = [ns && `label the namespace ${ns.join('=')}`, wl && `annotate the ${view.kind} ${wl.join('=')}`]
      .filter(Boolean)
      .join(' or ');
    return { kind: 'skip', refusal: 'not-opted-in', reason: `${where} has not opted in (${how})` };
  }
  if (view.annotations[PAUSE_ANNOTATION] === 'true') return { kind: 'skip', reason: `${where} is paused (${PAUSE_ANNOTATION}=true)` };
  if (state.actions.some((a) => a.signal === signalId)) return { kind: 'skip', reason: 'this signal was already handled' };
  const t = now.getTime();
  const last = [...state.actions].sort((a, b) => Date.parse(b.at) - Date.parse(a.at))[0];
  if (last && t - Date.parse(last.at) < policy.cooldownSeconds * 1000) {
    return {
      kind: 'skip',
      reason: `cooling down: ${actor} ${last.verb} ${where} ${Math.round((t - Date.parse(last.at)) / 1000)}s ago (cooldown ${policy.cooldownSeconds}s)`,
    };
  }
  const recent = state.actions.filter((a) => t - Date.parse(a.at) < policy.budget.windowSeconds * 1000).length;
  if (recent >= policy.budget.maxActions) {
    return {
      kind: 'escalate',
      reason: `action budget spent: ${recent} of ${policy.budget.maxActions} actions in ${policy.budget.windowSeconds}s`,
    };
  }
  const dry = policy.dryRun || view.annotations[DRY_RUN_ANNOTATION] === 'true';
  return {
    kind: 'pass',
    dryRun: dry,
    why: dry ? (policy.dryRun ? 'dry-run (policy)' : `dry-run (${DRY_RUN_ANNOTATION})`) : 'guards passed',
  };
}
