/**
 * Node Events in `default`, on the real control plane: the real ApiServerSource adapter, configured
 * as the Knative reconciler configures it from the reflex-node-events manifest, watches `default`
 * although nobody opted it in; classify signals the Events about Nodes it delivers, as the kubelet
 * and node-problem-detector write them, and nothing about the Pods there.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1Node } from '@kubernetes/client-node';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import classify from '../../functions/classify/index.js';
import { startServer, type RunningServer } from '../../functions/_kit/index.js';
import { adapterOptionsOf, startAdapter, type Adapter } from './adapter.js';
import { admin, eventually } from './kube.js';
import { createNode, recordEvent } from './kubelet.js';
import { startRelay, type Exchange, type Relay } from './sink.js';

const a = admin();
let node: V1Node;
let nodeName: string;
let server: RunningServer;
let relay: Relay;
let adapter: Adapter;
const logs: string[] = [];

/**
 * Rules of this test's own, so that it does not depend on what the shipped rules call these
 * reasons: Node problems, and a crash loop that would be signalled on its first Event. Node
 * problems are never held back as repeats (repeatAfterSeconds 0), so a second signal could only be
 * stopped by classify recognising the same occurrence.
 */
const RULES = `
rules:
  - name: node-problem
    when: { reason: [Rebooted, KernelOops, SystemOOM], involvedKind: Node }
    class: nodeproblem
    severity: warning
    repeatAfterSeconds: 0
  - name: crashloop-backoff
    when: { reason: BackOff, message: '^Back-off restarting failed container', involvedKind: Pod }
    class: crashloop
    severity: warning
`;

const deliveriesOf = (name: string): Exchange[] => relay.exchanges.filter((x) => x.request.headers['ce-name'] === name);
const signals = (): Exchange[] => relay.exchanges.filter((x) => x.status === 200);

beforeAll(async () => {
  const ns = await a.core.readNamespace({ name: 'default' });
  // The point of the source: `default` is not opted in.
  expect(ns.metadata?.labels?.['reflex.dev/enabled']).toBeUndefined();
  nodeName = `worker-${Math.random().toString(36).slice(2, 8)}`;
  node = await createNode(nodeName);
  const rules = join(mkdtempSync(join(tmpdir(), 'reflex-rules-')), 'rules.yaml');
  writeFileSync(rules, RULES);
  server = await startServer(classify, {
    env: { PORT: '0', REFLEX_HOST: '127.0.0.1', REFLEX_RESOLVE_OWNERS: 'names', REFLEX_RULES_FILE: rules, REFLEX_LOG_LEVEL: 'debug' },
    logSink: (l) => logs.push(l),
  });
  relay = await startRelay(server.url);
  const options = await adapterOptionsOf('reflex-node-events', relay.url);
  expect(options).toMatchObject({
    namespaces: ['default'],
    resources: [{ Group: '', Version: 'v1', Resource: 'events' }],
    mode: 'Resource',
    ceOverrides: { extensions: { reflexscope: 'nodes' } },
  });
  adapter = startAdapter(options);
  // The adapter replays nothing from before it watched: wait until it delivers a fresh Event.
  await eventually(
    'the adapter to watch default',
    async () => {
      const e = await recordEvent({
        namespace: 'default',
        involved: { kind: 'Node', name: nodeName },
        reason: 'Starting',
        message: 'Starting kubelet.',
        type: 'Normal',
        host: nodeName,
      });
      await new Promise((r) => setTimeout(r, 500));
      return deliveriesOf(e.name).length > 0 ? true : undefined;
    },
    60_000,
  );
}, 120_000);

afterAll(async () => {
  writeFileSync(join(tmpdir(), `reflex-node-events-test-${process.pid}.log`), logs.join('\n'));
  await adapter?.stop();
  await relay?.close();
  await server?.shutdown();
  if (node) await a.core.deleteNode({ name: nodeName }).catch(() => undefined);
});

