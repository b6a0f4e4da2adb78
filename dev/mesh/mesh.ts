/**
 * dev/mesh/mesh — Reflex on one machine: the development broker plus every function the manifests
 * deploy, each on its own local HTTP server with the environment its Knative Service declares
 * (ConfigMap-mounted files mapped back to knative/config), K_SINK where a SinkBinding gives one.
 * With an OTLP endpoint in the OTEL_* variables, the broker and every function export their spans
 * (docs/tracing.md): one incident is one trace.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startServer, type Cluster, type FunctionDefinition, type RunningServer } from '../../functions/_kit/index.js';
import type { Env } from '../../functions/_kit/config.js';
import { projectRoot } from '../../functions/_kit/schemas.js';
import { kubeconfigOf } from '../../functions/_kit/k8s.js';
import type { Logger } from '../../functions/_kit/logger.js';
import { startTracing, tracingFrom, type Tracer } from '../../functions/_kit/tracing.js';
import { startDevBroker, type BrokerRecord, type DevBroker, type DevBrokerOptions } from './broker.js';
import type { K8sObject } from './apiserversource.js';
import { RecordedCluster } from './recorded.js';
import { loadMesh, type Mesh, type ServiceManifest } from './manifests.js';

export interface MeshOptions {
  /** A kustomization directory (default: the repository's knative/). */
  readonly manifests?: string;
  readonly port?: number;
  /** The environment the functions start from (KUBECONFIG, secrets…); the Service's env wins. */
  readonly env?: Env;
  /** Functions act (no REFLEX_DRY_RUN=true). Default: dry-run. */
  readonly act?: boolean;
  readonly onRecord?: (r: BrokerRecord) => void;
  /** Function log lines (JSON); default: dropped. */
  readonly logSink?: (line: string, service: string) => void;
  readonly now?: () => Date;
  /** Per function (the Service's first arg): another definition to run, or null to not run it. */
  readonly definitions?: Readonly<Record<string, FunctionDefinition<unknown> | null>>;
  /** Per function: environment that wins over the Service's (e.g. no cluster lookups in a replay). */
  readonly serviceEnv?: Readonly<Record<string, Env>>;
  /**
   * The Kubernetes port every function gets. Default: each its own, from the credentials of
   * `env`; with none on this machine, an empty recorded cluster (nothing to read, nothing
   * written) and owners resolved by names, so the functions run as in a replay instead of
   * failing to start or answering 503.
   */
  readonly cluster?: Cluster;
  /** The broker's wait between retries (replays do not wait). */
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * The OTEL_* variables that configure traces, for the broker and every function alike (each
   * function's service.name is its own, the broker's `dev-broker`). Default: those of this process
   * and of `env` (a replay's `env` is empty, and `npm start` still traces when asked to).
   */
  readonly telemetry?: Env;
  /** Other routes on the broker's port (the web console): true when it answered. */
  readonly serve?: DevBrokerOptions['serve'];
}

export interface RunningMesh {
  readonly mesh: Mesh;
  readonly broker: DevBroker;
  readonly services: ReadonlyMap<string, RunningServer>;
  /** `wait`: let deliveries under way (with their retries) finish first; Ctrl-C does not. */
  close(wait?: boolean): Promise<void>;
}

export const defaultManifests = (): string => join(projectRoot(), 'knative');

