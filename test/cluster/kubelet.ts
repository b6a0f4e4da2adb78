/**
 * test/cluster/kubelet — plays the parts the test bed has no process for (kubelet, scheduler,
 * node lifecycle controller), writing exactly what they write: core/v1 Events from the legacy
 * recorder (count/lastTimestamp patched on repeats), events.k8s.io/v1 Events from the scheduler
 * (series on repeats), Pod and Node status through the status subresource.
 */
import {
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Event,
  type V1Container,
  type V1Deployment,
  type V1Node,
  type V1ObjectMeta,
  type V1Pod,
} from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { microTime } from '../../functions/_kit/k8s.js';
import { admin } from './kube.js';

const a = admin();
/** client-node defaults PATCH to json-patch; these are merge patches. */
const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const suffix = (): string => randomBytes(8).toString('hex');

export interface Recorded {
  readonly name: string;
  /** The recorder's aggregation: PATCH count+1 and lastTimestamp, as client-go's EventCorrelator does. */
  repeat(times?: number): Promise<CoreV1Event>;
}

/** A core/v1 Event as kubelet (or node-controller, replicaset-controller…) records it. */
export async function recordEvent(options: {
  namespace: string;
  involved: { kind: string; name: string; namespace?: string; uid?: string; apiVersion?: string; fieldPath?: string };
  reason: string;
  message: string;
  type?: 'Normal' | 'Warning';
  component?: string;
  host?: string;
}): Promise<Recorded> {
  const now = new Date();
  const name = `${options.involved.name}.${suffix()}`;
  const created = await a.core.createNamespacedEvent({
    namespace: options.namespace,
    body: {
      metadata: { name, namespace: options.namespace },
      involvedObject: { apiVersion: 'v1', ...options.involved },
      reason: options.reason,
      message: options.message,
      type: options.type ?? 'Warning',
      source: { component: options.component ?? 'kubelet', ...(options.host ? { host: options.host } : {}) },
      reportingComponent: options.component ?? 'kubelet',
      reportingInstance: options.host ?? '',
      count: 1,
      firstTimestamp: now,
      lastTimestamp: now,
    },
  });
  let count = created.count ?? 1;
  return {
    name,
    repeat: async (times = 1) => {
      let last = created;
      for (let i = 0; i < times; i++) {
        count++;
        last = await a.core.patchNamespacedEvent(
          {
            name,
            namespace: options.namespace,
            body: { count, lastTimestamp: new Date().toISOString(), message: options.message },
          },
          merge,
        );
      }
      return last;
    },
  };
}

/** The scheduler's events.k8s.io/v1 FailedScheduling Event on a pending Pod. */
export async function failedScheduling(pod: V1Pod, note: string, firstSecondsAgo = 0): Promise<string> {
  const ns = pod.metadata!.namespace!;
  const name = `${pod.metadata!.name}.${suffix()}`;
  await a.events.createNamespacedEvent({
    namespace: ns,
    body: {
      metadata: { name, namespace: ns },
      eventTime: microTime(new Date(Date.now() - firstSecondsAgo * 1000)) as unknown as Date,
      reportingController: 'default-scheduler',
      reportingInstance: 'default-scheduler-control-plane',
      action: 'Scheduling',
      reason: 'FailedScheduling',
      note,
      type: 'Warning',
      regarding: { apiVersion: 'v1', kind: 'Pod', name: pod.metadata!.name!, namespace: ns, uid: pod.metadata!.uid! },
    },
  });
  return name;
}

/**
 * The scheduler failing again: client-go's events broadcaster (tools/events) writes an isomorphic
 * Event's repeats as `series` {count, lastObservedTime} on the Event it created first.
 */
export async function repeatSeries(namespace: string, name: string, count: number): Promise<void> {
  await a.events.patchNamespacedEvent({ name, namespace, body: { series: { count, lastObservedTime: microTime(new Date()) } } }, merge);
}

/** A Deployment of `replicas` pods of one container `app`; the real controllers make its ReplicaSet and pods. */
export async function createDeployment(
  namespace: string,
  name: string,
  options: { replicas?: number; image?: string; resources?: V1Container['resources']; metadata?: Partial<V1ObjectMeta> } = {},
): Promise<V1Deployment> {
  return a.apps.createNamespacedDeployment({
    namespace,
    body: {
      metadata: { name, ...options.metadata },
      spec: {
        replicas: options.replicas ?? 1,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            containers: [
              {
                name: 'app',
                image: options.image ?? `registry.example/${name}:1.0`,
                ...(options.resources ? { resources: options.resources } : {}),
              },
            ],
          },
        },
      },
    },
  });
}

/** kubelet's BackOff Event on a pod whose container keeps crashing, with kubelet's own message. */
export function recordBackOff(pod: V1Pod, container = 'app', host = 'node-1'): Promise<Recorded> {
  const { name, namespace, uid } = pod.metadata! as { name: string; namespace: string; uid: string };
  return recordEvent({
    namespace,
    involved: { kind: 'Pod', name, namespace, uid, fieldPath: `spec.containers{${container}}` },
    reason: 'BackOff',
    message: `Back-off restarting failed container ${container} in pod ${name}_${namespace}(${uid})`,
    host,
  });
}

/** Container `app` crash-looping, as kubelet shows it between two crashes: what recover confirms. */
export function crashLoopingStatus(image: string, restarts: number): V1Pod['status'] {
  return {
    phase: 'Running',
    containerStatuses: [
      {
        name: 'app',
        image,
        imageID: '',
        ready: false,
        restartCount: restarts,
        state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 1m20s restarting failed container' } },
        lastState: { terminated: { reason: 'Error', exitCode: 1 } },
      },
    ],
  };
}

/** Writes container statuses on a Pod, as kubelet does through the status subresource. */
export async function setPodStatus(pod: V1Pod, status: V1Pod['status']): Promise<V1Pod> {
  return a.core.patchNamespacedPodStatus({ name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, body: { status } }, merge);
}

/** A container that was OOM-killed and restarted: only Pod status shows it. */
export function oomKilledStatus(container: string, restarts: number): V1Pod['status'] {
  const finishedAt = new Date();
  return {
    phase: 'Running',
    containerStatuses: [
      {
        name: container,
        image: 'registry.example/web:1.0',
        imageID: '',
        ready: true,
        restartCount: restarts,
        started: true,
        state: { running: { startedAt: finishedAt } },
        lastState: { terminated: { reason: 'OOMKilled', exitCode: 137, startedAt: new Date(finishedAt.getTime() - 60_000), finishedAt } },
      },
    ],
  };
}

export async function createNode(name: string, ready: 'True' | 'False' | 'Unknown' = 'True'): Promise<V1Node> {
  const node = await a.core.createNode({ body: { metadata: { name, labels: { 'kubernetes.io/hostname': name } } } });
  return setNodeReady(node, ready);
}

export async function setNodeReady(node: V1Node, status: 'True' | 'False' | 'Unknown'): Promise<V1Node> {
  const now = new Date();
  return a.core.patchNodeStatus(
    {
      name: node.metadata!.name!,
      body: {
        status: {
          conditions: [
            {
              type: 'Ready',
              status,
              reason: status === 'True' ? 'KubeletReady' : 'NodeStatusUnknown',
              message: status === 'True' ? 'kubelet is posting ready status' : 'Kubelet stopped posting node status.',
              lastHeartbeatTime: now,
              lastTransitionTime: now,
            },
          ],
        },
      },
    },
    merge,
  );
}
