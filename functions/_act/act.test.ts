/**
 * _act/act — the acting loop, one table for every acting function: each row is a target's state,
 * the function's plan and the request, and what the loop must reply, audit and write. recover
 * and scale only supply their parts (their own tests cover those), so no guard or outcome is
 * tested twice.
 */
import { describe, expect, it } from '@jest/globals';
import type { ActionData, Target } from '../_contracts/events.js';
import { ConflictError, ForbiddenError } from '../_kit/errors.js';
import { createLogger } from '../_kit/logger.js';
import { Reply } from '../_kit/reply.js';
import { childOf } from '../_kit/trace.js';
import { act, type ActingPort, type Actor, type Plan, type Request } from './act.js';
import { parseState, type ActionRecord, type ActState, type GuardPolicy } from './guard.js';
import type { Audit } from './target.js';

const NOW = new Date('2026-11-30T10:00:00Z');
const ago = (s: number): string => new Date(NOW.getTime() - s * 1000).toISOString();
const STATE = 'reflex.dev/test';

interface Step {
  readonly do: 'bump' | 'break';
  readonly n: number;
}

const policy: GuardPolicy = {
  dryRun: false,
  protectedNamespaces: ['kube-system'],
  optIn: { namespaceLabel: ['reflex.dev/enabled', 'true'], workloadAnnotation: undefined },
  budget: { maxActions: 2, windowSeconds: 3600 },
  cooldownSeconds: 600,
  maxSignalAgeSeconds: 900,
};

/** An in-memory target with the API server's resourceVersion precondition; records what was done to it. */
class FakeTarget implements ActingPort<Step> {
  annotations: Record<string, string> = {};
  namespaceLabels: Record<string, string> = { 'reflex.dev/enabled': 'true' };
  exists = true;
  rv = 1;
  /** Makes the next N claims lose the race (another replica wrote first). */
  conflicts = 0;
  /** Audit Events written on the target. */
  readonly audits: Audit[] = [];
  /** Refusals recorded in Reflex's own namespace. */
  readonly refusals: Audit[] = [];
  readonly applied: Step[] = [];

  async load(t: Target) {
    if (!this.exists) return undefined;
    return {
      view: {
        kind: t.kind,
        namespace: t.namespace,
        name: t.name,
        annotations: { ...this.annotations },
        namespaceLabels: this.namespaceLabels,
      },
      resourceVersion: String(this.rv),
      uid: 'uid-web',
    };
  }
  async writeState(_t: Target, resourceVersion: string, state: string): Promise<void> {
    if (this.conflicts > 0) {
      this.conflicts--;
      this.rv++;
    }
    if (resourceVersion !== String(this.rv)) throw new ConflictError('moved on');
    this.annotations[STATE] = state;
    this.rv++;
  }
  async audit(_t: Target, a: Audit): Promise<void> {
    this.audits.push(a);
  }
  async refuse(_t: Target, a: Audit): Promise<void> {
    this.refusals.push(a);
  }
  async apply(_t: Target, step: Step): Promise<string> {
    if (step.do === 'break') throw new Error('the API server said no');
    this.applied.push(step);
    return `bumped by ${step.n}`;
  }
  state(): ActState<Step> {
    return parseState<Step>(this.annotations, STATE);
  }
}

const record = (over: Partial<ActionRecord<Step>> = {}): ActionRecord<Step> => ({
  at: ago(7200),
  signal: 'sig-0',
  key: 'k',
  verb: 'restarted',
  state: 'done',
  steps: [],
  ...over,
});

function actor(port: FakeTarget, plan: Plan<Step>, over: Partial<Actor<Step>> = {}): Actor<Step> {
  return {
    name: 'recover',
    policy,
    port,
    parse: (a) => parseState<Step>(a, STATE),
    plan: async () => plan,
    describe: (s) => `${s.do} by ${s.n}`,
    ...over,
  };
}

const ctx = {
  now: () => NOW,
  log: createLogger('error', {}, () => {}),
  reply: (spec: Parameters<typeof Reply.create>[0]) =>
    Reply.create(spec, { source: '/test', incomingType: 'dev.reflex.signal.crashloop', trace: childOf(undefined), now: NOW }),
};

const deployment: Target = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', resolvedBy: 'self' };
const request = (over: Partial<Request> = {}): Request => ({
  target: deployment,
  cause: { id: 'sig-1', type: 'dev.reflex.signal.crashloop', key: 'k', class: 'crashloop', reason: 'BackOff' },
  ...over,
});

