import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '../_kit/errors.js';
import { defaultRulesPath } from './config.js';
import { findingsOf } from './findings.js';
import { MAX_MESSAGE } from './model.js';
import { occurrenceOf, type CoreEvent, type EventsEvent } from './occurrence.js';
import { classifyOccurrence, loadRules, parseRules, type Match } from './rules.js';

const rules = loadRules(defaultRulesPath());
const NOW = new Date('2026-11-22T10:10:00Z');

interface Ev {
  reason: string;
  message: string;
  kind?: string;
  name?: string;
  type?: 'Normal' | 'Warning';
  component?: string;
  count?: number;
  first?: string;
  last?: string;
}

function core(e: Ev): CoreEvent {
  const kind = e.kind ?? 'Pod';
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${e.name ?? 'web-7d9c8b5f4-x2x7q'}.1879a`, namespace: kind === 'Node' ? 'default' : 'shop', uid: `uid-${e.reason}` },
    involvedObject: {
      apiVersion: 'v1',
      kind,
      name: e.name ?? 'web-7d9c8b5f4-x2x7q',
      ...(kind === 'Node' ? {} : { namespace: 'shop' }),
      uid: 'pod-uid',
    },
    reason: e.reason,
    message: e.message,
    type: e.type ?? 'Warning',
    source: { component: e.component ?? 'kubelet', host: 'node-1' },
    count: e.count ?? 1,
    firstTimestamp: e.first ?? '2026-11-22T10:00:00Z',
    lastTimestamp: e.last ?? '2026-11-22T10:05:00Z',
  };
}

function modern(e: Ev): EventsEvent {
  return {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name: 'web-7d9c8b5f4-x2x7q.187', namespace: 'shop', uid: `uid-m-${e.reason}` },
    regarding: { apiVersion: 'v1', kind: e.kind ?? 'Pod', namespace: 'shop', name: e.name ?? 'web-7d9c8b5f4-x2x7q' },
    reason: e.reason,
    note: e.message,
    type: e.type ?? 'Warning',
    eventTime: e.first ?? '2026-11-22T10:00:00.000000Z',
    reportingController: e.component ?? 'default-scheduler',
    reportingInstance: 'default-scheduler-node-1',
    action: 'Scheduling',
    ...(e.count && e.count > 1 ? { series: { count: e.count, lastObservedTime: e.last ?? '2026-11-22T10:05:00.000000Z' } } : {}),
  };
}

const classOf = (event: CoreEvent | EventsEvent): string => {
  const m = classifyOccurrence(occurrenceOf(event, NOW), rules, event as unknown as Record<string, unknown>);
  return m.kind === 'finding' ? m.finding.class : `skip: ${m.reason}`;
};

describe('the default rules', () => {
  it.each([
    // kubelet crash loop; below the threshold of 3 it waits, at 5 it signals.
    [
      core({ reason: 'BackOff', message: 'Back-off restarting failed container web in pod web-7d9c8b5f4-x2x7q_shop(0b9e)', count: 1 }),
      /skip: rule crashloop-backoff: 1 of 3/,
    ],
    [
      core({ reason: 'BackOff', message: 'Back-off restarting failed container web in pod web-7d9c8b5f4-x2x7q_shop(0b9e)', count: 5 }),
      'crashloop',
    ],
    // 5 occurrences spread over 2 hours are not 3 within 15 minutes.
    [
      core({
        reason: 'BackOff',
        message: 'Back-off restarting failed container web in pod x',
        count: 5,
        first: '2026-11-22T08:00:00Z',
        last: '2026-11-22T10:00:00Z',
      }),
      /skip: rule crashloop-backoff: 0 of 3/,
    ],
    // The same reason BackOff about an image is an image pull problem.
    [core({ reason: 'BackOff', message: 'Back-off pulling image "registry.example/web:2.0"' }), 'imagepull'],
    [core({ reason: 'Failed', message: 'Failed to pull image "registry.example/web:2.0": rpc error: code = NotFound' }), 'imagepull'],
    [core({ reason: 'Failed', message: 'Error: ErrImagePull' }), 'imagepull'],
    // Failed for other causes is not an image pull: a missing ConfigMap (CreateContainerConfigError) lasting 5 minutes.
    [core({ reason: 'Failed', message: 'Error: configmap "cfg" not found' }), 'configerror'],
    // …but one seen for 4 seconds may be a Secret still being issued.
    [
      core({ reason: 'Failed', message: 'Error: secret "tls" not found', last: '2026-11-22T10:00:04Z' }),
      /skip: rule container-config-error: seen for 4s of the 120s/,
    ],
    [core({ reason: 'Unhealthy', message: 'Liveness probe failed: HTTP probe failed with statuscode: 500', count: 3 }), 'probefailed'],
    [
      core({
        reason: 'Unhealthy',
        message: 'Readiness probe failed: Get "http://10.0.0.5:8080/ready": dial tcp: connect: connection refused',
        count: 2,
      }),
      /skip: rule readiness-failed: 2 of 5/,
    ],
    [
      core({
        reason: 'OOMKilling',
        message: 'Memory cgroup out of memory: Killed process 4242 (java)',
        kind: 'Node',
        name: 'node-1',
        component: 'kernel-monitor',
      }),
      'oomkilled',
    ],
    // The scheduler writes events.k8s.io/v1; repeats arrive as series.count. A first attempt is
    // not yet a problem (a PVC binding, a node joining); one still failing 5 minutes on is.
    [
      modern({
        reason: 'FailedScheduling',
        message: '0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available.',
      }),
      /skip: rule unschedulable: seen for 0s of the 120s/,
    ],
    [
      modern({
        reason: 'FailedScheduling',
        message: '0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available.',
        count: 2,
      }),
      'unschedulable',
    ],
    [
      core({ reason: 'FailedMount', message: 'MountVolume.SetUp failed for volume "cfg" : configmap "cfg" not found', count: 2 }),
      'mountfailed',
    ],
    [core({ reason: 'Evicted', message: 'The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi.' }), 'evicted'],
    // NodeNotReady on the Node is type Normal; the echo on each Pod is dropped on purpose.
    [
      core({
        reason: 'NodeNotReady',
        message: 'Node node-1 status is now: NodeNotReady',
        kind: 'Node',
        name: 'node-1',
        type: 'Normal',
        component: 'node-controller',
      }),
      'nodenotready',
    ],
    [
      core({ reason: 'NodeNotReady', message: 'Node is not ready', component: 'node-controller' }),
      /skip: rule node-not-ready-pod-echo ignores it/,
    ],
    [
      core({
        reason: 'NodeHasDiskPressure',
        message: 'Node node-1 status is now: NodeHasDiskPressure',
        kind: 'Node',
        name: 'node-1',
        type: 'Normal',
      }),
      'nodepressure',
    ],
    [
      core({
        reason: 'FailedCreate',
        message: 'Error creating: pods "web-7d9c8b5f4-" is forbidden: exceeded quota: compute',
        kind: 'ReplicaSet',
        name: 'web-7d9c8b5f4',
        component: 'replicaset-controller',
      }),
      'createfailed',
    ],
    [
      core({ reason: 'QueueBacklogHigh', message: 'backlog 1200 > 1000', kind: 'Deployment', name: 'worker', component: 'queue-monitor' }),
      'loadhigh',
    ],
    [
      core({
        reason: 'QueueBacklogLow',
        message: 'backlog 3',
        kind: 'Deployment',
        name: 'worker',
        type: 'Normal',
        component: 'queue-monitor',
      }),
      'loadlow',
    ],
    // Normal noise.
    [
      core({
        reason: 'ScalingReplicaSet',
        message: 'Scaled up replica set web-7d9c8b5f4 from 0 to 2',
        kind: 'Deployment',
        name: 'web',
        type: 'Normal',
        component: 'deployment-controller',
      }),
      /skip: no rule/,
    ],
    [core({ reason: 'Pulled', message: 'Successfully pulled image', type: 'Normal' }), /skip: no rule/],
    // What Reflex itself caused is never a signal, whatever its reason.
    [
      modern({ reason: 'BackOff', message: 'Back-off restarting failed container', component: 'reflex.dev/recover', count: 9 }),
      /skip: written by Reflex itself/,
    ],
  ])('%#: %j', (event, expected) => {
    const got = classOf(event);
    if (typeof expected === 'string') expect(got).toBe(expected);
    else expect(got).toMatch(expected);
  });

  it('series.count of an events.k8s.io/v1 Event counts as occurrences', () => {
    const o = occurrenceOf(modern({ reason: 'FailedScheduling', message: 'x', count: 7 }), NOW);
    expect(o.count).toBe(7);
    expect(o.lastSeen.toISOString()).toBe('2026-11-22T10:05:00.000Z');
  });

  it('the finding names the occurrence, so a repeat with a higher count is a new occurrence', () => {
    const e = core({ reason: 'BackOff', message: 'Back-off restarting failed container web in pod x', count: 5 });
    const a = findingsOf('v1/Event', e as unknown as Record<string, unknown>, rules, NOW);
    const b = findingsOf('v1/Event', { ...e, count: 6 } as unknown as Record<string, unknown>, rules, NOW);
    expect(a.kind === 'findings' && b.kind === 'findings' && a.findings[0]!.occurrence !== b.findings[0]!.occurrence).toBe(true);
  });

  it('a 2 MB message is truncated in the finding', () => {
    const e = core({ reason: 'Evicted', message: 'x'.repeat(2 * 1024 * 1024) });
    const out = findingsOf('v1/Event', e as unknown as Record<string, unknown>, rules, NOW);
    expect(out.kind === 'findings' && out.findings[0]!.message.length).toBe(4096);
  });
});

describe('rules files', () => {
  it.each([
    ['rules: []', /\/rules must NOT have fewer than 1 items/],
    ['rules:\n  - {name: a, when: {reason: X}, class: explode}', /\/rules\/0\/class/],
    ['rules:\n  - {name: a, when: {reason: X, message: "("}, class: crashloop}', /\/rules\/0\/when\/message/],
    [
      'rules:\n  - {name: a, when: {reason: X}, class: crashloop}\n  - {name: a, when: {reason: Y}, class: crashloop}',
      /duplicate rule name a/,
    ],
    [
      'rules:\n  - {name: a, when: {reason: X}, class: crashloop, threshold: {occurrences: 0}}',
      /\/rules\/0\/threshold\/occurrences must be >= 1/,
    ],
    ['rules: [unclosed', /not valid YAML/],
    ['rules:\n  - {name: a, when: {reason: X}, class: crashloop, severty: high}', /must NOT have additional properties \(severty\)/],
  ])('%s is refused with %s', (text, message) => {
    expect(() => parseRules(text, 'test.yaml')).toThrow(message);
  });
});

describe('operator-written message patterns (issue 15)', () => {
  const catastrophic = parseRules(
    "rules:\n  - {name: nested-plus, when: {reason: Evicted, message: '(a+)+$'}, class: evicted, severity: info}",
    'test.yaml',
  );
  const timed = (message: string): { ms: number; got: string } => {
    const e = core({ reason: 'Evicted', message });
    const started = performance.now();
    const m = classifyOccurrence(occurrenceOf(e, NOW), catastrophic, e as unknown as Record<string, unknown>);
    return { ms: performance.now() - started, got: m.kind === 'finding' ? m.finding.class : m.reason };
  };

  it.each([
    ['28 characters that make a backtracking engine take seconds', 'a'.repeat(28) + '!'],
    ['a 1 MB message', 'a'.repeat(1024 * 1024) + '!'],
  ])('a catastrophic pattern on %s is matched in linear time', (_what, message) => {
    timed('warm-up');
    const { ms, got } = timed(message);
    expect(got).toBe('rule nested-plus takes reason Evicted (Warning) on Pod, and its message pattern does not match this message');
    expect(ms).toBeLessThan(50);
  });

  it('a rule that takes the reason but not the message is named, not "no rule matches"', () => {
    const rules = parseRules(
      "rules:\n  - {name: back-off, when: {reason: BackOff, message: '^Back-off restarting'}, class: crashloop}\n  - {name: evicted, when: {reason: Evicted}, class: evicted}",
      'test.yaml',
    );
    const skip = (reason: string, message: string): Match => {
      const e = core({ reason, message });
      return classifyOccurrence(occurrenceOf(e, NOW), rules, e as unknown as Record<string, unknown>);
    };
    expect(skip('BackOff', 'Back-off pulling image "x"')).toEqual({
      kind: 'skip',
      reason: 'rule back-off takes reason BackOff (Warning) on Pod, and its message pattern does not match this message',
      rule: 'back-off',
    });
    expect(skip('BackOff', 'Back-off restarting failed container app').kind).toBe('finding');
    expect(skip('Pulled', 'Successfully pulled')).toEqual({ kind: 'skip', reason: 'no rule matches reason Pulled (Warning) on Pod' });
  });

  it('matches what the signal carries: the message cut to MAX_MESSAGE', () => {
    const tail = parseRules("rules:\n  - {name: tail, when: {reason: Evicted, message: 'needle'}, class: evicted}", 'test.yaml');
    const at = (message: string): string => {
      const e = core({ reason: 'Evicted', message });
      const m = classifyOccurrence(occurrenceOf(e, NOW), tail, e as unknown as Record<string, unknown>);
      return m.kind;
    };
    expect(at('x'.repeat(100) + 'needle')).toBe('finding');
    expect(at('x'.repeat(MAX_MESSAGE) + 'needle')).toBe('skip');
  });

  it.each([
    ['(?i)^back-off restarting', 'BACK-OFF RESTARTING failed container', 'finding'],
    ['^Back-off (?i:PULLING) image', 'Back-off pulling image "x"', 'finding'],
    ['^Back-off (?i:PULLING) image', 'back-off pulling image "x"', 'skip'],
    ['\\u0042ack-off', 'Back-off', 'finding'],
    ['/var/lib', 'mount /var/lib failed', 'finding'],
    // Escaped or in a class, these are characters, not lookarounds or backreferences.
    ['^\\(?=x', '(=x', 'finding'],
    ['^[(?<=]+x', '(?<=x', 'finding'],
    ['^\\\\1', '\\1', 'finding'],
  ])('%s on %j -> %s (inline flags and JavaScript escapes)', (pattern, message, expected) => {
    const r = parseRules(
      `rules:\n  - {name: p, when: {reason: BackOff, message: ${JSON.stringify(pattern)}}, class: crashloop}`,
      'test.yaml',
    );
    const e = core({ reason: 'BackOff', message });
    expect(classifyOccurrence(occurrenceOf(e, NOW), r, e as unknown as Record<string, unknown>).kind).toBe(expected);
  });

  it.each([
    ['(a)\\1', /backreference/],
    ['(?<w>a)\\k<w>', /backreference/],
    ['^(?=Back)', /lookahead/],
    ['^(?!Back)', /lookahead/],
    ['(?<=Back)-off', /lookbehind/],
    ['(?<!Back)-off', /lookbehind/],
  ])('%s is refused at load, naming the rule and the pattern', (pattern, why) => {
    const text = `rules:\n  - {name: ok, when: {reason: X}, class: crashloop}\n  - {name: clever-rule, when: {reason: BackOff, message: ${JSON.stringify(pattern)}}, class: crashloop}`;
    expect(() => parseRules(text, 'test.yaml')).toThrow(ConfigError);
    expect(() => parseRules(text, 'test.yaml')).toThrow(/test\.yaml.*\/rules\/1\/when\/message.*clever-rule/);
    expect(() => parseRules(text, 'test.yaml')).toThrow(why);
    expect(() => parseRules(text, 'test.yaml')).toThrow(pattern);
  });
});
