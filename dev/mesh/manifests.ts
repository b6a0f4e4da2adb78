/**
 * dev/mesh/manifests — reads the deployable manifests (a kustomization directory, as
 * `kubectl apply -k` would) into what the development broker needs: Brokers, Triggers, Knative
 * Services, sources and the ConfigMap files the Services mount. Only the parts of kustomize that
 * decide routing are followed: `resources`, `namespace` and `configMapGenerator`; patches,
 * labels and images change pods, which the development broker does not run.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { durationMs } from './delivery.js';

export interface Manifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly annotations?: Record<string, string> };
  readonly spec?: Record<string, unknown>;
  /** Where it was read, for error messages: `knative/recover/trigger.yaml#2`. */
  readonly from: string;
}

export interface KReference {
  readonly apiVersion?: string;
  readonly kind: string;
  readonly name: string;
  readonly namespace?: string;
}
export interface Destination {
  readonly ref?: KReference;
  readonly uri?: string;
}
export interface DeliverySpec {
  readonly retry?: number;
  readonly backoffPolicy?: 'linear' | 'exponential';
  readonly backoffDelay?: string;
  readonly timeout?: string;
  readonly deadLetterSink?: Destination;
  readonly format?: 'json' | 'binary';
}
/** One item of Trigger `spec.filters` (the CloudEvents Subscriptions API dialects). */
export type SubscriptionsFilter =
  | { readonly exact: Readonly<Record<string, string>> }
  | { readonly prefix: Readonly<Record<string, string>> }
  | { readonly suffix: Readonly<Record<string, string>> }
  | { readonly all: readonly SubscriptionsFilter[] }
  | { readonly any: readonly SubscriptionsFilter[] }
  | { readonly not: SubscriptionsFilter }
  | { readonly cesql: string };

export interface BrokerManifest {
  readonly namespace: string;
  readonly name: string;
  readonly delivery?: DeliverySpec;
  readonly from: string;
}
export interface TriggerManifest {
  readonly namespace: string;
  readonly name: string;
  readonly broker: string;
  readonly filter?: { readonly attributes?: Readonly<Record<string, string>> };
  readonly filters?: readonly SubscriptionsFilter[];
  readonly subscriber: Destination;
  readonly delivery?: DeliverySpec;
  readonly from: string;
}
export interface ServiceManifest {
  readonly namespace: string;
  readonly name: string;
  /** The container's args: `[<function>]` for Reflex's image. */
  readonly args: readonly string[];
  /** Literal env values, with paths under a ConfigMap mount rewritten to the local file. */
  readonly env: Readonly<Record<string, string>>;
  readonly from: string;
}

export interface Mesh {
  readonly dir: string;
  readonly objects: readonly Manifest[];
  readonly brokers: readonly BrokerManifest[];
  readonly triggers: readonly TriggerManifest[];
  readonly services: readonly ServiceManifest[];
  /** PingSources, ApiServerSources and SinkBindings, as written. */
  readonly sources: readonly Manifest[];
}

export class ManifestError extends Error {
  constructor(
    readonly where: string,
    message: string,
  ) {
    super(`${where}: ${message}`);
    this.name = 'ManifestError';
  }
}

interface Kustomization {
  namespace?: string;
  resources?: string[];
  configMapGenerator?: { name: string; files?: string[] }[];
}

/** ConfigMap name -> key -> local file, from every configMapGenerator met. */
type Generated = Map<string, Map<string, string>>;

/** The YAML documents of a file, each with where it was read. */
function yamlDocs(path: string, root: string): { value: unknown; where: string }[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((doc, i) => {
    const where = `${relative(root, path) || path}#${i + 1}`;
    if (doc.errors.length > 0) throw new ManifestError(where, `not YAML: ${doc.errors[0]!.message}`);
    return { value: doc.toJS() as unknown, where };
  });
}

