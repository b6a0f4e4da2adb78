/**
 * dev/mesh/sources — the manifests' sources, run locally: PingSources on their cron schedules, and
 * ApiServerSources as a watch emitting what the receive adapter would (Resource mode: type,
 * source, subject, extensions and data; nothing for the initial list or a relist).
 */
import { randomUUID } from 'node:crypto';
import { CloudEvent } from 'cloudevents';
import { apiServerSourceEvent, type K8sObject, type WatchType } from './apiserversource.js';
import type { DevBroker } from './broker.js';
import type { Manifest, Mesh } from './manifests.js';

interface SinkRef {
  sink?: { ref?: { kind?: string; name?: string; namespace?: string } };
}

/** The Broker a source sends to (the only sink kind the development broker has). */
function brokerOf(o: Manifest): { namespace: string; name: string } | undefined {
  const ref = (o.spec as SinkRef | undefined)?.sink?.ref;
  if (ref?.kind !== 'Broker' || !ref.name) return undefined;
  return { namespace: ref.namespace ?? o.metadata.namespace ?? 'default', name: ref.name };
}

/** One cron field (`*`, `*\/5`, `1-5`, `1,15`, `10-40/10`) against a value. */
function fieldMatches(field: string, value: number, min: number, max: number): boolean {
  return field.split(',').some((part) => {
    const [range, stepText] = part.split('/') as [string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    let [lo, hi] = [min, max];
    if (range !== '*') {
      const [a, b] = range.split('-');
      lo = Number(a);
      hi = b === undefined ? (stepText === undefined ? lo : max) : Number(b);
    }
    if (![lo, hi, step].every(Number.isInteger) || step < 1) throw new Error(`cron field ${JSON.stringify(field)} is not understood`);
    return value >= lo && value <= hi && (value - lo) % step === 0;
  });
}

/** Standard 5-field cron (minute hour day-of-month month day-of-week), in UTC as PingSource defaults. */
export function cronMatches(schedule: string, at: Date): boolean {
  const f = schedule.trim().split(/\s+/);
  if (f.length !== 5) throw new Error(`schedule ${JSON.stringify(schedule)}: expected 5 cron fields`);
  const [min, hour, dom, month, dow] = f as [string, string, string, string, string];
  const day = fieldMatches(dom, at.getUTCDate(), 1, 31);
  const weekday = fieldMatches(dow.replace(/\b7\b/g, '0'), at.getUTCDay(), 0, 6);
  // Cron's rule: when both day fields are restricted, either may match.
  const days = dom !== '*' && dow !== '*' ? day || weekday : day && weekday;
  return (
    fieldMatches(min, at.getUTCMinutes(), 0, 59) &&
    fieldMatches(hour, at.getUTCHours(), 0, 23) &&
    fieldMatches(month, at.getUTCMonth() + 1, 1, 12) &&
    days
  );
}

/** The event a PingSource sends (sources.knative.dev/v1). */
export function pingEvent(o: Manifest, at: Date): CloudEvent<unknown> {
  const spec = (o.spec ?? {}) as { contentType?: string; data?: string; dataBase64?: string };
  const type = spec.contentType ?? '';
  const raw = spec.dataBase64 !== undefined ? Buffer.from(spec.dataBase64, 'base64') : spec.data;
  const data = typeof raw === 'string' && /json/.test(type) ? (JSON.parse(raw) as unknown) : raw;
  return new CloudEvent<unknown>(
    {
      id: randomUUID(),
      source: `/apis/v1/namespaces/${o.metadata.namespace ?? 'default'}/pingsources/${o.metadata.name}`,
      type: 'dev.knative.sources.ping',
      time: at.toISOString(),
      ...(type ? { datacontenttype: type } : {}),
      ...(data !== undefined ? { data } : {}),
    },
    false,
  );
}

/** Runs every PingSource of the mesh; returns a stop function. Checks once a minute, on the minute. */
export function startPingSources(mesh: Mesh, broker: DevBroker, onError: (msg: string) => void): () => void {
  const pings = mesh.sources.filter((o) => o.kind === 'PingSource');
  for (const p of pings) cronMatches(String((p.spec as { schedule?: string } | undefined)?.schedule ?? ''), new Date());
  let timer: NodeJS.Timeout | undefined;
  const tick = (): void => {
    const now = new Date();
    for (const p of pings) {
      const to = brokerOf(p);
      if (!to) {
        onError(`${p.from}: PingSource ${p.metadata.name} does not send to a Broker; skipped`);
        continue;
      }
      if (cronMatches(String((p.spec as { schedule?: string }).schedule), now)) broker.publish(to.namespace, to.name, pingEvent(p, now));
    }
    timer = setTimeout(tick, 60_000 - (Date.now() % 60_000) + 50);
  };
  timer = setTimeout(tick, 60_000 - (Date.now() % 60_000) + 50);
  return () => clearTimeout(timer);
}

interface SourceSpec {
  mode?: string;
  namespaceSelector?: { matchLabels?: Record<string, string>; matchExpressions?: unknown[] };
  resources?: { apiVersion: string; kind: string; selector?: { matchLabels?: Record<string, string> } }[];
  ceOverrides?: { extensions?: Record<string, string> };
}

const selectorText = (labels: Record<string, string> | undefined): string | undefined =>
  labels
    ? Object.entries(labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(',')
    : undefined;

/** What a local ApiServerSource needs of client-node: lists with their resourceVersion, plurals, watches. */
async function connect(kubeconfig: string | undefined) {
  const lib = await import('@kubernetes/client-node');
  const config = new lib.KubeConfig();
  if (kubeconfig) config.loadFromFile(kubeconfig);
  else config.loadFromDefault();
  // KubernetesObjectApi already discovers and caches resources; a subclass reaches its lookup.
  class Discovery extends lib.KubernetesObjectApi {
    async plural(apiVersion: string, kind: string): Promise<string | undefined> {
      return (await this.resource(apiVersion, kind))?.name;
    }
  }
  const discovery = config.makeApiClient(Discovery);
  return {
    lib,
    config,
    core: config.makeApiClient(lib.CoreV1Api),
    objects: lib.KubernetesObjectApi.makeApiClient(config),
    plural: (apiVersion: string, kind: string) => discovery.plural(apiVersion, kind),
  };
}

/** Runs `jobs` with at most `width` at a time (starting hundreds of watches one by one is slow). */
async function bounded(jobs: (() => Promise<void>)[], width: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) await jobs[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, worker));
}

