/**
 * dev/mesh/recorded — the cluster as a recording knows it, for replays with no cluster: the
 * kit's Cluster port over the last state of every object the recording carried, so the functions
 * read it exactly as they read an API server (a new function needs nothing here). It never acts
 * (replays run in dry-run): a write other than a function's state annotation is refused, audit
 * Events are dropped (the decision travels in the reply, which the timeline shows). State
 * annotations are kept, with resourceVersion preconditions, so guards such as cooldowns and
 * "already handled" work across the replay as on a cluster. Container logs the recording carried
 * (PodLog records, dev/mesh/replay.ts) are the pods' `pods/log`, apart from the objects.
 */
import { DEFAULT_OPT_IN } from '../../functions/_act/policy.js';
import { ConflictError, InternalError } from '../../functions/_kit/errors.js';
import type { Cluster, KubeObject, ListOptions, ObjectMeta, ObjectRef, PodLogOptions } from '../../functions/_kit/k8s.js';
import type { K8sObject } from './apiserversource.js';
import { isPodLog } from './replay.js';

/**
 * Kinds a recording of Events rarely carries but the functions act on: one absent from the
 * recording is stood in for, known by its name only, so the guards and playbooks can be seen at
 * work. A Namespace stood in for is opted in (the default label), as is a Node (the default
 * annotation: a cluster-scoped target has no namespace to opt it in).
 */
const STAND_INS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Node', 'Namespace']);

const NEVER_ACTS = 'a replay of a recording never acts: run it in dry-run';

/** `a=b,c=d` (equality only, as the functions write them) against a map of values. */
function matches(selector: string | undefined, value: (key: string) => unknown): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=').map((x) => x.trim());
    return k !== undefined && String(value(k) ?? '') === (v ?? '');
  });
}

const field = (o: KubeObject, path: string): unknown =>
  path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);

/**
 * The last `lines` lines of a log, as the kubelet counts them (each ends at a newline; a last one
 * without one counts too). Undefined: all of it.
 */
export function lastLines(text: string, lines: number | undefined): string {
  if (lines === undefined) return text;
  if (lines === 0) return '';
  return (text.match(/[^\n]*\n|[^\n]+$/g) ?? []).slice(-lines).join('');
}

/** The first `limit` bytes of a text; a character cut at the limit becomes U+FFFD, as the kit's port reads it. */
function firstBytes(text: string, limit: number): string {
  const bytes = Buffer.from(text, 'utf8');
  return bytes.byteLength <= limit ? text : bytes.subarray(0, limit).toString('utf8');
}

export class RecordedCluster implements Cluster {
  private readonly objects = new Map<string, K8sObject>();
  /** Container logs, by pod, container and instance: never served as objects (get, list). */
  private readonly logs = new Map<string, string>();

  private static key(kind: string, namespace: string | undefined, name: string): string {
    return `${kind}|${namespace ?? ''}|${name}`;
  }

  private static logKey(namespace: string, pod: string, container: string, previous: boolean): string {
    return `${namespace}|${pod}|${container}|${previous ? 'previous' : 'current'}`;
  }

  /**
   * Records an object's latest state (a DELETED watch event removes it), or a container's log as
   * it was when recorded (the latest for its pod, container and instance). A deleted pod's logs go
   * with it, as they do from its node.
   */
  observe(type: 'ADDED' | 'MODIFIED' | 'DELETED', o: K8sObject): void {
    if (isPodLog(o)) {
      const k = RecordedCluster.logKey(o.metadata.namespace, o.metadata.name, o.container, o.previous === true);
      if (type === 'DELETED') this.logs.delete(k);
      else this.logs.set(k, o.log);
      return;
    }
    const k = RecordedCluster.key(o.kind, o.metadata.namespace, o.metadata.name);
    if (type === 'DELETED') this.objects.delete(k);
    else this.objects.set(k, o);
    if (type === 'DELETED' && o.kind === 'Pod' && o.apiVersion === 'v1') {
      const pod = `${o.metadata.namespace ?? ''}|${o.metadata.name}|`;
      for (const key of [...this.logs.keys()]) if (key.startsWith(pod)) this.logs.delete(key);
    }
  }

