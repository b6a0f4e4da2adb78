/**
 * What recover tells a person for each class it never acts on: one row per cause, the message as
 * the upstream component writes it (format strings from k8s.io/kubernetes@v1.36.3, cited).
 */
import { describe, expect, it } from '@jest/globals';
import type { SignalData } from '../_contracts/events.js';
import { plan, confirm } from './decide.js';
import { escalation } from './escalate.js';
import { parsePolicy } from './config.js';

const pod = { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-6f9d8c7b5-q7x2m' };
const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', resolvedBy: 'ownerReferences' as const };
interface Over {
  readonly involved?: SignalData['involved'];
  readonly target?: SignalData['target'];
  /** No container named (Events about the pod as a whole). */
  readonly container?: false;
}
const signal = (cls: SignalData['class'], reason: string, message: string, over: Over = {}): SignalData => ({
  class: cls,
  severity: 'warning',
  reason,
  message,
  target: over.target ?? deployment,
  involved: over.involved ?? pod,
  ...(over.container === false || over.involved ? {} : { container: 'app' }),
  occurrences: 3,
  firstSeen: '2026-11-22T12:00:00Z',
  lastSeen: '2026-11-22T12:03:00Z',
  detectedBy: 'classify',
  key: 'k',
});
const job = { apiVersion: 'batch/v1', kind: 'Job', namespace: 'etl', name: 'nightly-29411' };
const hpa = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', namespace: 'shop', name: 'web' };
const pvc = { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: 'db', name: 'data-pg-0' };
const node = { apiVersion: 'v1', kind: 'Node', namespace: '', name: 'node-3' };
const on = (o: typeof job): Over => ({ involved: o, target: { ...o, resolvedBy: 'self' } });

const ROWS: [string, SignalData, string][] = [
  // pkg/kubelet/kuberuntime/kuberuntime_container.go: Failed "Error: %v" of generateContainerConfig.
  [
    'a ConfigMap that does not exist',
    signal('configerror', 'Failed', 'Error: configmap "web-config" not found'),
    'container app of Pod shop/web-6f9d8c7b5-q7x2m needs ConfigMap shop/web-config, which does not exist: create it, or fix the reference in Deployment web',
  ],
  [
    'a Secret that does not exist (waiting reason CreateContainerConfigError)',
    signal('configerror', 'CreateContainerConfigError', 'secret "db-password" not found'),
    'container app of Pod shop/web-6f9d8c7b5-q7x2m needs Secret shop/db-password, which does not exist: create it, or fix the reference in Deployment web',
  ],
  // pkg/kubelet/kubelet_pods.go: "couldn't find key %v in ConfigMap %v/%v".
  [
    'a key missing from a ConfigMap',
    signal('configerror', 'Failed', "Error: couldn't find key LOG_LEVEL in ConfigMap shop/web-config"),
    'container app of Pod shop/web-6f9d8c7b5-q7x2m needs key LOG_LEVEL of ConfigMap shop/web-config, which has no such key: add it, or fix the reference in Deployment web',
  ],
  // pkg/kubelet/kuberuntime/security_context_others.go verifyRunAsNonRoot.
  [
    'runAsNonRoot with an image that runs as root',
    signal(
      'configerror',
      'Failed',
      'Error: container has runAsNonRoot and image will run as root (pod: "web-6f9d8c7b5-q7x2m_shop(1d2c)", container: app)',
    ),
    'container app of Pod shop/web-6f9d8c7b5-q7x2m is refused by its own securityContext (container has runAsNonRoot and image will run as root (pod: "web-6f9d8c7b5-q7x2m_shop(1d2c)", container: app)): set runAsUser, or use an image that does not run as root',
  ],
  [
    'another configuration error: said as is',
    signal('configerror', 'Failed', 'Error: failed to prepare subPath for volumeMount "cfg" of container "app"'),
    'container app of Pod shop/web-6f9d8c7b5-q7x2m cannot be configured: failed to prepare subPath for volumeMount "cfg" of container "app" — fix the pod spec of Deployment web',
  ],
  // ipallocator repair controller: ClusterIPOutOfRange is a configerror with no pod in it.
  [
    "a Service's configuration error: its spec, not a pod spec",
    signal(
      'configerror',
      'ClusterIPOutOfRange',
      'Cluster IP [IPv4]: 10.0.0.5 is not within any configured Service CIDR; please recreate service',
      {
        involved: { apiVersion: 'v1', kind: 'Service', namespace: 'shop', name: 'web' },
        target: { apiVersion: 'v1', kind: 'Service', namespace: 'shop', name: 'web', resolvedBy: 'self' },
      },
    ),
    'Service shop/web cannot be configured: Cluster IP [IPv4]: 10.0.0.5 is not within any configured Service CIDR; please recreate service — fix the spec of Service web',
  ],
  // kuberuntime_container.go: FailedPostStartHook "PostStartHook failed".
  [
    'a postStart hook that failed',
    signal('startfailed', 'FailedPostStartHook', 'PostStartHook failed'),
    "the postStart hook of container app of Pod shop/web-6f9d8c7b5-q7x2m failed, so the container was killed: fix the hook's command or its timing",
  ],
  // StartContainer: Failed "Error: %v" with the runtime's error chain.
  [
    'a command not found in the image',
    signal(
      'startfailed',
      'Failed',
      'Error: failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "web-server": executable file not found in $PATH: unknown',
    ),
    'container app of Pod shop/web-6f9d8c7b5-q7x2m cannot start: its command web-server fails (executable file not found in $PATH): fix command/args in Deployment web or the image',
  ],
  [
    'another runtime error: its first line',
    signal('startfailed', 'Failed', 'Error: failed to create containerd task: failed to mount rootfs component: invalid argument\nmore'),
    'container app of Pod shop/web-6f9d8c7b5-q7x2m cannot be created or started by the container runtime: failed to create containerd task: failed to mount rootfs component: invalid argument',
  ],
  // kuberuntime_manager.go: FailedCreatePodSandBox "Failed to create pod sandbox: %v".
  [
    'a CNI failure',
    signal(
      'sandboxfailed',
      'FailedCreatePodSandBox',
      'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to setup network for sandbox "4c1e": plugin type="calico" failed (add): error getting ClusterInformation: connection is unauthorized: Unauthorized',
      { container: false },
    ),
    'Pod shop/web-6f9d8c7b5-q7x2m gets no network: the pod sandbox failed in the network plugin (rpc error: code = Unknown desc = failed to setup network for sandbox "4c1e": plugin type="calico" failed (add): error getting ClusterInformation: connection is unauthorized: Unauthorized): look at the CNI pods and IP capacity on its node',
  ],
  // kubelet.go: FailedKillPod "error killing pod: %v".
  [
    'a pod the kubelet cannot kill',
    signal(
      'sandboxfailed',
      'FailedKillPod',
      'error killing pod: failed to "KillPodSandbox" for "1d2c" with KillPodSandboxError: "rpc error: code = DeadlineExceeded"',
      { container: false },
    ),
    'the kubelet cannot stop Pod shop/web-6f9d8c7b5-q7x2m (error killing pod: failed to "KillPodSandbox" for "1d2c" with KillPodSandboxError: "rpc error: code = DeadlineExceeded"): look at the container runtime on its node',
  ],
  // pkg/controller/job/job_controller.go: the Failed condition's reasons.
  [
    'a Job past its backoff limit',
    signal('jobfailed', 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', on(job)),
    'Job etl/nightly-29411 failed: its pods failed more often than its backoffLimit allows; read the logs of its failed pods',
  ],
  [
    'a Job past its deadline',
    signal('jobfailed', 'DeadlineExceeded', 'Job was active longer than specified deadline', on(job)),
    'Job etl/nightly-29411 failed: it ran longer than its activeDeadlineSeconds; its pods were stopped',
  ],
  [
    'a Job failed by its pod failure policy',
    signal(
      'jobfailed',
      'PodFailurePolicy',
      'Container main for pod etl/nightly-29411-x exited with non-zero exit code 42 matching FailJob rule at index 0',
      on(job),
    ),
    'Job etl/nightly-29411 failed (PodFailurePolicy): Container main for pod etl/nightly-29411-x exited with non-zero exit code 42 matching FailJob rule at index 0',
  ],
  // pkg/controller/podautoscaler/horizontal.go: FailedGetResourceMetric "failed to get %s utilization: %v".
  [
    'an HPA with no metrics API',
    signal(
      'autoscalerfailed',
      'FailedGetResourceMetric',
      'failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)',
      on(hpa),
    ),
    "HorizontalPodAutoscaler shop/web has no metrics, so it cannot scale (FailedGetResourceMetric): the metrics.k8s.io API does not answer — check metrics-server or the metrics adapter. Reflex's scale keeps away from what it owns.",
  ],
  [
    'an HPA that cannot rescale',
    signal(
      'autoscalerfailed',
      'FailedRescale',
      'New size: 5; reason: cpu resource utilization (percentage of request) above target; error: deployments.apps "web" is forbidden',
      on(hpa),
    ),
    'HorizontalPodAutoscaler shop/web cannot change the replicas it owns (FailedRescale): New size: 5; reason: cpu resource utilization (percentage of request) above target; error: deployments.apps "web" is forbidden',
  ],
  [
    'an HPA that cannot compute replicas otherwise',
    signal(
      'autoscalerfailed',
      'FailedComputeMetricsReplicas',
      'invalid metrics (1 invalid out of 1), first error is: missing request for cpu in container app of Pod web-x',
      on(hpa),
    ),
    'HorizontalPodAutoscaler shop/web cannot compute its replicas (FailedComputeMetricsReplicas): invalid metrics (1 invalid out of 1), first error is: missing request for cpu in container app of Pod web-x',
  ],
  // pkg/controller/volume/persistentvolume/pv_controller.go: ProvisioningFailed "%v" of the class lookup.
  [
    'a StorageClass that does not exist',
    signal('storagefailed', 'ProvisioningFailed', 'storageclass.storage.k8s.io "fast-ssd" not found', on(pvc)),
    "PersistentVolumeClaim db/data-pg-0 asks for StorageClass fast-ssd, which does not exist: create it, or change the claim's storageClassName",
  ],
  [
    'a claim that lost its volume',
    signal('storagefailed', 'ClaimLost', 'Bound claim has lost its PersistentVolume. Data on the volume is lost!', on(pvc)),
    'PersistentVolumeClaim db/data-pg-0 lost its PersistentVolume: the data it held may be gone; a person must restore or rebind it',
  ],
  [
    'another storage failure: reason and message',
    signal(
      'storagefailed',
      'VolumeResizeFailed',
      'resize volume "pvc-1" by resizer "ebs.csi.aws.com" failed: rpc error: code = Internal',
      on(pvc),
    ),
    'PersistentVolumeClaim db/data-pg-0: VolumeResizeFailed: resize volume "pvc-1" by resizer "ebs.csi.aws.com" failed: rpc error: code = Internal',
  ],
  // kubelet image GC; node-problem-detector kernel-monitor.
  [
    'a node that cannot free disk space',
    signal(
      'nodeproblem',
      'FreeDiskSpaceFailed',
      'Failed to garbage collect required amount of images. Attempted to free 4096 bytes, but only found 0 bytes eligible to free.',
      on(node),
    ),
    'node node-3 cannot free disk space (FreeDiskSpaceFailed: Failed to garbage collect required amount of images. Attempted to free 4096 bytes, but only found 0 bytes eligible to free.): clean up images or grow the disk',
  ],
  [
    'a node that rebooted',
    signal('nodeproblem', 'Rebooted', 'Node node-3 has been rebooted, boot id: 7d1c', on(node)),
    'node node-3 rebooted: Node node-3 has been rebooted, boot id: 7d1c',
  ],
  [
    'a kernel problem',
    signal('nodeproblem', 'TaskHung', 'INFO: task jbd2/sda1-8:312 blocked for more than 120 seconds.', on(node)),
    'node node-3 reports TaskHung: INFO: task jbd2/sda1-8:312 blocked for more than 120 seconds. — consider cordoning and draining it (kubectl drain node-3)',
  ],
];

describe('what recover tells a person, per cause', () => {
  it.each(ROWS)('%s', (_name, s, sentence) => {
    expect(escalation(s)).toBe(sentence);
  });

  it('is the escalation recover decides, with nothing to confirm and nothing changed', () => {
    const policy = parsePolicy({}, false);
    for (const [, s, sentence] of ROWS) {
      expect(confirm(s, {})).toBeUndefined();
      expect(plan(s, {}, { actions: [] }, policy)).toEqual({ kind: 'escalate', verb: 'escalated', reason: sentence });
    }
  });

  it('says nothing for the classes recover has playbooks for', () => {
    expect(escalation(signal('crashloop', 'BackOff', 'Back-off restarting failed container app in pod web_shop(1)'))).toBeUndefined();
    expect(escalation(signal('oomkilled', 'OOMKilled', ''))).toBeUndefined();
  });
});
