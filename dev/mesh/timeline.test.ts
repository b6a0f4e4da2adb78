/** The timeline's sentences, as data: (outcome, verb, reason) -> line, counts with their nouns, colour. */
import { describe, expect, it } from '@jest/globals';
import { CloudEvent } from 'cloudevents';
import * as timeline from './timeline.js';
import type { BrokerRecord } from './broker.js';
import { apiServerSourceEvent, type K8sObject } from './apiserversource.js';

const { describeEvent, lineOf, Narrator } = timeline;

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
      function: 'recover',
      outcome,
      verb,
      target: { kind: 'Deployment', namespace: 'shop', name: 'web' },
      reason,
      dryRun: outcome === 'dryrun',
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
    // The bundled incident: its container logs are counted apart from the objects that described the cluster.
    [
      { bridged: 15, contextOnly: 4, logs: 3, signals: 6, decisions: 6, problems: 0 },
      '15 events went through the broker (4 more only described the cluster, 3 container logs); 6 signals, 6 decisions, no delivery problems.',
    ],
    // Only Events and a log: no objects to speak of.
    [
      { bridged: 2, contextOnly: 0, logs: 1, signals: 1, decisions: 1, problems: 0 },
      '2 events went through the broker (1 container log); 1 signal, 1 decision, no delivery problems.',
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

describe('every event row says what came of it, in the words of the function that decided (issue 17)', () => {
  const at = new Date('2026-11-22T10:01:10Z');
  const backOff = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'web-1.18799a1a2b3c4d5e', namespace: 'shop' },
    involvedObject: { kind: 'Pod', namespace: 'shop', name: 'web-1' },
    reason: 'BackOff',
    type: 'Warning',
    count: 2,
    message: 'Back-off restarting failed container web\nin pod web-1_shop(p-1)',
  };
  const bridged = (object: K8sObject = backOff): CloudEvent<unknown> =>
    apiServerSourceEvent('MODIFIED', object, 'https://kubernetes.default.svc', at);
  const accepted = (event: CloudEvent<unknown>, triggers = ['reflex/classify-on-resource']): BrokerRecord => ({
    kind: 'accepted',
    broker: 'reflex/reflex',
    event,
    ttl: 255,
    triggers,
  });
  const delivered = (event: CloudEvent<unknown>, reply?: CloudEvent<unknown>): BrokerRecord => ({
    kind: 'delivered',
    trigger: 'reflex/classify-on-resource',
    subscriber: 'http://127.0.0.1:1',
    event,
    result: { ok: true, status: reply ? 200 : 202, attempts: 1, body: '', ...(reply ? { reply } : {}) },
  });
  /** classify's log line for a request, as the kit writes it (ceId from the request's child logger). */
  const said = (event: CloudEvent<unknown>, why: string, rule?: string): string =>
    JSON.stringify({ time: 'x', level: 'info', msg: 'no signal', function: 'classify', ceId: event.id, why, ...(rule ? { rule } : {}) });
  const narrate = (): { lines: timeline.Line[]; n: InstanceType<typeof Narrator> } => {
    const lines: timeline.Line[] = [];
    return { lines, n: new Narrator((l) => lines.push(l)) };
  };

  it('a skip: the row waits for its delivery and carries why and the rule, from the log line of that CloudEvent', () => {
    const { lines, n } = narrate();
    const e = bridged();
    n.record(accepted(e));
    // Another event's decision is not this one's.
    n.log(said(bridged(), 'no rule matches reason Pulled (Normal) on Pod'));
    expect(lines).toEqual([]);
    n.log(said(e, 'rule crashloop-backoff: 2 of 3 occurrences within 900s', 'crashloop-backoff'));
    n.record(delivered(e));
    expect(lines).toEqual([
      {
        at,
        kind: 'event',
        text: 'BackOff x2 (Warning) on Pod shop/web-1: Back-off restarting failed container web in pod web-1_shop(p-1)',
        namespace: 'shop',
        object: { kind: 'Pod', name: 'web-1' },
        reason: 'BackOff',
        type: 'Warning',
        count: 2,
        message: 'Back-off restarting failed container web in pod web-1_shop(p-1)',
        outcome: 'none',
        why: 'rule crashloop-backoff: 2 of 3 occurrences within 900s',
        rule: 'crashloop-backoff',
      },
    ]);
    expect(timeline.render(lines[0]!, false)).toBe(
      '10:01:10  BackOff x2 (Warning) on Pod shop/web-1: Back-off restarting failed container web in pod web-1_shop(p-1)\n' +
        '          no signal: rule crashloop-backoff: 2 of 3 occurrences within 900s',
    );
  });

  it('a signal: the row says which rule matched, and comes before the signal line', () => {
    const { lines, n } = narrate();
    const e = bridged();
    const signal = new CloudEvent<unknown>(
      {
        id: 's1',
        source: '/reflex/classify',
        type: 'dev.reflex.signal.crashloop',
        time: at.toISOString(),
        data: {
          class: 'crashloop',
          severity: 'warning',
          reason: 'BackOff',
          rule: 'crashloop-backoff',
          target: { kind: 'Deployment', namespace: 'shop', name: 'web' },
        },
      },
      false,
    );
    n.record(accepted(e, ['reflex/classify-on-resource', 'reflex/audit']));
    n.record(delivered(e, signal));
    n.record(accepted(signal, ['reflex/recover-on-failure']));
    expect(lines.map((l) => [l.kind, l.kind === 'event' ? [l.outcome, l.why, l.rule] : l.text])).toEqual([
      ['event', ['signal', 'rule crashloop-backoff matched: crashloop, warning', 'crashloop-backoff']],
      ['signal', 'signal crashloop WARNING on Deployment shop/web (BackOff, rule crashloop-backoff)'],
    ]);
    expect(lines[1]).toMatchObject({
      class: 'crashloop',
      severity: 'warning',
      target: { kind: 'Deployment', namespace: 'shop', name: 'web' },
      rule: 'crashloop-backoff',
      reason: 'BackOff',
    });
    // The other Trigger's delivery, later, adds nothing and repeats nothing.
    n.record(delivered(e));
    expect(lines).toHaveLength(2);
  });

  it('no Trigger routes it: said at once; a row still waiting when the broker is idle is written at flush', () => {
    const { lines, n } = narrate();
    const deleted = apiServerSourceEvent('DELETED', backOff, 'https://kubernetes.default.svc', at);
    n.record(accepted(deleted, []));
    expect(lines).toMatchObject([
      { outcome: 'none', why: 'no Trigger of Broker reflex/reflex routes dev.knative.apiserver.resource.delete' },
    ]);
    const e = bridged();
    n.record(accepted(e));
    n.flush();
    expect(lines[1]).toMatchObject({ kind: 'event', outcome: 'none' });
    expect(lines[1]).not.toHaveProperty('why');
  });

  it('an object that is not an Event: its kind, namespace and name', () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'shop' } };
    expect(describeEvent(bridged(pod))).toEqual({
      at,
      kind: 'event',
      text: 'Pod shop/web-1 changed',
      namespace: 'shop',
      object: { kind: 'Pod', name: 'web-1' },
      outcome: 'none',
    });
  });

  it('an events.k8s.io/v1 Event: note, regarding, and the largest of its counts', () => {
    const e = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: 'x', namespace: 'shop' },
      regarding: { kind: 'Pod', namespace: 'shop', name: 'web-1' },
      reason: 'FailedMount',
      type: 'Warning',
      note: 'MountVolume.SetUp failed',
      deprecatedCount: 0,
      series: { count: 4, lastObservedTime: '2026-11-22T10:01:10Z' },
    };
    expect(describeEvent(bridged(e))).toMatchObject({
      text: 'FailedMount x4 (Warning) on Pod shop/web-1: MountVolume.SetUp failed',
      count: 4,
    });
  });
});

