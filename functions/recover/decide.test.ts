import { describe, expect, it } from '@jest/globals';
import type { ActionVerb, SignalData } from '../_contracts/events.js';
import { bytesOf } from '../_kit/quantity.js';
import { parsePolicy } from './config.js';
import type { Autoscaler } from '../_act/autoscalers.js';
import { withRecord } from '../_act/guard.js';
import {
  confirm,
  parseRecoverState as parseState,
  plan,
  type ActionRecord,
  type Observed,
  type RecoverState,
  type Step,
} from './decide.js';

const policy = parsePolicy({}, false);
const NOW = new Date('2026-11-22T12:00:00Z');
const ago = (s: number): string => new Date(NOW.getTime() - s * 1000).toISOString();
const record = (atSecondsAgo: number, verb: ActionVerb = 'restarted', key = 'k'): ActionRecord => ({
  at: ago(atSecondsAgo),
  signal: `s-${atSecondsAgo}`,
  key,
  verb,
  state: 'done',
  steps: [],
});
const state = (...actions: ActionRecord[]): RecoverState => ({ actions });

const signal = (cls: SignalData['class'], over: Partial<SignalData> = {}): SignalData => ({
  class: cls,
  severity: 'warning',
  reason: 'BackOff',
  message: 'm',
  target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', resolvedBy: 'ownerReferences' },
  involved: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-v2hash-x2x7q' },
  container: 'app',
  occurrences: 3,
  firstSeen: NOW.toISOString(),
  lastSeen: NOW.toISOString(),
  detectedBy: 'classify',
  key: 'k',
  ...over,
});
/** The Deployment's two revisions; the failing pod belongs to v2 (by its controller's uid) unless said otherwise. */
const sets = (v2Ready: number, v1Ready: number, podController = 'rs-v2'): Observed => ({
  replicaSets: [
    { name: 'web-v1hash', uid: 'rs-v1', revision: 1, readyReplicas: v1Ready },
    { name: 'web-v2hash', uid: 'rs-v2', revision: 2, readyReplicas: v2Ready },
  ],
  podUid: 'u1',
  podController,
});

const hpa = (resource: string, container?: string): Autoscaler => ({
  kind: 'HorizontalPodAutoscaler',
  name: 'web',
  utilization: [{ resource, ...(container ? { container } : {}) }],
});

function label(x: Step): string {
  switch (x.do) {
    case 'rollback':
      return `rollback:${x.toReplicaSet}`;
    case 'delete-pod':
      return `delete-pod:${x.pod}`;
    case 'set-memory':
      return `set-memory:${x.limit}/${x.request}`;
    case 'cordon':
      return `cordon:${x.node}`;
    case 'evict':
      return `evict:${x.namespace}/${x.pod}`;
  }
}

const node = (over: Partial<SignalData> = {}): SignalData =>
  signal('nodenotready', {
    target: { kind: 'Node', namespace: '', name: 'n1', resolvedBy: 'self' },
    involved: { kind: 'Node', name: 'n1' },
    firstSeen: ago(600),
    ...over,
  });

