/**
 * The install on Knative's own data plane (issue 18): knative/ (through overlays/dry-run and
 * test/cluster/overlays/dataplane) applied to the test control plane, where Knative Eventing's
 * real controllers reconcile it (eventing-controller, mt-broker-controller, imc-controller) and its
 * real data plane carries the events (the ApiServerSource adapter, broker-ingress, the
 * InMemoryChannel dispatcher, broker-filter), built from knative.dev/eventing at the pinned version
 * and run as processes (test/cluster/dataplane.ts). Knative Serving is the one stand-in: each
 * Knative Service is its function's server, made addressable (test/cluster/serving.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type V1Deployment } from '@kubernetes/client-node';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { randomUUID } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { parseRequest } from '../../functions/_kit/binding.js';
import { play } from '../../dev/mesh/play.js';
import { readRecording, type Recorded } from '../../dev/mesh/replay.js';
import { describeEvent, type ActionLine, type Line, type SignalLine } from '../../dev/mesh/timeline.js';
import { apply, probe, remove, startDataPlane, type DataPlane, type K8sDoc, type PodProcess } from './dataplane.js';
import { changes, mapNames, setUpIncident, writeChange, type NameMap } from './incident.js';
import { admin, asServiceAccount, eventually, freshNamespace } from './kube.js';
import { Oracle, type ValidateAnswer } from './oracle.js';
import type { Exchange } from './proxy.js';
import { serve, type KnativeService, type ServedFunction } from './serving.js';
import { startSink, type Sink } from './sink.js';

const a = admin();
const custom = a.config.makeApiClient(CustomObjectsApi);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const overlay = fileURLToPath(new URL('./overlays/dataplane', import.meta.url));
const incidentFile = join(fileURLToPath(new URL('../..', import.meta.url)), 'examples', 'incident', 'checkout.ndjson');
const INSTALL_NS = 'reflex';

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
interface Reconciled {
  metadata: { name: string; generation?: number };
  status?: { conditions?: Condition[]; observedGeneration?: number; address?: { url?: string }; subscriberUri?: string };
}

let dp: DataPlane;
let ns: string;
let rendered: K8sDoc[];
let records: Recorded[];
let names: NameMap;
let slack: Sink;
const served = new Map<string, ServedFunction>();
const adapters = new Map<string, PodProcess>();
const t0 = Date.now();
const timings: string[] = [];
const mark = (what: string): void => void timings.push(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);

async function getObject(plural: string, group: string, version: string, name: string): Promise<Reconciled> {
  return (await custom.getNamespacedCustomObject({ group, version, plural, namespace: INSTALL_NS, name })) as Reconciled;
}

/** The object once Knative's reconciler has observed its generation and says Ready=True. */
async function readyOf(plural: string, group: string, version: string, name: string, timeoutMs = 60_000): Promise<Reconciled> {
  let last: Reconciled | undefined;
  try {
    return await eventually(
      `${plural}/${name} Ready`,
      async () => {
        last = await getObject(plural, group, version, name);
        const ready = last.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.status === 'True' && last.status?.observedGeneration === last.metadata.generation ? last : undefined;
      },
      timeoutMs,
    );
  } catch (err) {
    throw new Error(`${String(err)}\nlast status: ${JSON.stringify(last?.status)}\n${dp.tails(15)}`);
  }
}

const conditions = (o: Reconciled): Record<string, string> =>
  Object.fromEntries((o.status?.conditions ?? []).map((c) => [c.type, c.status]));