function readDocs(path: string, root: string): Manifest[] {
  return yamlDocs(path, root).flatMap(({ value, where }) => {
    if (value === null) return [];
    const v = value as Partial<Manifest>;
    if (typeof v.kind !== 'string' || typeof v.apiVersion !== 'string' || typeof v.metadata?.name !== 'string')
      throw new ManifestError(where, 'a Kubernetes object needs apiVersion, kind and metadata.name');
    return [{ ...(v as Manifest), from: where }];
  });
}

function walk(dir: string, root: string, generated: Generated, seen: Set<string>): Manifest[] {
  const file = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'].map((f) => join(dir, f)).find((f) => existsSync(f));
  if (!file) throw new ManifestError(relative(root, dir) || dir, 'no kustomization.yaml here');
  if (seen.has(file)) return [];
  seen.add(file);
  const k = (yamlDocs(file, root)[0]?.value ?? {}) as Kustomization;
  const objects: Manifest[] = [];
  for (const r of k.resources ?? []) {
    const path = resolve(dir, r);
    if (!existsSync(path)) throw new ManifestError(relative(root, file), `resource ${r} does not exist`);
    objects.push(...(statSync(path).isDirectory() ? walk(path, root, generated, seen) : readDocs(path, root)));
  }
  for (const g of k.configMapGenerator ?? []) {
    const files = generated.get(g.name) ?? new Map<string, string>();
    for (const f of g.files ?? []) {
      const [key, path] = f.includes('=') ? (f.split('=', 2) as [string, string]) : [f.split('/').pop()!, f];
      files.set(key, resolve(dir, path));
    }
    generated.set(g.name, files);
  }
  // kustomize's `namespace` sets every namespaced object's namespace (Namespaces and cluster-scoped kinds keep theirs).
  const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);
  const namespace = k.namespace;
  return namespace ? objects.map((o) => (CLUSTER_SCOPED.has(o.kind) ? o : { ...o, metadata: { ...o.metadata, namespace } })) : objects;
}

const ONE_DIALECT = ['exact', 'prefix', 'suffix', 'all', 'any', 'not', 'cesql'];

/** Each filter item has exactly one dialect, as the Trigger webhook requires. */
function checkFilters(filters: unknown, where: string): SubscriptionsFilter[] {
  if (!Array.isArray(filters)) throw new ManifestError(where, 'spec.filters must be a list');
  return filters.map((f: unknown, i): SubscriptionsFilter => {
    const at = `${where} spec.filters[${i}]`;
    if (typeof f !== 'object' || f === null) throw new ManifestError(at, 'a filter is an object with one dialect');
    const keys = Object.keys(f);
    const dialects = keys.filter((key) => ONE_DIALECT.includes(key));
    if (dialects.length !== 1 || keys.length !== 1)
      throw new ManifestError(at, `a filter has exactly one dialect of ${ONE_DIALECT.join(', ')}; found ${keys.join(', ') || 'none'}`);
    const d = dialects[0]!;
    const v = (f as Record<string, unknown>)[d];
    if (d === 'all' || d === 'any') checkFilters(v, at);
    else if (d === 'not') checkFilters([v], at);
    else if (d === 'cesql') {
      if (typeof v !== 'string') throw new ManifestError(at, 'cesql is an expression string');
    } else if (typeof v !== 'object' || v === null || Object.values(v).some((x) => typeof x !== 'string'))
      throw new ManifestError(at, `${d} maps attribute names to strings`);
    return f as SubscriptionsFilter;
  });
}

function destination(v: unknown, where: string): Destination {
  const d = v as Destination | undefined;
  if (!d || (!d.uri && !d.ref)) throw new ManifestError(where, 'a destination needs ref or uri');
  if (d.ref && (typeof d.ref.kind !== 'string' || typeof d.ref.name !== 'string'))
    throw new ManifestError(where, 'ref needs kind and name');
  return d;
}

/**
 * A delivery spec whose durations are ISO-8601, as Knative's webhook requires: a bad one is refused
 * here, naming where, rather than failing every delivery that reads it.
 */
