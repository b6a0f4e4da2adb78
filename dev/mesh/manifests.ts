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
import { X509Certificate } from 'node:crypto';
import { compile } from '../cesql/index.js';
import { isZeroPeriod, parsePeriod } from './delivery.js';

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
/**
 * One item of Trigger `spec.filters` (the CloudEvents Subscriptions API dialects), as Knative's
 * SubscriptionsAPIFilter holds it: every dialect optional. The webhook refuses an item with more
 * than one dialect set (an empty map or list counts as unset); an item with none filters nothing.
 */
export interface SubscriptionsFilter {
  readonly exact?: Readonly<Record<string, string>> | null;
  readonly prefix?: Readonly<Record<string, string>> | null;
  readonly suffix?: Readonly<Record<string, string>> | null;
  readonly all?: readonly SubscriptionsFilter[] | null;
  readonly any?: readonly SubscriptionsFilter[] | null;
  readonly not?: SubscriptionsFilter | null;
  readonly cesql?: string | null;
}

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
  /**
   * Brokers and Triggers that are not loaded, with why: what Knative's webhook would refuse, a
   * Trigger naming a Broker that is not there. The rest of the mesh runs without them; callers
   * print them (`reflex validate` fails on them).
   */
  readonly problems: readonly MeshProblem[];
}

/** A field that is wrong, named as Knative's webhook names it (`spec.filters[0].exact[A]`). */
export interface Problem {
  readonly path: string;
  readonly message: string;
}

/** A Broker or Trigger left out of the mesh. */
export interface MeshProblem {
  readonly kind: 'Broker' | 'Trigger';
  readonly namespace: string;
  readonly name: string;
  readonly from: string;
  readonly problems: readonly Problem[];
  /** One line: `knative/x.yaml#2: Trigger t: spec.filters[0].exact[A]: …; …`. */
  readonly message: string;
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

/*
 * What Knative's webhooks refuse, checked the way they check it: the object is decoded into
 * eventing's Go types with unknown fields disallowed (knative.dev/pkg webhook/json.Decode), so a
 * value of the wrong type or an unknown field is refused; then SetDefaults and Validate run
 * (pkg/apis/eventing/v1 trigger_validation.go, broker_validation.go, duck/v1 delivery_types.go,
 * knative.dev/pkg duck/v1 destination.go and knative_reference.go), with the feature flags of a
 * fresh install (delivery-timeout on, cross-namespace-event-links and kreference-group off).
 * test/cluster/knative-oracle.test.ts holds this against Knative's own code.
 */

/** Problems found while reading one object; `at` is the path so far. */
class Findings {
  readonly list: Problem[] = [];
  add(path: string, message: string): void {
    this.list.push({ path, message });
  }
}

type Json = unknown;

/** The object without its undefined members (optional properties are left out, not set to undefined). */
const compact = <T extends object>(o: { [K in keyof T]: T[K] | undefined }): T =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
const given = (v: Json): boolean => v !== undefined && v !== null;
const isObject = (v: Json): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);
const kindOf = (v: Json): string =>
  v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;

/**
 * A struct: JSON null or absent reads as unset; anything but an object is a decode error; unknown
 * fields are refused. Go's encoding/json also takes a field name in another case (`Broker` sets
 * `broker`), a later key winning, so the fields come back under their own names, in that order.
 */
function struct(v: Json, at: string, fields: readonly string[], f: Findings): Record<string, Json> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) return (f.add(at, `expected an object, found ${kindOf(v)}`), undefined);
  const out: Record<string, Json> = {};
  for (const [k, x] of Object.entries(v)) {
    const name = fields.includes(k) ? k : fields.find((n) => n.toLowerCase() === k.toLowerCase());
    if (name === undefined) f.add(`${at}.${k}`, `unknown field "${k}"`);
    else out[name] = x;
  }
  return out;
}

/** A Go string: null leaves it empty; another type is a decode error. */
function str(v: Json, at: string, f: Findings): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') return (f.add(at, `expected a string, found ${kindOf(v)}`), undefined);
  return v;
}