/** knative/ as the test applies it: rendered by kubectl's kustomize, then defaulted as Knative's webhook would. */
async function render(): Promise<K8sDoc[]> {
  const r = spawnSync(process.env['REFLEX_TEST_KUBECTL'] ?? 'kubectl', ['kustomize', overlay], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kubectl kustomize ${overlay}: ${r.stderr}`);
  const docs = parseAllDocuments(r.stdout).map((d) => d.toJSON() as K8sDoc);
  const oracle = new Oracle();
  try {
    const knative = docs.filter((d) => d.apiVersion === 'eventing.knative.dev/v1' && (d.kind === 'Broker' || d.kind === 'Trigger'));
    const answers = await oracle.ask<ValidateAnswer>(
      knative.map((d) => ({ op: 'validate', kind: d.kind as 'Broker' | 'Trigger', object: d })),
    );
    answers.forEach((ans, i) => {
      const d = knative[i]!;
      // The validating webhook would refuse what Knative's Validate refuses.
      expect([d.kind, d.metadata.name, ans.ok, ans.errors]).toEqual([d.kind, d.metadata.name, true, []]);
      const def = ans.defaulted as {
        metadata?: { annotations?: Record<string, string>; labels?: Record<string, string> };
        spec: Record<string, unknown>;
      };
      // What the defaulting webhook adds: the Broker's class and config, the Triggers' reference namespaces.
      if (def.metadata?.annotations) d.metadata.annotations = { ...d.metadata.annotations, ...def.metadata.annotations };
      if (def.metadata?.labels) d.metadata.labels = { ...d.metadata.labels, ...def.metadata.labels };
      d.spec = def.spec;
    });
  } finally {
    await oracle.close();
  }
  return docs;
}

/**
 * What the kubelet would run for an ApiServerSource: the receive adapter, from the Deployment Knative
 * made for it (its env, its ServiceAccount), in its own network namespace; then its pod is Ready.
 */
async function runAdapter(source: string): Promise<PodProcess> {
  const d = await eventually(
    `the adapter Deployment of ApiServerSource ${source}`,
    async () =>
      (await a.apps.listNamespacedDeployment({ namespace: INSTALL_NS })).items.find((x: V1Deployment) =>
        x.metadata?.ownerReferences?.some((o) => o.kind === 'ApiServerSource' && o.name === source),
      ),
    60_000,
  );
  const pod = await dp.podOf(INSTALL_NS, d.metadata!.name!);
  const sa = d.spec!.template.spec!.serviceAccountName ?? 'default';
  const { kubeconfig } = await asServiceAccount(INSTALL_NS, sa);
  const container = d.spec!.template.spec!.containers[0]!;
  const proc = await dp.runPod({
    name: `adapter-${source}`,
    command: [`${dp.binDir}/apiserver_receive_adapter`],
    env: { ...(await dp.envOf(d, pod.metadata!.name!)), KUBECONFIG: kubeconfig },
    ports: (container.ports ?? []).map((p) => p.containerPort),
  });
  await eventually(
    `the ${source} adapter to answer its readiness probe`,
    async () => {
      if (!proc.running()) throw new Error(`adapter ${source} exited:\n${proc.output()}`);
      return (await probe(container, proc)) ? true : undefined;
    },
    30_000,
  );
  await dp.markReady(pod);
  return proc;
}

beforeAll(async () => {
  // The incident's namespace exists, opted in, before the sources are reconciled (their adapters
  // get the list of matching namespaces when Knative makes their Deployments).
  ns = await freshNamespace('dataplane', { 'reflex.dev/enabled': 'true', 'reflex.test/dataplane': 'true' });
  dp = await startDataPlane();
  mark('data plane up');
  records = readRecording(incidentFile);
  // The incident's starting state, before any source watches (test/cluster/incident.ts).
  names = await setUpIncident(records, ns, (p) => dp.markReady(p));
  mark('incident state set up');
  rendered = await render();
  await apply(rendered.filter((d) => d.kind === 'Namespace'));
  await apply(rendered.filter((d) => d.kind !== 'Namespace'));
  mark('install applied');
  // notify's Slack sink (knative/config/notify-routes.yaml) is a local stand-in for Slack.
  slack = await startSink(200);
  for (const ksvc of rendered.filter((d) => d.apiVersion === 'serving.knative.dev/v1' && d.kind === 'Service'))
    served.set(
      ksvc.metadata.name,
      await serve(
        ksvc as unknown as KnativeService,
        dp.proxy,
        ksvc.metadata.name === 'notify' ? { REFLEX_SLACK_WEBHOOK_URL: slack.url } : {},
      ),
    );
  mark('functions served');
}, 240_000);

afterAll(async () => {
  process.stderr.write(`knative-dataplane timings:\n  ${timings.join('\n  ')}\n`);
  // Every exchange on the cluster network, for a failing run (kept with REFLEX_KEEP_CLUSTER_DIR=1).
  if (dp) writeFileSync(join(dp.dir, 'exchanges.json'), JSON.stringify(dp.proxy.exchanges, null, 1));
  // The incident's namespace out of the other test files' sight at once (they list the opted-in
  // namespaces as theirs), then gone: bound pods go only when a kubelet confirms, so its part is
  // played (grace 0), or the namespace would stay Terminating for the rest of the run.
  if (ns) {
    await a.core
      .patchNamespace(
        { name: ns, body: { metadata: { labels: { 'reflex.dev/enabled': null, 'reflex.test/dataplane': null } } } },
        mergePatch,
      )
      .catch(() => undefined);
    await a.core.deleteNamespace({ name: ns }).catch(() => undefined);
    for (const p of (await a.core.listNamespacedPod({ namespace: ns }).catch(() => ({ items: [] }))).items)
      await a.core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: ns, gracePeriodSeconds: 0 }).catch(() => undefined);
  }
  for (const n of ['node-1', 'node-2', 'node-3'])
    if (names?.has(n)) await a.core.deleteNode({ name: names.get(n)! }).catch(() => undefined);
  // The install's own objects, while Knative's controllers still run to release their finalizers;
  // what other test files share (the namespace, ServiceAccounts, RBAC) stays.
  if (rendered && dp) {
    const shared = ['Namespace', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'];
    const own = [
      ...rendered.filter((d) => !shared.includes(d.kind)),
      { apiVersion: 'eventing.knative.dev/v1', kind: 'Trigger', metadata: { name: 'dataplane-probe', namespace: INSTALL_NS } },
    ];
    try {
      await remove(own);
    } catch (err) {
      process.stderr.write(`knative-dataplane: the install was not removed: ${String(err)}\n`);
    }
  }
  for (const p of adapters.values()) await p.stop();
  for (const f of served.values()) await f.stop();
  await slack?.close();
  await dp?.stop();
}, 120_000);

describe('the install, reconciled by Knative', () => {
  it('every ConfigMap a Knative Service mounts is one the install makes (kustomize renames both: knative/kustomizeconfig.yaml)', () => {
    const made = new Set(rendered.filter((d) => d.kind === 'ConfigMap').map((d) => d.metadata.name));
    const mounted = rendered
      .filter((d) => d.apiVersion === 'serving.knative.dev/v1' && d.kind === 'Service')
      .flatMap((d) => ((d as unknown as KnativeService).spec.template.spec.volumes ?? []).map((v) => [d.metadata.name, v.configMap?.name]))
      .filter(([, cm]) => cm !== undefined);
    expect(mounted.length).toBeGreaterThanOrEqual(5);
    for (const [svc, cm] of mounted) expect([svc, cm, made.has(cm!)]).toEqual([svc, cm, true]);
  });

  it('the Broker is Ready, class MTChannelBasedBroker over an InMemoryChannel, addressed at the ingress', async () => {
    const broker = await readyOf('brokers', 'eventing.knative.dev', 'v1', 'reflex');
    mark('broker ready');
    expect(conditions(broker)).toMatchObject({
      Addressable: 'True',
      FilterReady: 'True',
      IngressReady: 'True',
      TriggerChannelReady: 'True',
      DeadLetterSinkResolved: 'True',
      Ready: 'True',
    });
    expect(broker.status?.address?.url).toBe(`http://broker-ingress.knative-eventing.svc.cluster.local/${INSTALL_NS}/reflex`);
    const imc = (await custom.getNamespacedCustomObject({
      group: 'messaging.knative.dev',
      version: 'v1',
      plural: 'inmemorychannels',
      namespace: INSTALL_NS,
      name: 'reflex-kne-trigger',
    })) as Reconciled;
    expect(conditions(imc)['Ready']).toBe('True');
  }, 90_000);

  it('every Trigger of the install is Ready: broker, subscriber (a Knative Service), subscription, dead-letter sink', async () => {
    const triggers = rendered.filter((d) => d.kind === 'Trigger').map((d) => d.metadata.name);
    expect(triggers.length).toBeGreaterThanOrEqual(8);
    for (const name of triggers) {
      const t = await readyOf('triggers', 'eventing.knative.dev', 'v1', name);
      expect([name, conditions(t)]).toEqual([
        name,
        expect.objectContaining({
          BrokerReady: 'True',
          DependencyReady: 'True',
          SubscriberResolved: 'True',
          SubscriptionReady: 'True',
          DeadLetterSinkResolved: 'True',
          Ready: 'True',
        }),
      ]);
      const svc = (
        rendered.find((d) => d.kind === 'Trigger' && d.metadata.name === name)!.spec as { subscriber: { ref: { name: string } } }
      ).subscriber.ref.name;
      expect([name, t.status?.subscriberUri]).toEqual([name, `http://${svc}.${INSTALL_NS}.svc.cluster.local`]);
    }
    mark('triggers ready');
  }, 120_000);

  it('every ApiServerSource is Ready once the adapter Knative made a Deployment for runs', async () => {
    const sources = rendered.filter((d) => d.kind === 'ApiServerSource').map((d) => d.metadata.name);
    for (const s of sources) adapters.set(s, await runAdapter(s));
    for (const s of sources) {
      const src = await readyOf('apiserversources', 'sources.knative.dev', 'v1', s);
      expect([s, conditions(src)]).toEqual([
        s,
        expect.objectContaining({ SinkProvided: 'True', Deployed: 'True', SufficientPermissions: 'True', Ready: 'True' }),
      ]);
    }
    mark('sources ready');
  }, 120_000);
});

