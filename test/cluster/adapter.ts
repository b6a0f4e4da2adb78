/**
 * test/cluster/adapter — the real Knative ApiServerSource receive adapter, run out of cluster
 * against the test control plane. It always binds :8080 (health) and :8008 (profiling), so only
 * one runs at a time.
 */
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { admin, adminKubeconfigPath } from './kube.js';

export interface AdapterOptions {
  readonly sink: string;
  readonly namespaces: readonly string[];
  /** e.g. [{ Group: '', Version: 'v1', Resource: 'events' }] */
  readonly resources: readonly { Group: string; Version: string; Resource: string; selector?: string }[];
  readonly mode?: 'Resource' | 'Reference';
  readonly kubeconfig?: string;
  /** The ApiServerSource's name (NAME). */
  readonly name?: string;
  /** spec.ceOverrides, passed as the Knative reconciler does (K_CE_OVERRIDES). */
  readonly ceOverrides?: { readonly extensions?: Readonly<Record<string, string>> };
}

export interface Adapter {
  readonly output: () => string;
  stop(): Promise<void>;
}

export function startAdapter(options: AdapterOptions): Adapter {
  const bin = join(process.env['REFLEX_TEST_BIN'] ?? '', 'apiserver_receive_adapter');
  const config = {
    namespaces: options.namespaces,
    allNamespaces: false,
    resources: options.resources.map(({ selector, ...gvr }) => ({ gvr, ...(selector ? { selector } : {}) })),
    mode: options.mode ?? 'Resource',
  };
  const child: ChildProcess = spawn(bin, [], {
    env: {
      PATH: process.env['PATH'],
      KUBECONFIG: options.kubeconfig ?? adminKubeconfigPath(),
      K_SINK: options.sink,
      K_SOURCE_CONFIG: JSON.stringify(config),
      NAME: options.name ?? 'reflex-events',
      ...(options.ceOverrides ? { K_CE_OVERRIDES: JSON.stringify(options.ceOverrides) } : {}),
      NAMESPACE: options.namespaces[0] ?? 'default',
      SYSTEM_NAMESPACE: 'knative-eventing',
      K_LOGGING_CONFIG: '{}',
      K_OBSERVABILITY_CONFIG: '{}',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  return {
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

interface SourceManifest {
  kind: string;
  metadata: { name: string };
  spec: {
    mode?: 'Resource' | 'Reference';
    namespaceSelector?: { matchLabels?: Record<string, string> };
    resources: { apiVersion: string; kind: string }[];
    ceOverrides?: { extensions?: Record<string, string> };
  };
}

/**
 * The adapter options an ApiServerSource of knative/source/apiserversource.yaml gets from the Knative
 * reconciler (pkg/reconciler/apiserversource): the namespaces its namespaceSelector matches now,
 * each resource as the reconciler guesses its plural (meta.UnsafeGuessKindToResource), its mode and
 * its ceOverrides.
 */
export async function adapterOptionsOf(source: string, sink: string): Promise<AdapterOptions> {
  const file = new URL('../../knative/source/apiserversource.yaml', import.meta.url);
  const manifest = parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => d.toJSON() as SourceManifest)
    .find((o) => o.kind === 'ApiServerSource' && o.metadata.name === source);
  if (!manifest) throw new Error(`no ApiServerSource ${source} in ${file.pathname}`);
  const labels = Object.entries(manifest.spec.namespaceSelector?.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const namespaces = (await admin().core.listNamespace({ labelSelector: labels })).items.map((n) => n.metadata!.name!).sort();
  const plural = (kind: string): string => {
    const k = kind.toLowerCase();
    return k.endsWith('s') ? `${k}es` : k.endsWith('y') ? `${k.slice(0, -1)}ies` : `${k}s`;
  };
  return {
    sink,
    name: source,
    namespaces,
    resources: manifest.spec.resources.map((r) => {
      const [group, version] = r.apiVersion.includes('/') ? r.apiVersion.split('/') : ['', r.apiVersion];
      return { Group: group!, Version: version!, Resource: plural(r.kind) };
    }),
    ...(manifest.spec.mode ? { mode: manifest.spec.mode } : {}),
    ...(manifest.spec.ceOverrides ? { ceOverrides: manifest.spec.ceOverrides } : {}),
  };
}