/**
 * Bridges the cluster's changes to the Broker as each ApiServerSource of the mesh would, with a
 * watch per (resource, namespace). Like the adapter, it emits nothing for objects that exist when
 * it starts. It resolves once every watch is connected: what changes from then on is sent.
 * Returns a stop function.
 */
export async function startApiServerWatches(
  mesh: Mesh,
  broker: DevBroker,
  kubeconfig: string | undefined,
  onError: (msg: string) => void,
): Promise<() => void> {
  const kube = await connect(kubeconfig);
  // The connection of each watch now open, by path: a resumed watch replaces its predecessor's.
  const open = new Map<string, () => void>();
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const later = (fn: () => void, ms: number): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };
  const server = kube.config.getCurrentCluster()?.server ?? 'https://kubernetes.default.svc';
  for (const src of mesh.sources.filter((o) => o.kind === 'ApiServerSource')) {
    const spec = (src.spec ?? {}) as SourceSpec;
    const to = brokerOf(src);
    if (!to) throw new Error(`${src.from}: ApiServerSource ${src.metadata.name} does not send to a Broker`);
    const mode = spec.mode ?? 'Reference';
    if (mode !== 'Resource' && mode !== 'Reference')
      throw new Error(`${src.from}: ApiServerSource ${src.metadata.name}: mode must be Resource or Reference, not ${mode}`);
    if (spec.namespaceSelector?.matchExpressions?.length)
      throw new Error(`${src.from}: namespaceSelector.matchExpressions is not supported locally; use matchLabels`);
    const labels = selectorText(spec.namespaceSelector?.matchLabels);
    const selected = async (): Promise<(string | undefined)[]> =>
      spec.namespaceSelector === undefined
        ? [undefined]
        : (await kube.core.listNamespace(labels ? { labelSelector: labels } : {})).items.map((n) => n.metadata?.name);
    const namespaces = await selected();
    const watched = new Set<string>();
    const watchers: ((ns: string | undefined) => Promise<void>)[] = [];
    const clusterWide: (() => Promise<void>)[] = [];
    for (const r of spec.resources ?? []) {
      const plural = await kube.plural(r.apiVersion, r.kind);
      if (!plural) throw new Error(`${src.from}: the API server does not serve ${r.apiVersion} ${r.kind}`);
      const prefix = r.apiVersion.includes('/') ? `/apis/${r.apiVersion}` : `/api/${r.apiVersion}`;
      const clusterScoped = r.kind === 'Node' || r.kind === 'Namespace' || r.kind === 'PersistentVolume';
      const labelSelector = selectorText(r.selector?.matchLabels);
      const watchIn = async (ns: string | undefined): Promise<void> => {
        const path = ns ? `${prefix}/namespaces/${ns}/${plural}` : `${prefix}/${plural}`;
        const key = `${src.metadata.name} ${path}`;
        /**
         * List once, then watch from the last resourceVersion seen (events and bookmarks), as the
         * adapter's reflector does: a watch that ends (the client's inactivity timeout, a dropped
         * connection) resumes where it was and loses nothing. Only an expired resourceVersion
         * (410 Gone) lists again, and then, like the adapter, sends nothing for what changed
         * in between.
         */
        const run = async (from?: string): Promise<void> => {
          if (stopped) return;
          try {
            let rv = from;
            if (rv === undefined) {
              // What exists now is not news (the adapter sends nothing for it either).
              const list = (await kube.objects.list(
                r.apiVersion,
                r.kind,
                ns,
                undefined,
                undefined,
                undefined,
                undefined,
                labelSelector,
              )) as {
                metadata?: { resourceVersion?: string };
              };
              rv = list.metadata?.resourceVersion;
            }
            let expired = false;
            const watch = new kube.lib.Watch(kube.config);
            const req = await watch.watch(
              path,
              { ...(rv ? { resourceVersion: rv } : {}), allowWatchBookmarks: true, ...(labelSelector ? { labelSelector } : {}) },
              (type: string, object: K8sObject & { code?: number }) => {
                if (type === 'ERROR') {
                  expired = object.code === 410;
                  return;
                }
                const seen = (object.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
                if (seen) rv = seen;
                if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return;
                const event = apiServerSourceEvent(
                  type as WatchType,
                  { ...object, apiVersion: r.apiVersion, kind: r.kind },
                  server,
                  new Date(),
                  mode,
                  spec.ceOverrides?.extensions,
                );
                broker.publish(to.namespace, to.name, event);
              },
              (err: unknown) => {
                open.delete(key);
                if (stopped) return;
                const message = err instanceof Error ? err.message : err ? String(err) : '';
                // The client answers a refused watch with its status text ("Gone") and statusCode.
                const status = (err as { statusCode?: unknown } | null)?.statusCode;
                expired ||= status === 410 || /\b410\b|too old|expired/i.test(message);
                // The client's own inactivity timeout ends a quiet watch routinely; anything else is said.
                const routine = !message || /abort|timeout|timed out/i.test(message);
                if (expired)
                  onError(`watch ${path}: its resourceVersion expired; re-listing (changes meanwhile are not sent, as with the adapter)`);
                else if (!routine) onError(`watch ${path}: ${typeof status === 'number' ? `${status} ` : ''}${message}; resuming in 5 s`);
                later(() => void run(expired ? undefined : rv), expired ? 1000 : routine ? 100 : 5000);
              },
            );
            if (stopped) req.abort();
            else open.set(key, () => req.abort());
          } catch (err) {
            onError(`watch ${path}: ${requestFault(err)}; retrying in 5 s`);
            later(() => void run(from), 5000);
          }
        };
        await run();
      };
      if (clusterScoped) clusterWide.push(() => watchIn(undefined));
      else watchers.push(watchIn);
    }
    const add = async (list: (string | undefined)[]): Promise<void> => {
      const fresh = list.filter((ns) => !watched.has(ns ?? ''));
      for (const ns of fresh) watched.add(ns ?? '');
      await bounded(
        fresh.flatMap((ns) => watchers.map((w) => () => w(ns))),
        8,
      );
    };
    await bounded(clusterWide, 8);
    await add(namespaces);
    // A namespace labelled later joins, as with the adapter's namespace selector.
    if (spec.namespaceSelector !== undefined) {
      const timer = setInterval(() => {
        selected()
          .then(add)
          .catch((err: unknown) => onError(`list namespaces for ${src.metadata.name}: ${requestFault(err)}`));
      }, 30_000);
      timers.add(timer);
    }
  }
  return () => {
    stopped = true;
    for (const t of timers) clearTimeout(t);
    for (const abort of open.values()) abort();
    open.clear();
  };
}

