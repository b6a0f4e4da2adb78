/**
 * _signals/alerts — pure: an Alertmanager alert (dev.reflex.alert.*) + the rules' `alerts:` section
 * -> the finding it is while it fires, the problem it ends when it resolves, or a skip with the
 * reason. The object it is about comes from its labels, named as kube-state-metrics, the kubelet and
 * cAdvisor name them (the series kubernetes-mixin's alerts keep).
 * @see https://github.com/kubernetes-monitoring/kubernetes-mixin/blob/master/alerts/apps_alerts.libsonnet
 */
import type { AlertData, Involved, Severity } from '../_contracts/events.js';
import { countOf, reasonOf, refFault, timeOf, truncate, type Finding } from './model.js';
import type { AlertRule, Rules } from './rules.js';

/**
 * The label naming the object, in the order they are read: a workload label before `pod` (an alert
 * about a Deployment may keep a pod label from its series), the rest after. `job_name` is a
 * Kubernetes Job: `job` is Prometheus' scrape job (kube-state-metrics itself), never an object.
 */
const NAMESPACED: readonly (readonly [label: string, apiVersion: string, kind: string])[] = [
  ['deployment', 'apps/v1', 'Deployment'],
  ['statefulset', 'apps/v1', 'StatefulSet'],
  ['daemonset', 'apps/v1', 'DaemonSet'],
  ['job_name', 'batch/v1', 'Job'],
  ['cronjob', 'batch/v1', 'CronJob'],
  ['pod', 'v1', 'Pod'],
  ['horizontalpodautoscaler', 'autoscaling/v2', 'HorizontalPodAutoscaler'],
  ['persistentvolumeclaim', 'v1', 'PersistentVolumeClaim'],
];
const SEVERITIES: ReadonlySet<string> = new Set<Severity>(['info', 'warning', 'critical']);
/** kube-state-metrics puts the pod's uid on pod series (`uid`): recover then checks it is the same pod. */
const UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The object an alert is about, from its labels; a string says why there is none. */
export function involvedOf(labels: Readonly<Record<string, string>>): Involved | string {
  const namespace = labels['namespace'];
  if (namespace) {
    for (const [label, apiVersion, kind] of NAMESPACED) {
      const name = labels[label];
      if (!name) continue;
      const uid = kind === 'Pod' && UID.test(labels['uid'] ?? '') ? labels['uid'] : undefined;
      const ref: Involved = { apiVersion, kind, namespace, name, ...(uid ? { uid } : {}) };
      return refFault(ref) ?? ref;
    }
  }
  const node = labels['node'];
  if (node) {
    const ref: Involved = { apiVersion: 'v1', kind: 'Node', name: node };
    return refFault(ref) ?? ref;
  }
  return namespace
    ? `it names namespace ${namespace} but no object in it (labels ${NAMESPACED.map(([l]) => l).join(', ')})`
    : 'it names no Kubernetes object (labels namespace with deployment, statefulset, daemonset, job_name, pod…, or node)';
}

function matches(rule: AlertRule, labels: Readonly<Record<string, string>>): boolean {
  if (rule.alertnames && !rule.alertnames.has(labels['alertname'] ?? '')) return false;
  for (const [name, values] of rule.labels) if (!values.has(labels[name] ?? '')) return false;
  return true;
}

/** The first rule of the `alerts:` section the alert matches. */
export function alertRule(a: AlertData, rules: Rules): AlertRule | undefined {
  return rules.alerts.find((r) => matches(r, a.labels));
}

/** The alert's own severity label, when it is one of Reflex's; else warning. */
const severityOf = (a: AlertData): Severity => {
  const own = a.labels['severity'] ?? '';
  return SEVERITIES.has(own) ? (own as Severity) : 'warning';
};

/** What people read: the description kubernetes-mixin writes, else the summary. */
const messageOf = (a: AlertData): string =>
  a.annotations['description'] ??
  a.annotations['message'] ??
  a.annotations['summary'] ??
  `${a.labels['alertname'] ?? 'an alert'} is ${a.status}`;

/** Which round of its firing an alert is in when seen: repeats inside one round are one occurrence. */
export function roundOf(startsAt: Date, seenAt: Date, repeatAfterSeconds: number): number {
  if (repeatAfterSeconds <= 0) return 0;
  return Math.floor(Math.max(0, seenAt.getTime() - startsAt.getTime()) / (repeatAfterSeconds * 1000));
}

export type AlertOutcome =
  | { readonly kind: 'finding'; readonly finding: Finding; readonly rule: AlertRule }
  | { readonly kind: 'skip'; readonly reason: string; readonly rule?: string };

/**
 * Pure: what an alert is. Firing: a finding whose occurrence is the alert (fingerprint and start)
 * in its round, so Alertmanager's repeats and several replicas' sends inside one
 * repeatAfterSeconds give the same signal id, and an alert still firing after it is signalled
 * again. Resolved: the same finding with its end as last seen and an occurrence of its own, from
 * which the caller builds dev.reflex.resolved.
 */
export function classifyAlert(a: AlertData, rules: Rules, seenAt: Date): AlertOutcome {
  const name = a.labels['alertname'] ?? '';
  const rule = alertRule(a, rules);
  if (!rule) return { kind: 'skip', reason: `no alert rule matches alert ${name || '(no alertname)'}` };
  if (rule.class === 'ignore') return { kind: 'skip', reason: `rule ${rule.name} ignores it`, rule: rule.name };
  const involved = involvedOf(a.labels);
  if (typeof involved === 'string') return { kind: 'skip', reason: `alert ${name}: ${involved}`, rule: rule.name };
  const startsAt = timeOf(a.startsAt) ?? seenAt;
  const endsAt = a.status === 'resolved' ? (timeOf(a.endsAt) ?? seenAt) : undefined;
  const round = roundOf(startsAt, seenAt, rule.repeatAfterSeconds);
  const container = involved.kind === 'Pod' ? a.labels['container'] : undefined;
  return {
    kind: 'finding',
    rule,
    finding: {
      class: rule.class,
      severity: rule.severity ?? severityOf(a),
      reason: reasonOf(name, rule.class),
      message: truncate(messageOf(a)),
      rule: rule.name,
      involved,
      ...(container ? { container } : {}),
      occurrences: countOf(round + 1),
      firstSeen: startsAt,
      lastSeen: endsAt ?? seenAt,
      occurrence: `alert:${a.fingerprint}@${startsAt.toISOString()}#${a.status === 'resolved' ? 'resolved' : round}`,
      evidence: { api: 'Alertmanager alert', object: a as unknown as Record<string, unknown> },
    },
  };
}
