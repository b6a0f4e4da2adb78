import { describe, expect, it } from '@jest/globals';
import { resolveTarget, targetByName, type OwnerPort, type OwnerReference } from './owners.js';
import { signalReply } from './signal.js';
import {
  claimFindings,
  deploymentFindings,
  FAILED_JOB_NEWS_SECONDS,
  jobFindings,
  nodeFindings,
  podFindings,
  WAITING_PERSISTS_SECONDS,
  type Job,
  type PersistentVolumeClaim,
  type Pod,
} from './state.js';

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
    // Unschedulable for 5 s (a PVC binding): not yet; for 3 minutes: a problem.
    [
      pod({
        phase: 'Pending',
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/3 nodes are available',
            lastTransitionTime: new Date(NOW.getTime() - 5000).toISOString(),
          },
        ],
      }),
      [],
    ],
    [
      pod({
        phase: 'Pending',
        conditions: [
          {
            type: 'PodScheduled',
            status: 'False',
            reason: 'Unschedulable',
            message: '0/3 nodes are available',
            lastTransitionTime: new Date(NOW.getTime() - 180_000).toISOString(),
          },
        ],
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

/** Seconds before NOW, as the RFC 3339 the API server writes. */
const ago = (seconds: number): string => new Date(NOW.getTime() - seconds * 1000).toISOString().replace('.000Z', 'Z');

/**
 * A Pod as the kubelet writes it while a container cannot start: the waiting reason is the error of
 * the last start attempt (kuberuntime/kuberuntime_container.go startContainer), the message its
 * text (kubelet_pods.go makeEnvironmentVariables: `configmap "app-config" not found`, `couldn't
 * find key …`), the pod started (status.startTime) and its containers not ready since `since`.
 */
function waitingPod(reason: string, message: string, since: number, where: 'app' | 'init' | 'ephemeral' = 'app'): Pod {
  const waiting = [{ name: 'app', restartCount: 0, ready: false, state: { waiting: { reason, message } } }];
  const creating = [{ name: 'app', restartCount: 0, ready: false, state: { waiting: { reason: 'PodInitializing' } } }];
  return {
    ...pod({
      phase: 'Pending',
      startTime: ago(since),
      conditions: [
        { type: 'Initialized', status: where === 'init' ? 'False' : 'True', lastTransitionTime: ago(since) },
        { type: 'ContainersReady', status: 'False', reason: 'ContainersNotReady', lastTransitionTime: ago(since) },
        { type: 'Ready', status: 'False', reason: 'ContainersNotReady', lastTransitionTime: ago(since) },
      ],
      ...(where === 'init'
        ? { initContainerStatuses: waiting, containerStatuses: creating }
        : where === 'ephemeral'
          ? {
              containerStatuses: [{ name: 'main', restartCount: 0, ready: true, state: { running: { startedAt: ago(since) } } }],
              ephemeralContainerStatuses: [{ ...waiting[0]!, name: 'debugger' }],
            }
          : { containerStatuses: waiting }),
    }),
    // Created a moment before the kubelet started it.
    metadata: { name: 'api-7d9c8b5f4-x2x7q', namespace: 'shop', uid: 'p2', creationTimestamp: ago(since + 2) },
  };
}

describe('containers that cannot start (state.waiting.reason)', () => {
  const persisting = WAITING_PERSISTS_SECONDS + 30;
  it.each([
    // A missing ConfigMap: configerror, with the kubelet's message saying which.
    [waitingPod('CreateContainerConfigError', 'configmap "app-config" not found', persisting), ['configerror']],
    [waitingPod('CreateContainerConfigError', "couldn't find key DB_URL in Secret shop/db", persisting), ['configerror']],
    // A Secret cert-manager is still issuing: missing for seconds, then the next retry starts the container.
    [waitingPod('CreateContainerConfigError', 'secret "api-tls" not found', 4), []],
    // Just under the threshold is still start-up.
    [waitingPod('CreateContainerConfigError', 'secret "api-tls" not found', WAITING_PERSISTS_SECONDS - 1), []],
    // The runtime refused to create or start it, or a hook failed: startfailed.
    [
      waitingPod('CreateContainerError', 'failed to reserve container name "app_api-…": name "app_api-…" is reserved', persisting),
      ['startfailed'],
    ],
    [waitingPod('RunContainerError', 'failed to create containerd task: exec: "/app": permission denied', persisting), ['startfailed']],
    [waitingPod('PreStartHookError', 'Internal PreStartContainer hook failed', persisting), ['startfailed']],
    [
      waitingPod('PostStartHookError', 'Exec lifecycle hook ([/bin/warm]) for Container "app" … exited with 1', persisting),
      ['startfailed'],
    ],
    // Init containers and ephemeral containers are read too.
    [waitingPod('CreateContainerConfigError', 'configmap "migrations" not found', persisting, 'init'), ['configerror']],
    [waitingPod('RunContainerError', 'exec: "sh": executable file not found in $PATH', persisting, 'ephemeral'), ['startfailed']],
    // Image errors are imagepull on first sight, as before (images/types.go, cri-api errors).
    [waitingPod('ErrImageNeverPull', 'Container image "web:dev" is not present with pull policy of Never', 1), ['imagepull']],
    [waitingPod('InvalidImageName', 'Failed to apply default image tag "Web:1": invalid reference format', 1), ['imagepull']],
    [waitingPod('SignatureValidationFailed', 'image signature verification failed', 1), ['imagepull']],
    // The kubelet's own waiting reasons while it works are not problems.
    [waitingPod('ContainerCreating', '', persisting * 10), []],
    // A reason that is a property of every object is no class.
    [waitingPod('constructor', 'x', persisting), []],
  ])('%#', (p, classes) => {
    expect(podFindings(p, NOW, obj).map((f) => f.class)).toEqual(classes);
  });

  it('a wait is measured from the latest time the status proves: a restart after a long run waits afresh', () => {
    const p = waitingPod('CreateContainerConfigError', 'secret "api-tls" not found', 3600);
    // It ran for an hour; the Secret was deleted, it exited 20 s ago and cannot start again yet.
    p.status!.containerStatuses![0]!.restartCount = 1;
    p.status!.containerStatuses![0]!.lastState = { terminated: { reason: 'Completed', exitCode: 0, finishedAt: ago(20) } };
    expect(podFindings(p, NOW, obj)).toEqual([]);
    const later = new Date(NOW.getTime() + WAITING_PERSISTS_SECONDS * 1000);
    expect(podFindings(p, later, obj)[0]).toMatchObject({ class: 'configerror', firstSeen: new Date(ago(20)) });
    // An init container waits from the end of the one before it.
    const i = waitingPod('CreateContainerConfigError', 'configmap "seed" not found', 3600, 'init');
    i.status!.initContainerStatuses!.unshift({
      name: 'first',
      restartCount: 0,
      state: { terminated: { reason: 'Completed', exitCode: 0, finishedAt: ago(30) } },
    });
    expect(podFindings(i, NOW, obj)).toEqual([]);
  });

  it('the same state delivered again, or seen later, is the same occurrence', () => {
    const p = waitingPod('CreateContainerConfigError', 'configmap "app-config" not found', 600);
    const [a] = podFindings(p, NOW, obj);
    const [b] = podFindings(structuredClone(p), new Date(NOW.getTime() + 300_000), obj);
    expect(a).toMatchObject({
      reason: 'CreateContainerConfigError',
      severity: 'warning',
      container: 'app',
      message: 'configmap "app-config" not found',
    });
    expect(b?.occurrence).toBe(a?.occurrence);
  });
});

/** A Job as the job controller leaves it (pkg/controller/job/job_controller.go): FailureTarget, then Failed, same reason. */
function failedJob(reason: string, message: string, seconds: number, owner?: string): Job {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: owner ? `${owner}-29412360` : 'migrate',
      namespace: 'ops',
      uid: 'j1',
      ...(owner ? { ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: owner, controller: true }] } : {}),
    } as Job['metadata'],
    status: {
      failed: 7,
      conditions: [
        { type: 'FailureTarget', status: 'True', reason, message, lastTransitionTime: ago(seconds + 1) },
        { type: 'Failed', status: 'True', reason, message, lastTransitionTime: ago(seconds) },
      ],
    },
  };
}

