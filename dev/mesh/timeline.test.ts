/** The timeline's sentences, as data: (outcome, verb, reason) -> line, counts with their nouns, colour. */
import { describe, expect, it } from '@jest/globals';
import { CloudEvent } from 'cloudevents';
import * as timeline from './timeline.js';
import type { BrokerRecord } from './broker.js';

const { describeEvent, lineOf } = timeline;

/** A reply of an acting function, as functions/_contracts/events.ts actionEvent makes it. */
function action(who: string, outcome: string, verb: string, reason: string, steps: string[] = [], target = ['Deployment', 'shop', 'web']) {
  const [kind, namespace, name] = target as [string, string, string];
  return new CloudEvent<unknown>(
    {
      id: '1',
      source: `/reflex/${who}`,
      type: `dev.reflex.action.${verb}`,
      time: '2026-11-22T10:02:30Z',
      reflexaction: verb,
      outcome,
      targetkind: kind,
      targetns: namespace,
      targetname: name,
      data: {
        verb,
        outcome,
        reason,
        target: { kind, namespace, name },
        signal: { id: 's', type: 'dev.reflex.signal.crashloop', key: 'k' },
        steps: steps.map((detail) => ({ do: 'x', detail })),
        dryRun: outcome === 'dryrun',
      },
    },
    false,
  );
}

describe('what a function decided, one sentence per outcome', () => {
  it.each([
    // outcome, verb, reason, steps -> line
    [
      'dryrun',
      'rolledback',
      'dry-run (policy): would the crash loop began with revision 2; revision 1 (web-5d7c9b8a6) has 3 ready',
      ['roll back to revision 1 (web-5d7c9b8a6)'],
      'recover would roll back Deployment shop/web (dry-run, by policy): the crash loop began with revision 2; revision 1 (web-5d7c9b8a6) has 3 ready — roll back to revision 1 (web-5d7c9b8a6)',
    ],
    [
      'dryrun',
      'resized',
      'dry-run (reflex.dev/dry-run): would container worker was OOM-killed at 256Mi: limit to 384Mi',
      [],
      'recover would resize Deployment shop/web (dry-run, by the reflex.dev/dry-run annotation): container worker was OOM-killed at 256Mi: limit to 384Mi',
    ],
    [
      'applied',
      'restarted',
      'no healthy earlier revision to return to: restarting web-1 once',
      ['delete pod web-1'],
      'recover restarted Deployment shop/web: no healthy earlier revision to return to: restarting web-1 once — delete pod web-1',
    ],
    [
      'applied',
      'cleaned',
      '2 evicted pods older than 3600s',
      [],
      'recover cleaned up Deployment shop/web: 2 evicted pods older than 3600s',
    ],
    [
      'escalated',
      'escalated',
      'a pod that cannot be scheduled needs capacity or different requests, not a restart',
      [],
      'recover escalated Deployment shop/web to a person: a pod that cannot be scheduled needs capacity or different requests, not a restart',
    ],
    [
      'skipped',
      'drained',
      'node node-3 NotReady for 0s, within the 300s grace period',
      [],
      'recover did not drain Deployment shop/web: node node-3 NotReady for 0s, within the 300s grace period',
    ],
    [
      'skipped',
      'skipped',
      'the signal was last seen 1000s ago, longer than maxSignalAgeSeconds (900s)',
      [],
      'recover did not act on Deployment shop/web: the signal was last seen 1000s ago, longer than maxSignalAgeSeconds (900s)',
    ],
    [
      'failed',
      'rolledback',
      'refused by the API server: forbidden',
      ['roll back to revision 1'],
      'recover failed to roll back Deployment shop/web: refused by the API server: forbidden — roll back to revision 1',
    ],
  ])('%s %s', (outcome, verb, reason, steps, line) => {
    expect(describeEvent(action('recover', outcome, verb, reason, steps))).toEqual({
      at: new Date('2026-11-22T10:02:30Z'),
      kind: 'action',
      text: line,
    });
  });

  it('scale, and a cluster-scoped target', () => {
    expect(
      describeEvent(action('scale', 'dryrun', 'scaled', 'dry-run (policy): would load is high: replicas 2 -> 3', ['scale to 3'])).text,
    ).toBe('scale would scale Deployment shop/web (dry-run, by policy): load is high: replicas 2 -> 3 — scale to 3');
    expect(describeEvent(action('recover', 'skipped', 'drained', 'within the grace period', [], ['Node', '', 'node-3'])).text).toBe(
      'recover did not drain Node node-3: within the grace period',
    );
  });

  it('never prints the verb beside the outcome, nor "would" glued to a reason', () => {
    for (const outcome of ['applied', 'dryrun', 'skipped', 'escalated', 'failed'])
      for (const verb of ['rolledback', 'restarted', 'resized', 'replaced', 'drained', 'cleaned', 'escalated', 'skipped', 'scaled']) {
        const reason = outcome === 'dryrun' ? 'dry-run (policy): would the crash loop began' : 'the crash loop began';
        const text = describeEvent(action('recover', outcome, verb, reason)).text;
        expect(text).not.toMatch(/\b(\w+) \1\b/);
        expect(text).not.toMatch(/would the/);
        expect(text).not.toMatch(new RegExp(`\\b${outcome} ${verb}\\b`));
      }
  });
});

