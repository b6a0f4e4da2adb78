/** test/cluster/kube — what cluster tests need: admin clients, a fresh namespace, acting as a ServiceAccount. */
import * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { run, writeKubeconfig } from './control-plane.js';

export function adminKubeconfigPath(): string {
  const path = process.env['REFLEX_TEST_KUBECONFIG'];
  // No silent skip: a cluster test without a cluster is a failing test.
  if (!path) throw new Error('REFLEX_TEST_KUBECONFIG is not set: cluster tests run under the jest global setup (npm test)');
  return path;
}

export interface Clients {
  readonly config: k8s.KubeConfig;
  readonly core: k8s.CoreV1Api;
  readonly apps: k8s.AppsV1Api;
  readonly events: k8s.EventsV1Api;
  readonly rbac: k8s.RbacAuthorizationV1Api;
  readonly autoscaling: k8s.AutoscalingV2Api;
  readonly policy: k8s.PolicyV1Api;
  readonly objects: k8s.KubernetesObjectApi;
}

export function clientsFor(config: k8s.KubeConfig): Clients {
  return {
    config,
    core: config.makeApiClient(k8s.CoreV1Api),
    apps: config.makeApiClient(k8s.AppsV1Api),
    events: config.makeApiClient(k8s.EventsV1Api),
    rbac: config.makeApiClient(k8s.RbacAuthorizationV1Api),
    autoscaling: config.makeApiClient(k8s.AutoscalingV2Api),
    policy: config.makeApiClient(k8s.PolicyV1Api),
    objects: k8s.KubernetesObjectApi.makeApiClient(config),
  };
}

export function admin(): Clients {
  const config = new k8s.KubeConfig();
  config.loadFromFile(adminKubeconfigPath());
  return clientsFor(config);
}

/** A new namespace per test file: tests never see each other's objects. */
export async function freshNamespace(prefix: string, labels: Record<string, string> = {}): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await admin().core.createNamespace({ body: { metadata: { name, labels } } });
  return name;
}

/**
 * A kubeconfig that authenticates as a ServiceAccount with a real token from the TokenRequest
 * API: the request takes the same authentication and RBAC path a pod's would.
 */
export async function asServiceAccount(namespace: string, name: string): Promise<{ clients: Clients; kubeconfig: string }> {
  const a = admin();
  try {
    await a.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
  const tr = await a.core.createNamespacedServiceAccountToken({
    name,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const token = tr.status?.token;
  if (!token) throw new Error(`no token for ${namespace}/${name}`);
  const admincfg = parse(readFileSync(adminKubeconfigPath(), 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority': string } }[];
  };
  const cluster = admincfg.clusters[0]!.cluster;
  const path = join(mkdtempSync(join(tmpdir(), 'reflex-sa-')), 'kubeconfig');
  writeKubeconfig(path, cluster.server, cluster['certificate-authority'], { token });
  const config = new k8s.KubeConfig();
  config.loadFromFile(path);
  return { clients: clientsFor(config), kubeconfig: path };
}

/** kubectl with the admin kubeconfig (the version built with the control plane). */
export function kubectl(...args: string[]): string {
  return run(process.env['REFLEX_TEST_KUBECTL'] ?? 'kubectl', ['--kubeconfig', adminKubeconfigPath(), ...args]);
}

/** Polls until `probe` returns a value (not undefined), or fails with `what`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The status code of a failed API call. */
export async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
    return 200;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number') return code;
    throw err;
  }
}

/**
 * Installs a function's RBAC exactly as knative/<name>/rbac.yaml declares it, and returns a
 * kubeconfig acting as its ServiceAccount (reflex/reflex-<name>): tests run the function with
 * the permissions the manifests grant, nothing more.
 */
export async function asFunction(name: string): Promise<string> {
  try {
    await admin().core.createNamespace({ body: { metadata: { name: 'reflex' } } });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err; // another test file made it
  }
  kubectl('apply', '-f', fileURLToPath(new URL(`../../knative/${name}/rbac.yaml`, import.meta.url)));
  return (await asServiceAccount('reflex', `reflex-${name}`)).kubeconfig;
}

/** A write the API server recorded in its audit log. */
export interface AuditedWrite {
  readonly verb: string;
  readonly resource: string;
  readonly subresource?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly code: number;
}

/**
 * The writes `username` made (as the API server's audit log recorded them, the test control
 * plane logs every write by the reflex namespace's ServiceAccounts) for which `pick` is true.
 */
export function writesBy(username: string, pick: (w: AuditedWrite) => boolean = () => true): AuditedWrite[] {
  const dir = process.env['REFLEX_TEST_CLUSTER_DIR'];
  if (!dir) throw new Error('REFLEX_TEST_CLUSTER_DIR is not set: cluster tests run under the jest global setup (npm test)');
  return readFileSync(join(dir, 'audit.log'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map(
      (l) =>
        JSON.parse(l) as {
          stage: string;
          verb: string;
          user: { username: string };
          objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
          responseStatus?: { code?: number };
        },
    )
    .filter((e) => e.stage === 'ResponseComplete' && e.user.username === username)
    .map((e) => ({
      verb: e.verb,
      resource: e.objectRef?.resource ?? '',
      ...(e.objectRef?.subresource ? { subresource: e.objectRef.subresource } : {}),
      ...(e.objectRef?.namespace ? { namespace: e.objectRef.namespace } : {}),
      ...(e.objectRef?.name ? { name: e.objectRef.name } : {}),
      code: e.responseStatus?.code ?? 0,
    }))
    .filter(pick);
}

export interface ApiServerHop {
  /** A kubeconfig like the one given, through the hop. */
  readonly kubeconfig: string;
  /** Down: every connection is cut, new ones refused (an outage). */
  cut(down: boolean): void;
  /** Every chunk the API server sends waits this long (a slow API server); 0: none. */
  slow(delayMs: number): void;
  close(): void;
}

/** A TCP hop in front of the API server, so a function sees a real outage or a slow server. */
export async function apiServerHop(kubeconfig: string): Promise<ApiServerHop> {
  const text = readFileSync(kubeconfig, 'utf8');
  const [, host, port] = /server: https:\/\/([\d.]+):(\d+)/.exec(text)!;
  let down = false;
  let delayMs = 0;
  const sockets = new Set<Socket>();
  const hop = createNetServer((inbound) => {
    if (down) {
      inbound.destroy();
      return;
    }
    const outbound = connect(Number(port), host);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s)).on('error', () => {});
    }
    inbound.pipe(outbound);
    outbound.on('data', (chunk: Buffer) => {
      if (delayMs === 0) inbound.write(chunk);
      else {
        outbound.pause();
        setTimeout(() => {
          inbound.write(chunk);
          outbound.resume();
        }, delayMs);
      }
    });
    outbound.on('end', () => inbound.end());
  });
  await new Promise<void>((r) => hop.listen(0, '127.0.0.1', r));
  const path = join(mkdtempSync(join(tmpdir(), 'reflex-hop-')), 'kubeconfig');
  writeFileSync(path, text.replace(`${host}:${port}`, `127.0.0.1:${(hop.address() as AddressInfo).port}`));
  return {
    kubeconfig: path,
    cut(d) {
      down = d;
      if (d) for (const s of sockets) s.destroy();
    },
    slow(ms) {
      delayMs = ms;
    },
    close() {
      for (const s of sockets) s.destroy();
      hop.close();
    },
  };
}
