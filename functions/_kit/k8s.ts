/**
 * _kit/k8s — the one path to the Kubernetes API: a narrow port over plain JSON objects (get, list,
 * patch, create, delete, evict, /scale), implemented once with client-node, and the one place
 * where API errors become the kit's error hierarchy (kubeCall). Importing client-node costs
 * hundreds of milliseconds, so a function that never calls the API never loads it.
 */
import type * as k8s from '@kubernetes/client-node';
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, type Hash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Env } from './config.js';
import { ConflictError, ForbiddenError, InternalError, InvalidEventError, UnavailableError, type ReflexError } from './errors.js';
import { formatTraceparent } from './trace.js';
import { answered, clientSpan, tracing, type SpanAttributes } from './tracing.js';

/** Which object: what a port asks for, never a URL. `namespace` empty or absent for cluster-scoped kinds. */
export interface ObjectRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace?: string | undefined;
  readonly name: string;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
  creationTimestamp?: string;
  deletionTimestamp?: string;
}

/** An object as the API server serves it (JSON: timestamps are strings). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

export interface ListOptions {
  readonly namespace?: string;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
}

/** Reading the cluster: what the functions observe through, and what a replay implements from a recording. */
export interface ObjectReader {
  /** The object, or undefined when it does not exist (or its kind is not served). */
  get<T extends object = KubeObject>(ref: ObjectRef): Promise<T | undefined>;
  /** Items carry apiVersion and kind (the API leaves them out of lists); [] when the kind is not served. */
  list<T extends object = KubeObject>(apiVersion: string, kind: string, options?: ListOptions): Promise<T[]>;
}

export interface PodLogOptions {
  readonly previous?: boolean;
  readonly tailLines?: number;
  readonly limitBytes: number;
  readonly timeoutMs: number;
}

/** Reading and changing the cluster: the whole port a function gets. */
export interface Cluster extends ObjectReader {
  /**
   * A merge patch (an object) or a JSON patch (an array of operations). A merge patch naming
   * metadata.resourceVersion applies only at that version: ConflictError otherwise. False: gone.
   */
  patch(ref: ObjectRef, patch: object, type: 'merge' | 'json'): Promise<boolean>;
  /**
   * The object as created (with what the API server filled in, e.g. a review's status), or
   * undefined when one of that name exists already: creation is how idempotent records are made.
   */
  create<T extends object = KubeObject>(
    object: KubeObject & { apiVersion: string; kind: string; metadata: ObjectMeta },
  ): Promise<T | undefined>;
  /**
   * False when it was gone already; `uid` makes the delete apply only to that incarnation,
   * `resourceVersion` only to that version (ConflictError otherwise).
   */
  delete(ref: ObjectRef, preconditions?: { readonly uid?: string; readonly resourceVersion?: string }): Promise<boolean>;
  /** Through the Eviction API: a PodDisruptionBudget's refusal (429) is 'blocked', never forced. */
  evict(pod: ObjectRef): Promise<'evicted' | 'gone' | 'blocked'>;
  /** spec.replicas through the scale subresource; undefined: no such object, or it has no /scale. */
  replicas(ref: ObjectRef): Promise<number | undefined>;
  /** Sets spec.replicas through /scale (an absolute value: repeating it is harmless). False: gone. */
  setReplicas(ref: ObjectRef, replicas: number): Promise<boolean>;
  /**
   * A container's log through the API server's `pods/log` (the kubelet serves it), bounded: at most
   * `limitBytes` bytes (asked of the kubelet, and cut here whatever it sends) within `timeoutMs`
   * (then an UnavailableError). `previous`: the instance before the last restart. Undefined when
   * there is no such log (the pod, the container or its previous instance does not exist).
   */
  podLog(
    pod: { readonly namespace: string; readonly name: string },
    container: string,
    options: PodLogOptions,
  ): Promise<string | undefined>;
  /**
   * Loads the client and learns the core API groups ahead of the first call, so the first event
   * does not wait for them (the server calls it once it is ready). Failing here is harmless: the
   * first real call tries again and reports.
   */
  prepare?(): Promise<void>;
}

