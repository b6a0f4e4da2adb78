/**
 * enrich/decide — pure: what the cluster showed -> the evidence a person reads, bounded. Objects
 * come in as the API served them; what goes out is chosen field by field (never a whole object),
 * so an env value, a Secret reference or an annotation cannot slip into a message.
 */
import type { CoreV1Event, V1Container, V1ContainerStatus, V1Node, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { NODE_CLASSES } from '../_contracts/events.js';
import type {
  ContainerFacts,
  EventFacts,
  LogTail,
  NodeFacts,
  PodFacts,
  RolloutChange,
  RolloutDiff,
  SignalClass,
  Termination,
} from '../_contracts/events.js';
import { formatBytes, formatCpu, quantityOf } from '../_kit/quantity.js';
import type { Redactor } from '../_signals/redact.js';
import { timeOf, truncate } from '../_signals/model.js';

/** What each class is worth gathering: enrich reads nothing more than the class needs. */
export interface Wanted {
  readonly logs: boolean;
  readonly usage: boolean;
  readonly rollout: boolean;
  readonly nodePods: boolean;
}

const LOG_CLASSES: ReadonlySet<SignalClass> = new Set(['crashloop', 'probefailed', 'startfailed', 'oomkilled']);
const ROLLOUT_CLASSES: ReadonlySet<SignalClass> = new Set([
  'crashloop',
  'probefailed',
  'startfailed',
  'oomkilled',
  'rolloutstalled',
  'imagepull',
  'configerror',
  'createfailed',
]);

export function wanted(c: SignalClass): Wanted {
  return {
    logs: LOG_CLASSES.has(c),
    usage: c === 'oomkilled',
    rollout: ROLLOUT_CLASSES.has(c),
    nodePods: NODE_CLASSES.includes(c),
  };
}

/** A time as the schema takes it (1970-9999, ISO 8601); the port serves JSON strings, the client's types say Date. */
const timeIn = (v: unknown): Date | undefined => timeOf(v instanceof Date ? v.toISOString() : typeof v === 'string' ? v : undefined);
const iso = (v: unknown): string | undefined => timeIn(v)?.toISOString();
const resources = (r: Record<string, unknown> | undefined): Record<string, string> | undefined => {
  if (!r) return undefined;
  const out = Object.fromEntries(
    Object.entries(r).flatMap(([k, v]) => (typeof v === 'string' || typeof v === 'number' ? [[k, String(v)]] : [])),
  );
  return Object.keys(out).length > 0 ? out : undefined;
};

export function podFacts(pod: V1Pod): PodFacts {
  const owner = pod.metadata?.ownerReferences?.find((o) => o.controller === true);
  const startedAt = iso(pod.status?.startTime);
  return {
    name: pod.metadata?.name ?? '',
    ...(pod.status?.phase ? { phase: pod.status.phase } : {}),
    ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
    ...(startedAt ? { startedAt } : {}),
    ...(owner ? { owner: `${owner.kind} ${owner.name}` } : {}),
  };
}

function termination(t: NonNullable<NonNullable<V1ContainerStatus['lastState']>['terminated']>, redact: Redactor): Termination {
  const startedAt = iso(t.startedAt);
  const finishedAt = iso(t.finishedAt);
  return {
    exitCode: t.exitCode,
    ...(t.signal !== undefined && t.signal !== 0 ? { signal: t.signal } : {}),
    ...(t.reason ? { reason: truncate(t.reason, 256) } : {}),
    // The termination message is the container's own words (terminationMessagePath): redacted like a log.
    ...(t.message ? { message: truncate(redact(t.message).text, 4096) } : {}),
    ...(startedAt ? { startedAt } : {}),
    ...(finishedAt ? { finishedAt } : {}),
  };
}

function stateOf(s: V1ContainerStatus): string | undefined {
  if (s.state?.running) return 'running';
  if (s.state?.waiting) return `waiting${s.state.waiting.reason ? `: ${s.state.waiting.reason}` : ''}`;
  if (s.state?.terminated) return `terminated${s.state.terminated.reason ? `: ${s.state.terminated.reason}` : ''}`;
  return undefined;
}

/**
 * The containers of the pod, the signal's own first (or only it, when the signal names one):
 * image, restarts, state, last termination (the previous instance's end), limits and requests,
 * and the usage metrics.k8s.io measured, when it did.
 */
export function containerFacts(
  pod: V1Pod,
  only: string | undefined,
  redact: Redactor,
  usage?: ReadonlyMap<string, Readonly<Record<string, string>>>,
): ContainerFacts[] {
  const specs = new Map<string, V1Container>(
    [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].map((c) => [c.name, c]),
  );
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const chosen = only !== undefined && statuses.some((s) => s.name === only) ? statuses.filter((s) => s.name === only) : statuses;
  return chosen.slice(0, 32).map((s) => {
    const spec = specs.get(s.name);
    const limits = resources(spec?.resources?.limits as Record<string, unknown> | undefined);
    const requests = resources(spec?.resources?.requests as Record<string, unknown> | undefined);
    const used = usage?.get(s.name);
    const state = stateOf(s);
    const last = s.lastState?.terminated ?? s.state?.terminated;
    return {
      name: s.name,
      ...(s.image ? { image: truncate(s.image, 1024) } : {}),
      restartCount: Math.max(0, s.restartCount ?? 0),
      ready: s.ready,
      ...(state ? { state: truncate(state, 256) } : {}),
      ...(last ? { lastTermination: termination(last, redact) } : {}),
      ...(limits ? { limits } : {}),
      ...(requests ? { requests } : {}),
      ...(used ? { usage: used } : {}),
    };
  });
}

/** metrics.k8s.io PodMetrics -> usage per container, as people read it (`412Mi`, `250m`). */
export function usageOf(podMetrics: unknown): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  const containers = (podMetrics as { containers?: unknown } | undefined)?.containers;
  if (!Array.isArray(containers)) return out;
  for (const c of containers as { name?: unknown; usage?: Record<string, unknown> }[]) {
    if (typeof c.name !== 'string' || !c.usage) continue;
    const memory = typeof c.usage['memory'] === 'string' ? quantityOf(c.usage['memory']) : undefined;
    const cpu = typeof c.usage['cpu'] === 'string' ? quantityOf(c.usage['cpu']) : undefined;
    out.set(c.name, {
      ...(memory !== undefined ? { memory: formatBytes(memory) } : {}),
      ...(cpu !== undefined ? { cpu: formatCpu(Math.round(cpu * 1000) / 1000) } : {}),
    });
  }
  return out;
}

