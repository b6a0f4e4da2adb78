/**
 * dev/mesh/play — a recording replayed through the whole mesh with no cluster: every watch event
 * the manifests' ApiServerSources would bridge goes into the development broker as that source
 * would send it, on the recording's clock (an Alertmanager notification to the alerts function, as
 * Alertmanager would post it); the real functions answer, recover and scale reading
 * the cluster as the recording knows it (dev/mesh/recorded.ts), all in dry-run, no
 * secrets, nothing sent anywhere. What each step decided, and why, comes back as timeline lines.
 * `reflex replay` plays a recording and stops; `reflex dev --source <recording>` plays it the same
 * way, then serves the ingress on.
 */
import type { CloudEvent } from 'cloudevents';
import { randomBytes } from 'node:crypto';
import { apiServerSourceEvent, type K8sObject } from './apiserversource.js';
import { parseRequest } from '../../functions/_kit/binding.js';
import type { Env } from '../../functions/_kit/config.js';
import { startMesh, type MeshOptions, type RunningMesh } from './mesh.js';
import type { BrokerRecord } from './broker.js';
import { RecordedCluster } from './recorded.js';
import { isPodLog, notificationTime, RecordingError, timeOf, type Recorded } from './replay.js';
import { Narrator, type Line } from './timeline.js';

export interface PlayOptions {
  readonly manifests?: string;
  /** Rules other than the manifests' (what-if). */
  readonly rulesFile?: string;
  readonly onLine?: (line: Line) => void;
  readonly onProgress?: (done: number, total: number) => void;
  /** Function log lines (JSON); default: dropped. */
  readonly logSink?: (line: string, service: string) => void;
  /** What the broker records, as it records it (the web console's records). */
  readonly onRecord?: (r: BrokerRecord) => void;
}

/** What a recording came to: how many records went through the broker, and how many did not. */
export interface Fed {
  /** Watch events bridged to the broker (and Alertmanager notifications posted, CloudEvents sent). */
  readonly bridged: number;
  /** Objects that only informed the recorded cluster (kinds no ApiServerSource watches). */
  readonly contextOnly: number;
  /** Container logs (PodLog records): only the recorded cluster's `pods/log`. */
  readonly logs: number;
}

export interface Played extends Fed {
  readonly lines: readonly Line[];
}

export interface RecordedMeshOptions extends Omit<PlayOptions, 'onProgress'> {
  readonly port?: number;
  /**
   * Serve on after the recording (`reflex dev --source <file>`): afterwards events are on the wall
   * clock and retries wait, as live ones. Without it (a replay), the clock stays the recording's.
   */
  readonly live?: boolean;
  /** The functions' environment (default: none). Never credentials for a cluster: the recording is the cluster. */
  readonly env?: Env;
  /** Other routes on the broker's port (the web console): true when it answered. */
  readonly serve?: MeshOptions['serve'];
}

export interface RecordedMesh {
  readonly running: RunningMesh;
  /** Plays a recording into the mesh on its clock, each event settled before the next. */
  feed(records: readonly Recorded[], onProgress?: (done: number, total: number) => void): Promise<Fed>;
}

interface SourceView {
  spec?: {
    mode?: string;
    resources?: { apiVersion: string; kind: string }[];
    sink?: { ref?: { kind?: string; name?: string; namespace?: string } };
  };
  metadata: { namespace?: string };
}

/**
 * An events.k8s.io/v1 Event as the API server shows it through core/v1: the same object, the
 * deprecated* fields as core/v1's own (null or absent when the Event was written through
 * events.k8s.io/v1), `eventTime` and `series` as they are.
 * @see k8s.io/kubernetes pkg/apis/events/v1/conversion.go (Convert_v1_Event_To_core_Event)
 */
