/** _act/guard — the guard layer every acting function runs first, one row per guard. */
import { describe, expect, it } from '@jest/globals';
import type { ActionVerb } from '../_contracts/events.js';
import { guard, type ActionRecord, type ActState, type TargetView } from './guard.js';
import { parseGuardPolicy } from './policy.js';

const policy = parseGuardPolicy({}, false, { budget: { maxActions: 3, windowSeconds: 3600 }, cooldownSeconds: 600 });
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
const view = (over: Partial<TargetView> = {}): TargetView => ({
  kind: 'Deployment',
  namespace: 'shop',
  name: 'web',
  annotations: {},
  namespaceLabels: { 'reflex.dev/enabled': 'true' },
  ...over,
});
const state = (...actions: ActionRecord[]): ActState => ({ actions });

describe('guard', () => {
  it.each<[string, TargetView, ActState, string]>([
    // Protected namespaces, including prefix patterns.
    ['kube-system', view({ namespace: 'kube-system' }), state(), 'skip: namespace kube-system is protected (kube-system)'],
    [
      'knative-serving matches knative-*',
      view({ namespace: 'knative-serving' }),
      state(),
      'skip: namespace knative-serving is protected (knative-*)',
    ],
    // Opt-in by namespace label or by workload annotation; neither means no.
    ['not opted in', view({ namespaceLabels: {} }), state(), 'skip'],
    ['opted in by annotation', view({ namespaceLabels: {}, annotations: { 'reflex.dev/enabled': 'true' } }), state(), 'pass'],
    ['paused', view({ annotations: { 'reflex.dev/paused': 'true' } }), state(), 'skip'],
    // The same signal again.
    ['duplicate', view(), { actions: [{ ...record(5000), signal: 'sig-1' }] }, 'skip: this signal was already handled'],
    // 60 s after an action: cooling down (600 s).
    ['cooldown', view(), state(record(60)), 'skip'],
    // 3 actions within the hour: the budget is spent; older ones do not count.
    ['budget', view(), state(record(700), record(1400), record(2100)), 'escalate: action budget spent: 3 of 3 actions in 3600s'],
    ['budget window', view(), state(record(700), record(1400), record(4000)), 'pass'],
    ['dry-run annotation', view({ annotations: { 'reflex.dev/dry-run': 'true' } }), state(), 'pass dry'],
  ])('%s', (_name, v, s, expected) => {
    const g = guard('recover', 'sig-1', v, s, policy, NOW);
    const got = g.kind === 'pass' ? `pass${g.dryRun ? ' dry' : ''}` : `${g.kind}: ${g.reason}`;
    if (expected.includes(':')) expect(got).toBe(expected);
    else expect(got.startsWith(expected)).toBe(true);
  });

  it('dry-run from the policy applies to every target', () => {
    const g = guard(
      'recover',
      'sig-1',
      view(),
      state(),
      parseGuardPolicy({}, true, { budget: { maxActions: 3, windowSeconds: 3600 }, cooldownSeconds: 600 }),
      NOW,
    );
    expect(g).toEqual({ kind: 'pass', dryRun: true, why: 'dry-run (policy)' });
  });
});