/** The HTTP status of a failed API call, if it got that far. */
export function apiStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' && code >= 100 && code < 600 ? code : undefined;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'EPIPE',
]);

function isNetworkError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
    if (e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError' || e.message === 'fetch failed')) return true;
  }
  return false;
}

/**
 * API server answers -> kit errors: unreachable, 5xx and 429 are transient (503, the Broker
 * retries); 401/403 are RBAC (fix the Role); 409 survived the caller's re-read. Anything that
 * is neither an API answer nor a network fault is a bug and goes up as it is.
 */
/** The API server's own words: the `message` of the Status it answered with, when there is one. */
function statusMessage(err: unknown): string | undefined {
  const body = (err as { body?: unknown } | null)?.body;
  try {
    const status = (typeof body === 'string' ? JSON.parse(body) : body) as { message?: unknown } | undefined;
    return typeof status?.message === 'string' && status.message !== '' ? status.message : undefined;
  } catch {
    return undefined;
  }
}

export function fromKubeError(err: unknown, what: string): unknown {
  const status = apiStatus(err);
  const message = `${what}: ${statusMessage(err) ?? (err instanceof Error ? err.message.split('\n')[0] : String(err))}`;
  if (status === undefined)
    return isNetworkError(err) ? new UnavailableError(`Kubernetes API unreachable: ${message}`, { cause: err }) : err;
  if (status === 429 || status >= 500) {
    const retry = Number((err as { headers?: Record<string, string> }).headers?.['retry-after']);
    return new UnavailableError(`Kubernetes API answered ${status}: ${message}`, {
      cause: err,
      ...(Number.isFinite(retry) && retry > 0 ? { retryAfterSeconds: retry } : {}),
    });
  }
  if (status === 401 || status === 403) return new ForbiddenError(`Kubernetes API refused (${status}): ${message}`, { cause: err });
  if (status === 409) return new ConflictError(`Kubernetes API conflict: ${message}`, { cause: err });
  return new InternalError(`Kubernetes API answered ${status}: ${message}`, { cause: err }) satisfies ReflexError;
}

/**
 * Every API call goes through here: `f`'s answer; `onStatus[code]` when the API answers with a
 * status that is an expected outcome (404 = gone, 409 = exists…); any other failure mapped by
 * fromKubeError, naming `what`.
 */
export async function kubeCall<T, M = never>(
  what: string,
  f: () => Promise<T>,
  onStatus: Readonly<Record<number, M>> = {},
): Promise<T | M> {
  try {
    return await f();
  } catch (err) {
    const status = apiStatus(err);
    if (status !== undefined && status in onStatus) return onStatus[status]!;
    throw fromKubeError(err, what);
  }
}

/**
 * A Kubernetes MicroTime (events.k8s.io/v1 `eventTime`): RFC 3339 with exactly 6 fraction
 * digits; the API rejects the 3 digits of a JS Date.
 */
export function microTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export const where = (ref: Pick<ObjectRef, 'kind' | 'namespace' | 'name'>): string =>
  ref.namespace ? `${ref.kind} ${ref.namespace}/${ref.name}` : `${ref.kind} ${ref.name}`;

/** A path segment that cannot become another URL: `.`/`..` would name the collection. */
function segment(name: string, what: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/'))
    throw new InvalidEventError(`${what}: ${JSON.stringify(name)} is not a valid object name`);
  return encodeURIComponent(name);
}

/** Where the cluster's credentials come from: a kubeconfig file, the Pod's ServiceAccount, or nowhere. */
export type KubeconfigSource = { readonly file: string } | 'in-cluster';

/**
 * client-node's loading rules, read once from the given environment: the first file of
 * KUBECONFIG (a ':'-list) that exists (or its first, so the error names it), else
 * ~/.kube/config, else the in-cluster ServiceAccount (KUBERNETES_SERVICE_HOST); undefined: none.
 */
