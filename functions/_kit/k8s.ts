/**
 * _kit/k8s — the Kubernetes client, created on first use, and the one place where API errors
 * become the kit's error hierarchy. Importing @kubernetes/client-node costs hundreds of
 * milliseconds, so functions that never call the API never load it.
 */
import type * as k8s from '@kubernetes/client-node';
import { ConflictError, ForbiddenError, InternalError, UnavailableError, type ReflexError } from './errors.js';

export interface Kube {
  readonly lib: typeof k8s;
  readonly config: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  readonly apps: k8s.AppsV1Api;
  readonly events: k8s.EventsV1Api;
  readonly autoscaling: k8s.AutoscalingV2Api;
  readonly policy: k8s.PolicyV1Api;
  readonly objects: k8s.KubernetesObjectApi;
  readonly custom: k8s.CustomObjectsApi;
  /** The resource (plural) name of a kind, from API discovery (cached). */
  plural(apiVersion: string, kind: string): Promise<string | undefined>;
}

export type KubeFactory = () => Promise<Kube>;

/**
 * A memoised factory. Without `kubeconfig`, the default loading rules apply: KUBECONFIG, then
 * ~/.kube/config, then the in-cluster service account.
 */
export function kubeFactory(options: { kubeconfig?: string } = {}): KubeFactory {
  let made: Promise<Kube> | undefined;
  return () => {
    made ??= (async () => {
      const lib = await import('@kubernetes/client-node');
      const config = new lib.KubeConfig();
      if (options.kubeconfig) config.loadFromFile(options.kubeconfig);
      else config.loadFromDefault();
      // KubernetesObjectApi already discovers and caches resources; a subclass reaches its lookup.
      class Discovery extends lib.KubernetesObjectApi {
        async plural(apiVersion: string, kind: string): Promise<string | undefined> {
          return (await this.resource(apiVersion, kind))?.name;
        }
      }
      const discovery = config.makeApiClient(Discovery);
      return {
        lib,
        config,
        custom: config.makeApiClient(lib.CustomObjectsApi),
        plural: (apiVersion: string, kind: string) => discovery.plural(apiVersion, kind),
        core: config.makeApiClient(lib.CoreV1Api),
        apps: config.makeApiClient(lib.AppsV1Api),
        events: config.makeApiClient(lib.EventsV1Api),
        autoscaling: config.makeApiClient(lib.AutoscalingV2Api),
        policy: config.makeApiClient(lib.PolicyV1Api),
        objects: lib.KubernetesObjectApi.makeApiClient(config),
      };
    })();
    made.catch(() => (made = undefined));
    return made;
  };
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
 * retries); 403 is RBAC (fix the Role); 409 survived the caller's re-read.
 */
export function fromKubeError(err: unknown, what: string): ReflexError {
  const status = apiStatus(err);
  const message = `${what}: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
  if (status === undefined) {
    return isNetworkError(err)
      ? new UnavailableError(`Kubernetes API unreachable: ${message}`, { cause: err })
      : new InternalError(message, { cause: err });
  }
  if (status === 429 || status >= 500) {
    const retry = Number((err as { headers?: Record<string, string> }).headers?.['retry-after']);
    return new UnavailableError(`Kubernetes API answered ${status}: ${message}`, {
      cause: err,
      ...(Number.isFinite(retry) && retry > 0 ? { retryAfterSeconds: retry } : {}),
    });
  }
  if (status === 401 || status === 403) return new ForbiddenError(`Kubernetes API refused (${status}): ${message}`, { cause: err });
  if (status === 409) return new ConflictError(`Kubernetes API conflict: ${message}`, { cause: err });
  return new InternalError(`Kubernetes API answered ${status}: ${message}`, { cause: err });
}

/**
 * A Kubernetes MicroTime (events.k8s.io/v1 `eventTime`): RFC 3339 with exactly 6 fraction
 * digits. The API rejects the 3 digits of a JS Date; client-node types it as Date, so the
 * string is passed through as one.
 */
export function microTime(d: Date): Date {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') as unknown as Date;
}
