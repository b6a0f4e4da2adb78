import { describe, expect, it } from '@jest/globals';
import type { ActionVerb, SignalData } from '../_contracts/events.js';
import { bytesOf, parsePolicy } from './config.js';
import type { Autoscaler } from '../_act/autoscalers.js';
import { withRecord } from '../_act/guard.js';
import { parseRecoverState as parseState, plan, type ActionRecord, type Observed, type RecoverState, type Step } from './decide.js';

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
const sets = (v2Ready: number, v1Ready: number): Observed => ({
  replicaSets: [
    { name: 'web-v1hash', revision: 1, readyReplicas: v1Ready },
    { name: 'web-v2hash', revision: 2, readyReplicas: v2Ready },
  ],
  podUid: 'u1',
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
      sets(1, 1),
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
      { replicaSets: [{ name: 'web-v1hash', revision: 1, readyReplicas: 0 }] },
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
    ['probefailed', signal('probefailed'), { podUid: 'u9' }, state(), 'replaced delete-pod:web-v2hash-x2x7q'],
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
      { nodes: { total: 5, notReady: 1 }, podsOnNode: [{ namespace: 'shop', name: 'web-1' }] },
      state(),
      'drained cordon:n1,evict:shop/web-1',
    ],
    ['nodenotready within grace', node({ firstSeen: ago(60) }), { nodes: { total: 5, notReady: 1 } }, state(), 'nothing'],
    // Two of five down is more than 20%: the cluster has a problem, draining would add to it.
    ['nodenotready, too many unhealthy', node(), { nodes: { total: 5, notReady: 2 } }, state(), 'escalated'],
  ])('%s', (_name, s, observed, st, expected) => {
    const p = plan(s, observed, st, policy, NOW);
    const got = p.kind === 'act' ? `${p.verb} ${p.steps.map(label).join(',')}` : p.kind === 'nothing' ? 'nothing' : p.verb;
    expect(got).toBe(expected);
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
