/**
 * _mesh/play — a recording replayed through the whole mesh with no cluster: every watch event
 * the manifests' ApiServerSources would bridge goes into the development broker as that source
 * would send it, on the recording's clock; the real functions answer, recover and scale reading
 * the cluster as the recording knows it (functions/_mesh/recorded.ts), all in dry-run, no
 * secrets, nothing sent anywhere. What each step decided, and why, comes back as timeline lines.
 */
import { defineFunction, type FunctionDefinition } from '../_kit/index.js';
import recover from '../recover/index.js';
import { createHandler as recoverHandler } from '../recover/handler.js';
import scale from '../scale/index.js';
import { createHandler as scaleHandler } from '../scale/handler.js';
import type { RecoverConfig } from '../recover/config.js';
import type { ScaleConfig } from '../scale/config.js';
import { apiServerSourceMessage, type K8sObject } from './apiserversource.js';
import { parseRequest } from '../_kit/binding.js';
import { startMesh } from './mesh.js';
import { RecordedCluster } from './recorded.js';
import { timeOf, type Recorded } from './replay.js';
import { lineOf, type Line } from './timeline.js';

export interface PlayOptions {
  readonly manifests?: string;
  /** Rules other than the manifests' (what-if). */
  readonly rulesFile?: string;
  readonly onLine?: (line: Line) => void;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface Played {
  readonly lines: readonly Line[];
  /** Watch events bridged to the broker, and those that only informed the recorded cluster. */
  readonly bridged: number;
  readonly contextOnly: number;
}

interface SourceView {
  spec?: {
    mode?: string;
    resources?: { apiVersion: string; kind: string }[];
    sink?: { ref?: { kind?: string; name?: string; namespace?: string } };
  };
  metadata: { namespace?: string };
}

/** An events.k8s.io/v1 Event as the API server shows it through core/v1 (its field mapping). */
export function asCoreEvent(o: K8sObject): K8sObject {
  const {
    apiVersion: _v,
    regarding,
    related,
    note,
    series,
    deprecatedCount,
    deprecatedFirstTimestamp,
    deprecatedLastTimestamp,
    deprecatedSource,
    reportingController,
    reportingInstance,
    eventTime,
    ...rest
  } = o as K8sObject & { [k: string]: unknown };
  const s = series as { count?: number; lastObservedTime?: string } | undefined;
  return {
    ...rest,
    apiVersion: 'v1',
    kind: 'Event',
    metadata: o.metadata,
    involvedObject: regarding,
    ...(related ? { related } : {}),
    message: note,
    count: s?.count ?? deprecatedCount ?? 1,
    firstTimestamp: deprecatedFirstTimestamp ?? eventTime ?? null,
    lastTimestamp: s?.lastObservedTime ?? deprecatedLastTimestamp ?? eventTime ?? null,
    eventTime: eventTime ?? null,
    source: deprecatedSource ?? { component: reportingController },
    reportingComponent: reportingController ?? '',
    reportingInstance: reportingInstance ?? '',
    ...(s ? { series: s } : {}),
  };
}

export async function play(records: readonly Recorded[], options: PlayOptions = {}): Promise<Played> {
  const cluster = new RecordedCluster();
  let clock = new Date(0);
  const lines: Line[] = [];
  const definitions: Record<string, FunctionDefinition<unknown> | null> = {
    recover: defineFunction<RecoverConfig>({
      ...recover,
      handle: recoverHandler((ctx) => cluster.recoverPort(ctx.config.policy.optIn.namespaceLabel, ctx.now)),
    }) as FunctionDefinition<unknown>,
    scale: defineFunction<ScaleConfig>({
      ...scale,
      handle: scaleHandler((ctx) => cluster.scalePort(ctx.config.policy.optIn.namespaceLabel)),
    }) as FunctionDefinition<unknown>,
    // A sweep lists a live cluster; a replay has only the recording.
    sweep: null,
  };
  const running = await startMesh({
    ...(options.manifests ? { manifests: options.manifests } : {}),
    // No KUBECONFIG, no sink secrets: a replay reaches nothing outside this process.
    env: {},
    act: false,
    definitions,
    serviceEnv: {
      classify: { REFLEX_RESOLVE_OWNERS: 'names', ...(options.rulesFile ? { REFLEX_RULES_FILE: options.rulesFile } : {}) },
    },
    now: () => clock,
    sleep: async () => {},
    onRecord: (r) => {
      const line = lineOf(r);
      if (!line) return;
      const stamped = line.kind === 'problem' ? { ...line, at: clock } : line;
      lines.push(stamped);
      options.onLine?.(stamped);
    },
  });
  // Which kinds the ApiServerSources bridge, and to which Broker.
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
  let bridged = 0;
  try {
    const first = running.mesh.brokers[0];
    for (const [i, r] of records.entries()) {
      if (r.type === 'CLOUDEVENT') {
        // Recorded CloudEvents go to the (first) Broker as they are, on their own clock.
        const event = parseRequest({ 'content-type': 'application/cloudevents+json' }, Buffer.from(JSON.stringify(r.event))).events[0]!;
        if (event.time) clock = new Date(event.time);
        if (first) {
          bridged++;
          running.broker.publish(first.namespace, first.name, event);
          await running.broker.idle();
        }
        options.onProgress?.(i + 1, records.length);
        continue;
      }
      clock = timeOf(r.object, clock);
      cluster.observe(r.type, r.object);
      // The API server serves every Event in both versions: a core/v1 source sees events.k8s.io ones too.
      const object =
        r.object.apiVersion === 'events.k8s.io/v1' && !bridges.has('events.k8s.io/v1/Event') ? asCoreEvent(r.object) : r.object;
      const to = bridges.get(`${object.apiVersion}/${object.kind}`);
      if (to) {
        bridged++;
        const { headers, body } = apiServerSourceMessage(r.type, object, 'https://kubernetes.default.svc', clock, to.mode);
        running.broker.publish(to.namespace, to.name, parseRequest(headers, Buffer.from(body)).events[0]!);
        await running.broker.idle();
      }
      options.onProgress?.(i + 1, records.length);
    }
  } finally {
    await running.close();
  }
  return { lines, bridged, contextOnly: records.length - bridged };
}