/** A Go map[string]string (a null value reads as ""). */
function strMap(v: Json, at: string, f: Findings): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) return (f.add(at, `expected a map of strings, found ${kindOf(v)}`), undefined);
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (x === null) out[k] = '';
    else if (typeof x === 'string') out[k] = x;
    else f.add(`${at}[${k}]`, `expected a string, found ${kindOf(x)}`);
  }
  return out;
}

/** A Go list: null reads as unset. */
function list(v: Json, at: string, f: Findings): Json[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) return (f.add(at, `expected a list, found ${kindOf(v)}`), undefined);
  return v;
}

const INT32 = 2 ** 31;
function int32(v: Json, at: string, f: Findings): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -INT32 || v >= INT32)
    return (f.add(at, `expected a 32-bit integer, found ${JSON.stringify(v)}`), undefined);
  return v;
}

/** Names an exact/prefix/suffix filter or `filter.attributes` may use (trigger_validation.go validAttributeName). */
const ATTRIBUTE_NAME = /^[a-z][a-z0-9]*$/;

function attributeNames(m: Record<string, string> | undefined, at: string, f: Findings): void {
  for (const k of Object.keys(m ?? {}))
    if (!ATTRIBUTE_NAME.test(k))
      f.add(`${at}[${k}]`, `invalid key name "${k}": an attribute name starts with a letter and has only lowercase letters and digits`);
}

const DIALECTS = ['all', 'any', 'not', 'exact', 'prefix', 'suffix', 'cesql'] as const;

/** One `filters` item, decoded and validated as ValidateSubscriptionAPIFilter does. */
function subscriptionsFilter(v: Json, at: string, f: Findings): SubscriptionsFilter | undefined {
  const o = struct(v, at, DIALECTS, f);
  if (!o) return undefined;
  const maps = (['exact', 'prefix', 'suffix'] as const).map((d) => strMap(o[d], `${at}.${d}`, f));
  const lists = (['all', 'any'] as const).map((d) => filterList(o[d], `${at}.${d}`, f));
  const not = given(o['not']) ? (subscriptionsFilter(o['not'], `${at}.not`, f) ?? {}) : undefined;
  const cesql = str(o['cesql'], `${at}.cesql`, f) || undefined;
  // An empty map or list is no dialect (hasMultipleDialects counts len > 0, a non-nil not, a non-empty cesql).
  const set = [...maps, ...lists, not ?? {}, cesql ? [cesql] : []].filter((x) => x && Object.keys(x).length > 0).length;
  if (set > 1) f.add(at, 'multiple dialects found, filters can have only one dialect set');
  (['exact', 'prefix', 'suffix'] as const).forEach((d, i) => attributeNames(maps[i], `${at}.${d}`, f));
  if (cesql) cesqlFault(cesql, `${at}.cesql`, f);
  const [exact, prefix, suffix] = maps;
  const [all, any] = lists;
  return compact<SubscriptionsFilter>({ exact, prefix, suffix, all, any, not, cesql });
}

/** The webhook parses every expression (ValidateCESQLExpression). */
function cesqlFault(cesql: string, at: string, f: Findings): void {
  try {
    compile(cesql);
  } catch (err) {
    f.add(at, `cesql ${JSON.stringify(cesql)}: ${(err as Error).message}`);
  }
}

function filterList(v: Json, at: string, f: Findings): SubscriptionsFilter[] | undefined {
  return list(v, at, f)?.map((x, i) => subscriptionsFilter(x, `${at}[${i}]`, f) ?? {});
}

const REFERENCE = ['kind', 'namespace', 'name', 'apiVersion', 'group', 'address'];

/** A KReference, decoded; `validate` as KReference.Validate (kreference-group off). */
function reference(v: Json, at: string, f: Findings, validate: boolean): KReference | undefined {
  const o = struct(v, at, REFERENCE, f);
  if (!o) return undefined;
  const [kind, namespace, name, apiVersion, group] = ['kind', 'namespace', 'name', 'apiVersion', 'group'].map((k) =>
    str(o[k], `${at}.${k}`, f),
  );
  str(o['address'], `${at}.address`, f);
  if (validate) {
    if (!name) f.add(`${at}.name`, 'missing field(s)');
    if (group) f.add(`${at}.group`, 'must not set the field(s)');
    if (!apiVersion) f.add(`${at}.apiVersion`, 'missing field(s)');
    if (!kind) f.add(`${at}.kind`, 'missing field(s)');
  }
  return {
    kind: kind ?? '',
    name: name ?? '',
    ...(apiVersion ? { apiVersion } : {}),
    ...(namespace ? { namespace } : {}),
  };
}

