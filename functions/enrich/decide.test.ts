import { describe, expect, it } from '@jest/globals';
import type { CoreV1Event, V1Node, V1Pod, V1PodSpec, V1ReplicaSet } from '@kubernetes/client-node';
import type { SignalClass } from '../_contracts/events.js';
import type { Wanted } from './decide.js';
import { createRedactor } from '../_signals/redact.js';
import { containerFacts, eventFacts, logTail, nodeFacts, rolloutDiff, usageOf, wanted } from './decide.js';

const redact = createRedactor();

const pod = (over: Partial<V1Pod> = {}): V1Pod => ({
  metadata: {
    name: 'web-2-abc',
    namespace: 'shop',
    uid: 'p1',
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-2', uid: 'rs2', controller: true }],
  },
  spec: {
    nodeName: 'node-a',
    containers: [
      {
        name: 'web',
        image: 'registry.example/web:2.5.0',
        resources: { limits: { memory: '512Mi' }, requests: { cpu: '100m', memory: '256Mi' } },
        env: [{ name: 'DATABASE_URL', value: 'postgres://u:hunter2@db/orders' }],
      },
      { name: 'sidecar', image: 'envoy:1' },
    ],
  },
  status: {
    phase: 'Running',
    startTime: new Date('2026-11-22T09:59:30Z'),
    containerStatuses: [
      {
        name: 'web',
        image: 'registry.example/web:2.5.0',
        imageID: '',
        ready: false,
        restartCount: 5,
        state: { waiting: { reason: 'CrashLoopBackOff' } },
        lastState: {
          terminated: {
            exitCode: 1,
            reason: 'Error',
            message: 'fatal: token=abcd1234secret rejected',
            startedAt: new Date('2026-11-22T10:03:50Z'),
            finishedAt: new Date('2026-11-22T10:03:52Z'),
          },
        },
      },
      { name: 'sidecar', image: 'envoy:1', imageID: '', ready: true, restartCount: 0, state: { running: {} } },
    ],
  },
  ...over,
});

describe('containers: what the pod status says of each', () => {
  it('the signalled container only: last termination, state, restarts, limits and requests; never its env', () => {
    const [c, ...rest] = containerFacts(pod(), 'web', redact);
    expect(rest).toEqual([]);
    expect(c).toEqual({
      name: 'web',
      image: 'registry.example/web:2.5.0',
      restartCount: 5,
      ready: false,
      state: 'waiting: CrashLoopBackOff',
      lastTermination: {
        exitCode: 1,
        reason: 'Error',
        message: 'fatal: token=[REDACTED:assignment] rejected',
        startedAt: '2026-11-22T10:03:50.000Z',
        finishedAt: '2026-11-22T10:03:52.000Z',
      },
      limits: { memory: '512Mi' },
      requests: { cpu: '100m', memory: '256Mi' },
    });
    expect(JSON.stringify(containerFacts(pod(), undefined, redact))).not.toContain('hunter2');
  });

  it('a container the signal names but the pod does not have: all of them, rather than none', () => {
    expect(containerFacts(pod(), 'gone', redact).map((c) => c.name)).toEqual(['web', 'sidecar']);
  });

  it('a signal number is kept (SIGKILL is 9), a zero one is not', () => {
    const p = pod();
    p.status!.containerStatuses![0]!.lastState!.terminated!.signal = 9;
    expect(containerFacts(p, 'web', redact)[0]!.lastTermination?.signal).toBe(9);
  });

  it("metrics.k8s.io's usage, as people read it; nothing for a malformed answer", () => {
    const usage = usageOf({ containers: [{ name: 'web', usage: { memory: '524288Ki', cpu: '250123456n' } }] });
    expect(usage.get('web')).toEqual({ memory: '512Mi', cpu: '250m' });
    expect(containerFacts(pod(), 'web', redact, usage)[0]!.usage).toEqual({ memory: '512Mi', cpu: '250m' });
    expect(usageOf({ containers: 'no' }).size).toBe(0);
    expect(usageOf(undefined).size).toBe(0);
  });
});

