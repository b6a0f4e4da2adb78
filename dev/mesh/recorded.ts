/**
 * dev/mesh/recorded — the cluster as a recording knows it, for replays with no cluster: the
 * kit's Cluster port over the last state of every object the recording carried, so the functions
 * read it exactly as they read an API server (a new function needs nothing here). It never acts
 * (replays run in dry-run): a write other than a function's state annotation is refused, audit
 * Events are dropped (the decision travels in the reply, which the timeline shows). State
 * annotations are kept, with resourceVersion preconditions, so guards such as cooldowns and
 * "already handled" work across the replay as on a cluster.
 */
import { DEFAULT_OPT_IN } from '../../functions/_act/policy.js';
import { ConflictError, InternalError } from '../../functions/_kit/errors.js';
import type { Cluster, KubeObject, ListOptions, ObjectMeta, ObjectRef } from '../../functions/_kit/k8s.js';
import type { K8sObject } from './apiserversource.js';

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

export class RecordedCluster implements Cluster {
  private readonly objects = new Map<string, K8sObject>();

  private static key(kind: string, namespace: string | undefined, name: string): string {
    return `${kind}|${namespace ?? ''}|${name}`;
  }

  /** Records an object's latest state (a DELETED watch event removes it). */
  observe(type: 'ADDED' | 'MODIFIED' | 'DELETED', o: K8sObject): void {
    const k = RecordedCluster.key(o.kind, o.metadata.namespace, o.metadata.name);
    if (type === 'DELETED') this.objects.delete(k);
    else this.objects.set(k, o);
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

  /** A recording holds no container logs yet (issue 21): none is known. */
  async podLog(): Promise<string | undefined> {
    return undefined;
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
