/**
 * bench/pipeline — Reflex end to end on the test control plane (issue 19): Events written as the
 * kubelet writes them -> the real ApiServerSource receive adapter -> the development broker (the
 * manifests' Triggers) -> classify -> recover (dry-run) -> recover's audit Event visible in the API.
 *
 *  - reaction time: one incident at a time (a Deployment whose pod crash-loops: its pod status,
 *    then BackOff written three times, crossing crashloop's threshold), from the write that crosses
 *    the threshold to recover's ReflexDryrun Event on the Deployment, as a watch sees it; p50/p99;
 *  - storm: many Events at once (BackOff on every pod of many Deployments, repeated), written as
 *    fast as the API server takes them: events/s through the pipeline, the mesh's peak memory,
 *    every Event accounted for (signal, held back, no signal) and recover's decisions equal to
 *    what its guards allow (one per Deployment: the rest are repeats of a problem already seen).
 *
 *   node --import tsx bench/pipeline.ts [--incidents 200] [--storm-deployments 100] [--storm-repeats 100]
 *
 * Needs the control plane binaries (bash test/cluster/build.sh). Prints a markdown table and writes
 * it, with the raw numbers, to bench/results/<date>-pipeline.{md,json} (`npm run bench` runs it).
 */
import type { V1Pod } from '@kubernetes/client-node';
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startMesh } from '../dev/mesh/mesh.js';
import type { BrokerRecord } from '../dev/mesh/broker.js';
import { startControlPlane, useControlPlane } from '../test/cluster/control-plane.js';

const { values } = parseArgs({
  options: {
    incidents: { type: 'string', default: '200' },
    'storm-deployments': { type: 'string', default: '100' },
    'storm-repeats': { type: 'string', default: '100' },
  },
});
const INCIDENTS = Number(values.incidents);
const STORM_DEPLOYMENTS = Number(values['storm-deployments']);
const STORM_REPEATS = Number(values['storm-repeats']);

const say = (s: string): boolean => process.stderr.write(`${s}\n`);
const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? NaN;
};

say('pipeline: starting the control plane');
const cp = await startControlPlane();
useControlPlane(cp);
// The harness reads the control plane from the environment when it loads.
const { admin, eventually, freshNamespace } = await import('../test/cluster/kube.js');
const { createDeployment, crashLoopingStatus, recordBackOff, recordEvent, setPodStatus } = await import('../test/cluster/kubelet.js');
const { adapterOptionsOf, startAdapter } = await import('../test/cluster/adapter.js');
const a = admin();

/** Decisions and classifications the broker saw, by type. */
const seen = { signals: 0, decisions: 0, bridged: 0, stormBridged: 0 };
/** The storm's pods: its Events are counted apart from everything else the adapter sends. */
const stormPodNames = new Set<string>();
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);

const mesh = await startMesh({
  env: { ...process.env, KUBECONFIG: cp.kubeconfig, REFLEX_LOG_LEVEL: 'warn' },
  onRecord: (r: BrokerRecord) => {
    if (r.kind !== 'accepted') return;
    const type = r.event.type;
    if (type.startsWith('dev.knative.apiserver.')) {
      seen.bridged++;
      const involved = (r.event.data as { involvedObject?: { name?: string } } | undefined)?.involvedObject?.name;
      if (involved && stormPodNames.has(involved)) seen.stormBridged++;
    } else if (type.startsWith('dev.reflex.signal.')) seen.signals++;
    else if (type.startsWith('dev.reflex.action.')) seen.decisions++;
  },
  logSink: () => {},
});
const broker = mesh.mesh.brokers[0]!;
const ingress = mesh.broker.ingress(broker.namespace, broker.name);

const ns = await freshNamespace('pipeline', { 'reflex.dev/enabled': 'true' });
say(`pipeline: namespace ${ns}; broker ingress ${ingress}`);