describe('reflex-node-events: Node Events in an unlabelled default', () => {
  it("the kubelet's SystemOOM on its Node (pkg/kubelet/oom: nodeRef, Event in default) is delivered marked, and signalled for the Node", async () => {
    // kubelet.go nodeRef {apiVersion v1, kind Node, name, namespace ""}; client-go's recorder puts the Event in default.
    const ev = await recordEvent({
      namespace: 'default',
      involved: { kind: 'Node', name: nodeName },
      reason: 'SystemOOM',
      message: 'System OOM encountered, victim process: java, pid: 4242',
      host: nodeName,
    });
    const got = await eventually('the SystemOOM delivery', async () => deliveriesOf(ev.name).find((x) => x.status === 200));
    expect(got.request.headers['ce-reflexscope']).toBe('nodes');
    expect(got.responseHeaders).toMatchObject({
      'ce-type': 'dev.reflex.signal.nodeproblem',
      'ce-targetkind': 'Node',
      'ce-targetname': nodeName,
      'ce-reason': 'SystemOOM',
    });
    expect(got.responseHeaders['ce-subject']).toBe(`Node/${nodeName}`);
  });

  it("node-problem-detector's KernelOops (kernel-monitor, UID = node name) is signalled once; the same Event through reflex-events is a duplicate", async () => {
    // k8s.io/node-problem-detector pkg/exporters/k8sexporter/problemclient: getNodeRef, getEventRecorder.
    const now = new Date();
    const name = `${nodeName}.kernel-oops`;
    await a.core.createNamespacedEvent({
      namespace: 'default',
      body: {
        metadata: { name, namespace: 'default' },
        involvedObject: { kind: 'Node', name: nodeName, uid: nodeName },
        reason: 'KernelOops',
        message: 'kernel: BUG: unable to handle kernel NULL pointer dereference at 0000000000000008',
        type: 'Warning',
        source: { component: 'kernel-monitor', host: nodeName },
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
      },
    });
    const got = await eventually('the KernelOops signal', async () => deliveriesOf(name).find((x) => x.status === 200));
    expect(got.responseHeaders).toMatchObject({ 'ce-type': 'dev.reflex.signal.nodeproblem', 'ce-reason': 'KernelOops' });
    // If `default` were opted in, reflex-events would deliver the same Event, unmarked, with its own id.
    const headers = Object.fromEntries(
      Object.entries({ ...(got.request.headers as Record<string, string>), 'ce-id': 'from-reflex-events' }).filter(
        ([k]) => k !== 'host' && k !== 'content-length' && k !== 'ce-reflexscope',
      ),
    );
    const again = await fetch(server.url, { method: 'POST', headers, body: got.request.body });
    expect(again.status).toBe(202);
    expect(signals().filter((x) => x.request.headers['ce-name'] === name)).toHaveLength(1);
  });

  it('a Pod Event in the same unlabelled default is delivered, and gives no signal', async () => {
    const before = signals().length;
    const ev = await recordEvent({
      namespace: 'default',
      involved: { kind: 'Pod', name: 'web-7d9c8b5f4-x2x7q', namespace: 'default', fieldPath: 'spec.containers{web}' },
      reason: 'BackOff',
      message: 'Back-off restarting failed container web in pod web-7d9c8b5f4-x2x7q_default(0b9e4c1e)',
      host: nodeName,
    });
    await ev.repeat(2);
    await eventually('three deliveries of the Pod Event', async () => (deliveriesOf(ev.name).length >= 3 ? true : undefined));
    expect(deliveriesOf(ev.name).map((x) => [x.request.headers['ce-reflexscope'], x.status])).toEqual([
      ['nodes', 202],
      ['nodes', 202],
      ['nodes', 202],
    ]);
    expect(signals().length).toBe(before);
    expect(logs.some((l) => l.includes('from the node-Event source, which only speaks for Nodes'))).toBe(true);
  });
});
