/**
 * test/cluster/adapter — the real Knative ApiServerSource receive adapter, run out of cluster
 * against the test control plane. It always binds :8080 (health) and :8008 (profiling), so only
 * one runs at a time.
 */
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { adminKubeconfigPath } from './kube.js';

export interface AdapterOptions {
  readonly sink: string;
  readonly namespaces: readonly string[];
  /** e.g. [{ Group: '', Version: 'v1', Resource: 'events' }] */
  readonly resources: readonly { Group: string; Version: string; Resource: string; selector?: string }[];
  readonly mode?: 'Resource' | 'Reference';
  readonly kubeconfig?: string;
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
      NAME: 'reflex-events',
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
