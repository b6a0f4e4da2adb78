/** _signals/owners-kube — the OwnerPort over the Cluster port (get on pods, replicasets, jobs), cached briefly. */
import type { Cluster } from '../_kit/k8s.js';
import type { OwnerPort, OwnerReference } from './owners.js';

/** Ownership rarely changes; a short cache spares the API server during event bursts. */
const TTL_MS = 60_000;
const MAX_ENTRIES = 5_000;

export function clusterOwnerPort(cluster: Cluster, now: () => number = Date.now): OwnerPort {
  const cache = new Map<string, { at: number; owners: readonly OwnerReference[] | undefined }>();
  return {
    async owners(ref) {
      const key = `${ref.apiVersion}/${ref.kind}/${ref.namespace}/${ref.name}`;
      const hit = cache.get(key);
      if (hit && now() - hit.at < TTL_MS) return hit.owners;
      const o = await cluster.get(ref);
      const owners = o
        ? (o.metadata?.ownerReferences ?? []).map((r) => ({
            apiVersion: r.apiVersion,
            kind: r.kind,
            name: r.name,
            uid: r.uid,
            controller: r.controller === true,
          }))
        : undefined;
      if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
      cache.set(key, { at: now(), owners });
      return owners;
    },
  };
}

/** The port for a configuration: the cluster when owners are resolved in it, none otherwise. */
export function ownerPortFor(mode: 'cluster' | 'names', cluster: Cluster): OwnerPort | undefined {
  return mode === 'cluster' ? clusterOwnerPort(cluster) : undefined;
}
