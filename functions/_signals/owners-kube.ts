/** _signals/owners-kube — the OwnerPort over the Cluster port (get on pods, replicasets, jobs), cached briefly. */
import type { Cluster } from '../_kit/k8s.js';
import type { OwnerPort, OwnerReference } from './owners.js';

/** Ownership rarely changes; a short cache spares the API server during event bursts. */
const TTL_MS = 60_000;
/** The default bound: ~1 KiB an entry, so ~5 MiB. */
export const OWNER_CACHE = 5_000;

/** `maxEntries` 0: no cache (every lookup asks the API server). */
export function clusterOwnerPort(cluster: Cluster, now: () => number = Date.now, maxEntries = OWNER_CACHE): OwnerPort {
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
      if (maxEntries === 0) return owners;
      if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
      cache.set(key, { at: now(), owners });
      return owners;
    },
  };
}

/** The port for a configuration: the cluster when owners are resolved in it, none otherwise. */
export function ownerPortFor(mode: 'cluster' | 'names', cluster: Cluster, maxEntries = OWNER_CACHE): OwnerPort | undefined {
  return mode === 'cluster' ? clusterOwnerPort(cluster, Date.now, maxEntries) : undefined;
}
