import { describe, expect, it } from '@jest/globals';
import { explain, failureText, triggerFilterText } from './explain.js';
import { loadMesh } from './manifests.js';
import { defaultManifests } from './mesh.js';
import type { SubscriptionsFilter } from './manifests.js';

const trigger = (filters: SubscriptionsFilter[]) => ({ name: 't', from: 'test', filters });
const signal = { specversion: '1.0', id: '1', source: '/s', type: 'dev.reflex.signal.crashloop', reflexclass: 'crashloop' };
const bridged = { specversion: '1.0', id: '2', source: '/k', type: 'dev.knative.apiserver.resource.add' };

describe('explain: which part of a Trigger filter failed, and what the attribute was', () => {
  type Row = [why: string, filters: SubscriptionsFilter[], event: Record<string, string>, result: string, texts: string[]];
  it.each<Row>([
    // The common case: a prefix on type, the event of another kind.
    [
      'prefix fails',
      [{ prefix: { type: 'dev.reflex.signal.' } }],
      bridged,
      'fail',
      ['type starts with "dev.reflex.signal." (type is "dev.knative.apiserver.resource.add")'],
    ],
    // A passing filter explains nothing.
    ['prefix passes', [{ prefix: { type: 'dev.reflex.signal.' } }], signal, 'pass', []],
    // recover's and enrich's filter: NOT(ANY) fails when what it negates holds; the value read is said.
    [
      'not any holds',
      [
        { prefix: { type: 'dev.reflex.signal.' } },
        { not: { any: [{ exact: { reflexclass: 'loadhigh' } }, { exact: { reflexclass: 'loadlow' } }] } },
      ],
      { ...signal, type: 'dev.reflex.signal.loadhigh', reflexclass: 'loadhigh' },
      'fail',
      ['not (any of (reflexclass = "loadhigh"; reflexclass = "loadlow")) (reflexclass is "loadhigh")'],
    ],
    // ANY: each part that failed says why; a missing extension is absent, not "".
    [
      'any, extension absent',
      [{ any: [{ exact: { reflexclass: 'loadhigh' } }, { exact: { reflexclass: 'loadlow' } }] }],
      bridged,
      'fail',
      ['reflexclass = "loadhigh" (reflexclass is absent)', 'reflexclass = "loadlow" (reflexclass is absent)'],
    ],
    // Only the failing entry of an exact map is named.
    [
      'exact map, one entry fails',
      [{ exact: { type: 'dev.reflex.signal.crashloop', reflexclass: 'oomkilled' } }],
      signal,
      'fail',
      ['reflexclass = "oomkilled" (reflexclass is "crashloop")'],
    ],
    // CESQL: the expression, and the attributes it reads (not the words inside its strings).
    [
      'cesql',
      [{ cesql: "type LIKE 'dev.reflex.action.%' AND source = 'x'" }],
      signal,
      'fail',
      ['cesql type LIKE \'dev.reflex.action.%\' AND source = \'x\' (type is "dev.reflex.signal.crashloop", source is "/s")'],
    ],
  ])('%s', (_why, filters, event, result, texts) => {
    const e = explain(trigger(filters), event);
    expect(e.result).toBe(result);
    expect(e.failed.map(failureText)).toEqual(texts);
  });

  it('legacy filter.attributes: the failing attribute with its value', () => {
    const e = explain({ name: 't', from: 'test', filter: { attributes: { type: 'a', source: '/s' } } }, signal);
    expect(e.result).toBe('fail');
    expect(e.failed.map(failureText)).toEqual(['type = "a" (type is "dev.reflex.signal.crashloop")']);
  });

  it('no filter passes everything, said so', () => {
    expect(explain({ name: 't', from: 'test' }, bridged)).toEqual({ result: 'none', filter: 'no filter (every event)', failed: [] });
  });

  it("every Trigger of knative/ has a filter text, and explains the bundled incident's first event", () => {
    const mesh = loadMesh(defaultManifests());
    expect(mesh.triggers.length).toBeGreaterThan(0);
    for (const t of mesh.triggers) {
      expect(triggerFilterText(t)).not.toMatch(/skipped/);
      const e = explain(t, bridged);
      // What the broker decides, explained: a fail always names at least one failed part.
      if (e.result === 'fail') expect(e.failed.length).toBeGreaterThan(0);
    }
  });
});
