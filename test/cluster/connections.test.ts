/**
 * The Cluster port keeps its connections to the API server: many calls, one TLS connection (as
 * client-go's transport does), where client-node alone opens one per request. Counted by a TCP
 * pass-through in front of the real API server.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { kubeCluster } from '../../functions/_kit/k8s.js';
import { adminKubeconfigPath, freshNamespace } from './kube.js';

let server: Server;
let connections = 0;
let kubeconfig: string;
let ns: string;

beforeAll(async () => {
  ns = await freshNamespace('conn');
  const config = parse(readFileSync(adminKubeconfigPath(), 'utf8')) as { clusters: { cluster: { server: string } }[] };
  const target = new URL(config.clusters[0]!.cluster.server);
  server = createServer((client) => {
    connections++;
    const upstream = createConnection({ host: target.hostname, port: Number(target.port) });
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  // The same credentials and CA; the API server's certificate names 127.0.0.1, so TLS still verifies.
  config.clusters[0]!.cluster.server = `https://127.0.0.1:${port}`;
  kubeconfig = join(tmpdir(), `reflex-conn-${process.pid}.yaml`);
  writeFileSync(kubeconfig, stringify(config));
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

describe('connections to the API server', () => {
  it('twenty calls, one after another, share one connection', async () => {
    const cluster = kubeCluster({ file: kubeconfig });
    for (let i = 0; i < 20; i++) await cluster.get({ apiVersion: 'v1', kind: 'ConfigMap', namespace: ns, name: `none-${i}` });
    // Discovery and the calls themselves: one connection, kept alive.
    expect(connections).toBe(1);
  });
});