const eventTime = (e: CoreV1Event): number =>
  timeIn(e.series?.lastObservedTime ?? e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp)?.getTime() ?? 0;

/** The newest `max` Events of the objects around the problem, one line each, messages redacted. */
export function eventFacts(events: readonly CoreV1Event[], max: number, redact: Redactor): EventFacts[] {
  const seen = new Set<string>();
  return [...events]
    .filter((e) => {
      const uid = e.metadata?.uid ?? `${e.metadata?.namespace}/${e.metadata?.name}`;
      if (seen.has(uid)) return false;
      seen.add(uid);
      return true;
    })
    .sort((a, b) => eventTime(b) - eventTime(a))
    .slice(0, max)
    .map((e) => {
      const at = eventTime(e);
      return {
        regarding: truncate(`${e.involvedObject.kind ?? '?'} ${e.involvedObject.name ?? '?'}`, 320),
        type: truncate(e.type ?? 'Normal', 32),
        reason: truncate(e.reason ?? '', 128),
        message: truncate(redact(e.message ?? '').text, 1024),
        count: Math.max(1, e.series?.count ?? e.count ?? 1),
        ...(at > 0 ? { lastSeen: new Date(at).toISOString() } : {}),
      };
    });
}

/** A node's state as an on-call engineer checks it: conditions, taints, what is asked of it against what it has. */
export function nodeFacts(node: V1Node, pods: readonly V1Pod[] | undefined, listPods: boolean): NodeFacts {
  const allocatable = resources(node.status?.allocatable as Record<string, unknown> | undefined);
  const active = pods?.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
  let requested: Record<string, string> | undefined;
  if (active) {
    let cpu = 0;
    let memory = 0;
    for (const p of active)
      for (const c of p.spec?.containers ?? []) {
        const r = (c.resources?.requests ?? {}) as Record<string, string>;
        cpu += r['cpu'] ? (quantityOf(r['cpu']) ?? 0) : 0;
        memory += r['memory'] ? (quantityOf(r['memory']) ?? 0) : 0;
      }
    requested = { cpu: formatCpu(Math.round(cpu * 1000) / 1000), memory: formatBytes(memory), pods: String(active.length) };
  }
  return {
    name: node.metadata?.name ?? '',
    conditions: (node.status?.conditions ?? []).slice(0, 32).map((c) => {
      const since = iso(c.lastTransitionTime);
      return {
        type: truncate(c.type, 128),
        status: truncate(c.status, 16),
        ...(c.reason ? { reason: truncate(c.reason, 128) } : {}),
        ...(c.message ? { message: truncate(c.message, 1024) } : {}),
        ...(since ? { since } : {}),
      };
    }),
    taints: (node.spec?.taints ?? []).slice(0, 32).map((t) => truncate(`${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`, 512)),
    ...(node.spec?.unschedulable ? { unschedulable: true } : {}),
    ...(allocatable ? { allocatable } : {}),
    ...(requested ? { requested } : {}),
    ...(listPods && active
      ? {
          pods: {
            count: active.length,
            names: active.slice(0, 50).map((p) => truncate(`${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`, 317)),
          },
        }
      : {}),
  };
}

const revisionOf = (rs: V1ReplicaSet): number => {
  const n = Number(rs.metadata?.annotations?.['deployment.kubernetes.io/revision']);
  return Number.isInteger(n) && n >= 0 ? n : 0;
};