export function kubeconfigOf(env: Env, home: string = homedir()): KubeconfigSource | undefined {
  const listed = (env['KUBECONFIG'] ?? '').split(':').filter((p) => p.trim() !== '');
  if (listed.length > 0) return { file: listed.find((p) => existsSync(p)) ?? listed[0]! };
  const file = join(home, '.kube', 'config');
  if (existsSync(file)) return { file };
  return env['KUBERNETES_SERVICE_HOST'] ? 'in-cluster' : undefined;
}

/**
 * What the span of one API request is called and says, from its method and path: `k8s GET pods`,
 * `k8s POST pods/eviction`, `k8s GET discovery` (what client-node asks to learn a group's
 * resources), with the API group/version, resource, subresource, namespace and object name.
 * @see https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-uris
 */
export function describeRequest(method: string, path: string): { name: string; attributes: SpanAttributes } {
  const decode = (p: string): string => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  };
  const parts = (path.split('?')[0] ?? '').split('/').filter(Boolean).map(decode);
  // /api/<version>/… (the core group) or /apis/<group>/<version>/…
  const base = parts[0] === 'api' ? 2 : parts[0] === 'apis' ? 3 : undefined;
  const attributes: Record<string, string> = { 'http.request.method': method };
  if (base === undefined) return { name: `k8s ${method} ${parts[0] ?? '/'}`, attributes };
  if (parts.length > 1) attributes['k8s.api'] = parts.slice(1, base).join('/');
  if (parts.length <= base) return { name: `k8s ${method} discovery`, attributes };
  let rest = parts.slice(base);
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    attributes['k8s.namespace.name'] = rest[1]!;
    rest = rest.slice(2);
  }
  const [resource, name, ...sub] = rest as [string, ...string[]];
  attributes['k8s.resource'] = resource;
  if (name !== undefined) attributes['k8s.object.name'] = name;
  if (sub.length > 0) attributes['k8s.subresource'] = sub.join('/');
  return { name: `k8s ${method} ${resource}${sub.length > 0 ? `/${sub.join('/')}` : ''}`, attributes };
}

/** A failed request's `error.type`: the HTTP status or network code when there is one, else the error's class. */
const errorType = (err: unknown): string => String((err as { code?: unknown } | null)?.code ?? (err instanceof Error ? err.name : 'Error'));

/** The status of the answer to the request under way, for its span (seen in processResponse). */
const answerOf = new AsyncLocalStorage<{ status?: number }>();

/** processResponse's `type` for a text answer read to at most the bytes that follow it. */
const BOUNDED_TEXT = 'reflex/bounded-text:';

/** At most `limit` bytes of a response body, the rest left unread (the stream is cancelled). */
async function boundedText(response: k8s.ResponseContext, limit: number): Promise<string> {
  const reader = (response.body.stream() as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  // A character cut at the limit becomes U+FFFD, not an exception.
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}

/**
 * A digest of a dispatcher's options, certificates fed as bytes: a key per API call at a tenth of
 * JSON.stringify's cost (which spells every byte of a PEM Buffer as a number).
 */
function identity(value: unknown, h: Hash = createHash('sha256')): Hash {
  if (value instanceof Uint8Array) h.update(value);
  else if (Array.isArray(value)) for (const v of value) identity(v, h.update('\u0001'));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) identity(v, h.update(`\u0000${k}=`));
  else h.update(`${typeof value}:${String(value)}\u0002`);
  return h;
}

/**
 * client-node 2.0 builds a new connection pool (an undici Agent) for every request, so every API
 * call paid a TLS handshake: ~40% of recover's CPU per event, and a first event's wait. One pool
 * per set of TLS options (cluster, CA, client certificate) is kept instead, as client-go keeps
 * its transport; credentials that change (a rotated certificate) get a new pool, and at most a
 * few are kept. The method is private in client-node's types, hence the cast.
 */
