/** The test bed is real: controllers, subresources, RBAC, concurrency, the adapter, CRD validation. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PatchStrategy, setHeaderOptions, type V1Deployment } from '@kubernetes/client-node';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiServerSourceMessage, type K8sObject } from '../../dev/mesh/apiserversource.js';
import { startAdapter } from './adapter.js';
import { admin, asServiceAccount, eventually, freshNamespace, kubectl, statusOf } from './kube.js';
import { startSink, type Received, type Sink } from './sink.js';

let ns: string;
const a = admin();

function deployment(name: string, replicas: number, image = 'registry.example/web:1.0'): V1Deployment {
  return {
    metadata: { name, labels: { app: name } },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'web', image }] } },
    },
  };
}

beforeAll(async () => {
  ns = await freshNamespace('bed');
});
afterAll(async () => {
  await a.core.deleteNamespace({ name: ns });
});

describe('controllers run', () => {
  it('a Deployment yields a ReplicaSet, its Pods and a ScalingReplicaSet Event', async () => {
    await a.apps.createNamespacedDeployment({ namespace: ns, body: deployment('web', 2) });
    const rs = await eventually('a ReplicaSet owned by web', async () => {
      const list = await a.apps.listNamespacedReplicaSet({ namespace: ns });
      return list.items.find((r) => r.metadata?.ownerReferences?.some((o) => o.kind === 'Deployment' && o.name === 'web'));
    });
    expect(rs.metadata?.annotations?.['deployment.kubernetes.io/revision']).toBe('1');
    const pods = await eventually('2 pods from the ReplicaSet', async () => {
      const list = await a.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });
      return list.items.length === 2 ? list.items : undefined;
    });
    expect(pods.every((p) => p.metadata?.ownerReferences?.[0]?.name === rs.metadata?.name)).toBe(true);
    const ev = await eventually('a ScalingReplicaSet Event', async () => {
      const list = await a.core.listNamespacedEvent({ namespace: ns });
      return list.items.find((e) => e.reason === 'ScalingReplicaSet' && e.involvedObject.name === 'web');
    });
    expect(ev.type).toBe('Normal');
    expect(ev.message).toMatch(/Scaled up replica set web-[a-z0-9]+ .*to 2/);
  });

  it('the scale subresource changes replicas, and the controller follows', async () => {
    const scale = await a.apps.readNamespacedDeploymentScale({ name: 'web', namespace: ns });
    expect(scale.spec?.replicas).toBe(2);
    await a.apps.replaceNamespacedDeploymentScale({ name: 'web', namespace: ns, body: { ...scale, spec: { replicas: 3 } } });
    await eventually('3 pods', async () => {
      const list = await a.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });
      return list.items.filter((p) => !p.metadata?.deletionTimestamp).length === 3 ? true : undefined;
    });
  });

  it('a new template makes a second revision (rollout history)', async () => {
    // A patch, not read-modify-replace: the deployment controller writes status meanwhile.
    await a.apps.patchNamespacedDeployment(
      {
        name: 'web',
        namespace: ns,
        body: { spec: { template: { spec: { containers: [{ name: 'web', image: 'registry.example/web:2.0' }] } } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    const revisions = await eventually('two ReplicaSets with revisions 1 and 2', async () => {
      const list = await a.apps.listNamespacedReplicaSet({ namespace: ns });
      const revs = list.items.map((r) => r.metadata?.annotations?.['deployment.kubernetes.io/revision']).sort();
      return revs.length === 2 ? revs : undefined;
    });
    expect(revisions).toEqual(['1', '2']);
  });
});

describe('API semantics', () => {
  it('an update with a stale resourceVersion gets 409', async () => {
    const cm = await a.core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'occ' }, data: { v: '1' } } });
    await a.core.replaceNamespacedConfigMap({ name: 'occ', namespace: ns, body: { ...cm, data: { v: '2' } } });
    // cm still carries the first resourceVersion.
    expect(await statusOf(a.core.replaceNamespacedConfigMap({ name: 'occ', namespace: ns, body: { ...cm, data: { v: '3' } } }))).toBe(409);
  });

  it('a ServiceAccount without a RoleBinding gets 403, and succeeds after one', async () => {
    const { clients } = await asServiceAccount(ns, 'probe');
    expect(await statusOf(clients.core.listNamespacedPod({ namespace: ns }))).toBe(403);
    await a.rbac.createNamespacedRole({
      namespace: ns,
      body: { metadata: { name: 'pod-reader' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] }] },
    });
    await a.rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: {
        metadata: { name: 'probe-reads-pods' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'probe', namespace: ns }],
      },
    });
    await eventually(
      'RBAC to allow the list',
      async () => ((await statusOf(clients.core.listNamespacedPod({ namespace: ns }))) === 200 ? true : undefined),
      10_000,
    );
    // Still nothing beyond the Role.
    expect(await statusOf(clients.core.listNamespacedSecret({ namespace: ns }))).toBe(403);
  });
});

describe('Knative', () => {
  // Knative's Trigger schema keeps unknown fields under spec (x-kubernetes-preserve-unknown-fields;
  // its webhook, absent here, checks them), so a wrong *type* is what the CRD schema itself rejects.
  it('server-side dry-run accepts a valid Trigger and rejects one with a wrong field', () => {
    const dir = join(tmpdir(), `reflex-trigger-${process.pid}`);
    const good = `apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: ok, namespace: ${ns}}
spec:
  broker: reflex
  filters:
    - exact: {type: dev.reflex.signal.crashloop}
  subscriber: {uri: http://recover.example}
`;
    writeFileSync(`${dir}-good.yaml`, good);
    expect(kubectl('apply', '--dry-run=server', '-f', `${dir}-good.yaml`)).toMatch(
      /trigger.eventing.knative.dev\/ok created \(server dry run\)/,
    );
    writeFileSync(`${dir}-bad.yaml`, good.replace('subscriber: {uri: http://recover.example}', 'subscriber: http://recover.example'));
    expect(() => kubectl('apply', '--dry-run=server', '-f', `${dir}-bad.yaml`)).toThrow(/spec\.subscriber.*must be of type object/);
    writeFileSync(`${dir}-bad2.yaml`, good.replace('broker: reflex', 'broker: {name: reflex}'));
    expect(() => kubectl('apply', '--dry-run=server', '-f', `${dir}-bad2.yaml`)).toThrow(/spec\.broker/);
  });

  /**
   * Writes a Warning Event each second until the adapter sends `type` for one of them: the
   * adapter emits nothing for what existed when it started, so the first writes may go unseen.
   */
  async function firstEventSent(sink: Sink, type: string, prefix: string): Promise<Received> {
    return eventually(
      `a ${type} CloudEvent for our Event`,
      async () => {
        const name = `${prefix}.${Date.now()}`;
        await a.core.createNamespacedEvent({
          namespace: ns,
          body: {
            metadata: { name },
            involvedObject: { kind: 'Pod', namespace: ns, name: 'web-1', apiVersion: 'v1' },
            reason: 'BackOff',
            message: 'Back-off restarting failed container web in pod web-1_' + ns,
            type: 'Warning',
            source: { component: 'kubelet', host: 'node-1' },
            count: 1,
            firstTimestamp: new Date(),
            lastTimestamp: new Date(),
          },
        });
        await new Promise((r) => setTimeout(r, 1000));
        return sink.received.find((r) => r.headers['ce-type'] === type && r.headers['ce-name'] === name);
      },
      60_000,
    );
  }

  it('the real ApiServerSource adapter delivers dev.knative.apiserver.resource.add for a new Event', async () => {
    const sink = await startSink();
    const adapter = startAdapter({ sink: sink.url, namespaces: [ns], resources: [{ Group: '', Version: 'v1', Resource: 'events' }] });
    try {
      const created = await firstEventSent(sink, 'dev.knative.apiserver.resource.add', 'probe');
      expect(created.headers['ce-specversion']).toBe('1.0');
      expect(created.headers['ce-kind']).toBe('Event');
      expect(created.headers['ce-apiversion']).toBe('v1');
      expect(created.headers['ce-namespace']).toBe(ns);
      expect(String(created.headers['ce-source'])).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(created.headers['ce-subject']).toBe(`/apis/v1/namespaces/${ns}/events/${String(created.headers['ce-name'])}`);
      expect(created.headers['content-type']).toMatch(/^application\/json/);
      const body = JSON.parse(created.body) as { kind: string; reason: string; involvedObject: { name: string } };
      expect(body).toMatchObject({ kind: 'Event', reason: 'BackOff', involvedObject: { name: 'web-1' } });
      // Our own bridge (replays, the development mesh) writes the same CloudEvent for the same object.
      const ours = apiServerSourceMessage(
        'ADDED',
        { ...(body as unknown as K8sObject), apiVersion: 'v1' },
        String(created.headers['ce-source']),
      );
      for (const h of ['ce-specversion', 'ce-source', 'ce-type', 'ce-subject', 'ce-kind', 'ce-apiversion', 'ce-name', 'ce-namespace']) {
        expect([h, ours.headers[h]]).toEqual([h, created.headers[h]]);
      }
      const theirs = Object.keys(created.headers)
        .filter((h) => h.startsWith('ce-'))
        .sort();
      expect(
        Object.keys(ours.headers)
          .filter((h) => h.startsWith('ce-'))
          .sort(),
      ).toEqual(theirs);
    } finally {
      await adapter.stop();
      await sink.close();
    }
  }, 90_000);

  it('in Reference mode the adapter sends dev.knative.apiserver.ref.* with {kind, namespace, name, apiVersion}; ours matches', async () => {
    const sink = await startSink();
    const adapter = startAdapter({
      sink: sink.url,
      namespaces: [ns],
      resources: [{ Group: '', Version: 'v1', Resource: 'events' }],
      mode: 'Reference',
    });
    try {
      const got = await firstEventSent(sink, 'dev.knative.apiserver.ref.add', 'ref');
      const name = String(got.headers['ce-name']);
      const ours = apiServerSourceMessage(
        'ADDED',
        { apiVersion: 'v1', kind: 'Event', metadata: { name, namespace: ns } },
        String(got.headers['ce-source']),
        new Date(),
        'Reference',
      );
      for (const h of ['ce-type', 'ce-subject', 'ce-kind', 'ce-apiversion', 'ce-name', 'ce-namespace'])
        expect([h, ours.headers[h]]).toEqual([h, got.headers[h]]);
      expect(JSON.parse(ours.body)).toEqual(JSON.parse(got.body));
    } finally {
      await adapter.stop();
      await sink.close();
    }
  }, 90_000);
});