describe('Events: the newest, one line each, messages redacted', () => {
  const ev = (name: string, reason: string, at: string, over: Partial<CoreV1Event> = {}): CoreV1Event => ({
    metadata: { name, uid: name },
    involvedObject: { kind: 'Pod', name: 'web-2-abc' },
    reason,
    message: `${reason} happened`,
    type: 'Warning',
    lastTimestamp: new Date(at),
    count: 2,
    ...over,
  });

  it('sorted newest first, cut to the bound, the same Event once', () => {
    const events = [
      ev('a', 'Pulled', '2026-11-22T10:00:00Z'),
      ev('b', 'BackOff', '2026-11-22T10:04:00Z'),
      ev('c', 'Started', '2026-11-22T10:02:00Z', { series: { count: 7, lastObservedTime: new Date('2026-11-22T10:05:00Z') } }),
    ];
    const out = eventFacts([...events, events[1]!], 2, redact);
    expect(out.map((e) => [e.reason, e.count, e.lastSeen])).toEqual([
      ['Started', 7, '2026-11-22T10:05:00.000Z'],
      ['BackOff', 2, '2026-11-22T10:04:00.000Z'],
    ]);
    expect(out[0]!.regarding).toBe('Pod web-2-abc');
  });

  it('a secret in a message is redacted; a huge message is cut', () => {
    const [e] = eventFacts(
      [ev('a', 'Failed', '2026-11-22T10:00:00Z', { message: `pull with Authorization: Bearer abcdefghijkl ${'x'.repeat(5000)}` })],
      5,
      redact,
    );
    expect(e!.message).not.toContain('abcdefghijkl');
    expect(e!.message.length).toBeLessThanOrEqual(1024);
  });
});

describe('nodes', () => {
  const node: V1Node = {
    metadata: { name: 'node-a' },
    spec: { taints: [{ key: 'node.kubernetes.io/unreachable', effect: 'NoExecute' }], unschedulable: true },
    status: {
      allocatable: { cpu: '4', memory: '16Gi', pods: '110' },
      conditions: [
        {
          type: 'Ready',
          status: 'Unknown',
          reason: 'NodeStatusUnknown',
          message: 'Kubelet stopped posting node status.',
          lastTransitionTime: new Date('2026-11-22T10:05:00Z'),
        },
      ],
    },
  };
  const on = (name: string, phase: string, cpu: string, memory: string): V1Pod => ({
    metadata: { name, namespace: 'shop' },
    spec: { nodeName: 'node-a', containers: [{ name: 'c', resources: { requests: { cpu, memory } } }] },
    status: { phase },
  });

  it('conditions, taints, allocatable against the requests of the pods still on it, and which pods', () => {
    const facts = nodeFacts(
      node,
      [on('a', 'Running', '500m', '1Gi'), on('b', 'Pending', '1', '512Mi'), on('c', 'Succeeded', '8', '64Gi')],
      true,
    );
    expect(facts).toEqual({
      name: 'node-a',
      conditions: [
        {
          type: 'Ready',
          status: 'Unknown',
          reason: 'NodeStatusUnknown',
          message: 'Kubelet stopped posting node status.',
          since: '2026-11-22T10:05:00.000Z',
        },
      ],
      taints: ['node.kubernetes.io/unreachable:NoExecute'],
      unschedulable: true,
      allocatable: { cpu: '4', memory: '16Gi', pods: '110' },
      requested: { cpu: '1500m', memory: '1.5Gi', pods: '2' },
      pods: { count: 2, names: ['shop/a', 'shop/b'] },
    });
  });

  it("a pod's node: no pod list", () => {
    expect(nodeFacts(node, undefined, false)).not.toHaveProperty('pods');
  });
});

