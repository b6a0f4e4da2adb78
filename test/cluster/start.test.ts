/**
 * `npm start` against a cluster (the test control plane as the current kube context): the mesh
 * watches what the manifests' ApiServerSources watch and handles a live Event end to end —
 * bridged, classified, routed by the Triggers, decided by recover (dry-run), nothing changed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { V1Pod } from '@kubernetes/client-node';
import { start, type Proc } from '../wire/process.js';
import { admin, adminKubeconfigPath, eventually, freshNamespace } from './kube.js';
import { recordEvent, setPodStatus } from './kubelet.js';

const a = admin();
let ns: string;
let p: Proc;

beforeAll(async () => {
  ns = await freshNamespace('live', { 'reflex.dev/enabled': 'true' });
  await a.apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name: 'web' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'registry.example/web:1' }] } },
      },
    },
  });
  // Its own process group: npm runs the command through a shell, and SIGTERM must reach Reflex.
  p = start(
    'npm',
    // No PingSources: a sweep tick here would share sweep's state with test/cluster/sweep.test.ts.
    ['start', '--silent', '--', '--port', '0', '--no-pings'],
    { KUBECONFIG: adminKubeconfigPath(), npm_config_loglevel: 'silent' },
    { group: true },
  );
  await eventually('the mesh to be up', async () => (p.output().includes('Ctrl-C to stop') ? true : undefined), 30_000);
}, 60_000);

afterAll(async () => {
  if (p) {
    process.kill(-p.child.pid!, 'SIGTERM');
    await p.exited;
    expect(p.output()).not.toMatch(/Error|ERR!/);
  }
  await a.core.deleteNamespace({ name: ns });
});

describe('npm start with a kubeconfig', () => {
  it('says it runs against the cluster, in dry-run', () => {
    expect(p.output()).toMatch(/source: kube context .* \(https:\/\/127\.0\.0\.1:\d+\), in dry-run/);
  });

  it('a live Warning Event becomes a signal, and recover decides on it without changing anything', async () => {
    const pod = await eventually('the pod', async () =>
      (await a.core.listNamespacedPod({ namespace: ns, labelSelector: 'app=web' })).items.find((x: V1Pod) => x.metadata?.name),
    );
    const name = pod.metadata!.name!;
    // What kubelet reports between two crashes: recover confirms the crash loop on the pod itself.
    await setPodStatus(pod, {
      phase: 'Running',
      containerStatuses: [
        {
          name: 'web',
          image: 'registry.example/web:1',
          imageID: '',
          ready: false,
          restartCount: 2,
          state: { running: { startedAt: new Date() } },
          lastState: { terminated: { reason: 'Error', exitCode: 1 } },
        },
      ],
    });
    const backoff = await recordEvent({
      namespace: ns,
      involved: { kind: 'Pod', name, namespace: ns, uid: pod.metadata!.uid!, fieldPath: 'spec.containers{web}' },
      reason: 'BackOff',
      message: 'Back-off restarting failed container web',
    });
    await backoff.repeat(2);
    await eventually('the signal and the decision', async () =>
      p.output().includes(`-> signal crashloop WARNING on Deployment ${ns}/web`) && /-> recover (would|escalated|did not) /.test(p.output())
        ? true
        : undefined,
    );
    expect(p.output()).toMatch(new RegExp(`BackOff x3 \\(Warning\\) on Pod ${ns}/${name}`));
    // Dry-run: the playbook is reported; the Deployment carries no state of recover's.
    expect(p.output()).toMatch(new RegExp(`-> recover (would \\w+( \\w+)?|escalated) Deployment ${ns}/web`));
    const d = await a.apps.readNamespacedDeployment({ name: 'web', namespace: ns });
    expect(d.metadata?.annotations?.['reflex.dev/recover']).toBeUndefined();
  }, 60_000);
});
