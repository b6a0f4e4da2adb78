/**
 * dev/mesh/recorded — the cluster as a recording knows it, for replays with no cluster: the last
 * state of every object the recording carried, and the ports recover and scale read it through.
 * It never acts (replays run in dry-run); state annotations are kept in memory so guards such as
 * cooldowns and "already handled" work across the replay as they would on a cluster.
 */
import type { V1Deployment, V1Node, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import type { Loaded, TargetPort } from '../../functions/_act/target.js';
import { ConflictError, InternalError } from '../../functions/_kit/errors.js';
import type { Target } from '../../functions/_signals/model.js';
import { STATE_ANNOTATION as STATE_RECOVER } from '../../functions/recover/decide.js';
import type { RecoverPort } from '../../functions/recover/port.js';
import { observedFrom } from '../../functions/recover/observe.js';
import { STATE_ANNOTATION as STATE_SCALE } from '../../functions/scale/decide.js';
import type { ScalePort } from '../../functions/scale/port.js';
import type { K8sObject } from './apiserversource.js';

interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
}

export class RecordedCluster {
  private readonly objects = new Map<string, K8sObject>();

  private static key(kind: string, namespace: string | undefined, name: string): string {
    return `${kind}|${namespace ?? ''}|${name}`;
  }

  /** Records an object's latest state (a DELETED watch event removes it). */
  observe(type: 'ADDED' | 'MODIFIED' | 'DELETED', o: K8sObject): void {
    const k = RecordedCluster.key(o.kind, o.metadata.namespace, o.metadata.name);
    if (type === 'DELETED') this.objects.delete(k);
    else this.objects.set(k, o);
  }

  get<T>(kind: string, namespace: string | undefined, name: string): T | undefined {
    return this.objects.get(RecordedCluster.key(kind, namespace, name)) as T | undefined;
  }

  list<T>(kind: string, namespace?: string): T[] {
    return [...this.objects.values()].filter(
      (o) => o.kind === kind && (namespace === undefined || o.metadata.namespace === namespace),
    ) as T[];
  }

  /** The target as recorded, or a stand-in known only by name (so the guards and playbooks still run). */
  private targetObject(t: Target): K8sObject {
    const found = this.get<K8sObject>(t.kind, t.namespace || undefined, t.name);
    if (found) return found;
    const made: K8sObject = {
      apiVersion: t.apiVersion ?? (t.kind === 'Node' ? 'v1' : 'apps/v1'),
      kind: t.kind,
      metadata: { name: t.name, ...(t.namespace ? { namespace: t.namespace } : {}) },
    };
    this.observe('ADDED', made);
    return made;
  }

  /** load / writeState / audit over the recording, for a function keeping its state in `stateKey`. */
  targetPort(stateKey: string, optInLabel: readonly [string, string] | undefined): TargetPort {
    return {
      load: async (t): Promise<Loaded> => {
        const meta = this.targetObject(t).metadata as Meta;
        const ns = t.namespace ? this.get<{ metadata: Meta }>('Namespace', undefined, t.namespace) : undefined;
        // A recorded Namespace speaks for itself; one the recording does not carry (a recording of
        // Events rarely has them) is taken as opted in, so the playbooks can be seen at work.
        const labels = ns ? (ns.metadata.labels ?? {}) : optInLabel ? { [optInLabel[0]]: optInLabel[1] } : {};
        return {
          view: { kind: t.kind, namespace: t.namespace, name: t.name, annotations: meta.annotations ?? {}, namespaceLabels: labels },
          resourceVersion: meta.resourceVersion ?? '0',
        };
      },
      writeState: async (t, resourceVersion, state) => {
        const o = this.targetObject(t);
        const meta = o.metadata as Meta;
        // The same precondition the API server applies, so concurrent deliveries behave as on a cluster.
        if ((meta.resourceVersion ?? '0') !== resourceVersion) throw new ConflictError(`${t.kind} ${t.name} changed while deciding`);
        const next: Meta = {
          ...meta,
          annotations: { ...meta.annotations, [stateKey]: state },
          resourceVersion: String(Number(meta.resourceVersion ?? '0') + 1),
        };
        this.observe('MODIFIED', { ...o, metadata: next });
      },
      // The decision and its note travel in the function's reply, which the timeline shows.
      audit: async () => {},
    };
  }

  recoverPort(optInLabel: readonly [string, string] | undefined, now: () => Date): RecoverPort {
    const base = this.targetPort(STATE_RECOVER, optInLabel);
    return {
      ...base,
      observe: async (signal) => {
        const ns = signal.target.namespace;
        const pods = this.list<V1Pod>('Pod');
        const deployment = this.get<V1Deployment>('Deployment', ns, signal.target.name);
        return observedFrom(
          signal,
          {
            pod: signal.involved.kind === 'Pod' ? this.get<V1Pod>('Pod', signal.involved.namespace, signal.involved.name) : undefined,
            ...(deployment ? { deployment } : {}),
            replicaSets: this.list<V1ReplicaSet>('ReplicaSet', ns),
            nodes: this.list<V1Node>('Node'),
            pods:
              signal.target.kind === 'Node'
                ? pods.filter((p) => p.spec?.nodeName === signal.target.name)
                : pods.filter((p) => p.metadata?.namespace === ns),
          },
          now(),
        );
      },
      apply: async () => {
        throw new InternalError('a replay of a recording never acts: run it in dry-run');
      },
    };
  }

  scalePort(optInLabel: readonly [string, string] | undefined): ScalePort {
    const base = this.targetPort(STATE_SCALE, optInLabel);
    return {
      ...base,
      replicas: async (t) => {
        const o = this.get<{ spec?: { replicas?: number } }>(t.kind, t.namespace, t.name);
        // Not in the recording: a Deployment's default.
        return o?.spec?.replicas ?? 1;
      },
      owners: async () => ({}),
      scaled: async () => [],
      remember: async () => {},
      apply: async () => {
        throw new InternalError('a replay of a recording never acts: run it in dry-run');
      },
    };
  }
}
