/**
 * bench/dev-broker — events per second through the development broker (ingress -> filter ->
 * binary-mode delivery to a local subscriber), against the baseline of POSTing the same events
 * straight to that subscriber, in the same run. Also: CESQL filter evaluations per second against
 * an exact filter. Run: `npm run bench:broker`.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDevBroker } from '../dev/mesh/broker.js';
import { compileFilter } from '../dev/mesh/filters.js';
import { loadMesh } from '../dev/mesh/manifests.js';

const N = 2000;
const CONCURRENCY = 16;

const sub = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.writeHead(202).end());
});
await new Promise<void>((r) => sub.listen(0, '127.0.0.1', r));
const subscriber = `http://127.0.0.1:${(sub.address() as AddressInfo).port}/`;

const dir = mkdtempSync(join(tmpdir(), 'reflex-bench-'));
writeFileSync(join(dir, 'kustomization.yaml'), 'resources: [mesh.yaml]\nnamespace: bench\n');
writeFileSync(
  join(dir, 'mesh.yaml'),
  `apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default }
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: signals }
spec:
  broker: default
  filters:
    - prefix: { type: dev.reflex.signal. }
    - cesql: "reflexclass IN ('crashloop', 'oomkilled') AND severity <> 'info'"
  subscriber: { uri: "${subscriber}" }
`,
);
const mesh = loadMesh(dir);
const broker = await startDevBroker({ mesh, resolve: () => undefined });

const headers = (i: number): Record<string, string> => ({
  'ce-specversion': '1.0',
  'ce-id': `e-${i}`,
  'ce-source': '/bench',
  'ce-type': 'dev.reflex.signal.crashloop',
  'ce-reflexclass': 'crashloop',
  'ce-severity': 'warning',
  'content-type': 'application/json',
});
const body = JSON.stringify({ class: 'crashloop', target: { kind: 'Deployment', namespace: 'shop', name: 'web' } });

async function run(url: string, settle: () => Promise<void>): Promise<number> {
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < N) {
        const i = next++;
        const res = await fetch(url, { method: 'POST', headers: headers(i), body });
        await res.arrayBuffer();
      }
    }),
  );
  await settle();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

// Warm both paths, then measure.
await run(subscriber, async () => {});
await run(broker.ingress('bench', 'default'), () => broker.idle());
const direct = await run(subscriber, async () => {});
const through = await run(broker.ingress('bench', 'default'), () => broker.idle());

const filter = compileFilter(mesh.triggers[0]!);
const attrs = {
  specversion: '1.0',
  id: 'x',
  source: '/b',
  type: 'dev.reflex.signal.crashloop',
  reflexclass: 'crashloop',
  severity: 'warning',
};
const M = 200_000;
const t0 = process.hrtime.bigint();
let passed = 0;
for (let i = 0; i < M; i++) if (filter(attrs)) passed++;
const filterSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
const exact = compileFilter({ filters: [{ exact: { type: 'dev.reflex.signal.crashloop' } }], from: 'bench', name: 'exact' });
const t1 = process.hrtime.bigint();
for (let i = 0; i < M; i++) if (exact(attrs)) passed++;
const exactSeconds = Number(process.hrtime.bigint() - t1) / 1e9;

const rate = (n: number, s: number): string => `${Math.round(n / s).toLocaleString('en')}/s`;
console.log(`${N} events, ${CONCURRENCY} concurrent clients, Node ${process.versions.node}`);
console.log(`| path | events/s | vs baseline |\n| --- | --- | --- |`);
console.log(`| baseline: POST straight to the subscriber | ${rate(N, direct)} | 1.00x |`);
console.log(
  `| through the development broker (ingress + filters + delivery) | ${rate(N, through)} | ${(through / direct).toFixed(2)}x the time |`,
);
console.log(`\n| filter | evaluations/s | vs baseline |\n| --- | --- | --- |`);
console.log(`| baseline: exact type | ${rate(M, exactSeconds)} | 1.00x |`);
console.log(`| prefix + CESQL (IN, AND, <>) | ${rate(M, filterSeconds)} | ${(filterSeconds / exactSeconds).toFixed(2)}x the time |`);
if (passed !== 2 * M) throw new Error('the filters did not pass the event: the benchmark measured the wrong thing');

await broker.close();
sub.close();