/** Deployments of one pod each, their pods made by the real controllers; returns the pods by Deployment. */
async function deployments(prefix: string, n: number): Promise<Map<string, V1Pod>> {
  for (let i = 0; i < n; i++) await createDeployment(ns, `${prefix}${i}`);
  return eventually(
    `${n} pods of ${prefix}*`,
    async () => {
      const pods = (await a.core.listNamespacedPod({ namespace: ns })).items.filter((p) => p.metadata?.labels?.['app']?.startsWith(prefix));
      const byApp = new Map(pods.map((p) => [p.metadata!.labels!['app']!, p]));
      return byApp.size === n ? byApp : undefined;
    },
    300_000,
  );
}

/** Crash-looping, as kubelet shows it: what recover confirms before it decides. */
const crashLooping = (pod: V1Pod): Promise<V1Pod> => setPodStatus(pod, crashLoopingStatus(pod.spec!.containers[0]!.image!, 3));

// recover's audit Events, as a watch on the namespace sees them arrive.
const audited = new Map<string, number>();
const lib = await import('@kubernetes/client-node');
const watch = await new lib.Watch(a.config).watch(
  `/api/v1/namespaces/${ns}/events`,
  {},
  (type: string, e: { reason?: string; involvedObject?: { kind?: string; name?: string } }) => {
    if (type === 'ADDED' && e.reason?.startsWith('Reflex') && e.involvedObject?.kind === 'Deployment')
      if (!audited.has(e.involvedObject.name!)) audited.set(e.involvedObject.name!, performance.now());
  },
  () => {},
);

say(`pipeline: ${INCIDENTS} Deployments for the reaction time, ${STORM_DEPLOYMENTS} for the storm`);
const incidents = await deployments('r', INCIDENTS);
const stormPods = await deployments('s', STORM_DEPLOYMENTS);

for (const pod of stormPods.values()) stormPodNames.add(pod.metadata!.name!);
// As the Knative reconciler runs it for the manifests' reflex-events source.
const adapter = startAdapter(await adapterOptionsOf('reflex-events', ingress));
// The adapter sends nothing for what existed before it watched: wait until it delivers.
await eventually(
  'the adapter to deliver',
  async () => {
    const before = seen.bridged;
    await recordEvent({
      namespace: ns,
      involved: { kind: 'Pod', name: 'warmup', namespace: ns },
      reason: 'Pulled',
      message: 'warm-up',
      type: 'Normal',
    });
    await new Promise((r) => setTimeout(r, 300));
    return seen.bridged > before ? true : undefined;
  },
  60_000,
);

// --- reaction time, one incident at a time
const reactions: number[] = [];
let missed = 0;
for (const [app, pod] of incidents) {
  await crashLooping(pod);
  const e = await recordBackOff(pod);
  await e.repeat(1);
  const t0 = performance.now();
  await e.repeat(1); // count 3: crashloop's threshold
  try {
    await eventually(`recover's Event on ${app}`, async () => (audited.has(app) ? true : undefined), 10_000);
    reactions.push(audited.get(app)! - t0);
  } catch {
    missed++;
  }
}
say(`pipeline: reaction p50 ${quantile(reactions, 0.5).toFixed(0)} ms, p99 ${quantile(reactions, 0.99).toFixed(0)} ms, ${missed} missed`);

