/**
 * test/cluster/kubelet-server — the kubelet's HTTPS endpoint for container logs, played by a local
 * server: the API server proxies `pods/log` to https://<Node InternalIP>:<kubelet port>/containerLogs/…
 * (it verifies no kubelet certificate here: the control plane has no --kubelet-certificate-authority),
 * so a Node whose status names 127.0.0.1 and this server's port serves its pods' logs from here.
 * Logs are what the test puts: the current and the previous instance of each container.
 */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { admin } from './kube.js';
import { lastLines } from '../../dev/mesh/recorded.js';

export interface KubeletServer {
  readonly port: number;
  /** Makes `node`'s status name this server as its kubelet (InternalIP 127.0.0.1, the kubelet port). */
  serve(node: string): Promise<void>;
  /** What kubelet would read from the container's log file (`previous`: its last terminated instance; undefined: none). */
  setLog(namespace: string, pod: string, container: string, text: string | undefined, previous?: boolean): void;
  /** Each request the API server made, as its path and query. */
  readonly requests: string[];
  /** Misbehaving on purpose: answer only after `delayMs`; send the whole log whatever tailLines and limitBytes say. */
  misbehave(how: { delayMs?: number; ignoreLimits?: boolean }): void;
  close(): Promise<void>;
}

export async function startKubeletServer(): Promise<KubeletServer> {
  const pki = join(process.env['REFLEX_TEST_CLUSTER_DIR'] ?? '', 'pki');
  const logs = new Map<string, string>();
  const requests: string[] = [];
  let faults: { delayMs?: number; ignoreLimits?: boolean } = {};
  const server: Server = createServer(
    { cert: readFileSync(join(pki, 'apiserver.crt')), key: readFileSync(join(pki, 'apiserver.key')) },
    async (req, res) => {
      requests.push(req.url ?? '');
      // Unref'd: a request still held when the tests end must not keep the test process alive.
      if (faults.delayMs) await new Promise((r) => setTimeout(r, faults.delayMs).unref());
      const url = new URL(req.url ?? '/', 'https://kubelet');
      const m = /^\/containerLogs\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
      const text = m ? logs.get(`${m[1]}/${m[2]}/${m[3]}/${url.searchParams.get('previous') === 'true'}`) : undefined;
      if (text === undefined) {
        res.writeHead(404).end('container not found');
        return;
      }
      // kubelet's own limits: tailLines counts from the end, limitBytes cuts what is sent.
      const tail = faults.ignoreLimits ? null : url.searchParams.get('tailLines');
      const out = lastLines(text, tail === null ? undefined : Number(tail));
      const limit = faults.ignoreLimits ? null : url.searchParams.get('limitBytes');
      const body = Buffer.from(out);
      res.writeHead(200, { 'content-type': 'text/plain' }).end(limit !== null ? body.subarray(0, Number(limit)) : body);
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    serve: async (node) => {
      await admin().core.patchNodeStatus(
        {
          name: node,
          body: {
            status: { addresses: [{ type: 'InternalIP', address: '127.0.0.1' }], daemonEndpoints: { kubeletEndpoint: { Port: port } } },
          },
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    },
    setLog: (ns, pod, container, text, previous = false) => {
      const key = `${ns}/${pod}/${container}/${previous}`;
      if (text === undefined) logs.delete(key);
      else logs.set(key, text);
    },
    requests,
    misbehave: (how) => void (faults = how),
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