/** A decision as one comparable line: a signal, or what a function did, and about what. */
function decisionKey(l: Line): string | undefined {
  const on = (t: { kind: string; namespace?: string; name: string }): string =>
    `${t.kind} ${t.namespace ? `${t.namespace}/` : ''}${t.name}`;
  if (l.kind === 'signal') return `signal ${(l as SignalLine).class} ${(l as SignalLine).severity} on ${on((l as SignalLine).target)}`;
  if (l.kind === 'action') {
    const x = l as ActionLine;
    return `${x.function} ${x.verb}: ${x.outcome}${x.dryRun ? ' (dry-run)' : ''} on ${on(x.target)}`;
  }
  return undefined;
}

/** The CloudEvent a function replied with, as the Broker reads it (binary or structured). */
function replyOf(x: Exchange): Line | undefined {
  if (x.status !== 200 || !x.responseBody || !x.responseHeaders) return undefined;
  try {
    const parsed = parseRequest(x.responseHeaders as IncomingHttpHeaders, Buffer.from(x.responseBody));
    const e = parsed.events[0];
    return e ? describeEvent(e) : undefined;
  } catch {
    return undefined;
  }
}

const fromAdapter = (x: Exchange): boolean =>
  x.from.startsWith('adapter-') && x.host === 'broker-ingress.knative-eventing.svc.cluster.local';