function delivery(v: unknown, where: string): DeliverySpec {
  const d = v as DeliverySpec;
  for (const key of ['timeout', 'backoffDelay'] as const) {
    try {
      if (d[key] !== undefined) durationMs(String(d[key]));
    } catch (err) {
      throw new ManifestError(where, `delivery.${key}: ${(err as Error).message}`);
    }
  }
  return d;
}

/** Loads `dir` (default: the repository's knative/) as kustomize would, then picks what routes events. */
export function loadMesh(dir: string): Mesh {
  const root = resolve(dir);
  const generated: Generated = new Map();
  const objects = walk(root, dirname(root), generated, new Set());
  const ns = (o: Manifest): string => o.metadata.namespace ?? 'default';
  const spec = (o: Manifest): Record<string, unknown> => o.spec ?? {};

  const brokers = objects
    .filter((o) => o.kind === 'Broker' && o.apiVersion.startsWith('eventing.knative.dev/'))
    .map((o) => ({
      namespace: ns(o),
      name: o.metadata.name,
      ...(spec(o)['delivery'] ? { delivery: delivery(spec(o)['delivery'], o.from) } : {}),
      from: o.from,
    }));
  const triggers = objects
    .filter((o) => o.kind === 'Trigger' && o.apiVersion.startsWith('eventing.knative.dev/'))
    .map((o): TriggerManifest => {
      const s = spec(o);
      if (typeof s['broker'] !== 'string') throw new ManifestError(o.from, 'Trigger spec.broker is required');
      const attributes = (s['filter'] as { attributes?: Record<string, string> } | undefined)?.attributes;
      for (const key of Object.keys(attributes ?? {}))
        if (!/^[a-z][a-z0-9]*$/.test(key))
          throw new ManifestError(o.from, `filter.attributes key ${key} is not a CloudEvents attribute name`);
      return {
        namespace: ns(o),
        name: o.metadata.name,
        broker: s['broker'],
        ...(attributes ? { filter: { attributes } } : {}),
        ...(s['filters'] !== undefined ? { filters: checkFilters(s['filters'], o.from) } : {}),
        subscriber: destination(s['subscriber'], `${o.from} spec.subscriber`),
        ...(s['delivery'] ? { delivery: delivery(s['delivery'], `${o.from} Trigger ${o.metadata.name}`) } : {}),
        from: o.from,
      };
    });
  const services = objects
    .filter((o) => o.kind === 'Service' && o.apiVersion.startsWith('serving.knative.dev/'))
    .map((o): ServiceManifest => {
      const pod = (spec(o)['template'] as { spec?: PodSpec } | undefined)?.spec ?? {};
      const c = pod.containers?.[0] ?? {};
      // A path inside a ConfigMap volume is the generator's source file here.
      const mounts = (c.volumeMounts ?? []).flatMap((m) => {
        const cm = pod.volumes?.find((v) => v.name === m.name)?.configMap?.name;
        const files = cm ? generated.get(cm) : undefined;
        return files ? [{ path: m.mountPath.replace(/\/$/, ''), files }] : [];
      });
      const env: Record<string, string> = {};
      for (const e of c.env ?? []) {
        if (e.value === undefined) continue;
        const m = mounts.find((x) => e.value!.startsWith(`${x.path}/`));
        env[e.name] = m?.files.get(e.value.slice(m.path.length + 1)) ?? e.value;
      }
      return { namespace: ns(o), name: o.metadata.name, args: c.args ?? [], env, from: o.from };
    });
  const sources = objects.filter((o) => ['PingSource', 'ApiServerSource', 'SinkBinding'].includes(o.kind));
  for (const t of triggers)
    if (!brokers.some((b) => b.namespace === t.namespace && b.name === t.broker))
      throw new ManifestError(t.from, `Trigger ${t.name} names Broker ${t.broker}, which is not in ${t.namespace}`);
  return { dir: root, objects, brokers, triggers, services, sources };
}

interface PodSpec {
  containers?: {
    args?: string[];
    env?: { name: string; value?: string }[];
    volumeMounts?: { name: string; mountPath: string }[];
  }[];
  volumes?: { name: string; configMap?: { name: string } }[];
}