const envNames = (c: V1Container): Set<string> => new Set((c.env ?? []).map((e) => e.name));
const argv = (c: V1Container): string => JSON.stringify([...(c.command ?? []), ...(c.args ?? [])]);
const resourceLine = (c: V1Container): string => {
  const r = c.resources ?? {};
  const part = (what: string, m: Record<string, unknown> | undefined): string[] =>
    Object.entries(m ?? {})
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${what}.${k}=${String(v)}`);
  return [
    ...part('limits', r.limits as Record<string, unknown> | undefined),
    ...part('requests', r.requests as Record<string, unknown> | undefined),
  ].join(' ');
};

/**
 * What the Deployment's newest rollout changed: the templates of its two newest ReplicaSets
 * (controlled by its uid), compared by container: image, env variable names (added, removed —
 * values are never looked at), resources, command. Undefined when there was no earlier revision.
 */
export function rolloutDiff(deploymentUid: string, replicaSets: readonly V1ReplicaSet[]): RolloutDiff | undefined {
  const owned = replicaSets
    .filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.controller === true && o.uid === deploymentUid))
    .sort((a, b) => revisionOf(b) - revisionOf(a));
  const [to, from] = owned;
  if (!to || !from) return undefined;
  const containers = (rs: V1ReplicaSet): Map<string, V1Container> =>
    new Map([...(rs.spec?.template?.spec?.initContainers ?? []), ...(rs.spec?.template?.spec?.containers ?? [])].map((c) => [c.name, c]));
  const before = containers(from);
  const after = containers(to);
  const changes: RolloutChange[] = [];
  const text = (s: string): string => truncate(s, 1024);
  for (const name of before.keys()) if (!after.has(name)) changes.push({ container: name, field: 'container', before: name });
  for (const [name, a] of after) {
    const b = before.get(name);
    if (!b) {
      changes.push({ container: name, field: 'container', after: name });
      continue;
    }
    if (a.image !== b.image)
      changes.push({
        container: name,
        field: 'image',
        ...(b.image ? { before: text(b.image) } : {}),
        ...(a.image ? { after: text(a.image) } : {}),
      });
    const [eb, ea] = [envNames(b), envNames(a)];
    for (const e of eb) if (!ea.has(e)) changes.push({ container: name, field: 'env', before: text(e) });
    for (const e of ea) if (!eb.has(e)) changes.push({ container: name, field: 'env', after: text(e) });
    const [rb, ra] = [resourceLine(b), resourceLine(a)];
    if (rb !== ra)
      changes.push({ container: name, field: 'resources', ...(rb ? { before: text(rb) } : {}), ...(ra ? { after: text(ra) } : {}) });
    const [cb, ca] = [argv(b), argv(a)];
    if (cb !== ca) changes.push({ container: name, field: 'command', before: text(cb), after: text(ca) });
  }
  return {
    from: { replicaSet: from.metadata?.name ?? '', revision: revisionOf(from) },
    to: { replicaSet: to.metadata?.name ?? '', revision: revisionOf(to) },
    changes: changes.slice(0, 100),
  };
}

/**
 * The last `maxLines` lines of a log within `maxBytes`, redacted. The API server's `limitBytes`
 * keeps the *first* bytes of the tail it was asked for, so enrich fetches more than it keeps
 * (`fetchedBytes`) and keeps the newest lines here; when the fetch itself was cut, its last line
 * is partial and is dropped. Redaction runs on whole lines before any cut, so a cut never leaves
 * half a secret that a rule would have recognised whole.
 */
export function logTail(
  container: string,
  previous: boolean,
  text: string,
  limits: { maxLines: number; maxBytes: number; fetchedBytes: number },
  redact: Redactor,
): LogTail {
  const cutByFetch = Buffer.byteLength(text) >= limits.fetchedBytes;
  let lines = text.split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  if (cutByFetch && lines.length > 1) lines.pop();
  // As many lines as the tail asked for: more likely came before them.
  let truncated = cutByFetch || lines.length >= limits.maxLines;
  if (lines.length > limits.maxLines) lines = lines.slice(-limits.maxLines);
  const redactions: Record<string, number> = {};
  const clean = lines.map((l) => {
    const r = redact(l);
    for (const [rule, n] of Object.entries(r.redactions)) redactions[rule] = (redactions[rule] ?? 0) + n;
    return r.text;
  });
  // Newest last: keep lines from the end while they fit.
  const kept: string[] = [];
  let bytes = 0;
  for (let i = clean.length - 1; i >= 0; i--) {
    const size = Buffer.byteLength(clean[i]!) + 1;
    if (bytes + size > limits.maxBytes) {
      if (kept.length === 0)
        kept.unshift(
          Buffer.from(clean[i]!)
            .subarray(-limits.maxBytes + 1)
            .toString('utf8'),
        );
      truncated = true;
      break;
    }
    kept.unshift(clean[i]!);
    bytes += size;
  }
  return { container, previous, lines: kept, truncated, redactions };
}