const toFunction = (x: Exchange, fn?: string): boolean =>
  x.from === 'mt-broker-filter' &&
  (fn ? x.host === `${fn}.${INSTALL_NS}.svc.cluster.local` : x.host.endsWith(`.${INSTALL_NS}.svc.cluster.local`));

describe('the bundled incident on Knative’s data plane', () => {
  it('flows adapter -> broker-ingress -> InMemoryChannel -> broker-filter -> functions -> replies into the Broker, and decides as the development broker does', async () => {
    const expected = (await play(records)).lines
      .map(decisionKey)
      .filter((k): k is string => !!k)
      .map((k) => mapNames(k, names));
    mark('development broker played the incident');
    expect(expected.length).toBeGreaterThanOrEqual(10);
    const start = dp.proxy.exchanges.length;
    for (const r of changes(records)) {
      const seen = dp.proxy.exchanges.filter((x) => fromAdapter(x)).length;
      const { name } = await writeChange(r, names);
      // Settled: the source has sent it, and nothing is in flight any more (every hop answered).
      await eventually(
        `the adapter to send ${r.type} ${r.object.kind} ${name}`,
        async () =>
          dp.proxy.exchanges.filter((x) => fromAdapter(x)).length > seen &&
          dp.proxy.exchanges.slice(start).some((x) => fromAdapter(x) && x.headers['ce-name'] === name)
            ? true
            : undefined,
        30_000,
      );
      await dp.proxy.settled(1000);
    }
    await dp.proxy.settled(2000);
    mark('incident written and settled');
    const exchanges = dp.proxy.exchanges.slice(start);
    const ours = new Set([ns, ...['node-1', 'node-2', 'node-3'].map((n) => names.get(n)!)]);
    const actual = exchanges
      .filter((x) => toFunction(x))
      .map(replyOf)
      .filter((l): l is SignalLine | ActionLine => l?.kind === 'signal' || l?.kind === 'action')
      .filter((l) => ours.has(l.target.namespace ?? l.target.name))
      .map((l) => decisionKey(l)!);
    expect(actual).toEqual(expected);

    // Every hop was Knative's: the adapters posted to the ingress, the ingress to the channel, the
    // dispatcher fanned out to broker-filter (one request per Trigger), the filter to the functions;
    // a reply comes back to the dispatcher as the filter's answer, and the dispatcher posts it to
    // the ingress (the Subscription's reply address).
    const hops = new Set(exchanges.map((x) => `${x.from} -> ${x.host.replace(/^.*-kn-channel\./, '<channel>.')}`));
    expect([...hops].sort()).toEqual(
      expect.arrayContaining([
        'adapter-reflex-events -> broker-ingress.knative-eventing.svc.cluster.local',
        'adapter-reflex-state -> broker-ingress.knative-eventing.svc.cluster.local',
        'adapter-reflex-node-events -> broker-ingress.knative-eventing.svc.cluster.local',
        'mt-broker-ingress -> <channel>.reflex.svc.cluster.local',
        'imc-dispatcher -> broker-filter.knative-eventing.svc.cluster.local',
        'mt-broker-filter -> classify.reflex.svc.cluster.local',
        'mt-broker-filter -> recover.reflex.svc.cluster.local',
        'mt-broker-filter -> scale.reflex.svc.cluster.local',
        'mt-broker-filter -> notify.reflex.svc.cluster.local',
        'mt-broker-filter -> enrich.reflex.svc.cluster.local',
        'imc-dispatcher -> broker-ingress.knative-eventing.svc.cluster.local',
      ]),
    );
    // The channel's fan-out: every event on the channel goes to broker-filter once per Trigger,
    // which filters it there (the cost of a Trigger is paid by every event: docs/install.md, Scaling).
    const triggers = rendered.filter((d) => d.kind === 'Trigger').length;
    const onChannel = exchanges.filter((x) => x.from === 'mt-broker-ingress').map((x) => String(x.headers['ce-id']));
    expect(onChannel.length).toBeGreaterThan(20);
    const fanout = new Map<string, number>();
    for (const x of exchanges.filter((y) => y.from === 'imc-dispatcher' && y.host.startsWith('broker-filter.')))
      fanout.set(String(x.headers['ce-id']), (fanout.get(String(x.headers['ce-id'])) ?? 0) + 1);
    expect(new Set(onChannel.map((id) => fanout.get(id) ?? 0))).toEqual(new Set([triggers]));
    mark(`${onChannel.length} events on the channel, ${triggers} filter requests each`);
    // Nothing failed on the way, and nothing was dead-lettered.
    expect(
      exchanges
        .filter((x) => x.error !== undefined || (x.status ?? 0) >= 500)
        .map((x) => `${x.from} -> ${x.host}${x.path}: ${x.status} ${x.error ?? ''}`),
    ).toEqual([]);
    expect(exchanges.filter((x) => x.host.startsWith('deadletter.'))).toEqual([]);
  }, 240_000);
});

