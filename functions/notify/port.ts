/**
 * notify/port — what notify reads and writes on the kit's Cluster port: in Reflex's own
 * namespace, one Lease per sink and problem (the claim records of claims.ts) and the ConfigMap
 * of silences (read only; `reflex silence` writes it); anywhere, the annotations of a message's
 * target, of the kinds in TARGET_KINDS (read only, for `reflex.dev/silence-until`).
 * knative/notify/rbac.yaml grants exactly this.
 */
import { createHash } from 'node:crypto';
import { ConflictError } from '../_kit/errors.js';
import { microTime, type Cluster, type KubeObject, type ObjectRef } from '../_kit/k8s.js';
import type { ClaimRecord, ClaimState } from './claims.js';
import { SILENCES_CONFIGMAP } from './silences.js';
import { SILENCE_UNTIL } from './silence-until.js';

export interface NotifyPort {
  /** The claim record of this sink and problem, or undefined. */
  readClaim(sink: string, key: string): Promise<ClaimRecord | undefined>;
  /**
   * Writes `next` if the record is still at `resourceVersion` (undefined: creates it). Returns
   * the new resourceVersion when the API server said it (a create); ConflictError when someone
   * else wrote (or created, or deleted) first.
   */
  writeClaim(next: ClaimRecord, resourceVersion: string | undefined): Promise<string | undefined>;
  /** Every claim record, with its object's name (for collecting the old ones). */
  listClaims(): Promise<StoredClaim[]>;
  /** Deletes a record at the version read (ConflictError: it changed since); false: gone already. */
  deleteClaim(record: StoredClaim): Promise<boolean>;
  /** The silences ConfigMap's data, or undefined when there is none. */
  silences(): Promise<Readonly<Record<string, string>> | undefined>;
  /** An object's annotations ({} when it has none), or undefined when it does not exist. */
  annotations(ref: ObjectRef): Promise<Readonly<Record<string, string>> | undefined>;
}

/**
 * The kinds a message's target may be whose annotations notify reads, and the version it reads
 * them at: the workloads and nodes targets resolve to (functions/_signals/owners.ts), and the
 * claims and autoscalers that are their own targets. knative/notify/rbac.yaml grants `get` on
 * exactly these; a Pod or ReplicaSet target (one with no controller) and custom kinds are not
 * read, so their annotation is not honoured (a ConfigMap silence still is).
 */
const TARGET_KINDS: ReadonlyMap<string, string> = new Map([
  ['Deployment', 'apps/v1'],
  ['StatefulSet', 'apps/v1'],
  ['DaemonSet', 'apps/v1'],
  ['Job', 'batch/v1'],
  ['CronJob', 'batch/v1'],
  ['Node', 'v1'],
  ['PersistentVolumeClaim', 'v1'],
  ['HorizontalPodAutoscaler', 'autoscaling/v2'],
]);