function reuseConnections(config: k8s.KubeConfig): void {
  type Make = (cluster: k8s.Cluster | null, options: object) => { close?(): Promise<void> } | undefined;
  const target = config as unknown as { createDispatcher: Make };
  const make = target.createDispatcher.bind(config);
  const pools = new Map<string, ReturnType<Make>>();
  target.createDispatcher = (cluster, options) => {
    const key = identity(config.createDispatcherOptions(cluster, options)).digest('base64');
    if (pools.has(key)) return pools.get(key);
    const pool = make(cluster, options);
    if (pools.size >= 4) {
      const [oldest, old] = pools.entries().next().value!;
      pools.delete(oldest);
      void old?.close?.().catch(() => undefined);
    }
    pools.set(key, pool);
    return pool;
  };
}

/** The Cluster port on the API server, with the client loaded on first use. */
export function kubeCluster(source: KubeconfigSource | undefined): Cluster {
  type Api = {
    send<T>(method: string, path: string, body?: unknown, options?: { contentType?: string; query?: Record<string, string> }): Promise<T>;
    path(ref: Omit<ObjectRef, 'name'> & { name?: string }, subresource?: string): Promise<string | undefined>;
    text(path: string, query: Record<string, string>, limitBytes: number, timeoutMs: number): Promise<string>;
  };
  let made: Promise<Api> | undefined;
  const api = (): Promise<Api> => {
    made ??= (async () => {
      // The two modules used, not the package's index: its generated API classes are 15 MB of
      // JavaScript that a bundle would otherwise parse before the first call (scripts/bundle.ts).
      const [{ KubeConfig }, { KubernetesObjectApi }] = await Promise.all([
        import('@kubernetes/client-node/dist/config.js'),
        import('@kubernetes/client-node/dist/object.js'),
      ]);
      const config = new KubeConfig();
      if (source === 'in-cluster') config.loadFromCluster();
      else if (source) config.loadFromFile(source.file);
      else config.loadFromDefault();
      reuseConnections(config);
      // KubernetesObjectApi discovers (and caches) resources and authenticates requests; answers
      // are kept as the JSON the API server sent, not client-node's classes (Dates, renamed keys).
      class Plain extends KubernetesObjectApi {
        /**
         * Every request to the API server, client-node's discovery included, passes here: while an
         * event is traced, each is a CLIENT span of the event's span.
         */
        protected override async requestPromise<T extends k8s.KubernetesObject>(
          request: k8s.RequestContext,
          type?: string,
          options?: k8s.Configuration,
        ): Promise<T> {
          if (!tracing()) return super.requestPromise<T>(request, type, options);
          const url = new URL(request.getUrl());
          const { name, attributes } = describeRequest(request.getHttpMethod(), url.pathname);
          const span = clientSpan(name, {
            ...attributes,
            'server.address': url.hostname,
            'server.port': Number(url.port) || (url.protocol === 'http:' ? 80 : 443),
          });
          // The API server's own spans (its APIServerTracing feature) then join the trace.
          if (span) request.setHeaderParam('traceparent', formatTraceparent(span.context));
          const answer: { status?: number } = {};
          try {
            const out = await answerOf.run(answer, () => super.requestPromise<T>(request, type, options));
            answered(span, answer.status ?? 200);
            return out;
          } catch (err) {
            const status = apiStatus(err) ?? answer.status;
            if (status !== undefined) answered(span, status);
            else span?.fail(err instanceof Error ? err.message.split('\n')[0]! : String(err));
            span?.set({ 'error.type': errorType(err) });
            throw err;
          } finally {
            span?.end();
          }
        }
        protected override async processResponse<T extends k8s.KubernetesObject>(response: k8s.ResponseContext, type?: string): Promise<T> {
          const answer = answerOf.getStore();
          if (answer) answer.status = response.httpStatusCode;
          if (response.httpStatusCode < 200 || response.httpStatusCode > 299) return super.processResponse(response, undefined);
          if (type?.startsWith(BOUNDED_TEXT)) return (await boundedText(response, Number(type.slice(BOUNDED_TEXT.length)))) as unknown as T;
          const text = await response.body.text();
          return (text ? JSON.parse(text) : {}) as T;
        }
        async send<T>(
          method: string,
          path: string,
          body?: unknown,
          o: { contentType?: string; query?: Record<string, string> } = {},
        ): Promise<T> {
          const request = this.configuration.baseServer.makeRequestContext(path, method as k8s.HttpMethod);
          request.setHeaderParam('Accept', 'application/json');
          for (const [k, v] of Object.entries(o.query ?? {})) request.setQueryParam(k, v);
          if (body !== undefined) {
            request.setHeaderParam('Content-Type', o.contentType ?? 'application/json');
            request.setBody(JSON.stringify(body));
          }
          return this.requestPromise(request) as Promise<T>;
        }
        async text(path: string, query: Record<string, string>, limitBytes: number, timeoutMs: number): Promise<string> {
          const request = this.configuration.baseServer.makeRequestContext(path, 'GET' as k8s.HttpMethod);
          // What kubectl sends for logs: the API server refuses text/plain alone (406).
          request.setHeaderParam('Accept', 'application/json, */*');
          for (const [k, v] of Object.entries(query)) request.setQueryParam(k, v);
          const timer = AbortSignal.timeout(timeoutMs);
          request.setSignal(timer);
          return (await this.requestPromise(request, `${BOUNDED_TEXT}${limitBytes}`).catch((err: unknown) => {
            if (timer.aborted) throw new UnavailableError(`no answer within ${timeoutMs} ms`, { cause: err });
            throw err;
          })) as unknown as string;
        }
        async path(ref: Omit<ObjectRef, 'name'> & { name?: string }, subresource?: string): Promise<string | undefined> {
          const r = await this.resource(ref.apiVersion, ref.kind).catch((err: unknown) => {
            // An API group that is not served (KEDA not installed): nothing of that kind exists.
            if (apiStatus(err) === 404) return undefined;
            throw err;
          });
          if (!r) return undefined;
          const parts = [ref.apiVersion.includes('/') ? '/apis' : '/api', ref.apiVersion];
          if (r.namespaced && ref.namespace) parts.push('namespaces', segment(ref.namespace, 'namespace'));
          parts.push(r.name);
          if (ref.name !== undefined) parts.push(segment(ref.name, `${ref.kind} name`));
          if (subresource) parts.push(subresource);
          return parts.join('/');
        }
      }
      return config.makeApiClient(Plain) as unknown as Api;
    })();
    made.catch(() => (made = undefined));
    return made;
  };
  /** The object's path (or undefined: its kind is not served), and the api to send with. */
  const at = async (what: string, ref: Omit<ObjectRef, 'name'> & { name?: string }, sub?: string) => {
    const a = await kubeCall(what, api);
    return { a, path: await kubeCall(what, () => a.path(ref, sub)) };
  };
  const MERGE = 'application/merge-patch+json';
  const JSON_PATCH = 'application/json-patch+json';

  return {
    async podLog(pod, container, o): Promise<string | undefined> {
      const what = `read the ${o.previous ? 'previous ' : ''}log of container ${container} of Pod ${pod.namespace}/${pod.name}`;
      const a = await kubeCall(what, api);
      const path = `/api/v1/namespaces/${segment(pod.namespace, 'namespace')}/pods/${segment(pod.name, 'Pod name')}/log`;
      const query: Record<string, string> = { container, limitBytes: String(o.limitBytes) };
      if (o.previous) query['previous'] = 'true';
      if (o.tailLines !== undefined) query['tailLines'] = String(o.tailLines);
      // 400: no such container or no previous instance (the API server's words); 404: no such pod.
      return kubeCall(what, () => a.text(path, query, o.limitBytes, o.timeoutMs), { 400: undefined, 404: undefined });
    },

    async prepare(): Promise<void> {
      const a = await api();
      await Promise.all([a.path({ apiVersion: 'v1', kind: 'Pod' }), a.path({ apiVersion: 'apps/v1', kind: 'Deployment' })]);
    },

    async get<T extends object>(ref: ObjectRef): Promise<T | undefined> {
      const what = `get ${where(ref)}`;
      const { a, path } = await at(what, ref);
      return path === undefined ? undefined : kubeCall(what, () => a.send<T>('GET', path), { 404: undefined });
    },

    async list<T extends object>(apiVersion: string, kind: string, o: ListOptions = {}): Promise<T[]> {
      const what = `list ${kind} ${o.namespace ? `in ${o.namespace}` : 'in all namespaces'}`;
      const { a, path } = await at(what, { apiVersion, kind, namespace: o.namespace });
      if (path === undefined) return [];
      const query: Record<string, string> = {};
      if (o.labelSelector) query['labelSelector'] = o.labelSelector;
      if (o.fieldSelector) query['fieldSelector'] = o.fieldSelector;
      const list = await kubeCall(what, () => a.send<{ items?: KubeObject[] }>('GET', path, undefined, { query }), { 404: { items: [] } });
      return (list.items ?? []).map((i) => ({ apiVersion, kind, ...i }) as T);
    },

    async patch(ref, body, type) {
      const what = `patch ${where(ref)}`;
      const { a, path } = await at(what, ref);
      if (path === undefined) return false;
      const done = await kubeCall(what, () => a.send('PATCH', path, body, { contentType: type === 'merge' ? MERGE : JSON_PATCH }), {
        404: false as const,
      });
      return done !== false;
    },

    async create<T extends object>(
      object: KubeObject & { apiVersion: string; kind: string; metadata: ObjectMeta },
    ): Promise<T | undefined> {
      const ref = { apiVersion: object.apiVersion, kind: object.kind, namespace: object.metadata.namespace };
      const what = `create ${where({ ...ref, name: object.metadata.name ?? '' })}`;
      const { a, path } = await at(what, ref);
      if (path === undefined) throw new InternalError(`${what}: the API server does not serve ${object.apiVersion} ${object.kind}`);
      return kubeCall(what, () => a.send<T>('POST', path, object), { 409: undefined });
    },

    async delete(ref, preconditions = {}) {
      const what = `delete ${where(ref)}`;
      const { a, path } = await at(what, ref);
      if (path === undefined) return false;
      const { uid, resourceVersion } = preconditions;
      const body =
        uid || resourceVersion ? { preconditions: { ...(uid ? { uid } : {}), ...(resourceVersion ? { resourceVersion } : {}) } } : {};
      const done = await kubeCall(what, () => a.send('DELETE', path, body), { 404: false as const });
      return done !== false;
    },

    async evict(pod) {
      const what = `evict ${where(pod)}`;
      const { a, path } = await at(what, pod, 'eviction');
      if (path === undefined) return 'gone';
      const body = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: pod.name, namespace: pod.namespace } };
      const r = await kubeCall(what, () => a.send('POST', path, body), { 404: 'gone' as const, 429: 'blocked' as const });
      return r === 'gone' || r === 'blocked' ? r : 'evicted';
    },

    async replicas(ref) {
      const what = `get the scale of ${where(ref)}`;
      const { a, path } = await at(what, ref, 'scale');
      if (path === undefined) return undefined;
      const scale = await kubeCall(what, () => a.send<{ spec?: { replicas?: number } }>('GET', path), { 404: undefined });
      return scale === undefined ? undefined : (scale.spec?.replicas ?? 0);
    },

    async setReplicas(ref, replicas) {
      const what = `scale ${where(ref)}`;
      const { a, path } = await at(what, ref, 'scale');
      if (path === undefined) return false;
      const done = await kubeCall(what, () => a.send('PATCH', path, { spec: { replicas } }, { contentType: MERGE }), {
        404: false as const,
      });
      return done !== false;
    },
  };
}
