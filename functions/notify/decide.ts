/** notify/decide — pure: a signal and the routes -> which sinks, and the message to send. */
import type { SignalData } from '../_signals/model.js';
import type { Route } from './config.js';

export interface Message {
  readonly title: string;
  readonly severity: SignalData['severity'];
  /** what, where, why — one line each. */
  readonly what: string;
  readonly where: string;
  readonly why: string;
  /** What Reflex did or refused to do (signals: nothing yet; actions say what). */
  readonly done: string;
  readonly kubectl: readonly string[];
  readonly key: string;
  readonly heldSinceLast: number;
  readonly signal: SignalData;
}

export function route(signal: SignalData, routes: readonly Route[]): { sinks: string[]; because: string[] } {
  const sinks = new Set<string>();
  const because: string[] = [];
  for (const r of routes) {
    const ok =
      (!r.classes || r.classes.has(signal.class)) &&
      (!r.severities || r.severities.has(signal.severity)) &&
      (!r.namespaces || r.namespaces.has(signal.target.namespace));
    if (!ok) continue;
    r.sinks.forEach((s) => sinks.add(s));
    because.push(r.name);
    if (!r.continue) break;
  }
  return { sinks: [...sinks], because };
}

const PLURAL: Record<string, string> = {
  Deployment: 'deployment',
  StatefulSet: 'statefulset',
  DaemonSet: 'daemonset',
  Job: 'job',
  CronJob: 'cronjob',
  Node: 'node',
  Pod: 'pod',
  ReplicaSet: 'replicaset',
};

/** The commands an on-call engineer types first. */
export function kubectlHints(s: SignalData): string[] {
  const t = s.target;
  const kind = PLURAL[t.kind] ?? t.kind.toLowerCase();
  const ns = t.namespace ? ` -n ${t.namespace}` : '';
  const hints = [`kubectl describe ${kind} ${t.name}${ns}`];
  const inv = s.involved;
  if (inv.kind === 'Pod' && inv.name !== t.name) {
    hints.push(`kubectl get events${ns} --field-selector involvedObject.name=${inv.name}`);
    if (s.class === 'crashloop' || s.class === 'oomkilled')
      hints.push(`kubectl logs${ns} ${inv.name}${s.container ? ` -c ${s.container}` : ''} --previous`);
  }
  if (t.kind === 'Deployment' && (s.class === 'crashloop' || s.class === 'rolloutstalled'))
    hints.push(`kubectl rollout history deployment ${t.name}${ns}`);
  return hints;
}

export function message(s: SignalData, heldSinceLast: number): Message {
  const where = s.target.namespace ? `${s.target.kind} ${s.target.namespace}/${s.target.name}` : `${s.target.kind} ${s.target.name}`;
  const more = heldSinceLast > 0 ? ` (${heldSinceLast} more since the last notice)` : '';
  return {
    title: `${s.class} on ${where}`,
    severity: s.severity,
    what: `${s.class}: ${s.reason}, ${s.occurrences} occurrence${s.occurrences === 1 ? '' : 's'}${more}`,
    where:
      s.involved.name !== s.target.name
        ? `${where} (seen on ${s.involved.kind} ${s.involved.name}${s.container ? `, container ${s.container}` : ''})`
        : where,
    why: s.message || s.reason,
    done: 'Reflex has not acted on this signal; it is reported for a human to look at.',
    kubectl: kubectlHints(s),
    key: s.key,
    heldSinceLast,
    signal: s,
  };
}