/** The current context of a kubeconfig and its API server, once it has answered. */
export interface ClusterInfo {
  readonly context: string;
  readonly server: string;
}

/** The API server of a kubeconfig's current context did not answer: which, where from, and why. */
export class ClusterUnreachable extends Error {
  override readonly name = 'ClusterUnreachable';
  constructor(
    readonly context: string,
    readonly server: string,
    readonly file: string,
    readonly why: string,
  ) {
    super(`the API server of kube context ${context} (${server}, from ${file}) cannot be reached: ${why}`);
  }
}

/** What a failed request to the API server comes to: its status and message, or the innermost transport error. */
export function requestFault(err: unknown): string {
  const { code, body } = (err ?? {}) as { code?: unknown; body?: unknown };
  if (typeof code !== 'number') return rootCause(err);
  let message: unknown;
  try {
    message = (JSON.parse(String(body)) as { message?: unknown }).message;
  } catch {
    // not a Status: the status alone says enough
  }
  return `the API server answered ${code}${typeof message === 'string' && message ? `: ${message}` : ''}`;
}

/** The innermost reason of a failed request ("fetch failed" says nothing; its cause does). */
export function rootCause(err: unknown): string {
  let e: unknown = err;
  while (e instanceof Error && e.cause !== undefined) e = e.cause;
  if (e instanceof AggregateError && e.errors.length > 0) return e.errors.map(rootCause).join('; ');
  if (e instanceof Error) return e.message || String((e as NodeJS.ErrnoException).code ?? e.name);
  return String(e);
}