describe('the last rollout: images, env names, resources, commands — never env values', () => {
  const rs = (name: string, revision: number, owner: string, containers: V1PodSpec): V1ReplicaSet => ({
    metadata: {
      name,
      annotations: { 'deployment.kubernetes.io/revision': String(revision) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: owner, controller: true }],
    },
    spec: { selector: {}, template: { spec: containers } },
  });
  const v1 = rs('web-1', 1, 'd1', {
    containers: [
      {
        name: 'web',
        image: 'web:2.4.0',
        env: [
          { name: 'DATABASE_URL', value: 'postgres://u:OLDSECRET@db/o' },
          { name: 'LOG_LEVEL', value: 'info' },
        ],
        resources: { limits: { memory: '512Mi' } },
      },
      { name: 'cache', image: 'redis:7' },
    ],
  });
  const v2 = rs('web-2', 2, 'd1', {
    containers: [
      {
        name: 'web',
        image: 'web:2.5.0',
        env: [
          { name: 'LOG_LEVEL', value: 'debug' },
          { name: 'FEATURE_X', valueFrom: { secretKeyRef: { name: 'x-secret', key: 'k' } } },
        ],
        resources: { limits: { memory: '256Mi' } },
        args: ['--fast'],
      },
      { name: 'metrics', image: 'exporter:1' },
    ],
  });

  it('between the two newest revisions the Deployment controls', () => {
    const foreign = rs('other-9', 9, 'd2', { containers: [{ name: 'web', image: 'evil:1' }] });
    const diff = rolloutDiff('d1', [v1, foreign, v2]);
    expect(diff).toEqual({
      from: { replicaSet: 'web-1', revision: 1 },
      to: { replicaSet: 'web-2', revision: 2 },
      changes: [
        { container: 'cache', field: 'container', before: 'cache' },
        { container: 'web', field: 'image', before: 'web:2.4.0', after: 'web:2.5.0' },
        { container: 'web', field: 'env', before: 'DATABASE_URL' },
        { container: 'web', field: 'env', after: 'FEATURE_X' },
        { container: 'web', field: 'resources', before: 'limits.memory=512Mi', after: 'limits.memory=256Mi' },
        { container: 'web', field: 'command', before: '[]', after: '["--fast"]' },
        { container: 'metrics', field: 'container', after: 'metrics' },
      ],
    });
    const text = JSON.stringify(diff);
    for (const secret of ['OLDSECRET', 'postgres://', 'debug', 'info', 'x-secret'])
      expect([secret, text.includes(secret)]).toEqual([secret, false]);
  });

  it('no earlier revision: no diff', () => {
    expect(rolloutDiff('d1', [v2])).toBeUndefined();
    expect(rolloutDiff('d1', [])).toBeUndefined();
  });
});

describe('log tails: the newest lines, within lines and bytes, redacted', () => {
  const limits = { maxLines: 3, maxBytes: 1000, fetchedBytes: 100_000 };

  it('the last lines; said when more came before', () => {
    expect(logTail('web', true, 'a\nb\nc\nd\n', limits, redact)).toEqual({
      container: 'web',
      previous: true,
      lines: ['b', 'c', 'd'],
      truncated: true,
      redactions: {},
    });
    expect(logTail('web', false, 'a\r\nb\r\n', limits, redact)).toMatchObject({ lines: ['a', 'b'], truncated: false });
  });

  it('secrets redacted and counted per rule', () => {
    const t = logTail(
      'web',
      true,
      'connecting to postgres://orders:s3cr3t-pw@db:5432/orders\nGET /api Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig\npanic: no db\n',
      limits,
      redact,
    );
    expect(t.lines.join('\n')).not.toMatch(/s3cr3t-pw|eyJhbGciOiJIUzI1NiJ9/);
    expect(t.lines[2]).toBe('panic: no db');
    expect(t.redactions['url-credentials']).toBe(1);
    expect(Object.values(t.redactions).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(2);
  });

  it('within the byte bound, newest kept; one huge line keeps its end', () => {
    const many = Array.from({ length: 50 }, (_, i) => `line ${i} ${'x'.repeat(40)}`).join('\n');
    const t = logTail('web', false, many, { maxLines: 50, maxBytes: 200, fetchedBytes: 100_000 }, redact);
    expect(t.lines.at(-1)).toMatch(/^line 49 /);
    expect(Buffer.byteLength(t.lines.join('\n'))).toBeLessThanOrEqual(200);
    expect(t.truncated).toBe(true);
    const one = logTail('web', false, `start ${'y'.repeat(5000)} END`, { maxLines: 5, maxBytes: 300, fetchedBytes: 100_000 }, redact);
    expect(one.lines).toHaveLength(1);
    expect(one.lines[0]!.endsWith(' END')).toBe(true);
    expect(Buffer.byteLength(one.lines[0]!)).toBeLessThanOrEqual(300);
  });

  it('a fetch cut at its byte limit ends in a partial line, which is dropped', () => {
    const t = logTail('web', false, 'first\nsecond\nthird-cut-in-the-mid', { maxLines: 10, maxBytes: 1000, fetchedBytes: 33 }, redact);
    expect(t).toMatchObject({ lines: ['first', 'second'], truncated: true });
  });
});

describe('what each class is worth gathering', () => {
  it.each([
    ['crashloop', { logs: true, usage: false, rollout: true, nodePods: false }],
    ['oomkilled', { logs: true, usage: true, rollout: true, nodePods: false }],
    ['nodenotready', { logs: false, usage: false, rollout: false, nodePods: true }],
    ['unschedulable', { logs: false, usage: false, rollout: false, nodePods: false }],
  ] as [SignalClass, Wanted][])('%s', (c, want) => {
    expect(wanted(c)).toEqual(want);
  });
});