/** What Go's url.Parse refuses: bad percent-escapes, control characters, a bad port or IPv6 host. */
function goURLFault(uri: string): string | undefined {
  if (/[\x00-\x1f\x7f]/.test(uri)) return 'invalid control character in URL';
  if (/%(?![0-9A-Fa-f]{2})/.test(uri)) return 'invalid URL escape';
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri);
  if (!scheme && /^[^/?#]*:/.test(uri) && !uri.startsWith('/'))
    return 'missing protocol scheme or first path segment in URL cannot contain colon';
  const authority = /^(?:[A-Za-z][A-Za-z0-9+.-]*:)?\/\/([^/?#]*)/.exec(uri)?.[1];
  if (authority !== undefined) {
    const host = authority.slice(authority.lastIndexOf('@') + 1);
    if (host.startsWith('[') ? !/^\[[^\]]*\](:\d*)?$/.test(host) : !/^[^:]*(:\d*)?$/.test(host)) return 'invalid port or host';
  }
  return undefined;
}

/** Absolute (a scheme) with a host, as url.URL.IsAbs and .Host read it. */
function absoluteWithHost(uri: string): { abs: boolean; host: boolean } {
  const abs = /^[A-Za-z][A-Za-z0-9+.-]*:/.test(uri);
  const authority = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(uri)?.[1];
  return { abs, host: authority !== undefined && authority.slice(authority.lastIndexOf('@') + 1) !== '' };
}

/** A PEM certificate, as validateCACerts reads it: the first PEM block must be a CERTIFICATE that parses. */
function caCertFault(pem: string): string | undefined {
  const block = /-----BEGIN ([^-\n]*)-----\r?\n([\s\S]*?)-----END \1-----/.exec(pem);
  if (!block) return 'CA Cert provided is invalid';
  if (block[1] !== 'CERTIFICATE') return 'CA Cert provided is not a certificate';
  try {
    new X509Certificate(block[0]);
    return undefined;
  } catch {
    return 'CA Cert provided is invalid';
  }
}

/** A Destination (subscriber, deadLetterSink), decoded and validated as ValidateDestination does. */
function destinationOf(v: Json, at: string, f: Findings, required: boolean): Destination | undefined {
  const o = struct(v, at, ['ref', 'uri', 'CACerts', 'audience'], f);
  if (!o) {
    if (required) f.add(`${at}.ref, ${at}.uri`, 'expected at least one, got none');
    return undefined;
  }
  const uri = str(o['uri'], `${at}.uri`, f);
  const fault = uri ? goURLFault(uri) : undefined;
  if (fault) f.add(`${at}.uri`, fault);
  const caCerts = str(o['CACerts'], `${at}.CACerts`, f);
  str(o['audience'], `${at}.audience`, f);
  // The reference is validated only when there is no uri (Knative's rule: a uri beside it is resolved against it).
  const ref = given(o['ref']) ? reference(o['ref'], `${at}.ref`, f, uri === undefined) : undefined;
  destinationFault(given(o['ref']), uri, caCerts, at, f);
  return compact<Destination>({ ref, uri });
}

/** ValidateDestination's one-of rules, in its order: the first that applies is the only one said. */
function destinationFault(ref: boolean, uri: string | undefined, caCerts: string | undefined, at: string, f: Findings): void {
  const { abs, host } = uri === undefined ? { abs: false, host: false } : absoluteWithHost(uri);
  if (!ref && uri === undefined) return f.add(`${at}.ref, ${at}.uri`, 'expected at least one, got none');
  if (ref && uri !== undefined && abs)
    return f.add(`${at}.uri`, 'Absolute URI is not allowed when Ref or [apiVersion, kind, name] is present');
  if (!ref && (!abs || !host))
    return f.add(`${at}.uri`, 'invalid value: Relative URI is not allowed when Ref and [apiVersion, kind, name] is absent');
  const bad = uri !== undefined && caCerts !== undefined ? caCertFault(caCerts) : undefined;
  if (bad) f.add(`${at}.caCert`, `invalid value: ${bad}`);
}

const DELIVERY = ['deadLetterSink', 'retry', 'timeout', 'backoffPolicy', 'backoffDelay', 'retryAfterMax', 'format'];

/** A DeliverySpec, decoded and validated as DeliverySpec.Validate does (delivery-timeout on, delivery-retryafter off). */
function deliveryOf(v: Json, at: string, f: Findings): DeliverySpec | undefined {
  const o = struct(v, at, DELIVERY, f);
  if (!o) return undefined;
  const deadLetterSink = given(o['deadLetterSink']) ? destinationOf(o['deadLetterSink'], `${at}.deadLetterSink`, f, true) : undefined;
  const retry = int32(o['retry'], `${at}.retry`, f);
  const [timeout, backoffPolicy, backoffDelay, retryAfterMax, format] = [
    'timeout',
    'backoffPolicy',
    'backoffDelay',
    'retryAfterMax',
    'format',
  ].map((k) => str(o[k], `${at}.${k}`, f));
  if (retry !== undefined && retry < 0) f.add(`${at}.retry`, `invalid value: ${retry}`);
  if (timeout !== undefined && !longerThanZero(timeout))
    f.add(`${at}.timeout`, `invalid value: ${timeout}: not an ISO-8601 duration longer than zero (e.g. PT30S)`);
  oneOf(backoffPolicy, ['linear', 'exponential'], `${at}.backoffPolicy`, f);
  if (backoffDelay !== undefined && !parses(backoffDelay))
    f.add(`${at}.backoffDelay`, `invalid value: ${backoffDelay}: not an ISO-8601 duration (e.g. PT0.5S)`);
  oneOf(format, ['json', 'binary'], `${at}.format`, f);
  // The delivery-retryafter feature is off in a fresh install.
  if (retryAfterMax !== undefined) f.add(`${at}.retryAfterMax`, 'must not set the field(s): the delivery-retryafter feature is disabled');
  return compact<DeliverySpec>({
    deadLetterSink,
    retry,
    timeout,
    backoffPolicy: backoffPolicy as DeliverySpec['backoffPolicy'],
    backoffDelay,
    format: format as DeliverySpec['format'],
  });
}

function oneOf(v: string | undefined, allowed: readonly string[], at: string, f: Findings): void {
  if (v !== undefined && !allowed.includes(v)) f.add(at, `invalid value: ${v}: ${allowed.join(' or ')}`);
}

function parses(iso: string): boolean {
  try {
    parsePeriod(iso);
    return true;
  } catch {
    return false;
  }
}

const longerThanZero = (iso: string): boolean => parses(iso) && !isZeroPeriod(parsePeriod(iso));

const OBJECT = ['apiVersion', 'kind', 'metadata', 'spec', 'status'];
const DEPENDENCY = 'knative.dev/dependency';
const INJECTION = 'eventing.knative.dev/injection';

/** The Trigger's annotations Knative reads (validateDependencyAnnotation, validateInjectionAnnotation). */
function triggerAnnotations(o: Manifest, broker: string, f: Findings): void {
  const a = o.metadata.annotations ?? {};
  const dep = a[DEPENDENCY];
  if (dep !== undefined) {
    const at = `metadata.annotations[${DEPENDENCY}]`;
    let ref: unknown;
    try {
      ref = JSON.parse(dep);
    } catch {
      ref = undefined;
    }
    if (!isObject(ref)) f.add(at, `The provided annotation was not a corev1.ObjectReference: ${JSON.stringify(dep)}`);
    else {
      const s = (k: string): string => (typeof ref[k] === 'string' ? ref[k] : '');
      if (s('namespace') !== '' && s('namespace') !== (o.metadata.namespace ?? ''))
        f.add(`${at}.namespace`, 'Namespace must be empty or equal to the trigger namespace');
      for (const k of ['kind', 'name', 'apiVersion']) if (s(k) === '') f.add(`${at}.${k}`, 'missing field(s)');
    }
  }
  const inj = a[INJECTION];
  if (inj !== undefined) {
    if (inj !== 'enabled' && inj !== 'disabled')
      f.add(
        `metadata.annotations[${INJECTION}]`,
        `The provided injection annotation value can only be "enabled" or "disabled", not ${JSON.stringify(inj)}`,
      );
    else if (broker !== 'default')
      f.add(
        `metadata.annotations[${INJECTION}]`,
        `The provided injection annotation is only used for default broker, but non-default broker specified here: ${JSON.stringify(broker)}`,
      );
  }
}

/** The object's own fields (metadata is the API server's to check), and its spec with its fields' own names. */
function topLevel(o: Manifest, fields: readonly string[], f: Findings): Record<string, Json> | undefined {
  for (const k of Object.keys(o)) if (k !== 'from' && !OBJECT.includes(k)) f.add(k, `unknown field "${k}"`);
  const spec = o.spec as Json;
  if (spec === undefined || spec === null) return {};
  return struct(spec, 'spec', fields, f);
}

const TRIGGER_SPEC = ['broker', 'brokerRef', 'filter', 'filters', 'subscriber', 'delivery'];

/**
 * A Trigger as Knative's webhook decides it, and what the development broker needs of it: the
 * TriggerManifest when there is no problem.
 */
export function checkTrigger(o: Manifest): { readonly trigger?: TriggerManifest; readonly problems: readonly Problem[] } {
  const f = new Findings();
  const spec = topLevel(o, TRIGGER_SPEC, f) ?? {};
  const broker = brokerOf(spec, f);
  const filterObj = struct(spec['filter'], 'spec.filter', ['attributes'], f);
  const attributes = filterObj ? strMap(filterObj['attributes'], 'spec.filter.attributes', f) : undefined;
  attributeNames(attributes, 'spec.filter.attributes', f);
  const filters = filterList(spec['filters'], 'spec.filters', f);
  const subscriber = destinationOf(spec['subscriber'] ?? null, 'spec.subscriber', f, true);
  const delivery = deliveryOf(spec['delivery'], 'spec.delivery', f);
  triggerAnnotations(o, broker, f);
  if (f.list.length > 0 || !subscriber) return { problems: f.list };
  const { namespace = 'default', name } = o.metadata;
  const filter = attributes ? { attributes } : undefined;
  return {
    problems: [],
    trigger: compact<TriggerManifest>({ namespace, name, broker, filter, filters, subscriber, delivery, from: o.from }),
  };
}

/** `broker`, or `brokerRef` (which only the cross-namespace-event-links feature reads; off in a fresh install). */
function brokerOf(spec: Record<string, Json>, f: Findings): string {
  const broker = str(spec['broker'], 'spec.broker', f) ?? '';
  const ref = given(spec['brokerRef']) ? reference(spec['brokerRef'], 'spec.brokerRef', f, false) : undefined;
  if (!ref && broker === '') f.add('spec.broker', 'missing field(s)');
  if (ref && broker !== '') f.add('spec.broker, spec.brokerRef', 'expected exactly one, got both');
  if (ref?.namespace)
    f.add(
      'spec.brokerRef.namespace',
      'must not set the field(s): only name, apiVersion and kind are supported fields when feature.CrossNamespaceEventLinks is disabled',
    );
  return broker;
}

const BROKER_CLASS = 'eventing.knative.dev/broker.class';
/** config-br-defaults' clusterDefault.delivery in knative.dev/eventing's config/core/configmaps/default-broker.yaml. */
export const DEFAULT_BROKER_DELIVERY: DeliverySpec = { retry: 10, backoffPolicy: 'exponential', backoffDelay: 'PT0.2S' };

/** A Broker as Knative's webhook decides it (config-br-defaults of a fresh install: the class is defaulted). */
export function checkBroker(o: Manifest): { readonly broker?: BrokerManifest; readonly problems: readonly Problem[] } {
  const f = new Findings();
  const spec = topLevel(o, ['config', 'delivery'], f) ?? {};
  // SetDefaults fills in the class only when the annotation is absent: an empty one stays and is refused.
  if (o.metadata.annotations?.[BROKER_CLASS] === '') f.add(BROKER_CLASS, 'missing field(s)');
  if (spec['config'] !== undefined && spec['config'] !== null) reference(spec['config'], 'spec.config', f, true);
  // A Broker that declares no delivery gets config-br-defaults' (broker_defaults.go): 10 retries,
  // exponential from PT0.2S, as a fresh install defaults it.
  const deliverySpec =
    spec['delivery'] === undefined || spec['delivery'] === null
      ? DEFAULT_BROKER_DELIVERY
      : deliveryOf(spec['delivery'], 'spec.delivery', f);
  if (f.list.length > 0) return { problems: f.list };
  return {
    problems: [],
    broker: {
      namespace: o.metadata.namespace ?? 'default',
      name: o.metadata.name,
      ...(deliverySpec ? { delivery: deliverySpec } : {}),
      from: o.from,
    },
  };
}

/** A problem as said to a person: a CESQL one leads with the expression, which says more than its path. */
const describe = (p: Problem): string =>
  p.path.endsWith('.cesql') ? `${p.message} (${p.path})` : p.path ? `${p.path}: ${p.message}` : p.message;

/** `knative/x.yaml#2: Trigger t: spec.delivery.timeout: …; cesql "…": … (spec.filters[0].cesql)`. */
function meshProblem(
  kind: MeshProblem['kind'],
  o: { namespace: string; name: string; from: string },
  problems: readonly Problem[],
): MeshProblem {
  return {
    kind,
    namespace: o.namespace,
    name: o.name,
    from: o.from,
    problems,
    message: `${o.from}: ${kind} ${o.name}: ${problems.map(describe).join('; ')}`,
  };
}

/** Loads `dir` (default: the repository's knative/) as kustomize would, then picks what routes events. */
export function loadMesh(dir: string): Mesh {
  const root = resolve(dir);
  const generated: Generated = new Map();
  const objects = walk(root, dirname(root), generated, new Set());
  const ns = (o: Manifest): string => o.metadata.namespace ?? 'default';
  const spec = (o: Manifest): Record<string, unknown> => o.spec ?? {};

  const problems: MeshProblem[] = [];
  const eventing =
    (kind: string) =>
    (o: Manifest): boolean =>
      o.kind === kind && o.apiVersion.startsWith('eventing.knative.dev/');
  const brokers: BrokerManifest[] = [];
  for (const o of objects.filter(eventing('Broker'))) {
    const { broker, problems: found } = checkBroker(o);
    if (broker) brokers.push(broker);
    else problems.push(meshProblem('Broker', { namespace: ns(o), name: o.metadata.name, from: o.from }, found));
  }
  const triggers: TriggerManifest[] = [];
  for (const o of objects.filter(eventing('Trigger'))) {
    const { trigger, problems: found } = checkTrigger(o);
    const at = { namespace: ns(o), name: o.metadata.name, from: o.from };
    if (!trigger) problems.push(meshProblem('Trigger', at, found));
    // Knative's reconciler marks such a Trigger not ready (BrokerDoesNotExist): it routes nothing.
    else if (!brokers.some((b) => b.namespace === trigger.namespace && b.name === trigger.broker))
      problems.push(
        meshProblem('Trigger', at, [
          {
            path: 'spec.broker',
            message: `names Broker ${trigger.broker || '(none)'}, which is not in ${trigger.namespace}${brokerRefNote(o)}`,
          },
        ]),
      );
    else triggers.push(trigger);
  }
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
  return { dir: root, objects, brokers, triggers, services, sources, problems };
}

/** With cross-namespace-event-links off, Knative routes by spec.broker only: a brokerRef alone names nothing. */
function brokerRefNote(o: Manifest): string {
  const ref = (o.spec?.['brokerRef'] ?? undefined) as { name?: string } | undefined;
  return ref?.name ? ` (spec.brokerRef is read only with the cross-namespace-event-links feature, off by default)` : '';
}

interface PodSpec {
  containers?: {
    args?: string[];
    env?: { name: string; value?: string }[];
    volumeMounts?: { name: string; mountPath: string }[];
  }[];
  volumes?: { name: string; configMap?: { name: string } }[];
}
