/**
 * _act/target — the part of the cluster every acting function shares: the target and its
 * namespace's labels, the function's state annotation (written with a resourceVersion
 * precondition), and the audit Event on the target.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { Target } from '../_contracts/events.js';
import { ConflictError } from '../_kit/errors.js';
import { microTime, where, type Cluster, type KubeObject, type ObjectRef } from '../_kit/k8s.js';
import type { TargetView } from './guard.js';

export interface Loaded {
  readonly view: TargetView;
  readonly resourceVersion: string;
}

export interface Audit {
  readonly signalId: string;
  readonly outcome: string;
  readonly verb: string;
  readonly note: string;
  readonly warning: boolean;
}

export interface TargetPort {
  load(target: Target): Promise<Loaded | undefined>;
  /** Writes the state annotation if the target is still at `resourceVersion`; ConflictError if not. */
  writeState(target: Target, resourceVersion: string, state: string): Promise<void>;
  audit(target: Target, a: Audit): Promise<void>;
}

/** The API version of the kinds a target names without one (signals from Events of built-in controllers). */
const BUILT_IN: Readonly<Record<string, string>> = { Node: 'v1', Deployment: 'apps/v1', StatefulSet: 'apps/v1', DaemonSet: 'apps/v1' };

/** The target as an object reference, or undefined for a kind that cannot be found without its apiVersion. */
export function refOf(t: Target): ObjectRef | undefined {
  const apiVersion = t.apiVersion ?? BUILT_IN[t.kind];
  return apiVersion ? { apiVersion, kind: t.kind, namespace: t.namespace, name: t.name } : undefined;
}

/** `annotation`: where the function keeps its state; `controller`: its reportingController. */
export function targetPort(cluster: Cluster, options: { annotation: string; controller: string }): TargetPort {
  return {
    async load(t) {
      const ref = refOf(t);
      const o = ref && (await cluster.get(ref));
      if (!o) return undefined;
      const ns = t.namespace ? await cluster.get({ apiVersion: 'v1', kind: 'Namespace', name: t.namespace }) : undefined;
      return {
        view: {
          kind: t.kind,
          namespace: t.namespace,
          name: t.name,
          annotations: o.metadata?.annotations ?? {},
          namespaceLabels: ns?.metadata?.labels ?? {},
        },
        resourceVersion: o.metadata?.resourceVersion ?? '',
      };
    },

    async writeState(t, resourceVersion, state) {
      // A merge patch that names metadata.resourceVersion is refused with 409 if the object moved on.
      const ref = refOf(t);
      const done =
        ref && (await cluster.patch(ref, { metadata: { resourceVersion, annotations: { [options.annotation]: state } } }, 'merge'));
      // Gone since it was read: the next read says so.
      if (!done) throw new ConflictError(`${where(t)} is gone`);
    },

    async audit(t, a) {
      const namespace = t.namespace || 'default';
      // One Event per signal and outcome: a redelivered signal finds it already written.
      const name = `${t.name}.reflex-${createHash('sha256').update(`${a.signalId}|${a.outcome}`).digest('hex').slice(0, 16)}`;
      const event: KubeObject & { apiVersion: string; kind: string; metadata: { name: string; namespace: string } } = {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name, namespace },
        eventTime: microTime(new Date()),
        reportingController: options.controller,
        reportingInstance: hostname().slice(0, 128),
        action: a.verb,
        reason: `Reflex${a.outcome[0]!.toUpperCase()}${a.outcome.slice(1)}`,
        note: a.note.slice(0, 1024),
        type: a.warning ? 'Warning' : 'Normal',
        regarding: {
          apiVersion: refOf(t)?.apiVersion ?? 'apps/v1',
          kind: t.kind,
          name: t.name,
          ...(t.namespace ? { namespace: t.namespace } : {}),
        },
      };
      await cluster.create(event);
    },
  };
}
