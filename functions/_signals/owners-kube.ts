/** _signals/owners-kube — the OwnerPort on the real API (get on pods, replicasets, jobs), cached briefly. */
import { apiStatus, fromKubeError, type KubeFactory } from '../_kit/k8s.js';
import type { OwnerPort, OwnerReference } from './owners.js';

/** Ownership rarely changes; a short cache spares the API server during event bursts. */
const TTL_MS = 60_000;
const MAX_ENTRIES = 5_000;

export function kubeOwnerPort(kube: KubeFactory, now: () => number = Date.now): OwnerPort {
  const cache = new Map<string, { at: number; owners: readonly OwnerReference[] | undefined }>();
  return {
    async owners(ref) {
      const key = `${ref.apiVersion}/${ref.kind}/${ref.namespace}/${ref.name}`;
      const hit = cache.get(key);
      if (hit && now() - hit.at < TTL_MS) return hit.owners;
      const k = await kube();
      let owners: readonly OwnerReference[] | undefined;
      try {
        const obj = await k.objects.read({
          apiVersion: ref.apiVersion,
          kind: ref.kind,
          metadata: { name: ref.name, namespace: ref.namespace },
        });
        owners = (obj.metadata?.ownerReferences ?? []).map((o) => ({
          apiVersion: o.apiVersion,
          kind: o.kind,
          name: o.name,
          uid: o.uid,
          controller: o.controller === true,
        }));
      } catch (err) {
        if (apiStatus(err) !== 404) throw fromKubeError(err, `get ${ref.kind} ${ref.namespace}/${ref.name}`);
        owners = undefined;
      }
      if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
      cache.set(key, { at: now(), owners });
      return owners;
    },
  };
}

/** The port for a configuration: the API when owners are resolved in the cluster, none otherwise. */
export function ownerPortFor(
  mode: 'cluster' | 'names',
  kube: KubeFactory,
  cache: WeakMap<object, OwnerPort>,
  key: object,
): OwnerPort | undefined {
  if (mode !== 'cluster') return undefined;
  let port = cache.get(key);
  if (!port) {
    port = kubeOwnerPort(kube);
    cache.set(key, port);
  }
  return port;
}