/**
 * Asks the API server of the kubeconfig's current context for its version, before anything is
 * started on it: an answer of any status means it is there (authorization is the watches' to
 * report); no answer within `timeoutMs` is a ClusterUnreachable.
 */
export async function probeCluster(
  kubeconfig: string | undefined,
  from = kubeconfig ?? 'the kubeconfig',
  timeoutMs = 10_000,
): Promise<ClusterInfo> {
  const lib = await import('@kubernetes/client-node');
  const config = new lib.KubeConfig();
  try {
    // As the watches load it (connect): a file, or KUBECONFIG's list merged, else ~/.kube/config.
    if (kubeconfig) config.loadFromFile(kubeconfig);
    else config.loadFromDefault();
  } catch (err) {
    throw new Error(`${from}: not a kubeconfig that can be read: ${rootCause(err)}`);
  }
  const context = config.getCurrentContext();
  const server = config.getCurrentCluster()?.server;
  if (!context || !server)
    throw new Error(
      `${from}: ${context ? `context ${context} names no cluster server` : 'no current context is set (kubectl config use-context <name>)'}`,
    );
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    await Promise.race([config.makeApiClient(lib.VersionApi).getCode(), late]);
  } catch (err) {
    // An HTTP status (401, 403…) is an answer: the server is there.
    if (typeof (err as { code?: unknown }).code !== 'number') throw new ClusterUnreachable(context, server, from, rootCause(err));
  } finally {
    clearTimeout(timer);
  }
  return { context, server };
}
