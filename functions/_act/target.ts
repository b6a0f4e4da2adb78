/**
 * _act/target — the part of the cluster every acting function shares: the target and its
 * namespace's labels, the function's state annotation (written with a resourceVersion
 * precondition), and the audit Event on the target.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { controllerOf, type Target } from '../_contracts/events.js';
import { ConflictError } from '../_kit/errors.js';
import { microTime, where, type Cluster, type ObjectRef } from '../_kit/k8s.js';
import type { TargetView } from './guard.js';

export interface Loaded {
  readonly view: TargetView;
  readonly resourceVersion: string;
  /** Ownership is checked by uid, never by name. */
  readonly uid: string;
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
  /**
   * Records a refusal in Reflex's own namespace (regarding the function's Service), never on the
   * target: nothing is written into a protected or not-opted-in namespace.
   */
  refuse(target: Target, a: Audit): Promise<void>;
}

/** The API version of the kinds a target names without one (signals from Events of built-in controllers). */
const BUILT_IN: Readonly<Record<string, string>> = {
  Node: 'v1',
  Pod: 'v1',
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
};

/** The target as an object reference, or undefined for a kind that cannot be found without its apiVersion. */
export function refOf(t: Target): ObjectRef | undefined {
  const apiVersion = t.apiVersion ?? BUILT_IN[t.kind];
  return apiVersion ? { apiVersion, kind: t.kind, namespace: t.namespace, name: t.name } : undefined;
}

/** Reflex's own namespace (REFLEX_NAMESPACE): where refusals are recorded. */
export const HOME_NAMESPACE = 'reflex';

const eventName = (name: string, a: Audit): string =>
  `${name}.reflex-${createHash('sha256').update(`${a.signalId}|${a.outcome}`).digest('hex').slice(0, 16)}`;

/**
 * `annotation`: where the function keeps its state; `fn`: the function (its reportingController
 * is reflex.dev/<fn>, its Service is where refusals are recorded); `home`: its namespace.
 */
export function targetPort(cluster: Cluster, options: { annotation: string; fn: string; home?: string }): TargetPort {
  const controller = controllerOf(options.fn);
  const home = options.home ?? HOME_NAMESPACE;
  const record = async (namespace: string, name: string, a: Audit, about: Record<string, string>, related?: Record<string, string>) => {
    await cluster.create({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      // One Event per signal and outcome: a redelivered signal finds it already written.
      metadata: { name: eventName(name, a), namespace },
      eventTime: microTime(new Date()),
      reportingController: controller,
      reportingInstance: hostname().slice(0, 128),
      action: a.verb,
      reason: `Reflex${a.outcome[0]!.toUpperCase()}${a.outcome.slice(1)}`,
      note: a.note.slice(0, 1024),
      type: a.warning ? 'Warning' : 'Normal',
      regarding: about,
      ...(related ? { related } : {}),
    });
  };
  const regarding = (t: Target): Record<string, string> => ({
    apiVersion: refOf(t)?.apiVersion ?? 'apps/v1',
    kind: t.kind,
    name: t.name,
    ...(t.namespace ? { namespace: t.namespace } : {}),
  });
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
        uid: o.metadata?.uid ?? '',
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

    audit: (t, a) => record(t.namespace || 'default', t.name, a, regarding(t)),

    refuse: (t, a) =>
      record(
        home,
        options.fn,
        a,
        { apiVersion: 'serving.knative.dev/v1', kind: 'Service', namespace: home, name: options.fn },
        regarding(t),
      ),
  };
}