export function asCoreEvent(o: K8sObject): K8sObject {
  const {
    apiVersion: _v,
    regarding,
    note,
    deprecatedCount,
    deprecatedFirstTimestamp,
    deprecatedLastTimestamp,
    deprecatedSource,
    reportingController,
    eventTime,
    ...rest
  } = o as K8sObject & { [k: string]: unknown };
  return {
    ...rest,
    apiVersion: 'v1',
    kind: 'Event',
    metadata: o.metadata,
    involvedObject: regarding,
    ...(note !== undefined ? { message: note } : {}),
    source: deprecatedSource ?? {},
    firstTimestamp: deprecatedFirstTimestamp ?? null,
    lastTimestamp: deprecatedLastTimestamp ?? null,
    // int32 with omitempty: a count of 0 (an Event written through events.k8s.io/v1) is not shown.
    ...(typeof deprecatedCount === 'number' && deprecatedCount !== 0 ? { count: deprecatedCount } : {}),
    eventTime: eventTime ?? null,
    reportingComponent: reportingController ?? '',
  };
}

const sleeper = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The mesh a recording plays through: the functions read a RecordedCluster (what the recording
 * carried), classify and sweep resolve owners by names, everything in dry-run, and the functions'
 * clock is the recording's while it plays. The same for `replay` and `dev --source <file>`, so
 * both decide alike.
 */
