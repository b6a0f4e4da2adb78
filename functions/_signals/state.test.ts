import { describe, expect, it } from '@jest/globals';
import { resolveTarget, targetByName, type OwnerPort, type OwnerReference } from './owners.js';
import { signalReply } from './signal.js';
import { deploymentFindings, nodeFindings, podFindings, type Pod } from './state.js';

const NOW = new Date('2026-11-22T10:10:00Z');
const obj = {} as Record<string, unknown>;

function pod(status: NonNullable<Pod['status']>, name = 'worker-5c8d7f9b6-x2x7q'): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'jobs', uid: 'p1', creationTimestamp: '2026-11-22T09:00:00Z' },
    status,
  };
}

describe('state findings', () => {
  it.each([
    // An OOM kill is visible only in lastState.terminated.reason.
    [
      pod({
        phase: 'Running',
        containerStatuses: [
          {
            name: 'w',
            restartCount: 2,
            lastState: { terminated: { reason: 'OOMKilled', exitCode: 137, finishedAt: '2026-11-22T10:09:00Z' } },
            state: { running: {} },
          },
        ],
      }),
      ['oomkilled'],
    ],
    // CrashLoopBackOff after enough restarts; an OOM-driven one is reported as oomkilled only.
    [
      pod({
        phase: 'Running',
        containerStatuses: [
          {
            name: 'w',
            restartCount: 4,
            lastState: { terminated: { reason: 'Error', exitCode: 1 } },
            state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s' } },
          },
        ],
      }),
      ['crashloop'],
    ],
    [
      pod({
        phase: 'Running',
        containerStatuses: [
          {
            name: 'w',
            restartCount: 4,
            lastState: { terminated: { reason: 'OOMKilled' } },
            state: { waiting: { reason: 'CrashLoopBackOff' } },
          },
        ],
      }),
      ['oomkilled'],
    ],
    // One or two restarts are not yet a loop.
    [
      pod({ phase: 'Running', containerStatuses: [{ name: 'w', restartCount: 1, state: { waiting: { reason: 'CrashLoopBackOff' } } }] }),
      [],
    ],
    [
      pod({
        phase: 'Pending',
        containerStatuses: [
          { name: 'w', restartCount: 0, state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "x"' } } },
        ],
      }),
      ['imagepull'],
    ],
    [pod({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' }), ['evicted']],
    [
      pod({
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available' }],
      }),
      ['unschedulable'],
    ],
    [pod({ phase: 'Running', containerStatuses: [{ name: 'w', restartCount: 0, state: { running: {} } }] }), []],
  ])('%#', (p, classes) => {
    expect(podFindings(p, NOW, obj).map((f) => f.class)).toEqual(classes);
  });

  it('a stalled rollout is a Deployment condition, one finding per generation', () => {
    const d = (generation: number) => ({
      kind: 'Deployment' as const,
      metadata: { name: 'web', namespace: 'shop', uid: 'd1', generation },
      status: {
        conditions: [
          {
            type: 'Progressing',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: 'ReplicaSet "web-6f" has timed out progressing.',
          },
        ],
      },
    });
    const [a] = deploymentFindings(d(3), NOW, obj);
    const [b] = deploymentFindings(d(4), NOW, obj);
    expect(a?.class).toBe('rolloutstalled');
    expect(a?.occurrence).not.toBe(b?.occurrence);
    expect(
      deploymentFindings(
        {
          kind: 'Deployment',
          metadata: { name: 'ok' },
          status: { conditions: [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable' }] },
        },
        NOW,
        obj,
      ),
    ).toEqual([]);
  });

  it('NotReady (False or Unknown) and pressure conditions of a Node', () => {
    const n = {
      kind: 'Node' as const,
      metadata: { name: 'node-1', uid: 'n1' },
      status: {
        conditions: [
          { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.' },
          { type: 'DiskPressure', status: 'True', reason: 'KubeletHasDiskPressure' },
          { type: 'MemoryPressure', status: 'False' },
        ],
      },
    };
    expect(nodeFindings(n, NOW, obj).map((f) => [f.class, f.severity])).toEqual([
      ['nodenotready', 'critical'],
      ['nodepressure', 'warning'],
    ]);
  });
});

describe('targets', () => {
  it.each([
    // Without a cluster: the ReplicaSet controller's pod names lead to the Deployment…
    [{ kind: 'Pod', namespace: 'shop', name: 'web-7d9c8b5f4-x2x7q' }, 'Deployment/shop/web'],
    [{ kind: 'ReplicaSet', namespace: 'shop', name: 'web-7d9c8b5f4' }, 'Deployment/shop/web'],
    // …a StatefulSet's ordinal names to the StatefulSet…
    [{ kind: 'Pod', namespace: 'db', name: 'postgres-0' }, 'StatefulSet/db/postgres'],
    // …and anything else is its own target (a Node is cluster-scoped).
    [{ kind: 'Pod', namespace: 'x', name: 'standalone' }, 'Pod/x/standalone'],
    [{ kind: 'Node', name: 'node-1' }, 'Node//node-1'],
  ])('%j -> %s', (ref, expected) => {
    const t = targetByName(ref);
    expect(`${t.kind}/${t.namespace}/${t.name}`).toBe(expected);
  });

  const port = (graph: Record<string, OwnerReference[] | undefined>): OwnerPort & { calls: string[] } => {
    const calls: string[] = [];
    return {
      calls,
      owners: async (r) => {
        calls.push(`${r.kind}/${r.name}`);
        return graph[`${r.kind}/${r.name}`];
      },
    };
  };

  it('follows controller ownerReferences Pod -> ReplicaSet -> Deployment', async () => {
    const p = port({
      'Pod/web-abc-12345': [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', controller: true }],
      'ReplicaSet/web-abc': [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'frontend', controller: true }],
    });
    // The Deployment's real name wins over what the pod name suggests.
    expect(await resolveTarget({ kind: 'Pod', namespace: 'shop', name: 'web-abc-12345' }, p)).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      namespace: 'shop',
      name: 'frontend',
      resolvedBy: 'ownerReferences',
    });
  });

  it('an ownerReference naming no possible object is not followed (issue 15): the last real object is the target', async () => {
    const p = port({
      'Pod/web-abc-12345': [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc', controller: true }],
      'ReplicaSet/web-abc': [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'x'.repeat(100_000), controller: true }],
      'Pod/lone-1': [{ apiVersion: 'v1', kind: 'Thing; rm', name: 'lone', controller: true }],
    });
    expect(await resolveTarget({ kind: 'Pod', namespace: 'shop', name: 'web-abc-12345' }, p)).toMatchObject({
      kind: 'ReplicaSet',
      name: 'web-abc',
    });
    expect(await resolveTarget({ kind: 'Pod', namespace: 'shop', name: 'lone-1' }, p)).toMatchObject({ kind: 'Pod', name: 'lone-1' });
  });

  it('a Job of a CronJob resolves to the CronJob; a gone Pod falls back to its name', async () => {
    const p = port({
      'Pod/report-28911-x': [{ apiVersion: 'batch/v1', kind: 'Job', name: 'report-28911', controller: true }],
      'Job/report-28911': [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'report', controller: true }],
    });
    expect((await resolveTarget({ kind: 'Pod', namespace: 'ops', name: 'report-28911-x' }, p)).name).toBe('report');
    expect(await resolveTarget({ kind: 'Pod', namespace: 'shop', name: 'web-7d9c8b5f4-x2x7q' }, port({}))).toMatchObject({
      kind: 'Deployment',
      name: 'web',
      resolvedBy: 'name',
    });
  });
});

describe('signal replies', () => {
  const finding = podFindings(
    pod({
      phase: 'Running',
      containerStatuses: [{ name: 'w', restartCount: 2, lastState: { terminated: { reason: 'OOMKilled' } }, state: { running: {} } }],
    }),
    NOW,
    { kind: 'Pod', metadata: { name: 'p', managedFields: [{ manager: 'kubelet' }] } },
  )[0]!;
  const target = targetByName(finding.involved);

  it('carry routable extensions and a subject naming the target', () => {
    const r = signalReply(finding, target, 'classify');
    expect(r.type).toBe('dev.reflex.signal.oomkilled');
    expect(r.subject).toBe('Deployment/jobs/worker');
    expect(r.extensions).toEqual({
      reflexclass: 'oomkilled',
      severity: 'warning',
      targetkind: 'Deployment',
      targetns: 'jobs',
      targetname: 'worker',
      reason: 'OOMKilled',
    });
    expect(r.data.evidence?.object?.['metadata']).toEqual({ name: 'p' });
  });

  it('the same occurrence gives the same id; another occurrence of the problem keeps the key', () => {
    const again = signalReply(finding, target, 'classify');
    const next = signalReply({ ...finding, occurrence: 'p1/w/oom#3' }, target, 'classify');
    expect(again.id).toBe(signalReply(finding, target, 'classify').id);
    expect(next.id).not.toBe(again.id);
    expect(next.data.key).toBe(again.data.key);
  });
});