describe('failed Jobs', () => {
  it.each([
    [failedJob('BackoffLimitExceeded', 'Job has reached the specified backoff limit', 30), 'BackoffLimitExceeded'],
    [failedJob('DeadlineExceeded', 'Job was active longer than specified deadline', 30), 'DeadlineExceeded'],
    [
      failedJob('PodFailurePolicy', 'Container main for pod ops/migrate-x failed with exit code 42 matching FailJob rule at index 0', 30),
      'PodFailurePolicy',
    ],
    [
      failedJob('MaxFailedIndexesExceeded', 'Job has exceeded the specified maximal number of failed indexes', 30),
      'MaxFailedIndexesExceeded',
    ],
  ])('%#: %s', (j, reason) => {
    expect(jobFindings(j, NOW, obj)).toEqual([
      expect.objectContaining({
        class: 'jobfailed',
        reason,
        occurrences: 7,
        involved: expect.objectContaining({ kind: 'Job', apiVersion: 'batch/v1' }),
      }),
    ]);
  });

  it('FailureTarget alone (pods still terminating) is the same failure; a running, complete or old Job is none', () => {
    const j = failedJob('BackoffLimitExceeded', 'Job has reached the specified backoff limit', 30);
    const target = { ...j, status: { conditions: [j.status!.conditions![0]!] } };
    expect(jobFindings(target, NOW, obj)[0]?.occurrence).toBe(jobFindings(j, NOW, obj)[0]?.occurrence);
    expect(jobFindings({ ...j, status: { conditions: [{ type: 'Complete', status: 'True' }] } }, NOW, obj)).toEqual([]);
    expect(jobFindings({ ...j, status: {} }, NOW, obj)).toEqual([]);
    // Kept by a CronJob's failedJobsHistoryLimit long after: history, not news.
    expect(jobFindings(failedJob('BackoffLimitExceeded', 'x', FAILED_JOB_NEWS_SECONDS + 1), NOW, obj)).toEqual([]);
  });
});

