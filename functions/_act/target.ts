/**
 * _act/target — the part of the cluster port every acting function shares: read the target and
 * its namespace's labels, write the function's state annotation with a resourceVersion
 * precondition, and record the audit Event. API errors become kit errors here.
 */
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { ConflictError } from '../_kit/errors.js';
import { apiStatus, fromKubeError, microTime, type KubeFactory } from '../_kit/k8s.js';
import type { Target } from '../_signals/model.js';
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

export async function orUndefined<T>(what: string, f: () => Promise<T>): Promise<T | undefined> {
  try {
    return await f();
  } catch (err) {
    if (apiStatus(err) === 404) return undefined;
    throw fromKubeError(err, what);
  }
}

/** `annotation`: where the function keeps its state; `controller`: its reportingController. */
export function targetPort(kube: KubeFactory, options: { annotation: string; controller: string }): TargetPort {
  const STATE_ANNOTATION = options.annotation;
  const REPORTING_CONTROLLER = options.controller;
  return {
    async load(t) {
      const k = await kube();
      const where = `${t.kind} ${t.namespace}/${t.name}`;
      let meta: { annotations?: Record<string, string>; resourceVersion?: string } | undefined;
      if (t.kind === 'Deployment')
        meta = (await orUndefined(`get ${where}`, () => k.apps.readNamespacedDeployment({ name: t.name, namespace: t.namespace })))
          ?.metadata;
      else if (t.kind === 'StatefulSet')
        meta = (await orUndefined(`get ${where}`, () => k.apps.readNamespacedStatefulSet({ name: t.name, namespace: t.namespace })))
          ?.metadata;
      else if (t.kind === 'DaemonSet')
        meta = (await orUndefined(`get ${where}`, () => k.apps.readNamespacedDaemonSet({ name: t.name, namespace: t.namespace })))
          ?.metadata;
      else if (t.kind === 'Node') meta = (await orUndefined(`get ${where}`, () => k.core.readNode({ name: t.name })))?.metadata;
      // Any other kind (a custom resource with a scale subresource, say), through discovery.
      else if (t.apiVersion)
        meta = (
          await orUndefined(`get ${where}`, () =>
            k.objects.read({
              apiVersion: t.apiVersion!,
              kind: t.kind,
              metadata: { name: t.name, ...(t.namespace ? { namespace: t.namespace } : {}) },
            }),
          )
        )?.metadata;
      else return undefined;
      if (!meta) return undefined;
      const ns = t.namespace
        ? await orUndefined(`get namespace ${t.namespace}`, () => k.core.readNamespace({ name: t.namespace }))
        : undefined;
      return {
        view: {
          kind: t.kind,
          namespace: t.namespace,
          name: t.name,
          annotations: meta.annotations ?? {},
          namespaceLabels: ns?.metadata?.labels ?? {},
        },
        resourceVersion: meta.resourceVersion ?? '',
      };
    },

    async writeState(t, resourceVersion, state) {
      const k = await kube();
      // A merge patch that names metadata.resourceVersion is refused with 409 if the object moved on.
      const body = { metadata: { resourceVersion, annotations: { [STATE_ANNOTATION]: state } } };
      const merge = k.lib.setHeaderOptions('Content-Type', k.lib.PatchStrategy.MergePatch);
      const where = `${t.kind} ${t.namespace}/${t.name}`;
      try {
        if (t.kind === 'Node') await k.core.patchNode({ name: t.name, body }, merge);
        else if (t.kind === 'StatefulSet') await k.apps.patchNamespacedStatefulSet({ name: t.name, namespace: t.namespace, body }, merge);
        else if (t.kind === 'DaemonSet') await k.apps.patchNamespacedDaemonSet({ name: t.name, namespace: t.namespace, body }, merge);
        else if (t.kind === 'Deployment') await k.apps.patchNamespacedDeployment({ name: t.name, namespace: t.namespace, body }, merge);
        else
          await k.objects.patch(
            {
              apiVersion: t.apiVersion ?? '',
              kind: t.kind,
              metadata: { name: t.name, ...(t.namespace ? { namespace: t.namespace } : {}), ...body.metadata },
            },
            undefined,
            undefined,
            undefined,
            undefined,
            k.lib.PatchStrategy.MergePatch,
          );
      } catch (err) {
        if (apiStatus(err) === 409) throw new ConflictError(`${where} changed while deciding`);
        throw fromKubeError(err, `annotate ${where}`);
      }
    },

    async audit(t, a) {
      const k = await kube();
      const namespace = t.namespace || 'default';
      // One Event per signal and outcome: a redelivered signal finds it already written.
      const name = `${t.name}.reflex-${createHash('sha256').update(`${a.signalId}|${a.outcome}`).digest('hex').slice(0, 16)}`;
      const apiVersion = t.apiVersion ?? (t.kind === 'Node' ? 'v1' : 'apps/v1');
      try {
        await k.events.createNamespacedEvent({
          namespace,
          body: {
            metadata: { name, namespace },
            eventTime: microTime(new Date()),
            reportingController: REPORTING_CONTROLLER,
            reportingInstance: hostname().slice(0, 128),
            action: a.verb,
            reason: `Reflex${a.outcome[0]!.toUpperCase()}${a.outcome.slice(1)}`,
            note: a.note.slice(0, 1024),
            type: a.warning ? 'Warning' : 'Normal',
            regarding: { apiVersion, kind: t.kind, name: t.name, ...(t.namespace ? { namespace: t.namespace } : {}) },
          },
        });
      } catch (err) {
        if (apiStatus(err) !== 409) throw fromKubeError(err, `record an Event on ${t.kind} ${t.name}`);
      }
    },
  };
}