/** What a message is about, as a signal (with its apiVersion), an action or a resolution names it. */
export interface MessageTarget {
  readonly apiVersion?: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

const groupOf = (apiVersion: string): string => (apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '');

/**
 * The object to read for a message's target, or undefined when notify may not read it: a kind
 * not in TARGET_KINDS, or one of another API group (a custom resource that is also called
 * `Deployment`). Any version of the group is read at the one above (the annotations are the same).
 */
export function targetRef(t: MessageTarget): ObjectRef | undefined {
  const apiVersion = TARGET_KINDS.get(t.kind);
  if (apiVersion === undefined || !t.name) return undefined;
  if (t.apiVersion !== undefined && groupOf(t.apiVersion) !== groupOf(apiVersion)) return undefined;
  return { apiVersion, kind: t.kind, ...(t.namespace ? { namespace: t.namespace } : {}), name: t.name };
}

export type StoredClaim = ClaimRecord & { readonly name: string };

const LEASES = 'coordination.k8s.io/v1';
/** Marks notify's claim records: what it lists, and `kubectl get leases -n reflex -l app.kubernetes.io/managed-by=reflex-notify` shows. */
export const CLAIM_SELECTOR = 'app.kubernetes.io/managed-by=reflex-notify';
const A = {
  sink: 'reflex.dev/notify-sink',
  key: 'reflex.dev/notify-problem',
  state: 'reflex.dev/notify-state',
  window: 'reflex.dev/notify-window-start',
} as const;

/** One Lease per sink and problem: a hash, since a key may hold characters a name may not. */
export function claimName(sink: string, key: string): string {
  return `notify-${createHash('sha256').update(`${sink}\u0000${key}`).digest('hex').slice(0, 32)}`;
}

interface Lease extends KubeObject {
  spec?: { holderIdentity?: string; acquireTime?: string; renewTime?: string; leaseDurationSeconds?: number };
}

const STATES: readonly ClaimState[] = ['sending', 'sent', 'failed'];

/** A Lease -> its claim, or undefined when it is not one notify can read (hand-edited): then it is replaced. */
export function claimOf(lease: Lease): ClaimRecord | undefined {
  const { annotations: a = {}, resourceVersion } = lease.metadata ?? {};
  const { holderIdentity = '', acquireTime = '', leaseDurationSeconds = 0 } = lease.spec ?? {};
  const state = a[A.state] as ClaimState | undefined;
  const windowStart = Date.parse(a[A.window] ?? '');
  const claimedAt = Date.parse(acquireTime);
  if (!state || !STATES.includes(state) || !Number.isFinite(windowStart) || !Number.isFinite(claimedAt)) return undefined;
  return {
    sink: a[A.sink] ?? '',
    key: a[A.key] ?? '',
    windowStart,
    state,
    claimedBy: holderIdentity,
    claimedAt,
    ttlMs: leaseDurationSeconds * 1000,
    ...(resourceVersion ? { resourceVersion } : {}),
  };
}

/** What a claim looks like as a Lease: holder and acquireTime are the claim, renewTime its last change. */
function leaseBody(c: ClaimRecord, now: Date): Pick<Lease, 'spec'> & { metadata: { annotations: Record<string, string> } } {
  return {
    metadata: {
      annotations: { [A.sink]: c.sink, [A.key]: c.key, [A.state]: c.state, [A.window]: new Date(c.windowStart).toISOString() },
    },
    spec: {
      holderIdentity: c.claimedBy,
      acquireTime: microTime(new Date(c.claimedAt)),
      renewTime: microTime(now),
      leaseDurationSeconds: Math.max(1, Math.ceil(c.ttlMs / 1000)),
    },
  };
}

export function notifyPort(cluster: Cluster, namespace: string, now: () => Date = () => new Date()): NotifyPort {
  const ref = (sink: string, key: string) => ({ apiVersion: LEASES, kind: 'Lease', namespace, name: claimName(sink, key) });
  return {
    async readClaim(sink, key) {
      const lease = await cluster.get<Lease>(ref(sink, key));
      if (!lease) return undefined;
      // An unreadable record is treated as an abandoned claim at its version: the next write replaces it.
      return (
        claimOf(lease) ?? {
          sink,
          key,
          windowStart: 0,
          state: 'failed',
          claimedBy: '',
          claimedAt: 0,
          ttlMs: 0,
          ...(lease.metadata?.resourceVersion ? { resourceVersion: lease.metadata.resourceVersion } : {}),
        }
      );
    },

    async writeClaim(next, resourceVersion) {
      const body = leaseBody(next, now());
      if (resourceVersion === undefined) {
        const made = await cluster.create<Lease>({
          apiVersion: LEASES,
          kind: 'Lease',
          metadata: {
            name: claimName(next.sink, next.key),
            namespace,
            labels: { 'app.kubernetes.io/managed-by': 'reflex-notify', 'app.kubernetes.io/part-of': 'reflex' },
            annotations: body.metadata.annotations,
          },
          spec: body.spec,
        });
        if (!made) throw new ConflictError(`another replica claimed ${next.sink} for problem ${next.key} first`);
        return made.metadata?.resourceVersion;
      }
      // A merge patch naming the resourceVersion read applies only at that version (409 otherwise).
      const done = await cluster.patch(
        ref(next.sink, next.key),
        { metadata: { ...body.metadata, resourceVersion }, spec: body.spec },
        'merge',
      );
      if (!done) throw new ConflictError(`the claim of ${next.sink} for problem ${next.key} is gone`);
      return undefined;
    },

    async listClaims() {
      const leases = await cluster.list<Lease>(LEASES, 'Lease', { namespace, labelSelector: CLAIM_SELECTOR });
      return leases.flatMap((l) => {
        const c = claimOf(l);
        return c && l.metadata?.name ? [{ ...c, name: l.metadata.name }] : [];
      });
    },

    async deleteClaim(record) {
      return cluster.delete(
        { apiVersion: LEASES, kind: 'Lease', namespace, name: record.name },
        record.resourceVersion ? { resourceVersion: record.resourceVersion } : {},
      );
    },

    async silences() {
      const cm = await cluster.get<KubeObject & { data?: Record<string, string> }>({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        namespace,
        name: SILENCES_CONFIGMAP,
      });
      return cm ? (cm.data ?? {}) : undefined;
    },

    async annotations(ref) {
      const object = await cluster.get(ref);
      if (!object) return undefined;
      // Only the one annotation notify reads is kept: the rest (kubectl's last-applied-configuration
      // holds a whole spec) would make 10,000 remembered targets cost hundreds of MB.
      const until = object.metadata?.annotations?.[SILENCE_UNTIL];
      return until === undefined ? {} : { [SILENCE_UNTIL]: until };
    },
  };
}