describe('messages on one line', () => {
  it.each([
    ['short', 'a b', 20, 'a b'],
    ['white space and newlines become one space', '  a\n\tb  \r\n c ', 20, 'a b c'],
    ['cut at a word, with an ellipsis', 'the quick brown fox jumps over the lazy dog', 20, 'the quick brown fox…'],
    ['cut at the last word that fits', 'the quick brown foxes jump', 20, 'the quick brown…'],
    ['no word ends late enough: cut in the word', 'a supercalifragilisticexpialidocious', 20, 'a supercalifragilis…'],
  ])('%s', (_what, text, max, line) => expect(timeline.oneLine(text, max)).toBe(line));
});

describe('dates and JSON rows', () => {
  const row = (iso: string, text = 'x'): timeline.Line => ({ at: new Date(iso), kind: 'other', text });

  it('the date is printed before the first line and when it changes, UTC as the times are', () => {
    const print = timeline.printer(false);
    expect(['2026-11-22T23:59:59Z', '2026-11-22T23:59:59.5Z', '2026-11-23T00:00:01Z'].map((t) => print(row(t))).join('')).toBe(
      '2026-11-22\n23:59:59     -> x\n23:59:59     -> x\n2026-11-23\n00:00:01     -> x\n',
    );
  });

  it('a JSON row: at in full ISO 8601, kind, text, then the fields of its kind', () => {
    expect(JSON.stringify(timeline.jsonRow({ at: new Date('2026-11-22T10:04:00.412Z'), kind: 'problem', text: 'p' }))).toBe(
      '{"at":"2026-11-22T10:04:00.412Z","kind":"problem","text":"p"}',
    );
    expect(timeline.jsonRow({ at: new Date(NaN), kind: 'other', text: 'o' })).toEqual({ at: null, kind: 'other', text: 'o' });
  });
});

