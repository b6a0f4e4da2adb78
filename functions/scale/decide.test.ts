import { describe, expect, it } from '@jest/globals';
import { parseScalePolicy } from './config.js';
import { decide, limitsFor, type Owners, type ScaleState } from './decide.js';

const policy = parseScalePolicy({}, false).scaling;
const NOW = new Date('2026-11-22T12:00:00Z');
const ago = (s: number): string => new Date(NOW.getTime() - s * 1000).toISOString();
const changed = (s: number): ScaleState => ({ actions: [{ at: ago(s), signal: 'x', key: 'k', verb: 'scaled', state: 'done', steps: [] }] });
const hpa = (over: Partial<NonNullable<Owners['hpa']>> = {}): Owners => ({
  hpa: { name: 'api', minReplicas: 2, maxReplicas: 6, scalingDisabled: false, ...over },
});

const show = (d: ReturnType<typeof decide>): string => (d.kind === 'scale' ? `${d.step.do} ${d.from}->${d.step.to}` : `skip: ${d.reason}`);

describe('scale decide', () => {
  it.each<[string, Parameters<typeof decide>, string]>([
    // One step up from 3.
    ['loadhigh', ['loadhigh', 3, policy, {}, { actions: [] }, NOW], 'replicas 3->4'],
    // A percent step rounds up and is at least one.
    ['loadhigh 50%', ['loadhigh', 3, { ...policy, stepUp: { percent: 50 } }, {}, { actions: [] }, NOW], 'replicas 3->5'],
    ['stabilizing up', ['loadhigh', 3, policy, {}, changed(10), NOW], 'skip: stabilizing: scaled 10s ago (upStabilizationSeconds 30)'],
    ['max', ['loadhigh', 10, policy, {}, { actions: [] }, NOW], 'skip: replicas 10 is at the maximum (10)'],
    // The HPA's max caps too; its minReplicas is what moves.
    ['hpa', ['loadhigh', 4, policy, hpa(), { actions: [] }, NOW], 'hpa-min 2->3'],
    [
      'hpa max',
      ['loadhigh', 4, policy, hpa({ minReplicas: 6 }), { actions: [] }, NOW],
      'skip: HPA api minReplicas 6 is at the maximum (6)',
    ],
    [
      'hpa refuse',
      ['loadhigh', 4, { ...policy, hpa: 'refuse' }, hpa(), { actions: [] }, NOW],
      'skip: HPA api owns the replicas and the policy says hpa: refuse',
    ],
    [
      'hpa disabled',
      ['loadhigh', 0, policy, hpa({ scalingDisabled: true }), { actions: [] }, NOW],
      'skip: its HPA api reports ScalingDisabled (the workload is at zero replicas): not touching it',
    ],
    [
      'keda paused',
      ['loadhigh', 1, policy, { kedaPaused: 'ScaledObject q: autoscaling.keda.sh/paused' }, { actions: [] }, NOW],
      'skip: KEDA has paused this workload (ScaledObject q: autoscaling.keda.sh/paused)',
    ],
    // Down: not within 300 s of the last loadhigh; never below min (1), never to zero unless allowed.
    ['loadlow', ['loadlow', 3, policy, {}, { actions: [], lastHigh: ago(400) }, NOW], 'replicas 3->2'],
    [
      'stabilizing down',
      ['loadlow', 3, policy, {}, { actions: [], lastHigh: ago(100) }, NOW],
      'skip: stabilizing: last loadhigh 100s ago (downStabilizationSeconds 300)',
    ],
    ['min', ['loadlow', 1, policy, {}, { actions: [] }, NOW], 'skip: replicas 1 is at the minimum (1)'],
    ['zero refused', ['loadlow', 1, { ...policy, min: 0 }, {}, { actions: [] }, NOW], 'skip: replicas 1 is at the minimum (1)'],
    ['zero allowed', ['loadlow', 1, { ...policy, min: 0, allowZero: true }, {}, { actions: [] }, NOW], 'replicas 1->0'],
    // Ticks step down only after the quiet window.
    ['tick quiet', ['tick', 3, policy, {}, { actions: [], lastHigh: ago(700) }, NOW], 'replicas 3->2'],
    [
      'tick not quiet',
      ['tick', 3, policy, {}, { actions: [], lastHigh: ago(200) }, NOW],
      'skip: not quiet yet: last loadhigh 200s ago (quietSeconds 600)',
    ],
  ])('%s', (_name, args, expected) => {
    expect(show(decide(...args))).toBe(expected);
  });

  it.each([
    [
      { 'reflex.dev/scale-max': '4', 'reflex.dev/scale-step-up': '50%' },
      { max: 4, stepUp: { percent: 50 } },
    ],
    [{ 'reflex.dev/scale-max': 'lots' }, { error: 'annotation reflex.dev/scale-max: expected a whole number, got "lots"' }],
    [
      { 'reflex.dev/scale-step-down': '0' },
      { error: 'annotation reflex.dev/scale-step-down: expected a count or a percent like 2 or 50%, got "0"' },
    ],
    [{ 'reflex.dev/scale-min': '5', 'reflex.dev/scale-max': '3' }, { error: 'reflex.dev/scale-min (5) is above reflex.dev/scale-max (3)' }],
  ])('annotations %j', (annotations, expected) => {
    expect(limitsFor(policy, annotations)).toMatchObject(expected);
  });
});
