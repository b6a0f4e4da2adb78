import { describe, expect, it } from '@jest/globals';
import type { Cluster } from '../_kit/k8s.js';
import { clusterOwnerPort } from './owners-kube.js';

/** A cluster that answers every get with an owner, counting the gets. */
function counting(): { cluster: Cluster; gets: () => number } {
  let gets = 0;
  const cluster = {
    get: (ref: { name: string }) => {
      gets++;
      return Promise.resolve({
        metadata: {
          name: ref.name,
          ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${ref.name}-rs`, uid: 'u', controller: true }],
        },
      });
    },
  } as unknown as Cluster;
  return { cluster, gets: () => gets };
}
const pod = (name: string) => ({ apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name });

describe('the owner cache', () => {
  it('answers a repeat lookup from memory for a minute, then asks again', async () => {
    let now = 0;
    const c = counting();
    const port = clusterOwnerPort(c.cluster, () => now);
    const first = await port.owners(pod('a'));
    expect(await port.owners(pod('a'))).toEqual(first);
    expect(c.gets()).toBe(1);
    now = 60_001;
    await port.owners(pod('a'));
    expect(c.gets()).toBe(2);
  });

  it('holds at most its bound (REFLEX_OWNER_CACHE): the oldest entry goes', async () => {
    const c = counting();
    const port = clusterOwnerPort(c.cluster, () => 0, 2);
    for (const n of ['a', 'b', 'c']) await port.owners(pod(n));
    expect(c.gets()).toBe(3);
    await port.owners(pod('c'));
    await port.owners(pod('b'));
    expect(c.gets()).toBe(3);
    await port.owners(pod('a'));
    expect(c.gets()).toBe(4);
  });

  it('with a bound of 0 every lookup asks the API server', async () => {
    const c = counting();
    const port = clusterOwnerPort(c.cluster, () => 0, 0);
    await port.owners(pod('a'));
    await port.owners(pod('a'));
    expect(c.gets()).toBe(2);
  });
});