  private find(ref: ObjectRef): K8sObject | undefined {
    const found = this.objects.get(RecordedCluster.key(ref.kind, ref.namespace || undefined, ref.name));
    if (found || !STAND_INS.has(ref.kind)) return found;
    const [label, value] = DEFAULT_OPT_IN.split('=') as [string, string];
    const made: K8sObject = {
      apiVersion: ref.apiVersion,
      kind: ref.kind,
      metadata: {
        name: ref.name,
        ...(ref.namespace ? { namespace: ref.namespace } : {}),
        ...(ref.kind === 'Namespace' ? { labels: { [label]: value } } : {}),
        ...(ref.kind === 'Node' ? { annotations: { [label]: value } } : {}),
      },
    };
    this.observe('ADDED', made);
    return made;
  }

  async get<T extends object>(ref: ObjectRef): Promise<T | undefined> {
    return this.find(ref) as T | undefined;
  }

  async list<T extends object>(_apiVersion: string, kind: string, o: ListOptions = {}): Promise<T[]> {
    return [...this.objects.values()].filter(
      (x) =>
        x.kind === kind &&
        (o.namespace === undefined || x.metadata.namespace === o.namespace) &&
        matches(o.labelSelector, (k) => (x.metadata as ObjectMeta).labels?.[k]) &&
        matches(o.fieldSelector, (k) => field(x as KubeObject, k)),
    ) as T[];
  }

  /** Only a function's state: a merge patch of metadata (annotations, with a resourceVersion precondition). */
  async patch(ref: ObjectRef, patch: object, type: 'merge' | 'json'): Promise<boolean> {
    const { metadata, ...rest } = patch as { metadata?: ObjectMeta };
    if (type !== 'merge' || Object.keys(rest).length > 0 || !metadata) throw new InternalError(NEVER_ACTS);
    const o = this.find(ref);
    if (!o) return false;
    const meta = o.metadata as ObjectMeta;
    // The same precondition the API server applies, so concurrent deliveries behave as on a cluster.
    if (metadata.resourceVersion !== undefined && (meta.resourceVersion ?? '0') !== metadata.resourceVersion)
      throw new ConflictError(`${ref.kind} ${ref.name} changed while deciding`);
    const next: ObjectMeta = {
      ...meta,
      annotations: { ...meta.annotations, ...metadata.annotations },
      resourceVersion: String(Number(meta.resourceVersion ?? '0') + 1),
    };
    this.observe('MODIFIED', { ...o, metadata: next as K8sObject['metadata'] });
    return true;
  }

  /** Audit Events are dropped: the decision and its note travel in the function's reply. */
  async create<T extends object>(object: KubeObject & { kind: string }): Promise<T | undefined> {
    if (object.kind === 'Event') return object as T;
    throw new InternalError(NEVER_ACTS);
  }

  async replicas(ref: ObjectRef): Promise<number | undefined> {
    const o = this.find(ref) as { spec?: { replicas?: number } } | undefined;
    // Not in the recording: a Deployment's default.
    return o ? (o.spec?.replicas ?? 1) : undefined;
  }

  /**
   * The log the recording carried for this pod, container and instance, read as the API server
   * serves `pods/log`: the last `tailLines` lines, then the first `limitBytes` bytes of those (so
   * a cut falls at the end, mid-line). Undefined when the recording carried none (as a missing pod,
   * container or previous instance). It answers at once: `timeoutMs` never runs out.
   * @see k8s.io/api core/v1 PodLogOptions
   */
  async podLog(
    pod: { readonly namespace: string; readonly name: string },
    container: string,
    o: PodLogOptions,
  ): Promise<string | undefined> {
    // The API server's validation: both bounds are refused below these.
    if ((o.tailLines !== undefined && o.tailLines < 0) || o.limitBytes < 1)
      throw new InternalError(`pods/log: tailLines must be at least 0 and limitBytes at least 1 (got ${o.tailLines}, ${o.limitBytes})`);
    const text = this.logs.get(RecordedCluster.logKey(pod.namespace, pod.name, container, o.previous === true));
    return text === undefined ? undefined : firstBytes(lastLines(text, o.tailLines), o.limitBytes);
  }

  async delete(): Promise<boolean> {
    throw new InternalError(NEVER_ACTS);
  }

  async evict(): Promise<'evicted'> {
    throw new InternalError(NEVER_ACTS);
  }

  async setReplicas(): Promise<boolean> {
    throw new InternalError(NEVER_ACTS);
  }
}