// --- storm
const stormBefore = { ...seen };
for (const pod of stormPods.values()) await crashLooping(pod);
peakRss = process.memoryUsage().rss;
const rssBefore = peakRss;
const began = performance.now();
const recorded = await Promise.all([...stormPods.values()].map((pod) => recordBackOff(pod)));
// Each Event repeated: one PATCH per repeat, as the kubelet's recorder aggregates them.
await Promise.all(recorded.map((e) => e.repeat(STORM_REPEATS - 1)));
const written = performance.now() - began;
const stormEvents = STORM_DEPLOYMENTS * STORM_REPEATS;
await eventually('every storm Event through classify', async () => (seen.stormBridged >= stormEvents ? true : undefined), 600_000);
const through = performance.now() - began;
await eventually(
  "recover's decision on every storm Deployment",
  async () => ([...stormPods.keys()].every((app) => audited.has(app)) ? true : undefined),
  120_000,
).catch(() => undefined);
await new Promise((r) => setTimeout(r, 2000)); // anything more would be a second decision
const stormAudited = [...stormPods.keys()].filter((app) => audited.has(app)).length;
/** classify's own count of what it did with each Event: a signal (reply) or none (held back or noise). */
const classify = [...mesh.services.entries()].find(([k]) => k.endsWith('/classify'))?.[1];
const handled: Record<string, number> = {};
for (const m of (await classify?.metrics.registry.getMetricsAsJSON()) ?? [])
  if (/^reflex_events_(handled|rejected|failed)_total$/.test(m.name))
    for (const v of m.values) {
      const k = `${m.name.replace(/^reflex_events_|_total$/g, '')}${v.labels['outcome'] ? `:${v.labels['outcome']}` : ''}`;
      handled[k] = (handled[k] ?? 0) + v.value;
    }
const storm = {
  events: stormEvents,
  bridged: seen.stormBridged,
  signals: seen.signals - stormBefore.signals,
  decisions: seen.decisions - stormBefore.decisions,
  auditedDeployments: stormAudited,
  writtenInMs: Math.round(written),
  throughInMs: Math.round(through),
  eventsPerSecond: Math.round(stormEvents / (through / 1000)),
  peakRssGrowthMiB: Math.round((peakRss - rssBefore) / 2 ** 20),
  /** Since classify started (the warm-up and the reaction incidents included). */
  classifyOutcomes: handled,
};

const result = {
  node: process.versions.node,
  reaction: {
    incidents: INCIDENTS,
    missed,
    p50Ms: Math.round(quantile(reactions, 0.5)),
    p99Ms: Math.round(quantile(reactions, 0.99)),
    maxMs: Math.round(Math.max(...reactions)),
  },
  storm,
};
const table = [
  `| pipeline (control plane, real adapter, development broker, classify, recover dry-run) | |`,
  '| --- | --- |',
  `| reaction time, Event -> recover's Event in the API, ${INCIDENTS} incidents | p50 ${result.reaction.p50Ms} ms, p99 ${result.reaction.p99Ms} ms (max ${result.reaction.maxMs} ms, ${missed} missed) |`,
  `| storm: ${stormEvents.toLocaleString('en')} Events (${STORM_DEPLOYMENTS} Deployments x ${STORM_REPEATS}) | ${storm.eventsPerSecond.toLocaleString('en')} events/s through classify (written in ${(written / 1000).toFixed(1)} s, through in ${(through / 1000).toFixed(1)} s) |`,
  `| storm: accounted for | ${storm.bridged.toLocaleString('en')} delivered to classify, ${storm.signals} signals, ${storm.decisions} recover decisions, ${stormAudited} of ${STORM_DEPLOYMENTS} Deployments audited |`,
  `| classify's outcomes over the whole run (reply: a signal; noreply: held back or noise) | ${Object.entries(handled)
    .map(([k, v]) => `${k} ${v.toLocaleString('en')}`)
    .join(', ')} |`,
  `| storm: the whole pipeline's peak RSS growth (one process: mesh, functions, bench) | ${storm.peakRssGrowthMiB} MiB |`,
  '',
].join('\n');
process.stdout.write(table);
const results = new URL(`results/${new Date().toISOString().slice(0, 10)}-pipeline`, import.meta.url);
mkdirSync(new URL('results/', import.meta.url), { recursive: true });
writeFileSync(`${fileURLToPath(results)}.json`, `${JSON.stringify(result, null, 2)}\n`);
writeFileSync(
  `${fileURLToPath(results)}.md`,
  `# Reflex end to end on the test control plane — ${new Date().toISOString().slice(0, 10)}\n\nNode ${process.versions.node}; bench/pipeline.ts.\n\n${table}`,
);

clearInterval(sampler);
watch.abort();
await adapter.stop();
await mesh.close(false);
await cp.stop();
process.exit(0);
