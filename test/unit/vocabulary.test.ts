/**
 * The upstream vocabulary against the shipped rules (issue 17): every reason the kubelet,
 * scheduler, controllers, node-problem-detector and cluster-autoscaler write at the pinned
 * versions (vocabulary/events.tsv, derived from their sources) has a decided class or a
 * deliberate `ignore`, and an Event written from its message format gets exactly that; the
 * messages that decide between classes (vocabulary/examples.tsv) get theirs; start-up noise waits.
 */
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SIGNAL_CLASSES } from '../../functions/_contracts/events.js';
import { projectRoot } from '../../functions/_kit/schemas.js';
import { occurrenceOf } from '../../functions/_signals/occurrence.js';
import { classifyOccurrence } from '../../functions/_signals/rules.js';
import { route } from '../../functions/notify/decide.js';
import {
  docPath,
  eventOf,
  generatedDoc,
  readVocabulary,
  sampleMessage,
  shippedRoutes,
  shippedRules,
  verdictOf,
} from '../../scripts/vocabulary.js';

const rules = shippedRules();
const rows = readVocabulary();
const examples = readVocabulary(join(projectRoot(), 'vocabulary', 'examples.tsv'));
const CLASSES = new Set<string>([...SIGNAL_CLASSES, 'ignore']);

describe('the inventory', () => {
  it('covers the components the issue names, Warning reasons included', () => {
    const components = new Set(rows.map((r) => r.component));
    for (const c of [
      'kubelet',
      'default-scheduler',
      'job-controller',
      'horizontal-pod-autoscaler',
      'persistentvolume-controller',
      'daemonset-controller',
      'node-controller',
      'cluster-autoscaler',
    ])
      expect(components).toContain(c);
    expect(rows.some((r) => r.source.includes('node-problem-detector'))).toBe(true);
    expect(rows.filter((r) => r.type === 'Warning').length).toBeGreaterThan(100);
  });

  it('decides every row: a class or a deliberate ignore', () => {
    const undecided = [...rows, ...examples]
      .filter((r) => !CLASSES.has(r.expect) && !/^none: .{10,}/.test(r.expect))
      .map((r) => `line ${r.line}: ${r.component} ${r.reason} ${JSON.stringify(r.expect)}`);
    expect(undecided).toEqual([]);
  });
});

const label = (r: (typeof rows)[number]): string =>
  `${r.component} ${r.type} ${r.reason} on ${r.involvedKind}: ${r.message.slice(0, 80)} (line ${r.line})`;

describe('an Event written from each message format gets the expected class', () => {
  it.each(rows.map((r) => [label(r), r] as const))('%s', (_l, r) => {
    const v = verdictOf(r, sampleMessage(r.message), rules);
    // `none: why` in the data: a reason no rule can name (said why); anything else must be decided.
    if (r.expect.startsWith('none: ')) expect(v.class).toBeUndefined();
    else expect(v.class === undefined ? `no signal: ${v.why}` : v.class).toBe(r.expect);
  });
});

describe('the messages that decide between classes (vocabulary/examples.tsv)', () => {
  it.each(examples.map((r) => [label(r), r] as const))('%s', (_l, r) => {
    const v = verdictOf(r, r.message, rules);
    expect(v.class === undefined ? `no signal: ${v.why}` : v.class).toBe(r.expect);
  });
});

describe('start-up noise waits; the same problem persisting is a signal', () => {
  const now = new Date('2026-11-22T12:00:00Z');
  const at = (count: number, lastedSeconds: number, reason: string, involvedKind: string, component: string, message: string) => {
    const e = eventOf({ component, reason, type: 'Warning', involvedKind }, message, now) as unknown as Record<string, unknown>;
    e['count'] = count;
    e['firstTimestamp'] = new Date(now.getTime() - lastedSeconds * 1000).toISOString();
    const m = classifyOccurrence(occurrenceOf(e as never, now), rules, e);
    return m.kind === 'finding' ? m.finding.class : `none: ${m.reason}`;
  };
  const scheduling =
    '0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.';
  const cert = 'MountVolume.SetUp failed for volume "tls" : secret "web-tls" not found';
  const cases: [string, number, number, string, string, string, string, string | RegExp][] = [
    [
      'one FailedScheduling while a PVC binds',
      1,
      0,
      'FailedScheduling',
      'Pod',
      'default-scheduler',
      scheduling,
      /^none: .*FailedScheduling|^none: rule unschedulable/,
    ],
    [
      'FailedScheduling seen twice within seconds',
      2,
      4,
      'FailedScheduling',
      'Pod',
      'default-scheduler',
      scheduling,
      /^none: rule unschedulable/,
    ],
    ['FailedScheduling for over 2 minutes', 4, 150, 'FailedScheduling', 'Pod', 'default-scheduler', scheduling, 'unschedulable'],
    ['FailedMount of a Secret cert-manager issues 4 s later', 2, 4, 'FailedMount', 'Pod', 'kubelet', cert, /^none: rule mount-failed/],
    ['FailedMount of a Secret still missing after 2 minutes', 5, 130, 'FailedMount', 'Pod', 'kubelet', cert, 'mountfailed'],
  ];
  it.each(cases)('%s', (_name, count, lasted, reason, kind, component, message, expected) => {
    const got = at(count, lasted, reason, kind, component, message);
    if (typeof expected === 'string') expect(got).toBe(expected);
    else expect(got).toMatch(expected);
  });
});

describe('every class has a decision in recover and a route in notify', () => {
  it('notify routes each class at the severity its rules give it (recover takes every failure class: FAILURE_CLASSES)', () => {
    const routes = shippedRoutes();
    for (const r of rules.rules) {
      if (r.class === 'ignore' || r.severity === 'info') continue;
      expect({
        rule: r.name,
        sinks: route({ on: 'signal', class: r.class, severity: r.severity, namespace: 'shop' }, routes).sinks.length > 0,
      }).toEqual({
        rule: r.name,
        sinks: true,
      });
    }
  });
});

describe('docs/events.md', () => {
  it('its table is generated from the inventory and the rules (node --import tsx scripts/vocabulary.ts --write)', () => {
    expect(readFileSync(docPath(), 'utf8')).toBe(generatedDoc());
  });
});