/** The function a Reflex Service runs: its container's first arg names a folder in functions/. */
export async function definitionOf(s: Pick<ServiceManifest, 'args'>): Promise<FunctionDefinition<unknown> | undefined> {
  const name = s.args[0];
  if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) return undefined;
  // Sources (tsx) or built (dist): the sibling of this file's own kind.
  const file = fileURLToPath(new URL(`../../functions/${name}/index.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url));
  if (!existsSync(file)) return undefined;
  return ((await import(pathToFileURL(file).href)) as { default: FunctionDefinition<unknown> }).default;
}

const BRIDGED = /^dev\.knative\.apiserver\.resource\.(add|update|delete)$/;
const WATCH = { add: 'ADDED', update: 'MODIFIED', delete: 'DELETED' } as const;

/**
 * With no cluster, what the ApiServerSource bridges is all the functions can know of it: an
 * object posted to the ingress (Resource mode) is recorded before the Triggers route it, as a
 * replay records its objects, so the bundled incident posted by hand decides as its replay does.
 */
function observeBridged(cluster: RecordedCluster, event: { type: string; data?: unknown }): void {
  const verb = BRIDGED.exec(event.type)?.[1] as keyof typeof WATCH | undefined;
  const o = event.data as Partial<K8sObject> | undefined;
  if (!verb || typeof o !== 'object' || o === null || typeof o.kind !== 'string' || typeof o.metadata?.name !== 'string') return;
  cluster.observe(WATCH[verb], o as K8sObject);
}

/** The OTEL_* variables of an environment. */
const otelOf = (env: Env): Env => Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('OTEL_')));
/** An environment without its OTEL_* variables: a function's come from the mesh's telemetry. */
const withoutOtel = (env: Env): Env => Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('OTEL_')));

/** The broker's log, where only its tracer speaks (spans it could not export): Node warnings, as its other faults. */
const brokerWarnings: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (msg, fields) => process.emitWarning(`dev broker: ${msg} ${JSON.stringify(fields ?? {})}`),
  error: (msg, fields) => process.emitWarning(`dev broker: ${msg} ${JSON.stringify(fields ?? {})}`),
  child: () => brokerWarnings,
};

/**
 * Traces for the whole mesh (docs/tracing.md): the broker's tracer, what each function's
 * environment gets (its own service.name), and the end. A bad OTEL_* value stops start-up here,
 * naming its key, before anything listens.
 */
async function meshTracing(options: MeshOptions): Promise<{
  broker: { tracer?: Tracer };
  envOf(service: string): Env;
  shutdown(): Promise<void>;
}> {
  const telemetry = options.telemetry ?? otelOf({ ...process.env, ...options.env });
  const tracer = await startTracing(tracingFrom({ ...telemetry, OTEL_SERVICE_NAME: 'dev-broker' }, 'dev-broker'), brokerWarnings);
  return {
    broker: tracer ? { tracer } : {},
    envOf: (service) => (tracer ? { ...telemetry, OTEL_SERVICE_NAME: service } : {}),
    shutdown: async () => await tracer?.shutdown(),
  };
}

export async function startMesh(options: MeshOptions = {}): Promise<RunningMesh> {
  const mesh = loadMesh(options.manifests ?? defaultManifests());
  const tracing = await meshTracing(options);
  const offline = options.cluster === undefined && !kubeconfigOf(options.env ?? process.env);
  const cluster = options.cluster ?? (offline ? new RecordedCluster() : undefined);
  const services = new Map<string, RunningServer>();
  const key = (ns: string, name: string): string => `${ns}/${name}`;
  const broker = await startDevBroker({
    mesh,
    ...(options.port !== undefined ? { port: options.port } : {}),
    resolve: (ref, ns) => (ref.kind === 'Service' ? services.get(key(ns, ref.name))?.url : undefined),
    onRecord: (r) => {
      if (cluster instanceof RecordedCluster && r.kind === 'accepted') observeBridged(cluster, r.event);
      options.onRecord?.(r);
    },
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...tracing.broker,
    ...(options.serve ? { serve: options.serve } : {}),
  });
  // SinkBinding: the subject Service gets K_SINK = the sink's address (always a Broker here).
  const sinkOf = new Map<string, string>();
  for (const b of mesh.sources.filter((o) => o.kind === 'SinkBinding')) {
    const spec = b.spec as {
      subject?: { kind?: string; name?: string };
      sink?: { ref?: { kind?: string; name?: string; namespace?: string } };
    };
    const ns = b.metadata.namespace ?? 'default';
    if (spec.subject?.name && spec.sink?.ref?.kind === 'Broker' && spec.sink.ref.name)
      sinkOf.set(key(ns, spec.subject.name), broker.ingress(spec.sink.ref.namespace ?? ns, spec.sink.ref.name));
  }
  try {
    for (const s of mesh.services) {
      const fn = s.args[0] ?? '';
      const chosen = options.definitions?.[fn];
      const def = chosen === undefined ? await definitionOf(s) : chosen;
      if (!def) continue;
      const sink = sinkOf.get(key(s.namespace, s.name));
      const env: { [k: string]: string | undefined } = {
        ...withoutOtel(options.env ?? process.env),
        ...withoutOtel(s.env),
        ...tracing.envOf(s.name),
        PORT: '0',
        REFLEX_HOST: '127.0.0.1',
        ...(options.act ? {} : { REFLEX_DRY_RUN: 'true' }),
        ...(sink ? { K_SINK: sink } : {}),
        // No cluster to follow ownerReferences in: owners by their names, as in a replay.
        ...(offline ? { REFLEX_RESOLVE_OWNERS: 'names' } : {}),
        ...options.serviceEnv?.[fn],
      };
      // The timeline reads decisions from the functions' log lines: classify's `no signal` (debug,
      // with why) and the acting functions' info lines; never quieter than that here.
      if (fn === 'classify') env['REFLEX_LOG_LEVEL'] = 'debug';
      else if (env['REFLEX_LOG_LEVEL'] === 'warn' || env['REFLEX_LOG_LEVEL'] === 'error') env['REFLEX_LOG_LEVEL'] = 'info';
      const server = await startServer(def, {
        env,
        logSink: (line) => options.logSink?.(line, s.name),
        ...(options.now ? { now: options.now } : {}),
        ...(cluster ? { cluster } : {}),
      });
      services.set(key(s.namespace, s.name), server);
    }
  } catch (err) {
    await Promise.allSettled([...services.values()].map((s) => s.shutdown()));
    await broker.close();
    await tracing.shutdown();
    throw err;
  }
  return {
    mesh,
    broker,
    services,
    async close(wait = true) {
      if (wait) await broker.idle();
      await broker.close();
      await Promise.allSettled([...services.values()].map((s) => s.shutdown()));
      await tracing.shutdown();
    },
  };
}
