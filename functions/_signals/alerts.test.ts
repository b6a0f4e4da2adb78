/**
 * Alertmanager alerts through the shipped rules' `alerts:` section: kube-prometheus's alerts with
 * the labels kubernetes-mixin's rules keep (alerts/*.libsonnet: the series' own labels plus
 * severity and the scrape job), custom load alerts, and alerts that name nothing.
 */
import { describe, expect, it } from '@jest/globals';
import type { AlertData } from '../_contracts/events.js';
import { classifyAlert, involvedOf, roundOf } from './alerts.js';
import { defaultRulesPath } from './config.js';
import { loadRules, parseRules } from './rules.js';

const rules = loadRules(defaultRulesPath());
const SEEN = new Date('2026-11-22T10:20:00Z');
/** What kube-prometheus's Prometheus adds to every alert it sends. */
const KSM = {
  job: 'kube-state-metrics',
  instance: '10.244.1.7:8443',
  endpoint: 'https-main',
  service: 'kube-state-metrics',
  prometheus: 'monitoring/k8s',
};

const alert = (labels: Record<string, string>, extra: Partial<AlertData> = {}): AlertData => ({
  status: 'firing',
  labels,
  annotations: { description: `${labels['alertname']} description`, summary: 'summary' },
  startsAt: '2026-11-22T10:00:00Z',
  fingerprint: '658093bdeff6f402',
  receiver: 'reflex',
  groupKey: '{}:{namespace="shop"}',
  externalURL: 'http://alertmanager-main-0:9093',
  ...extra,
});