/** A claim as the PV controller and the scheduler annotate it (pv_controller.go, component-helpers pv_helpers.go). */
function claim(
  phase: string,
  seconds: number,
  spec: PersistentVolumeClaim['spec'],
  annotations: Record<string, string> = {},
): PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'data-postgres-0', namespace: 'db', uid: 'c1', creationTimestamp: ago(seconds), annotations },
    ...(spec ? { spec } : {}),
    status: { phase },
  };
}
const PROVISIONING = { 'volume.kubernetes.io/storage-provisioner': 'ebs.csi.aws.com', 'volume.kubernetes.io/selected-node': 'node-1' };

describe('PersistentVolumeClaims', () => {
  it.each([
    // The volume is gone or bound elsewhere: critical.
    [claim('Lost', 60, { storageClassName: 'gp3', volumeName: 'pvc-c1' }), [['ClaimLost', 'critical']]],
    // Provisioning began (the scheduler chose a node, the PV controller named the provisioner) and nothing came in 5 minutes.
    [claim('Pending', 301, { storageClassName: 'gp3' }, PROVISIONING), [['ClaimPending', 'warning']]],
    [claim('Pending', 120, { storageClassName: 'gp3' }, PROVISIONING), []],
    // A named volume that does not bind, or no class (only an existing volume can bind it).
    [claim('Pending', 600, { storageClassName: 'manual', volumeName: 'pv-nfs-1' }), [['ClaimPending', 'warning']]],
    [claim('Pending', 600, { storageClassName: '' }), [['ClaimPending', 'warning']]],
    // A WaitForFirstConsumer claim no pod uses yet shows nothing of the kind: it is waiting, rightly.
    [claim('Pending', 3600, { storageClassName: 'gp3' }), []],
    [claim('Bound', 3600, { storageClassName: 'gp3', volumeName: 'pvc-c1' }), []],
  ])('%#', (c, found) => {
    expect(claimFindings(c, NOW, obj).map((f) => [f.reason, f.severity])).toEqual(found);
  });

  it('a resize that failed, in the controller or on the node (resize_util.go), and what the claim says is known', () => {
    const c = claim('Bound', 3600, { storageClassName: 'gp3', volumeName: 'pvc-c1' });
    c.status = {
      phase: 'Bound',
      allocatedResourceStatuses: { storage: 'NodeResizeInfeasible' },
      conditions: [
        { type: 'NodeResizeError', status: 'True', message: 'failed to expand pvc with resize2fs: exit 1', lastTransitionTime: ago(10) },
      ],
    };
    expect(claimFindings(c, NOW, obj).map((f) => [f.class, f.reason, f.message])).toEqual([
      ['storagefailed', 'NodeResizeError', 'failed to expand pvc with resize2fs: exit 1'],
    ]);
    // Waiting for a pod restart to finish a file system resize is not a failure.
    c.status = { phase: 'Bound', conditions: [{ type: 'FileSystemResizePending', status: 'True' }] };
    expect(claimFindings(c, NOW, obj)).toEqual([]);
    expect(claimFindings(claim('Pending', 301, { storageClassName: 'gp3' }, PROVISIONING), NOW, obj)[0]?.message).toMatch(
      /storageClassName gp3, provisioner ebs\.csi\.aws\.com/,
    );
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

  it("a failing Job is its CronJob's problem; a claim or an autoscaler is its own target, never read", async () => {
    const p = port({ 'Job/report-29412360': [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'report', controller: true }] });
    expect(await resolveTarget({ apiVersion: 'batch/v1', kind: 'Job', namespace: 'ops', name: 'report-29412360' }, p)).toEqual({
      apiVersion: 'batch/v1',
      kind: 'CronJob',
      namespace: 'ops',
      name: 'report',
      resolvedBy: 'ownerReferences',
    });
    // A Job of no CronJob is the target; without a cluster, so is any Job.
    expect(
      await resolveTarget({ apiVersion: 'batch/v1', kind: 'Job', namespace: 'ops', name: 'migrate' }, port({ 'Job/migrate': [] })),
    ).toMatchObject({
      kind: 'Job',
      name: 'migrate',
    });
    expect(targetByName({ kind: 'Job', namespace: 'ops', name: 'report-29412360' })).toMatchObject({ kind: 'Job', resolvedBy: 'self' });
    // Functions may not get these kinds, and their owners are not workloads.
    const none = port({});
    for (const kind of ['PersistentVolumeClaim', 'HorizontalPodAutoscaler', 'Deployment'])
      expect(await resolveTarget({ kind, namespace: 'db', name: 'x' }, none)).toMatchObject({ kind, resolvedBy: 'self' });
    expect(none.calls).toEqual([]);
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