const bump: Plan<Step> = { kind: 'act', verb: 'restarted', reason: 'it crash-loops', steps: [{ do: 'bump', n: 1 }] };

type Row = [
  name: string,
  setup: (port: FakeTarget) => void,
  plan: Plan<Step>,
  over: Partial<Actor<Step>>,
  req: Partial<Request>,
  /** `type outcome: reason` of the reply, or 'none'. */
  expected: string,
  /** Audit notes written, in order: on the target, or `home:` for a refusal recorded in Reflex's namespace. */
  audits: readonly string[],
];

describe('act: one row per guard and outcome', () => {
  it.each<Row>([
    // The target is gone: nothing to audit it on.
    [
      'gone',
      (p) => (p.exists = false),
      bump,
      {},
      {},
      'dev.reflex.action.skipped skipped: Deployment/shop/web does not exist (any more)',
      [],
    ],
    // Gone, for a cause only escalated: what a person must fix is still said (a replay of Events alone).
    [
      'gone, escalation only',
      (p) => (p.exists = false),
      bump,
      {},
      { escalation: () => 'Pod shop/web-1 needs ConfigMap shop/app-config, which does not exist' },
      'dev.reflex.action.skipped skipped: Deployment/shop/web does not exist (any more); what the signal asks a person to fix: Pod shop/web-1 needs ConfigMap shop/app-config, which does not exist',
      [],
    ],
    // A name the API server could not hold ('.' would turn a GET into a LIST): refused before any call.
    [
      'invalid name',
      (p) => void p,
      bump,
      {},
      { target: { ...deployment, name: '.' } },
      'dev.reflex.action.skipped skipped: "." is not a valid Deployment name',
      ['home: skipped: "." is not a valid Deployment name'],
    ],
    [
      'kind not acted on',
      (p) => void p,
      bump,
      { kinds: new Set(['Deployment']) },
      { target: { ...deployment, kind: 'Secret' } },
      'dev.reflex.action.skipped skipped: Secret is not a kind this function acts on',
      ['home: skipped: Secret is not a kind this function acts on'],
    ],
    [
      'stale signal',
      (p) => void p,
      bump,
      {},
      { seenAt: ago(3600) },
      'dev.reflex.action.skipped skipped: the signal was last seen 3600s ago, longer than maxSignalAgeSeconds (900s)',
      ['home: skipped: the signal was last seen 3600s ago, longer than maxSignalAgeSeconds (900s)'],
    ],
    [
      'recent signal',
      (p) => void p,
      bump,
      {},
      { seenAt: ago(60) },
      'dev.reflex.action.restarted applied: it crash-loops',
      ['applied: it crash-loops — bumped by 1'],
    ],
    [
      'protected namespace',
      (p) => void p,
      bump,
      {},
      { target: { ...deployment, namespace: 'kube-system' } },
      'dev.reflex.action.skipped skipped: namespace kube-system is protected (kube-system)',
      // Refused before any read: nothing is written into a protected namespace.
      ['home: skipped: namespace kube-system is protected (kube-system)'],
    ],
    [
      'not opted in',
      (p) => (p.namespaceLabels = {}),
      bump,
      {},
      {},
      'dev.reflex.action.skipped skipped: Deployment shop/web has not opted in (label the namespace reflex.dev/enabled=true)',
      ['home: skipped: Deployment shop/web has not opted in (label the namespace reflex.dev/enabled=true)'],
    ],
    [
      'paused',
      (p) => (p.annotations['reflex.dev/paused'] = 'true'),
      bump,
      {},
      {},
      'dev.reflex.action.skipped skipped: Deployment shop/web is paused (reflex.dev/paused=true)',
      ['skipped: Deployment shop/web is paused (reflex.dev/paused=true)'],
    ],
    // A redelivery of a handled signal: said once already, by the delivery that handled it.
    [
      'already handled',
      (p) => (p.annotations[STATE] = JSON.stringify({ actions: [record({ signal: 'sig-1', at: ago(5) })] })),
      bump,
      {},
      {},
      'dev.reflex.action.restarted skipped: this signal was already handled',
      [],
    ],
    // The cooldown names the function that acted (it named recover for every function).
    [
      'cooldown names the actor',
      (p) => (p.annotations[STATE] = JSON.stringify({ actions: [record({ at: ago(60), verb: 'scaled' })] })),
      bump,
      { name: 'scale', verb: 'scaled' },
      {},
      'dev.reflex.action.scaled skipped: cooling down: scale scaled Deployment shop/web 60s ago (cooldown 600s)',
      ['skipped: cooling down: scale scaled Deployment shop/web 60s ago (cooldown 600s)'],
    ],
    // A spent budget escalates, for every function (scale turned it into a skip).
    [
      'budget spent escalates',
      (p) => (p.annotations[STATE] = JSON.stringify({ actions: [record({ at: ago(700) }), record({ at: ago(1400), signal: 'sig-9' })] })),
      bump,
      { name: 'scale', verb: 'scaled' },
      {},
      'dev.reflex.action.scaled escalated: action budget spent: 2 of 2 actions in 3600s',
      ['escalated: action budget spent: 2 of 2 actions in 3600s'],
    ],
    [
      'budget spent, recover',
      (p) => (p.annotations[STATE] = JSON.stringify({ actions: [record({ at: ago(700) }), record({ at: ago(1400), signal: 'sig-9' })] })),
      bump,
      {},
      {},
      'dev.reflex.action.escalated escalated: action budget spent: 2 of 2 actions in 3600s',
      ['escalated: action budget spent: 2 of 2 actions in 3600s'],
    ],
    [
      'plan: nothing to do',
      (p) => void p,
      { kind: 'nothing', verb: 'skipped', reason: 'all is well' },
      {},
      {},
      'dev.reflex.action.skipped skipped: all is well',
      ['skipped: all is well'],
    ],
    [
      'plan: escalate',
      (p) => void p,
      { kind: 'escalate', verb: 'escalated', reason: 'needs a person' },
      {},
      {},
      'dev.reflex.action.escalated escalated: needs a person',
      ['escalated: needs a person'],
    ],
    [
      'dry-run annotation',
      (p) => (p.annotations['reflex.dev/dry-run'] = 'true'),
      bump,
      {},
      {},
      'dev.reflex.action.restarted dryrun: dry-run (reflex.dev/dry-run): would it crash-loops',
      ['dryrun: dry-run (reflex.dev/dry-run): would it crash-loops — bump by 1'],
    ],
    [
      'applied',
      (p) => void p,
      bump,
      {},
      {},
      'dev.reflex.action.restarted applied: it crash-loops',
      ['applied: it crash-loops — bumped by 1'],
    ],
    // Ticks: deciding to do nothing is not news.
    ['quiet: guard stops', (p) => (p.annotations['reflex.dev/paused'] = 'true'), bump, {}, { quiet: true }, 'none', []],
    ['quiet: nothing to do', (p) => void p, { kind: 'nothing', verb: 'scaled', reason: 'steady' }, {}, { quiet: true }, 'none', []],
    [
      'quiet: a change is news',
      (p) => void p,
      bump,
      {},
      { quiet: true },
      'dev.reflex.action.restarted applied: it crash-loops',
      ['applied: it crash-loops — bumped by 1'],
    ],
    // A plan claimed by an earlier delivery and not finished: completed, not planned again.
    [
      'resume a claim',
      (p) =>
        (p.annotations[STATE] = JSON.stringify({
          actions: [record({ signal: 'sig-1', state: 'applying', at: ago(30), steps: [{ do: 'bump', n: 7 }] })],
        })),
      { kind: 'nothing', verb: 'skipped', reason: 'would not be asked' },
      {},
      {},
      `dev.reflex.action.restarted applied: completing restarted claimed at ${ago(30)}`,
      ['applied: completing restarted claimed at ' + ago(30) + ' — bumped by 7'],
    ],
  ])('%s', async (_name, setup, plan, over, req, expected, audits) => {
    const port = new FakeTarget();
    setup(port);
    const r = await act(actor(port, plan, over), request(req), ctx);
    const got = r ? `${r.event.type} ${(r.event.data as ActionData).outcome}: ${(r.event.data as ActionData).reason}` : 'none';
    expect(got).toBe(expected);
    expect([...port.audits.map((a) => a.note), ...port.refusals.map((a) => `home: ${a.note}`)]).toEqual(audits);
  });

  it('an applied plan is recorded done, its steps reported, and a redelivery does not act again', async () => {
    const port = new FakeTarget();
    const first = await act(actor(port, bump), request(), ctx);
    expect((first!.event.data as ActionData).steps).toEqual([{ do: 'bump', detail: 'bumped by 1', done: true }]);
    expect(port.state().actions).toEqual([
      { at: NOW.toISOString(), signal: 'sig-1', key: 'k', verb: 'restarted', state: 'done', steps: [{ do: 'bump', n: 1 }] },
    ]);
    await act(actor(port, bump), request(), ctx);
    expect(port.applied).toHaveLength(1);
  });

  it('a lost race re-reads and decides again; the claim is written once', async () => {
    const port = new FakeTarget();
    port.conflicts = 2;
    const r = await act(actor(port, bump), request(), ctx);
    expect((r!.event.data as ActionData).outcome).toBe('applied');
    expect(port.applied).toEqual([{ do: 'bump', n: 1 }]);
  });

  it('a target that keeps changing gives up with 409 after five attempts', async () => {
    const port = new FakeTarget();
    port.conflicts = 99;
    await expect(act(actor(port, bump), request(), ctx)).rejects.toThrow(/kept changing; gave up after 5 attempts/);
    expect(port.applied).toEqual([]);
  });

  it('a failed step is audited in the words of describe(), and stays claimed for the retry', async () => {
    const port = new FakeTarget();
    const broken: Plan<Step> = { kind: 'act', verb: 'restarted', reason: 'r', steps: [{ do: 'break', n: 3 }] };
    await expect(act(actor(port, broken), request(), ctx)).rejects.toThrow('the API server said no');
    expect(port.audits.map((a) => [a.outcome, a.note])).toEqual([['failed', 'failed: break by 3: the API server said no']]);
    expect(port.state().actions.map((a) => a.state)).toEqual(['applying']);
  });

  it('a step the API server refuses (RBAC, admission policy) is a failed outcome, told and not retried', async () => {
    const port = new FakeTarget();
    port.apply = async () => {
      throw new ForbiddenError('Kubernetes API refused (403): delete Pod shop/web-1: denied by ValidatingAdmissionPolicy');
    };
    const r = await act(actor(port, bump), request(), ctx);
    expect([(r!.event.data as ActionData).outcome, (r!.event.data as ActionData).reason]).toEqual([
      'failed',
      'refused by the API server: bump by 1: Kubernetes API refused (403): delete Pod shop/web-1: denied by ValidatingAdmissionPolicy',
    ]);
    expect(port.audits.map((a) => a.outcome)).toEqual(['failed']);
  });

  it('the remember hook keeps its state when nothing is done, and under the claim when something is', async () => {
    const port = new FakeTarget();
    const remember = (s: ActState<Step>): ActState<Step> => ({ ...s, lastHigh: NOW.toISOString() }) as ActState<Step>;
    await act(actor(port, { kind: 'nothing', verb: 'scaled', reason: 'at max' }, { remember }), request(), ctx);
    expect(JSON.parse(port.annotations[STATE]!)).toEqual({ actions: [], lastHigh: NOW.toISOString() });
    // An unconfirmed signal leaves no trace, not even the remembered part.
    const forged = new FakeTarget();
    await act(actor(forged, { kind: 'nothing', verb: 'scaled', reason: 'not confirmed', unconfirmed: true }, { remember }), request(), ctx);
    expect(forged.annotations[STATE]).toBeUndefined();
    const other = new FakeTarget();
    await act(actor(other, bump, { remember }), request(), ctx);
    expect(JSON.parse(other.annotations[STATE]!)).toMatchObject({ lastHigh: NOW.toISOString(), actions: [{ state: 'done' }] });
  });

  it('what is remembered is not lost when the target moves on meanwhile (its controller wrote its status)', async () => {
    const port = new FakeTarget();
    port.conflicts = 1;
    const remember = (s: ActState<Step>): ActState<Step> => ({ ...s, lastHigh: NOW.toISOString() }) as ActState<Step>;
    await act(actor(port, { kind: 'nothing', verb: 'scaled', reason: 'at max' }, { remember }), request(), ctx);
    expect(JSON.parse(port.annotations[STATE]!)).toEqual({ actions: [], lastHigh: NOW.toISOString() });
  });

  it('a refusal before trust reads nothing and is counted', async () => {
    const port = new FakeTarget();
    let loads = 0;
    const load = port.load.bind(port);
    port.load = async (t) => {
      loads++;
      return load(t);
    };
    const counted: string[] = [];
    await act(
      actor(port, bump, { refused: (why) => counted.push(why) }),
      request({ target: { ...deployment, namespace: 'kube-system' } }),
      ctx,
    );
    await act(actor(port, bump, { refused: (why) => counted.push(why) }), request({ seenAt: 'yesterday' }), ctx);
    expect(loads).toBe(0);
    expect(counted).toEqual(['protected', 'stale']);
  });

  it('a Node target is the subject Node/<name>', async () => {
    const port = new FakeTarget();
    const node: Target = { apiVersion: 'v1', kind: 'Node', namespace: '', name: 'node-3', resolvedBy: 'self' };
    const r = await act(actor(port, bump), request({ target: node }), ctx);
    expect(r!.event.subject).toBe('Node/node-3');
  });
});
