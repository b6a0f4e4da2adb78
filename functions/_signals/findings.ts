/**
 * _signals/findings — pure: any object the bridge delivers (an Event of either API, a Pod, a
 * Deployment, a Node, a Job, a PersistentVolumeClaim) -> the problems it shows, or a skip with the reason.
 */
import { refFault, type Finding } from './model.js';
import { containerOf, occurrenceOf, type KubeEvent } from './occurrence.js';
import { classifyOccurrence, type Rules } from './rules.js';
import {
  claimFindings,
  deploymentFindings,
  jobFindings,
  nodeFindings,
  podFindings,
  type Deployment,
  type Job,
  type Node,
  type PersistentVolumeClaim,
  type Pod,
} from './state.js';

export const OBJECT_SCHEMAS = {
  'v1/Event': 'https://reflex.dev/schemas/k8s/core.v1.Event.json',
  'events.k8s.io/v1/Event': 'https://reflex.dev/schemas/k8s/events.v1.Event.json',
  'v1/Pod': 'https://reflex.dev/schemas/k8s/core.v1.Pod.json',
  'apps/v1/Deployment': 'https://reflex.dev/schemas/k8s/apps.v1.Deployment.json',
  'v1/Node': 'https://reflex.dev/schemas/k8s/core.v1.Node.json',
  'batch/v1/Job': 'https://reflex.dev/schemas/k8s/batch.v1.Job.json',
  'v1/PersistentVolumeClaim': 'https://reflex.dev/schemas/k8s/core.v1.PersistentVolumeClaim.json',
} as const;
export type KnownKind = keyof typeof OBJECT_SCHEMAS;

export function knownKind(o: { apiVersion?: unknown; kind?: unknown }): KnownKind | undefined {
  const k = `${String(o.apiVersion)}/${String(o.kind)}`;
  return k in OBJECT_SCHEMAS ? (k as KnownKind) : undefined;
}

export type Outcome =
  | { readonly kind: 'findings'; readonly findings: readonly Finding[]; readonly repeatAfterSeconds: number }
  | { readonly kind: 'skip'; readonly reason: string; readonly rule?: string };

/** State findings are re-signalled after this long if the state persists. */
const STATE_REPEAT_AFTER_SECONDS = 600;

/** `object` must already satisfy the schema of its kind (OBJECT_SCHEMAS). */
export function findingsOf(kind: KnownKind, object: Record<string, unknown>, rules: Rules, now: Date): Outcome {
  if (kind === 'v1/Event' || kind === 'events.k8s.io/v1/Event') {
    const event = object as unknown as KubeEvent;
    const m = classifyOccurrence(occurrenceOf(event, now), rules, object, containerOf(event));
    return m.kind === 'skip' ? m : { kind: 'findings', findings: [m.finding], repeatAfterSeconds: m.rule.repeatAfterSeconds };
  }
  const findings = stateFindings(kind, object, now);
  if (findings.length === 0) return { kind: 'skip', reason: `${String(object['kind'])} shows no problem` };
  // The object's own name: as for an Event's involved object, one no API server stores is no evidence.
  const fault = refFault(findings[0]!.involved);
  if (fault) return { kind: 'skip', reason: fault };
  return { kind: 'findings', findings, repeatAfterSeconds: STATE_REPEAT_AFTER_SECONDS };
}

/** The state readers, by kind (state.ts). */
function stateFindings(
  kind: Exclude<KnownKind, 'v1/Event' | 'events.k8s.io/v1/Event'>,
  object: Record<string, unknown>,
  now: Date,
): Finding[] {
  switch (kind) {
    case 'v1/Pod':
      return podFindings(object as unknown as Pod, now, object);
    case 'apps/v1/Deployment':
      return deploymentFindings(object as unknown as Deployment, now, object);
    case 'v1/Node':
      return nodeFindings(object as unknown as Node, now, object);
    case 'batch/v1/Job':
      return jobFindings(object as unknown as Job, now, object);
    case 'v1/PersistentVolumeClaim':
      return claimFindings(object as unknown as PersistentVolumeClaim, now, object);
  }
}