describe('kube-prometheus alerts, with their real labels', () => {
  type Row = [alertname: string, labels: Record<string, string>, cls: string, involved: string, severity: string];
  it.each<Row>([
    // apps_alerts: kube_pod_container_status_waiting_reason keeps namespace, pod, container, reason, uid.
    [
      'KubePodCrashLooping',
      {
        ...KSM,
        namespace: 'shop',
        pod: 'web-6f9d8c7b5-q7x2m',
        container: 'web',
        reason: 'CrashLoopBackOff',
        uid: '0b9e4c1e-1c39-4a8e-9d7c-3f3b2b1f9a10',
        severity: 'warning',
      },
      'crashloop',
      'Pod shop/web-6f9d8c7b5-q7x2m',
      'warning',
    ],
    // sum by (namespace, pod, job, cluster): `job` is the scrape job, never a Kubernetes Job.
    [
      'KubePodNotReady',
      { namespace: 'shop', pod: 'web-6f9d8c7b5-q7x2m', job: 'kube-state-metrics', severity: 'warning' },
      'probefailed',
      'Pod shop/web-6f9d8c7b5-q7x2m',
      'warning',
    ],
    [
      'KubeDeploymentReplicasMismatch',
      { ...KSM, namespace: 'shop', deployment: 'web', container: 'kube-rbac-proxy-main', severity: 'warning' },
      'rolloutstalled',
      'Deployment shop/web',
      'warning',
    ],
    [
      'KubeDeploymentRolloutStuck',
      { ...KSM, namespace: 'shop', deployment: 'web', condition: 'Progressing', status: 'false', severity: 'warning' },
      'rolloutstalled',
      'Deployment shop/web',
      'warning',
    ],
    // The waiting reason decides the class.
    [
      'KubeContainerWaiting',
      { ...KSM, namespace: 'shop', pod: 'web-1', container: 'web', reason: 'ImagePullBackOff', severity: 'warning' },
      'imagepull',
      'Pod shop/web-1',
      'warning',
    ],
    [
      'KubeContainerWaiting',
      { ...KSM, namespace: 'shop', pod: 'web-1', container: 'web', reason: 'CreateContainerConfigError', severity: 'warning' },
      'configerror',
      'Pod shop/web-1',
      'warning',
    ],
    [
      'KubeContainerWaiting',
      { ...KSM, namespace: 'shop', pod: 'web-1', container: 'web', reason: 'ContainerCreating', severity: 'warning' },
      'startfailed',
      'Pod shop/web-1',
      'warning',
    ],
    [
      'KubeJobFailed',
      { ...KSM, namespace: 'batch', job_name: 'nightly-29123456', condition: 'true', severity: 'warning' },
      'jobfailed',
      'Job batch/nightly-29123456',
      'warning',
    ],
    // kubelet: the node's Ready condition; critical here as for the NodeNotReady Event.
    [
      'KubeNodeNotReady',
      { ...KSM, node: 'node-2', condition: 'Ready', status: 'true', severity: 'warning' },
      'nodenotready',
      'Node node-2',
      'critical',
    ],
    [
      'KubeHpaMaxedOut',
      { ...KSM, namespace: 'shop', horizontalpodautoscaler: 'web', severity: 'warning' },
      'autoscalerfailed',
      'HorizontalPodAutoscaler shop/web',
      'warning',
    ],
    // storage: the kubelet's series also name the node: the claim wins; its severity is the alert's own.
    [
      'KubePersistentVolumeFillingUp',
      {
        namespace: 'db',
        persistentvolumeclaim: 'data-pg-0',
        node: 'node-1',
        job: 'kubelet',
        metrics_path: '/metrics',
        severity: 'critical',
      },
      'storagefailed',
      'PersistentVolumeClaim db/data-pg-0',
      'critical',
    ],
    // A custom load alert: the label, not the name, makes it a load signal.
    [
      'QueueBacklogHigh',
      { namespace: 'jobs', deployment: 'worker', reflex_scale: 'up', severity: 'page' },
      'loadhigh',
      'Deployment jobs/worker',
      'info',
    ],
    ['QueueIdle', { namespace: 'jobs', statefulset: 'consumer', reflex_scale: 'down' }, 'loadlow', 'StatefulSet jobs/consumer', 'info'],
  ])('%s %j -> %s on %s (%s)', (alertname, labels, cls, involved, severity) => {
    const m = classifyAlert(alert({ alertname, ...labels }), rules, SEEN);
    if (m.kind !== 'finding') throw new Error(m.reason);
    const i = m.finding.involved;
    expect([m.finding.class, `${i.kind} ${i.namespace ? `${i.namespace}/` : ''}${i.name}`, m.finding.severity]).toEqual([
      cls,
      involved,
      severity,
    ]);
    expect(m.finding.reason).toBe(alertname);
    expect(m.finding.message).toBe(`${alertname} description`);
    expect(m.finding.evidence.api).toBe('Alertmanager alert');
  });

  it('keeps the pod uid kube-state-metrics puts on pod series, and the container', () => {
    const m = classifyAlert(
      alert({
        alertname: 'KubePodCrashLooping',
        namespace: 'shop',
        pod: 'web-1',
        container: 'web',
        uid: '0b9e4c1e-1c39-4a8e-9d7c-3f3b2b1f9a10',
      }),
      rules,
      SEEN,
    );
    expect(m.kind === 'finding' && [m.finding.involved.uid, m.finding.container]).toEqual(['0b9e4c1e-1c39-4a8e-9d7c-3f3b2b1f9a10', 'web']);
  });
});

describe('alerts that are no signal', () => {
  it.each<[string, Record<string, string>, RegExp]>([
    // Throttling is neither a failure recover repairs nor load more replicas relieve.
    [
      'CPUThrottlingHigh',
      { namespace: 'shop', pod: 'web-1', container: 'web', severity: 'info' },
      /rule alert-cpu-throttling-high ignores it/,
    ],
    // No rule for it: Alertmanager's own routes tell people.
    ['Watchdog', { severity: 'none' }, /no alert rule matches alert Watchdog/],
    // Missing labels: a rule matches, but the alert names no object.
    ['KubePodCrashLooping', { severity: 'warning' }, /names no Kubernetes object/],
    ['KubePodCrashLooping', { namespace: 'shop', severity: 'warning' }, /names namespace shop but no object/],
    // A name no API server would store is evidence of nothing.
    ['KubePodCrashLooping', { namespace: 'shop', pod: '../etc', severity: 'warning' }, /not a Kubernetes object name/],
    ['KubePodCrashLooping', { namespace: 'Shop!', pod: 'web-1', severity: 'warning' }, /not a namespace/],
  ])('%s %j', (alertname, labels, why) => {
    const m = classifyAlert(alert({ alertname, ...labels }), rules, SEEN);
    expect(m.kind === 'skip' && m.reason).toMatch(why);
  });
});