describe('playbooks', () => {
  it.each<[string, SignalData, Observed, RecoverState, string]>([
    // The failing pod is from the newest revision and the previous one serves: roll back.
    ['crashloop after a rollout', signal('crashloop'), sets(0, 1), state(), 'rolledback rollback:web-v1hash'],
    // The previous revision is not serving either: restart once instead.
    ['crashloop, no healthy revision', signal('crashloop'), sets(0, 0), state(), 'restarted delete-pod:web-v2hash-x2x7q'],
    // A crash loop on an older revision's pod is not the rollout's fault.
    [
      'crashloop on an old pod',
      signal('crashloop', { involved: { kind: 'Pod', namespace: 'shop', name: 'web-v1hash-abcde' } }),
      sets(1, 1, 'rs-v1'),
      state(),
      'restarted delete-pod:web-v1hash-abcde',
    ],
    // Restarted once for this problem already: escalate.
    ['crashloop, restarted before', signal('crashloop'), sets(0, 0), state(record(5000, 'restarted', 'k')), 'escalated'],
    [
      'rolloutstalled',
      signal('rolloutstalled', { involved: { kind: 'Deployment', namespace: 'shop', name: 'web' } }),
      sets(0, 0),
      state(),
      'rolledback rollback:web-v1hash',
    ],
    [
      'rolloutstalled, first revision',
      signal('rolloutstalled'),
      { replicaSets: [{ name: 'web-v1hash', uid: 'rs-v1', revision: 1, readyReplicas: 0 }] },
      state(),
      'escalated',
    ],
    // 256Mi x 1.5 = 384Mi; the request (64Mi) follows by the same factor.
    ['oomkilled', signal('oomkilled'), { memory: { limit: '256Mi', request: '64Mi' } }, state(), 'resized set-memory:384Mi/96Mi'],
    // The ceiling (4Gi) caps the raise, then stops it.
    [
      'oomkilled near the ceiling',
      signal('oomkilled'),
      { memory: { limit: '3Gi', request: '3Gi' } },
      state(),
      'resized set-memory:4096Mi/4096Mi',
    ],
    ['oomkilled at the ceiling', signal('oomkilled'), { memory: { limit: '4Gi', request: undefined } }, state(), 'escalated'],
    // Other owners: an HPA measuring memory utilization would scale down on a larger request...
    [
      'oomkilled, HPA on memory utilization',
      signal('oomkilled'),
      { memory: { limit: '256Mi', request: '64Mi' }, autoscalers: [hpa('memory')] },
      state(),
      'escalated',
    ],
    // ...including the request a container without one gets from its limit.
    [
      'oomkilled, no request, KEDA on memory',
      signal('oomkilled'),
      {
        memory: { limit: '256Mi', request: undefined },
        autoscalers: [{ kind: 'ScaledObject', name: 'q', utilization: [{ resource: 'memory' }] }],
      },
      state(),
      'escalated',
    ],
    // One measuring CPU, or memory of another container, is not moved by this resize.
    [
      'oomkilled, HPA on cpu',
      signal('oomkilled'),
      { memory: { limit: '256Mi', request: '64Mi' }, autoscalers: [hpa('cpu')] },
      state(),
      'resized set-memory:384Mi/96Mi',
    ],
    [
      'oomkilled, HPA on another container',
      signal('oomkilled'),
      { memory: { limit: '256Mi', request: '64Mi' }, autoscalers: [hpa('memory', 'sidecar')] },
      state(),
      'resized set-memory:384Mi/96Mi',
    ],
    ['oomkilled without a limit', signal('oomkilled'), { memory: { limit: undefined, request: undefined } }, state(), 'escalated'],
    // Said as a sentence (it read "container ? has no memory limit to raise").
    [
      'oomkilled without a container',
      signal('oomkilled', { container: undefined as unknown as string }),
      { memory: { limit: '1Gi', request: undefined } },
      state(),
      'escalated',
    ],
    [
      'probefailed',
      signal('probefailed'),
      { podUid: 'u9', podOwnedBy: 'target', probeFailures: 2 },
      state(),
      'replaced delete-pod:web-v2hash-x2x7q',
    ],
    [
      'evicted, old enough',
      signal('evicted'),
      {
        evictedPods: [
          { name: 'a', uid: '1', ageSeconds: 3600 },
          { name: 'b', uid: '2', ageSeconds: 30 },
        ],
      },
      state(),
      'cleaned delete-pod:a',
    ],
    ['evicted, too recent', signal('evicted'), { evictedPods: [{ name: 'b', uid: '2', ageSeconds: 30 }] }, state(), 'nothing'],
    ['imagepull', signal('imagepull'), {}, state(), 'escalated'],
    // Past the 300 s grace, 1 of 5 nodes NotReady (limit 20% of 5 = 1): cordon, then evict.
    [
      'nodenotready',
      node(),
      {
        node: { ready: 'False', since: ago(600) },
        nodes: { total: 5, notReady: 1 },
        podsOnNode: [{ namespace: 'shop', name: 'web-1' }],
        unmanagedOnNode: [{ namespace: 'shop', name: 'bare' }],
      },
      state(),
      'drained cordon:n1,evict:shop/web-1',
    ],
    // The grace runs from the node's own Ready transition, whatever firstSeen the signal claims.
    [
      'nodenotready within grace',
      node({ firstSeen: ago(6000) }),
      { node: { ready: 'False', since: ago(60) }, nodes: { total: 5, notReady: 1 } },
      state(),
      'nothing',
    ],
    // Two of five down is more than 20%: the cluster has a problem, draining would add to it.
    [
      'nodenotready, too many unhealthy',
      node(),
      { node: { ready: 'False', since: ago(600) }, nodes: { total: 5, notReady: 2 } },
      state(),
      'escalated',
    ],
    // A crash-looping pod with no controller: nothing would recreate it.
    [
      'bare pod',
      signal('crashloop', { target: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'solo', resolvedBy: 'self' } }),
      {},
      state(),
      'escalated',
    ],
    // node-problem-detector's OOMKilling is about a node's kernel, not a container limit.
    [
      'oomkilled on a node',
      signal('oomkilled', {
        target: { kind: 'Node', namespace: '', name: 'n1', resolvedBy: 'self' },
        container: undefined as unknown as string,
      }),
      {},
      state(),
      'escalated',
    ],
  ])('%s', (_name, s, observed, st, expected) => {
    const p = plan(s, observed, st, policy, NOW);
    const got = p.kind === 'act' ? `${p.verb} ${p.steps.map(label).join(',')}` : p.kind === 'nothing' ? 'nothing' : p.verb;
    expect(got).toBe(expected);
  });
});

