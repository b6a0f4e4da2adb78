/**
 * test/cluster/serving — the one stand-in of the data-plane test: Knative Serving. Each Knative
 * Service of the install runs as the function's own server (the kit's startServer, in this process)
 * with what its pod would get: the container's env (Serving's PORT and K_* included), its
 * ConfigMap volumes written to disk where the env points (as the kubelet mounts them), and a token
 * of its ServiceAccount unless it opts out of one (automountServiceAccountToken: false). The
 * Service's status then says what Serving would: Ready, at http://<name>.<namespace>.svc.cluster.local,
 * a name the cluster proxy routes to that server. Not given: `envFrom` Secrets (the install's are
 * optional and the test creates none), resources, probes (the kit's own /readyz is the readiness).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { startServer, type FunctionDefinition, type RunningServer } from '../../functions/_kit/index.js';
import { admin, asServiceAccount } from './kube.js';
import type { ClusterProxy } from './proxy.js';

interface Container {
  args?: string[];
  env?: { name: string; value?: string }[];
  volumeMounts?: { name: string; mountPath: string }[];
}
export interface KnativeService {
  metadata: { name: string; namespace?: string };
  spec: {
    template: {
      spec: {
        serviceAccountName?: string;
        automountServiceAccountToken?: boolean;
        containers: Container[];
        volumes?: { name: string; configMap?: { name: string } }[];
      };
    };
  };
}

export interface ServedFunction {
  readonly name: string;
  readonly url: string;
  readonly server: RunningServer;
  readonly logs: string[];
  /** Stops the server and removes its volumes. */
  stop(): Promise<void>;
}

const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** The kubelet's part: the ConfigMap volumes on disk, and the container's env pointing into them. */
async function podEnv(
  root: string,
  namespace: string,
  pod: KnativeService['spec']['template']['spec'],
  container: Container,
): Promise<Record<string, string>> {
  const moved: [string, string][] = [];
  for (const m of container.volumeMounts ?? []) {
    const cm = pod.volumes?.find((v) => v.name === m.name)?.configMap;
    if (!cm) continue;
    const data = (await admin().core.readNamespacedConfigMap({ name: cm.name, namespace })).data ?? {};
    const dir = join(root, m.mountPath);
    mkdirSync(dir, { recursive: true });
    for (const [file, text] of Object.entries(data)) writeFileSync(join(dir, file), text);
    moved.push([m.mountPath, dir]);
  }
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    let value = e.value ?? '';
    for (const [from, to] of moved) if (value.startsWith(`${from}/`)) value = to + value.slice(from.length);
    env[e.name] = value;
  }
  return env;
}

/** Runs one Knative Service as its function, and makes it addressable as Serving would. */
export async function serve(
  ksvc: KnativeService,
  proxy: ClusterProxy,
  extraEnv: Readonly<Record<string, string>> = {},
): Promise<ServedFunction> {
  const a = admin();
  const namespace = ksvc.metadata.namespace ?? 'default';
  const name = ksvc.metadata.name;
  const pod = ksvc.spec.template.spec;
  const container = pod.containers[0]!;
  const fn = container.args?.[0];
  if (!fn) throw new Error(`Knative Service ${name}: the image's first argument names the function, and there is none`);
  const definition = (await import(`../../functions/${fn}/index.js`)) as { default: FunctionDefinition<unknown> };

  const root = mkdtempSync(join(tmpdir(), `reflex-ksvc-${name}-`));
  const env = await podEnv(root, namespace, pod, container);
  const kubeconfig =
    pod.automountServiceAccountToken === false
      ? {}
      : { KUBECONFIG: (await asServiceAccount(namespace, pod.serviceAccountName ?? 'default')).kubeconfig };
  const logs: string[] = [];
  const server = await startServer(definition.default, {
    env: {
      ...env,
      ...kubeconfig,
      // Serving's runtime contract (the port is any free one here, on loopback).
      PORT: '0',
      REFLEX_HOST: '127.0.0.1',
      K_SERVICE: name,
      K_CONFIGURATION: name,
      K_REVISION: `${name}-00001`,
      ...extraEnv,
    },
    logSink: (l) => logs.push(l),
  });

  const url = `http://${name}.${namespace}.svc.cluster.local`;
  proxy.route(`${name}.${namespace}.svc.cluster.local`, { port: server.port });
  const now = new Date().toISOString();
  const cond = (type: string): Record<string, string> => ({ type, status: 'True', lastTransitionTime: now });
  await a.config.makeApiClient(CustomObjectsApi).patchNamespacedCustomObjectStatus(
    {
      group: 'serving.knative.dev',
      version: 'v1',
      plural: 'services',
      namespace,
      name,
      body: {
        status: {
          observedGeneration: 1,
          conditions: [cond('ConfigurationsReady'), cond('Ready'), cond('RoutesReady')],
          latestCreatedRevisionName: `${name}-00001`,
          latestReadyRevisionName: `${name}-00001`,
          url,
          address: { url },
          traffic: [{ revisionName: `${name}-00001`, latestRevision: true, percent: 100 }],
        },
      },
    },
    merge,
  );
  return {
    name,
    url,
    server,
    logs,
    stop: async () => {
      await server.shutdown();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