describe("enrich's reply: a line, the evidence below it", () => {
  const at = '2026-11-22T10:02:30Z';
  const enriched = (enrichment: unknown, cls = 'crashloop') =>
    new CloudEvent<unknown>(
      {
        id: 'e1',
        source: '/reflex/enrich',
        type: `dev.reflex.enriched.${cls}`,
        time: at,
        data: { class: cls, severity: 'warning', target: { kind: 'Deployment', namespace: 'shop', name: 'web' }, enrichment },
      },
      false,
    );
  const evidence = (enrichment: unknown): string[] =>
    timeline
      .render(describeEvent(enriched(enrichment)), false)
      .split('\n')
      .slice(1);
  const base = { gatheredAt: at, tookMs: 0, complete: true, notes: [] };

  it('the line says whose evidence it is; the --json row carries the enrichment whole', () => {
    const line = describeEvent(enriched(base));
    expect(timeline.jsonRow(line)).toEqual({
      at: '2026-11-22T10:02:30.000Z',
      kind: 'enriched',
      text: 'enrich gathered the evidence on Deployment shop/web (crashloop)',
      class: 'crashloop',
      target: { kind: 'Deployment', namespace: 'shop', name: 'web' },
      enrichment: base,
    });
    expect(timeline.render(line, false)).toBe('10:02:30     -> enrich gathered the evidence on Deployment shop/web (crashloop)');
  });

  it.each<[string, Record<string, unknown>, string[]]>([
    // The previous log's last lines (4), the current one's last line only.
    [
      'both logs',
      {
        logs: [
          { container: 'web', previous: true, lines: ['1', '2', '3', '4', '5'], truncated: false, redactions: { authorization: 1 } },
          { container: 'web', previous: false, lines: ['a', 'b'], truncated: false, redactions: {} },
        ],
      },
      [
        'previous log of web (1 secret redacted), its last 4 lines:',
        '  | 2',
        '  | 3',
        '  | 4',
        '  | 5',
        'current log of web, its last line: b',
      ],
    ],
    // No previous instance: the current log gets the lines.
    [
      'only the current log',
      { logs: [{ container: 'web', previous: false, lines: ['a', 'b'], truncated: false, redactions: {} }] },
      ['current log of web, its last 2 lines:', '  | a', '  | b'],
    ],
    // A termination on another day says its date; an OOM kill its limit and usage; the container's own message.
    [
      'an OOM kill',
      {
        containers: [
          { name: 'sidecar', restartCount: 0 },
          {
            name: 'worker',
            restartCount: 1,
            state: 'running',
            limits: { memory: '256Mi' },
            usage: { memory: '250Mi' },
            lastTermination: { exitCode: 137, reason: 'OOMKilled', finishedAt: '2026-11-21T23:59:00Z', message: 'out of\nmemory' },
          },
        ],
      },
      [
        'container worker: last ended with exit code 137 (OOMKilled) at 2026-11-21 23:59:00, 1 restart, now running, memory limit 256Mi, using 250Mi, its message: out of memory',
      ],
    ],
    // Four changes: three named, one counted; env names of a container together.
    [
      'a rollout',
      {
        rollout: {
          from: { replicaSet: 'web-1', revision: 1 },
          to: { replicaSet: 'web-2', revision: 2 },
          changes: [
            { container: 'web', field: 'env', after: 'NEW' },
            { container: 'web', field: 'image', before: 'web:1', after: 'web:2' },
            { container: 'web', field: 'env', before: 'OLD' },
            { container: 'web', field: 'resources', after: 'limits.memory=1Gi' },
            { container: 'proxy', field: 'container', after: 'proxy' },
          ],
        },
      },
      [
        'rollout from revision 1 (web-1) to 2 (web-2): web env +NEW -OLD; web image web:1 -> web:2; web resources none -> limits.memory=1Gi; and 1 more',
      ],
    ],
    // A node only when it is not well; what could not be read, and that the evidence is partial.
    [
      'a node, notes',
      {
        complete: false,
        notes: ['Node node-3: no answer within the 3000 ms bound', 'another'],
        node: {
          name: 'node-3',
          conditions: [
            { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown' },
            { type: 'MemoryPressure', status: 'False' },
          ],
          taints: ['node.kubernetes.io/unreachable:NoExecute'],
          unschedulable: true,
        },
      },
      [
        'node node-3: Ready Unknown (NodeStatusUnknown); cordoned; 1 taint: node.kubernetes.io/unreachable:NoExecute',
        '2 notes (the evidence is partial): Node node-3: no answer within the 3000 ms bound …',
      ],
    ],
    // A healthy node is not worth a line.
    ['a well node', { node: { name: 'node-2', conditions: [{ type: 'Ready', status: 'True' }], taints: [] } }, []],
  ])('%s', (_what, fields, lines) => expect(evidence({ ...base, ...fields })).toEqual(lines.map((l) => `${' '.repeat(16)}${l}`)));

  it("a log cannot drive the terminal: escape sequences go, other control characters show as '?'", () => {
    const lines = ['\u001b[31mERROR\u001b[0m boom', 'bell\u0007 and \u009b csi', '\u001b]0;title\u0007x'];
    expect(evidence({ ...base, logs: [{ container: 'web', previous: true, lines, truncated: false, redactions: {} }] })).toEqual(
      ['previous log of web, its last 3 lines:', '  | ERROR boom', '  | bell? and ? csi', '  | 0;title?x'].map(
        (l) => `${' '.repeat(16)}${l}`,
      ),
    );
  });

  it('an enrichment of the wrong shape (any sender may post one to dev) is shown as far as it goes, never a crash', () => {
    for (const e of [null, 'text', [1], { containers: 'x', logs: [null, { lines: 'no' }], events: {}, notes: 3, rollout: 1, node: [] }])
      expect(() => timeline.render(describeEvent(enriched(e)), false)).not.toThrow();
    expect(timeline.jsonRow(describeEvent(enriched('text')))).not.toHaveProperty('enrichment');
  });
});