export async function startRecordedMesh(options: RecordedMeshOptions = {}): Promise<RecordedMesh> {
  const cluster = new RecordedCluster();
  // A replay starts at the epoch (its first record sets the time); dev, on the wall clock until fed.
  let clock: Date | undefined = options.live ? undefined : new Date(0);
  const now = (): Date => clock ?? new Date();
  const narrator = new Narrator((line) => options.onLine?.(line.kind === 'problem' ? { ...line, at: now() } : line));
  const signals: Env = { REFLEX_RESOLVE_OWNERS: 'names', ...(options.rulesFile ? { REFLEX_RULES_FILE: options.rulesFile } : {}) };
  // Recorded Alertmanager notifications reach the alerts function as Alertmanager's would: with its credentials.
  const alertsToken = randomBytes(24).toString('hex');
  const running = await startMesh({
    ...(options.manifests ? { manifests: options.manifests } : {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
    // A replay: no KUBECONFIG, no sink secrets, nothing reached outside this process.
    env: options.env ?? {},
    act: false,
    // Every function reads the cluster as the recording knows it. A replay's sweep would list it at
    // no tick of its own, so it does not run; dev keeps it for what is posted to the ingress.
    cluster,
    definitions: options.live ? {} : { sweep: null },
    // scale confirms an alert-born load signal by the alert's labels: no Alertmanager is asked from a replay.
    serviceEnv: {
      classify: signals,
      sweep: signals,
      alerts: { REFLEX_ALERTS_BEARER_TOKEN: alertsToken },
      scale: { REFLEX_ALERTMANAGER_URL: '' },
    },
    now,
    // The recording's retries do not wait (its clock does not move while they would); live ones do.
    sleep: (ms) => (clock ? Promise.resolve() : sleeper(ms)),
    ...(options.serve ? { serve: options.serve } : {}),
    onRecord: (r) => {
      narrator.record(r);
      options.onRecord?.(r);
    },
    // The functions' log lines say why an event became no signal (classify's `why`, per CloudEvent id).
    logSink: (line, service) => {
      narrator.log(line);
      options.logSink?.(line, service);
    },
  });
  return {
    running,
    async feed(records, onProgress) {
      try {
        return await feed(running, records, {
          before: (r, at) => {
            clock = at;
            if (r.type !== 'CLOUDEVENT' && r.type !== 'ALERTMANAGER') cluster.observe(r.type, r.object);
          },
          alertsToken,
          // Settled: every event row still waiting has all it will get.
          after: () => narrator.flush(),
          ...(onProgress ? { onProgress } : {}),
        });
      } finally {
        if (options.live) clock = undefined;
      }
    },
  };
}

export async function play(records: readonly Recorded[], options: PlayOptions = {}): Promise<Played> {
  const lines: Line[] = [];
  const recorded = await startRecordedMesh({
    ...options,
    onLine: (line) => {
      lines.push(line);
      options.onLine?.(line);
    },
  });
  try {
    const fed = await recorded.feed(records, options.onProgress);
    return { lines, ...fed };
  } finally {
    await recorded.running.close();
  }
}

/**
 * Puts a recording into a running mesh, one event at a time, waiting for each to settle: watch
 * events as the manifests' ApiServerSources would send them (the kinds they watch, their mode,
 * their Broker), on the recording's clock; recorded CloudEvents as they are, to the first Broker;
 * recorded container logs to no one (the recorded cluster serves them). `before` sees every record
 * with its time, bridged or not; `after`, every record once it has settled.
 */
export async function feed(
  running: RunningMesh,
  records: readonly Recorded[],
  options: {
    before?: (r: Recorded, at: Date) => void;
    after?: (r: Recorded) => void;
    onProgress?: (done: number, total: number) => void;
    /** The alerts function's bearer token, for recorded Alertmanager notifications. */
    alertsToken?: string;
  } = {},
): Promise<Fed> {
  const bridges = new Map<string, { namespace: string; name: string; mode: 'Resource' | 'Reference' }>();
  for (const s of running.mesh.sources.filter((o) => o.kind === 'ApiServerSource') as unknown as SourceView[]) {
    const ref = s.spec?.sink?.ref;
    if (ref?.kind !== 'Broker' || !ref.name) continue;
    for (const r of s.spec?.resources ?? [])
      bridges.set(`${r.apiVersion}/${r.kind}`, {
        namespace: ref.namespace ?? s.metadata.namespace ?? 'default',
        name: ref.name,
        mode: s.spec?.mode === 'Resource' ? 'Resource' : 'Reference',
      });
  }
  const first = running.mesh.brokers[0];
  let clock = new Date(0);
  let bridged = 0;
  let logs = 0;
  for (const [i, r] of records.entries()) {
    if (r.type === 'ALERTMANAGER') {
      clock = notificationTime(r.notification, clock);
      options.before?.(r, clock);
      if (await postNotification(running, r.notification, options.alertsToken)) bridged++;
      await running.broker.idle();
      options.after?.(r);
      options.onProgress?.(i + 1, records.length);
      continue;
    }
    let event: CloudEvent<unknown> | undefined;
    let to: { namespace: string; name: string } | undefined;
    if (r.type === 'CLOUDEVENT') {
      event = parseRequest({ 'content-type': 'application/cloudevents+json' }, Buffer.from(JSON.stringify(r.event))).events[0]!;
      if (event.time) clock = new Date(event.time);
      to = first;
    } else if (isPodLog(r.object)) {
      // A container's log: no ApiServerSource sends one, and it has no time of its own.
      logs++;
    } else {
      clock = timeOf(r.object, clock);
      // The API server serves every Event in both versions: a core/v1 source sees events.k8s.io ones too.
      const object =
        r.object.apiVersion === 'events.k8s.io/v1' && !bridges.has('events.k8s.io/v1/Event') ? asCoreEvent(r.object) : r.object;
      const bridge = bridges.get(`${object.apiVersion}/${object.kind}`);
      if (bridge) event = apiServerSourceEvent(r.type, object, 'https://kubernetes.default.svc', clock, bridge.mode);
      to = bridge;
    }
    options.before?.(r, clock);
    if (event && to) {
      bridged++;
      running.broker.publish(to.namespace, to.name, event);
      await running.broker.idle();
    }
    options.after?.(r);
    options.onProgress?.(i + 1, records.length);
  }
  return { bridged, contextOnly: records.length - bridged - logs, logs };
}

/**
 * A recorded Alertmanager notification, posted to the alerts function of the manifests (as
 * Alertmanager's webhook_configs would); false when they deploy none. A notification it refuses is
 * a fault of the recording, named.
 */
async function postNotification(running: RunningMesh, notification: unknown, token: string | undefined): Promise<boolean> {
  const svc = running.mesh.services.find((s) => s.args[0] === 'alerts');
  const server = svc && running.services.get(`${svc.namespace}/${svc.name}`);
  if (!server) return false;
  const res = await fetch(`${server.url}/alertmanager`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(notification),
  });
  const answer = await res.text();
  if (!res.ok) throw new RecordingError(`an Alertmanager notification of the recording was refused (HTTP ${res.status}): ${answer}`);
  return true;
}
