/**
 * enrich/gather — what enrich reads, through the kit's Cluster port, all within one time bound:
 * reads run in parallel, each one that fails or is still out when the bound passes becomes a
 * note, and the evidence gathered so far is what goes out. Reads only: the signal is a claim, so
 * nothing it names is trusted beyond choosing what to look at (names are checked before any
 * call; logs only of a pod that is the one the signal saw, in a namespace whose logs may be read).
 */
import type { CoreV1Event, V1Deployment, V1Namespace, V1Node, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { Enrichment, EventFacts, LogTail, SignalData } from '../_contracts/events.js';
import { invalidName, protectedBy } from '../_act/guard.js';
import { ForbiddenError } from '../_kit/errors.js';
import { apiStatus, type Cluster } from '../_kit/k8s.js';
import type { EnrichConfig } from './config.js';
import { truncate } from '../_signals/model.js';
import { containerFacts, eventFacts, logTail, nodeFacts, podFacts, rolloutDiff, usageOf, wanted } from './decide.js';

/** Whatever the budget, a log fetch asks for at most this much (the newest lines are kept from it). */
const MAX_FETCH_BYTES = 256 * 1024;

class Budget {
  readonly notes: string[] = [];
  complete = true;
  readonly #deadline: number;
  constructor(
    readonly timeoutMs: number,
    private readonly clock: () => number,
  ) {
    this.#deadline = clock() + timeoutMs;
  }

  remainingMs(): number {
    return Math.max(0, this.#deadline - this.clock());
  }

  note(text: string, partial = true): void {
    if (this.notes.length < 32) this.notes.push(truncate(text, 1024));
    if (partial) this.complete = false;
  }

  /**
   * The read's answer, or undefined (and a note) when it failed or did not answer within the
   * bound. `forbidden`: what to say when RBAC refuses it.
   */
  async read<T>(what: string, call: () => Promise<T>, forbidden = "enrich's ServiceAccount may not (RBAC)"): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), this.remainingMs());
    });
    try {
      const answer = await Promise.race([call(), late]);
      if (answer === 'late') {
        this.note(`${what}: no answer within the ${this.timeoutMs} ms bound (REFLEX_ENRICH_TIMEOUT_MS)`);
        return undefined;
      }
      return answer;
    } catch (err) {
      // The port turns a 403 into ForbiddenError (RBAC); a raw API error carries its code.
      const status = err instanceof ForbiddenError ? 403 : apiStatus(err);
      this.note(status === 403 ? `${what}: ${forbidden}` : `${what}: ${err instanceof Error ? err.message : String(err)}`);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Whether this namespace's logs may be read, or why not (a note). */
function logsRefused(namespace: string, ns: V1Namespace | undefined, config: EnrichConfig): string | undefined {
  if (config.logs === 'none') return 'logs are not read (REFLEX_ENRICH_LOGS=none)';
  const p = protectedBy(namespace, config.protectedNamespaces);
  if (p) return `logs are not read in namespace ${namespace}: it is protected (${p})`;
  if (config.logs === 'all') return undefined;
  const [label, value] = config.optInLabel;
  if (ns?.metadata?.labels?.[label] === value) return undefined;
  return `logs are not read in namespace ${namespace}: it is not opted in (label ${label}=${value})`;
}

const eventsOf = (cluster: Cluster, namespace: string, kind: string, name: string, uid?: string): Promise<CoreV1Event[]> =>
  cluster.list<CoreV1Event>('v1', 'Event', {
    namespace,
    fieldSelector: uid ? `involvedObject.uid=${uid}` : `involvedObject.kind=${kind},involvedObject.name=${name}`,
  });

const selectorOf = (d: V1Deployment): string | undefined => {
  const labels = Object.entries(d.spec?.selector?.matchLabels ?? {});
  return labels.length > 0 ? labels.map(([k, v]) => `${k}=${v}`).join(',') : undefined;
};

/** Everything enrich tells about a signal; never throws for what it could not read (it says so). */
export async function gather(signal: SignalData, cluster: Cluster, config: EnrichConfig, now: () => Date): Promise<Enrichment> {
  const started = now().getTime();
  const budget = new Budget(config.timeoutMs, () => now().getTime());
  const want = wanted(signal.class);
  const t = signal.target;
  const inv = signal.involved;
  const out: { -readonly [K in keyof Enrichment]?: Enrichment[K] } = {};
  const events: CoreV1Event[] = [];

  const badTarget = invalidName(t);
  const podNs = inv.kind === 'Pod' ? (inv.namespace ?? t.namespace) : undefined;
  const badPod = podNs !== undefined ? invalidName({ kind: 'Pod', namespace: podNs, name: inv.name }) : undefined;
  if (badTarget) budget.note(`nothing read about the target: ${badTarget}`);
  if (badPod) budget.note(`nothing read about the pod: ${badPod}`);

  const tasks: Promise<void>[] = [];
  // The pod: its containers, logs, usage, Events, owner's Events, node.
  if (podNs && !badPod) tasks.push(aboutPod(podNs));
  // The target: its Events, and a Deployment's last rollout.
  if (!badTarget && t.kind !== 'Pod' && t.kind !== 'Node' && t.namespace)
    tasks.push(
      budget
        .read(`Events of ${t.kind} ${t.name}`, () => eventsOf(cluster, t.namespace, t.kind, t.name))
        .then((e) => void events.push(...(e ?? []))),
    );
  if (!badTarget && t.kind === 'Deployment' && want.rollout) tasks.push(rollout());
  if (!badTarget && t.kind === 'Node') tasks.push(aboutNode(t.name, want.nodePods), nodeEvents(t.name));
  await Promise.all(tasks);

  if (config.maxEvents > 0 && events.length > 0) out.events = eventFacts(events, config.maxEvents, config.redact) as EventFacts[];
  return {
    gatheredAt: now().toISOString(),
    tookMs: Math.max(0, now().getTime() - started),
    complete: budget.complete,
    notes: budget.notes,
    ...out,
  };

  async function aboutPod(namespace: string): Promise<void> {
    const ref = { apiVersion: 'v1', kind: 'Pod', namespace, name: inv.name };
    const [pod, ns] = await Promise.all([
      budget.read(`Pod ${inv.name}`, () => cluster.get<V1Pod>(ref)),
      want.logs && config.logs === 'opted-in'
        ? budget.read(`Namespace ${namespace}`, () => cluster.get<V1Namespace>({ apiVersion: 'v1', kind: 'Namespace', name: namespace }))
        : Promise.resolve(undefined),
    ]);
    const more: Promise<void>[] = [];
    const podUid = pod?.metadata?.uid;
    const same = pod !== undefined && (inv.uid === undefined || inv.uid === podUid);
    more.push(
      budget
        .read(`Events of Pod ${inv.name}`, () => eventsOf(cluster, namespace, 'Pod', inv.name, same ? podUid : undefined))
        .then((e) => void events.push(...(e ?? []))),
    );
    if (!pod) {
      budget.note(`Pod ${inv.name} is gone: no container state or logs (its Events are kept for a while)`, false);
      await Promise.all(more);
      return;
    }
    if (!same)
      budget.note(
        `Pod ${inv.name} is another incarnation than the one signalled (uid ${podUid}): its state is shown, its logs are not read`,
        false,
      );
    out.pod = podFacts(pod);
    const owner = pod.metadata?.ownerReferences?.find((o) => o.controller === true);
    if (owner && (owner.kind !== t.kind || owner.name !== t.name) && !invalidName({ kind: owner.kind, namespace, name: owner.name }))
      more.push(
        budget
          .read(`Events of ${owner.kind} ${owner.name}`, () => eventsOf(cluster, namespace, owner.kind, owner.name, owner.uid))
          .then((e) => void events.push(...(e ?? []))),
      );
    const nodeName = pod.spec?.nodeName;
    if (nodeName && !invalidName({ kind: 'Node', namespace: '', name: nodeName }))
      more.push(
        budget
          .read(`Node ${nodeName}`, () => cluster.get<V1Node>({ apiVersion: 'v1', kind: 'Node', name: nodeName }))
          .then((n) => {
            if (n) out.node = nodeFacts(n, undefined, false);
          }),
      );
    let usage: Map<string, Record<string, string>> | undefined;
    if (want.usage && config.metrics)
      more.push(
        budget
          .read('metrics.k8s.io PodMetrics', () =>
            cluster.get({ apiVersion: 'metrics.k8s.io/v1beta1', kind: 'PodMetrics', namespace, name: inv.name }),
          )
          .then((m) => {
            if (m) usage = usageOf(m);
            else
              budget.note(
                'no memory usage: metrics.k8s.io is not served in this cluster (no metrics-server), or has no sample for this pod',
                false,
              );
          }),
      );
    if (want.logs && same) {
      const refused = logsRefused(namespace, ns, config);
      if (refused) budget.note(refused, false);
      else more.push(logs(pod, namespace));
    }
    await Promise.all(more);
    out.containers = containerFacts(pod, signal.container, config.redact, usage);
  }

  async function logs(pod: V1Pod, namespace: string): Promise<void> {
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    const named = signal.container !== undefined ? statuses.filter((s) => s.name === signal.container) : [];
    // The signal's container; else those that restarted or are not ready (at most two).
    const chosen = named.length > 0 ? named : statuses.filter((s) => (s.restartCount ?? 0) > 0 || s.ready === false).slice(0, 2);
    const fetchedBytes = Math.min(MAX_FETCH_BYTES, config.logBytes * 4);
    const tails: (LogTail | undefined)[] = await Promise.all(
      chosen.flatMap((s) => {
        const restarted = (s.restartCount ?? 0) > 0 || s.lastState?.terminated !== undefined;
        return [...(restarted ? [true] : []), false].map(async (previous) => {
          const label = `${previous ? 'previous ' : ''}log of container ${s.name}`;
          const text = await budget.read(
            label,
            () =>
              cluster.podLog({ namespace, name: inv.name }, s.name, {
                previous,
                tailLines: config.logLines,
                limitBytes: fetchedBytes,
                timeoutMs: Math.max(1, budget.remainingMs()),
              }),
            `enrich may not read logs in ${namespace}: bind the ClusterRole reflex-enrich-logs there (docs/install.md#logs-in-messages)`,
          );
          if (text === undefined) return undefined;
          return logTail(s.name, previous, text, { maxLines: config.logLines, maxBytes: config.logBytes, fetchedBytes }, config.redact);
        });
      }),
    );
    const got = tails.filter((l): l is LogTail => l !== undefined && l.lines.length > 0);
    if (got.length > 0) out.logs = got;
  }

  async function rollout(): Promise<void> {
    const d = await budget.read(`Deployment ${t.name}`, () =>
      cluster.get<V1Deployment>({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: t.namespace, name: t.name }),
    );
    const uid = d?.metadata?.uid;
    if (!d || !uid) return;
    const labelSelector = selectorOf(d);
    const sets = await budget.read(`ReplicaSets of Deployment ${t.name}`, () =>
      cluster.list<V1ReplicaSet>('apps/v1', 'ReplicaSet', { namespace: t.namespace, ...(labelSelector ? { labelSelector } : {}) }),
    );
    const diff = sets ? rolloutDiff(uid, sets) : undefined;
    if (diff) out.rollout = diff;
  }

  async function aboutNode(name: string, listPods: boolean): Promise<void> {
    const [node, pods] = await Promise.all([
      budget.read(`Node ${name}`, () => cluster.get<V1Node>({ apiVersion: 'v1', kind: 'Node', name })),
      budget.read(`Pods on Node ${name}`, () => cluster.list<V1Pod>('v1', 'Pod', { fieldSelector: `spec.nodeName=${name}` })),
    ]);
    if (node) out.node = nodeFacts(node, pods, listPods);
    else budget.note(`Node ${name} is gone`, false);
  }

  async function nodeEvents(name: string): Promise<void> {
    // kubelet and node-problem-detector write Node Events in `default`.
    const e = await budget.read(`Events of Node ${name}`, () => eventsOf(cluster, 'default', 'Node', name));
    events.push(...(e ?? []));
  }
}
