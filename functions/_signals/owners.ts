/**
 * _signals/owners — which workload a problem belongs to: Pod -> ReplicaSet -> Deployment, or
 * StatefulSet / DaemonSet / Job (-> CronJob), or the Node, through ownerReferences when the
 * cluster is reachable, else through the controllers' naming patterns. Any other kind (a
 * Deployment, a PersistentVolumeClaim, a HorizontalPodAutoscaler…) is its own target.
 */
import type { Involved, Target } from '../_contracts/events.js';
import { refFault } from './model.js';

export interface OwnerReference {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid?: string;
  readonly controller?: boolean;
}

/** The narrow port to the cluster: an object's ownerReferences, or undefined if it is gone. */
export interface OwnerPort {
  owners(ref: { apiVersion: string; kind: string; namespace: string; name: string }): Promise<readonly OwnerReference[] | undefined>;
}

/**
 * The kinds whose controlling owner is the better target, and the only ones read for their
 * ownerReferences: classify and sweep may `get` exactly these (their rbac.yaml in knative/).
 */
const OWNED = new Set(['Pod', 'ReplicaSet', 'Job']);
/** Owners followed one more hop: a ReplicaSet to its Deployment, a Job to its CronJob. Any other owner is the target. */
const FOLLOWED = new Set(['apps/v1/ReplicaSet', 'batch/v1/Job']);
const CLUSTER_SCOPED = new Set(['Node']);
/** Pod names from a ReplicaSet: <deployment>-<pod-template-hash>-<5 chars>, from this alphabet. */
const SAFE = '[bcdfghjklmnpqrstvwxz2456789]';
const RS_POD = new RegExp(`^(.+)-${SAFE}{1,10}-${SAFE}{5}$`);
const RS_NAME = new RegExp(`^(.+)-${SAFE}{1,10}$`);
const STS_POD = /^(.+)-(\d+)$/;

const self = (r: Involved): Target => ({
  ...(r.apiVersion ? { apiVersion: r.apiVersion } : {}),
  kind: r.kind,
  namespace: CLUSTER_SCOPED.has(r.kind) ? '' : (r.namespace ?? ''),
  name: r.name,
  resolvedBy: 'self',
});

/** Without a cluster: the naming patterns of the ReplicaSet and StatefulSet controllers. */
export function targetByName(r: Involved): Target {
  const namespace = r.namespace ?? '';
  if (r.kind === 'Pod') {
    const rs = RS_POD.exec(r.name);
    if (rs) return { apiVersion: 'apps/v1', kind: 'Deployment', namespace, name: rs[1]!, resolvedBy: 'name' };
    const sts = STS_POD.exec(r.name);
    if (sts) return { apiVersion: 'apps/v1', kind: 'StatefulSet', namespace, name: sts[1]!, resolvedBy: 'name' };
  }
  if (r.kind === 'ReplicaSet') {
    const rs = RS_NAME.exec(r.name);
    if (rs) return { apiVersion: 'apps/v1', kind: 'Deployment', namespace, name: rs[1]!, resolvedBy: 'name' };
  }
  return self(r);
}

/** The controlling owner; one naming no possible object (the API server checks little there) is no owner. */
const controllerOf = (owners: readonly OwnerReference[]): OwnerReference | undefined => {
  const owner = owners.find((o) => o.controller) ?? owners[0];
  return owner && !refFault(owner) ? owner : undefined;
};

/**
 * Follows controller ownerReferences up to a workload (at most three hops: Pod -> ReplicaSet ->
 * Deployment, Pod -> Job -> CronJob); a Job found failing is followed to its CronJob the same way.
 * An owner of another kind (a custom controller's) is the target as it is: it is not read. A Pod
 * that is gone falls back to the naming patterns; API faults propagate (the caller answers 503 so
 * the Broker retries rather than act on a guess).
 */
export async function resolveTarget(r: Involved, port: OwnerPort | undefined): Promise<Target> {
  if (!OWNED.has(r.kind) || !r.namespace) return self(r);
  if (!port) return targetByName(r);
  const namespace = r.namespace;
  let current: { apiVersion: string; kind: string; name: string } = { apiVersion: r.apiVersion ?? 'v1', kind: r.kind, name: r.name };
  for (let hop = 0; hop < 3; hop++) {
    const owners = await port.owners({ ...current, namespace });
    if (owners === undefined) return hop === 0 ? targetByName(r) : { ...current, namespace, resolvedBy: 'ownerReferences' };
    const owner = controllerOf(owners);
    if (!owner) return hop === 0 ? self(r) : { ...current, namespace, resolvedBy: 'ownerReferences' };
    current = { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.name };
    if (!FOLLOWED.has(`${owner.apiVersion}/${owner.kind}`)) return { ...current, namespace, resolvedBy: 'ownerReferences' };
  }
  return { ...current, namespace, resolvedBy: 'ownerReferences' };
}