describe('occurrences: repeats inside a round are one', () => {
  const crash = alert({ alertname: 'KubePodCrashLooping', namespace: 'shop', pod: 'web-1' });
  const occurrence = (a: AlertData, seen: Date): string => {
    const m = classifyAlert(a, rules, seen);
    return m.kind === 'finding' ? m.finding.occurrence : m.reason;
  };
  it("Alertmanager's repeats within repeatAfterSeconds (600 s) are one occurrence; after it, the next", () => {
    const at = (min: number): Date => new Date(Date.parse('2026-11-22T10:00:00Z') + min * 60_000);
    expect(occurrence(crash, at(15))).toBe(occurrence(crash, at(19)));
    expect(occurrence(crash, at(19))).not.toBe(occurrence(crash, at(21)));
  });
  it('a load alert counts once a minute while it fires', () => {
    const load = alert({ alertname: 'QueueBacklogHigh', namespace: 'jobs', deployment: 'worker', reflex_scale: 'up' });
    const at = (s: number): Date => new Date(Date.parse('2026-11-22T10:00:00Z') + s * 1000);
    expect(occurrence(load, at(61))).toBe(occurrence(load, at(119)));
    expect(occurrence(load, at(119))).not.toBe(occurrence(load, at(121)));
  });
  it('the same alert fired again (a new start) is another occurrence; its resolution another still', () => {
    expect(occurrence(crash, SEEN)).not.toBe(occurrence({ ...crash, startsAt: '2026-11-22T10:10:00Z' }, SEEN));
    expect(occurrence({ ...crash, status: 'resolved', endsAt: '2026-11-22T10:30:00Z' }, SEEN)).toMatch(/#resolved$/);
  });
  it('a round is never negative (a start in the future), and 0 means once while it fires', () => {
    expect(roundOf(new Date(SEEN.getTime() + 60_000), SEEN, 60)).toBe(0);
    expect(roundOf(new Date(0), SEEN, 0)).toBe(0);
  });
});

describe('the rules file', () => {
  const base = 'rules:\n  - { name: a, when: { reason: X }, class: crashloop }\n';
  it.each<[string, RegExp]>([
    ['alerts:\n  - { name: a, when: { alertname: Y }, class: crashloop }', /\/alerts\/0\/name: duplicate rule name a/],
    ['alerts:\n  - { name: b, when: {}, class: crashloop }', /when must NOT have fewer than 1 properties/],
    ['alerts:\n  - { name: b, when: { labels: { severity: 3 } }, class: crashloop }', /labels\/severity/],
    ['alerts:\n  - { name: b, when: { alertname: Y }, class: nosuchclass }', /class/],
    ['alerts:\n  - { name: b, when: { alertname: Y, reason: Z }, class: crashloop }', /must NOT have additional properties/],
  ])('%s', (section, message) => {
    expect(() => parseRules(base + section, 'rules.yaml')).toThrow(message);
  });
  it('a label matches any of its values; alertname and labels must all match', () => {
    const r = parseRules(
      base +
        'alerts:\n  - { name: b, when: { alertname: [A, B], labels: { severity: [critical, page], team: db } }, class: storagefailed }',
      'rules.yaml',
    );
    const m = (labels: Record<string, string>) =>
      classifyAlert(alert({ namespace: 'db', persistentvolumeclaim: 'data', ...labels }), r, SEEN).kind;
    expect(m({ alertname: 'B', severity: 'page', team: 'db' })).toBe('finding');
    expect(m({ alertname: 'B', severity: 'page' })).toBe('skip');
    expect(m({ alertname: 'C', severity: 'page', team: 'db' })).toBe('skip');
  });
});

describe('involvedOf', () => {
  it('reads a workload label before pod, and node only without a namespaced object', () => {
    expect(involvedOf({ namespace: 'shop', pod: 'web-1', deployment: 'web' })).toMatchObject({ kind: 'Deployment', name: 'web' });
    expect(involvedOf({ namespace: 'shop', pod: 'web-1', node: 'node-1' })).toMatchObject({ kind: 'Pod', name: 'web-1' });
    expect(involvedOf({ node: 'node-1', job: 'node-exporter' })).toEqual({ apiVersion: 'v1', kind: 'Node', name: 'node-1' });
    expect(involvedOf({ namespace: 'batch', job: 'kube-state-metrics' })).toMatch(/no object/);
  });
});