describe('delivery, as the Broker says (knative/broker.yaml): retries, backoff, dead letters', () => {
  /** POSTs a binary CloudEvent to the Broker's ingress through the cluster network, as a source in the cluster would. */
  function publish(event: {
    id: string;
    type: string;
    source: string;
    data: unknown;
    extensions?: Record<string, string>;
  }): Promise<number> {
    return new Promise((resolve, reject) => {
      const body = JSON.stringify(event.data);
      const req = request(
        {
          host: '127.0.0.1',
          port: dp.proxy.port,
          method: 'POST',
          path: `http://broker-ingress.knative-eventing.svc.cluster.local/${INSTALL_NS}/reflex`,
          headers: {
            host: 'broker-ingress.knative-eventing.svc.cluster.local',
            'content-type': 'application/json',
            'ce-specversion': '1.0',
            'ce-id': event.id,
            'ce-type': event.type,
            'ce-source': event.source,
            ...Object.fromEntries(Object.entries(event.extensions ?? {}).map(([k, v]) => [`ce-${k}`, v])),
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  const deadLetters = (id: string): Exchange[] =>
    dp.proxy.exchanges.filter((x) => x.host === `deadletter.${INSTALL_NS}.svc.cluster.local` && x.headers['ce-id'] === id);

  it('a subscriber answering 503 is tried 1 + 5 times, 0.5 s doubling, then dead-lettered with knativeerror* attributes', async () => {
    // A subscriber that always fails, behind a Trigger of its own with no delivery: the Broker's applies.
    const attemptsOf = new Map<string, number[]>();
    const failing = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const ceId = String(req.headers['ce-id']);
        attemptsOf.set(ceId, [...(attemptsOf.get(ceId) ?? []), Date.now()]);
        res.writeHead(503, { 'content-type': 'text/plain' }).end('probe: unavailable');
      });
    });
    await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
    dp.proxy.route('probe.dataplane-test.svc.cluster.local', { port: (failing.address() as AddressInfo).port });
    try {
      const trigger = {
        apiVersion: 'eventing.knative.dev/v1',
        kind: 'Trigger',
        metadata: { name: 'dataplane-probe', namespace: INSTALL_NS },
        spec: {
          broker: 'reflex',
          filters: [{ exact: { type: 'dev.reflex.test.probe' } }],
          subscriber: { uri: 'http://probe.dataplane-test.svc.cluster.local/' },
        },
      };
      const oracle = new Oracle();
      const [ans] = await oracle.ask<ValidateAnswer>([{ op: 'validate', kind: 'Trigger', object: trigger }]);
      await oracle.close();
      expect([ans!.ok, ans!.errors]).toEqual([true, []]);
      await apply([{ ...trigger, spec: (ans!.defaulted as { spec: unknown }).spec }]);
      await readyOf('triggers', 'eventing.knative.dev', 'v1', 'dataplane-probe');
      // The Trigger is Ready once its Subscription is; the dispatcher takes the new subscriber a
      // moment later (on a loaded machine, seconds): an event published before that never reaches
      // it. So: publish until one does, and follow that one.
      const published: string[] = [];
      const id = await eventually(
        'the probe subscriber to get a first attempt',
        async () => {
          const tried = published.find((p) => attemptsOf.has(p));
          if (tried) return tried;
          const next = randomUUID();
          published.push(next);
          expect(await publish({ id: next, type: 'dev.reflex.test.probe', source: '/dataplane-test', data: { probe: true } })).toBe(202);
          await new Promise((r) => setTimeout(r, 2000));
          return published.find((p) => attemptsOf.has(p));
        },
        60_000,
      );
      const dead = await eventually('the dead letter', async () => deadLetters(id).find((x) => x.status !== undefined), 60_000);
      mark('retries and dead letter');
      const attempts = attemptsOf.get(id)!;
      expect(attempts).toHaveLength(6);
      const gaps = attempts.slice(1).map((t, i) => (t - attempts[i]!) / 1000);
      // Exponential from PT0.5S: 0.5, 1, 2, 4, 8 s (Knative adds no jitter); generous for a busy machine.
      [0.5, 1, 2, 4, 8].forEach((want, i) => {
        expect([i, gaps[i]! >= want * 0.9]).toEqual([i, true]);
        expect([i, gaps[i]! <= want * 1.5 + 0.75]).toEqual([i, true]);
      });
      expect(dead.headers).toMatchObject({
        'ce-type': 'dev.reflex.test.probe',
        'ce-knativeerrorcode': '503',
        'ce-knativeerrordata': Buffer.from('probe: unavailable').toString('base64'),
      });
      // Where it failed: the subscriber itself (broker-filter proxies the attempt and tells the
      // dispatcher, which retries and dead-letters, the destination and body that failed).
      expect(dead.headers['ce-knativeerrordest']).toBe('http://probe.dataplane-test.svc.cluster.local/');
      expect(dead.from).toBe('imc-dispatcher');
      // The deadletter function took it (an empty 2xx: accepted, nothing to say).
      expect(dead.status).toBe(202);
    } finally {
      // The Trigger stays until the install goes (afterAll): a deleted Trigger's subscription can outlive
      // it in the dispatcher for a moment, and broker-filter answers 404 for it, retried and dead-lettered.
      failing.closeAllConnections();
      await new Promise((r) => failing.close(r));
    }
  }, 90_000);

  it('enrich failing: its Trigger retries it twice, then dead-letters the raw signal to notify, which tells Slack that the evidence is unavailable', async () => {
    // enrich answers 503 for a while (an outage), through the same Service address.
    const attempts: string[] = [];
    const failing = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        attempts.push(String(req.headers['ce-id']));
        res
          .writeHead(503, { 'content-type': 'application/problem+json' })
          .end('{"status":503,"title":"Unavailable","detail":"enrich is down"}');
      });
    });
    await new Promise<void>((r) => failing.listen(0, '127.0.0.1', r));
    const enrichHost = `enrich.${INSTALL_NS}.svc.cluster.local`;
    dp.proxy.route(enrichHost, { port: (failing.address() as AddressInfo).port });
    const id = randomUUID();
    const key = randomUUID().replace(/-/g, '').slice(0, 16);
    const now = new Date().toISOString();
    const name = `fallback-${key.slice(0, 6)}`;
    try {
      const data = {
        class: 'crashloop',
        severity: 'warning',
        reason: 'BackOff',
        message: `Back-off restarting failed container app in pod ${name}-6f9d8c7b5-q7x2m_${ns}(p1)`,
        target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name, resolvedBy: 'ownerReferences' },
        involved: { apiVersion: 'v1', kind: 'Pod', namespace: ns, name: `${name}-6f9d8c7b5-q7x2m` },
        container: 'app',
        occurrences: 3,
        firstSeen: now,
        lastSeen: now,
        detectedBy: 'classify',
        key,
      };
      const before = slack.received.length;
      expect(
        await publish({
          id,
          type: 'dev.reflex.signal.crashloop',
          source: '/reflex/classify',
          data,
          extensions: {
            reflexclass: 'crashloop',
            severity: 'warning',
            targetkind: 'Deployment',
            targetns: ns,
            targetname: name,
            reason: 'BackOff',
          },
        }),
      ).toBe(202);
      const told = await eventually(
        'the message on Slack',
        async () => slack.received.slice(before).find((r) => r.body.includes(name)),
        30_000,
      );
      mark('enrich fallback told');
      // 1 + 2 retries (knative/enrich/trigger.yaml), then the dead letter to notify, from Knative's dispatcher.
      expect(attempts.filter((a) => a === id)).toHaveLength(3);
      const dead = dp.proxy.exchanges.filter(
        (x) =>
          x.host === `notify.${INSTALL_NS}.svc.cluster.local` &&
          x.headers['ce-id'] === id &&
          x.headers['ce-knativeerrordest'] !== undefined,
      );
      expect(dead.map((x) => [x.from, x.headers['ce-type'], x.headers['ce-knativeerrorcode'], x.status])).toEqual([
        ['imc-dispatcher', 'dev.reflex.signal.crashloop', '503', 202],
      ]);
      expect(String(dead[0]!.headers['ce-knativeerrordest'])).toContain(enrichHost);
      // Slack hears of the problem, and that the evidence could not be gathered.
      expect(told.body).toMatch(/enrichment unavailable/);
      expect(told.body).toContain('503');
      // recover had the raw signal at once, as ever (enrichment never delays a remediation).
      expect(dp.proxy.exchanges.some((x) => toFunction(x, 'recover') && x.headers['ce-id'] === id)).toBe(true);
      // Nothing went to the Broker's own dead-letter sink: the fallback is not a loss.
      expect(deadLetters(id)).toEqual([]);
    } finally {
      dp.proxy.route(enrichHost, { port: served.get('enrich')!.server.port });
      failing.closeAllConnections();
      await new Promise((r) => failing.close(r));
    }
  }, 90_000);

  it('a function refusing an event (400) is tried once and dead-lettered at once', async () => {
    const id = randomUUID();
    // Not a Kubernetes object: classify's schema refuses it, 400, which Knative does not retry.
    expect(
      await publish({
        id,
        type: 'dev.knative.apiserver.resource.add',
        source: 'https://kubernetes.default.svc',
        data: { not: 'an object' },
        extensions: { kind: 'Event', name: 'x', namespace: ns, apiversion: 'v1' },
      }),
    ).toBe(202);
    const dead = await eventually('the dead letter', async () => deadLetters(id).find((x) => x.status !== undefined), 30_000);
    await dp.proxy.settled(1000);
    expect(deadLetters(id)).toHaveLength(1);
    const tried = dp.proxy.exchanges.filter((x) => toFunction(x, 'classify') && x.headers['ce-id'] === id);
    expect(tried.map((x) => x.status)).toEqual([400]);
    expect(dead.headers).toMatchObject({ 'ce-knativeerrorcode': '400' });
    expect(JSON.parse(Buffer.from(String(dead.headers['ce-knativeerrordata']), 'base64').toString())).toMatchObject({ status: 400 });
    expect(dead.status).toBe(202);
  }, 60_000);
});