describe('confirm: the live cluster, not the signal', () => {
  const pod = (over: Partial<Observed> = {}): Observed => ({
    podUid: 'u1',
    podOwnedBy: 'target',
    containers: [{ name: 'app', restartCount: 4, waiting: 'CrashLoopBackOff', lastTerminated: 'OOMKilled' }],
    probeFailures: 1,
    ...over,
  });
  it.each<[string, SignalData, Observed, string | undefined]>([
    ['crashloop confirmed', signal('crashloop'), pod(), undefined],
    ['the pod is gone', signal('crashloop'), {}, 'pod web-v2hash-x2x7q does not exist'],
    // A forged signal naming any pod: the target must control it (by uid).
    [
      'another controller owns the pod',
      signal('crashloop'),
      pod({ podOwnedBy: 'another' }),
      'pod web-v2hash-x2x7q is not controlled by Deployment shop/web',
    ],
    [
      'nobody owns the pod',
      signal('probefailed'),
      pod({ podOwnedBy: 'nobody' }),
      'pod web-v2hash-x2x7q is not controlled by Deployment shop/web',
    ],
    [
      'a different incarnation of the pod',
      signal('crashloop', { involved: { kind: 'Pod', namespace: 'shop', name: 'web-v2hash-x2x7q', uid: 'old' } }),
      pod(),
      'pod web-v2hash-x2x7q is not the pod the signal names (uid old)',
    ],
    ['terminating already', signal('crashloop'), pod({ podTerminating: true }), 'pod web-v2hash-x2x7q is already terminating'],
    [
      'not crash-looping now',
      signal('crashloop'),
      pod({ containers: [{ name: 'app', restartCount: 0 }] }),
      'no container of pod web-v2hash-x2x7q is crash-looping (no CrashLoopBackOff, no restarts)',
    ],
    ['oomkilled confirmed', signal('oomkilled'), pod(), undefined],
    [
      'not OOM-killed',
      signal('oomkilled'),
      pod({ containers: [{ name: 'app', restartCount: 1, lastTerminated: 'Error' }] }),
      'container app of pod web-v2hash-x2x7q was not OOM-killed',
    ],
    ['no such container', signal('oomkilled', { container: 'db' }), pod(), 'pod web-v2hash-x2x7q has no container db'],
    [
      'no probe failure on record',
      signal('probefailed'),
      pod({ probeFailures: 0 }),
      'no recent probe failure is recorded for pod web-v2hash-x2x7q',
    ],
    ['a Ready node', node(), { node: { ready: 'True', since: ago(9999) } }, 'node n1 is Ready'],
    ['no such node', node(), {}, 'node n1 does not exist'],
    ['a NotReady node', node(), { node: { ready: 'Unknown', since: ago(600) } }, undefined],
    [
      'rollout not stalled',
      signal('rolloutstalled'),
      { rolloutStalled: false },
      'Deployment shop/web reports no ProgressDeadlineExceeded: its rollout is not stalled',
    ],
    // Escalations change nothing: nothing to confirm.
    ['imagepull', signal('imagepull'), {}, undefined],
  ])('%s', (_name, s, observed, expected) => {
    expect(confirm(s, observed)).toBe(expected);
  });
});

describe('state and quantities', () => {
  it('a broken annotation reads as no history, and records stay bounded', () => {
    expect(parseState({ 'reflex.dev/recover': '{not json' })).toEqual({ actions: [] });
    let s: RecoverState = { actions: [] };
    for (let i = 0; i < 30; i++) s = JSON.parse(withRecord(s, { ...record(i), signal: `s${i}` })) as RecoverState;
    expect(s.actions).toHaveLength(20);
    expect(s.actions.at(-1)?.signal).toBe('s29');
  });

  it.each([
    ['128Mi', 128 * 1024 ** 2],
    ['1Gi', 1024 ** 3],
    ['500M', 500e6],
    ['1048576', 1048576],
    ['lots', undefined],
  ])('%s is %s bytes', (q, bytes) => {
    expect(bytesOf(q)).toBe(bytes);
  });
});

describe('reasons read as sentences', () => {
  it('an OOM kill with no container named', () => {
    const { container: _none, ...rest } = signal('oomkilled');
    const p = plan(rest as SignalData, { memory: { limit: '1Gi', request: undefined } }, state(), policy, NOW);
    expect(p.reason).toBe('the signal names no container, so there is no memory limit to raise');
  });
});