describe('other lines', () => {
  it('a watched Event names its object with the namespace', () => {
    const e = new CloudEvent<unknown>(
      {
        id: '1',
        source: 'https://kubernetes.default.svc',
        type: 'dev.knative.apiserver.resource.update',
        time: '2026-11-22T10:02:30Z',
        data: {
          kind: 'Event',
          reason: 'BackOff',
          type: 'Warning',
          count: 3,
          involvedObject: { kind: 'Pod', namespace: 'shop', name: 'web-1' },
        },
      },
      false,
    );
    expect(describeEvent(e).text).toBe('BackOff x3 (Warning) on Pod shop/web-1');
  });

  type DeadLettered = Extract<BrokerRecord, { kind: 'delivered' }>['deadLettered'];
  const failed = (attempts: number, deadLettered: DeadLettered, body = ''): BrokerRecord => ({
    kind: 'delivered',
    trigger: 'reflex/recover-on-failure',
    subscriber: 'http://127.0.0.1:1',
    event: new CloudEvent<unknown>({ id: '1', source: '/s', type: 'dev.reflex.signal.crashloop' }, false),
    result: { ok: false, status: attempts === 1 ? 400 : 503, attempts, body },
    ...(deadLettered ? { deadLettered } : {}),
  });

  it.each<[number, DeadLettered, string]>([
    [1, { to: undefined }, 'after 1 attempt, the last answered 400; dropped: the Trigger and the Broker have no dead-letter sink'],
    [
      6,
      { to: 'http://dls', result: { ok: true, status: 202, attempts: 1, body: '' } },
      'after 6 attempts, the last answered 503; dead-lettered to http://dls',
    ],
    [
      6,
      { to: 'http://dls', result: { ok: false, status: 500, attempts: 1, body: '' } },
      'after 6 attempts, the last answered 503; dead-lettered to http://dls, which failed too (500)',
    ],
  ])('a failed delivery after %i attempt(s)', (attempts, dl, tail) => {
    expect(lineOf(failed(attempts, dl))?.text).toBe(
      `Trigger reflex/recover-on-failure could not deliver dev.reflex.signal.crashloop to http://127.0.0.1:1 ${tail}`,
    );
  });

  it("a refusal's problem detail says why", () => {
    const body = JSON.stringify({
      type: 'x',
      title: 'Invalid CloudEvent',
      status: 400,
      detail: "data must have required property 'class'",
    });
    expect(lineOf(failed(1, { to: undefined }, body))?.text).toMatch(
      /the last answered 400 \(data must have required property 'class'\); dropped/,
    );
  });
});

describe('the summary of a replay', () => {
  it.each([
    [
      { bridged: 15, contextOnly: 4, signals: 6, decisions: 6, problems: 0 },
      '15 events went through the broker (4 more only described the cluster); 6 signals, 6 decisions, no delivery problems.',
    ],
    [
      { bridged: 1, contextOnly: 0, signals: 1, decisions: 1, problems: 1 },
      '1 event went through the broker; 1 signal, 1 decision, 1 delivery problem.',
    ],
    [
      { bridged: 0, contextOnly: 1, signals: 0, decisions: 0, problems: 2 },
      '0 events went through the broker (1 more only described the cluster); 0 signals, 0 decisions, 2 delivery problems.',
    ],
  ])('%j', (counts, text) => expect(timeline.summary(counts)).toBe(text));
});

describe('colour', () => {
  it.each([
    [true, {}, true],
    [true, { NO_COLOR: '1' }, false],
    [true, { NO_COLOR: 'false' }, false],
    [true, { NO_COLOR: '' }, true],
    [false, {}, false],
    [undefined, {}, false],
  ])('a terminal: %s, env %j -> %s', (isTTY, env, colour) => {
    expect(timeline.colourFor(isTTY === undefined ? {} : { isTTY }, env)).toBe(colour);
  });
});
