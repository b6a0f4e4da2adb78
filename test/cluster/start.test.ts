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

/** Waits until the mesh's output says what `seen` looks for; a failure shows what it said instead. */
async function saying(what: string, seen: (out: string) => boolean, timeoutMs = 40_000): Promise<void> {
  try {
    await eventually(what, async () => (seen(p.output()) ? true : undefined), timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}; the output's last lines:\n${p.output().split('\n').slice(-40).join('\n')}`);
  }
}

// A cluster with many enabled namespaces (as after the other cluster tests): the mesh opens a
// watch per namespace and resource, and an Event written right after its banner must be seen.
const CROWD = 120;
let crowd: string[] = [];

beforeAll(async () => {
  crowd = await Promise.all(Array.from({ length: CROWD }, () => freshNamespace('crowd', { 'reflex.dev/enabled': 'true' })));
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
  await saying('the mesh to be up', (out) => out.includes('Ctrl-C to stop'), 50_000);
}, 90_000);

afterAll(async () => {
  if (p) {
    process.kill(-p.child.pid!, 'SIGTERM');
    await p.exited;
    // No failure of its own (thrown errors, npm's, warnings); the cluster's Events may say "Error".
    expect(p.output()).not.toMatch(/ERR!|^\w*Error\b|^\s+at |^reflex: /m);
  }
  await Promise.all([ns, ...crowd].map((name) => a.core.deleteNamespace({ name })));
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
    await saying(
      'the signal and the decision',
      (out) => out.includes(`-> signal crashloop WARNING on Deployment ${ns}/web`) && /-> recover (would|escalated|did not) /.test(out),
    );
    expect(p.output()).toMatch(new RegExp(`BackOff x3 \\(Warning\\) on Pod ${ns}/${name}`));
    // Dry-run: the playbook is reported; the Deployment carries no state of recover's.
    expect(p.output()).toMatch(new RegExp(`-> recover (would \\w+( \\w+)?|escalated) Deployment ${ns}/web`));
    const d = await a.apps.readNamespacedDeployment({ name: 'web', namespace: ns });
    expect(d.metadata?.annotations?.['reflex.dev/recover']).toBeUndefined();
  }, 60_000);

  it('the node-Event source watches `default` for Nodes only: a Pod Event there is marked and no signal', async () => {
    const pod = `lonely-${Date.now().toString(36)}`;
    const e = await recordEvent({
      namespace: 'default',
      involved: { kind: 'Pod', name: pod, namespace: 'default', uid: 'u-lonely' },
      reason: 'BackOff',
      message: 'Back-off restarting failed container app',
    });
    await e.repeat(3);
    // Its last row (count 4: past crashloop's threshold of 3), explained right beneath it: the
    // watches resume where they were, so none is lost. Other tests write Events in `default` too.
    const explained = new RegExp(
      `BackOff x4 \\(Warning\\) on Pod default/${pod}[^\\n]*\\n +no signal: from the node-Event source, which only speaks for Nodes`,
    );
    await saying('classify explains it', (out) => explained.test(out), 50_000);
    expect(p.output()).not.toMatch(new RegExp(`signal \\w+ \\w+ on \\w+ default/${pod}`));
  }, 60_000);
});
