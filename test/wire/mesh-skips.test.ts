/**
 * A Trigger Knative would refuse stops nothing: the mesh reports it, leaves it out and routes the
 * rest (loadMesh's `problems`, startMesh, `reflex dev`); `reflex validate` still fails on it.
 * And the Trigger Knative's webhook takes though the development broker used to refuse it: a
 * `filters` item with no dialect (`not: {}`), which filters nothing.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMesh } from '../../dev/mesh/manifests.js';
import { startMesh } from '../../dev/mesh/mesh.js';
import { projectRoot } from '../../functions/_kit/schemas.js';
import { start, type Proc } from './process.js';

/** Counts the events each path receives. */
interface Sink {
  readonly url: string;
  readonly hits: Record<string, string[]>;
  close(): Promise<void>;
}
async function sink(): Promise<Sink> {
  const hits: Record<string, string[]> = {};
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      (hits[req.url ?? ''] ??= []).push(String(req.headers['ce-type']));
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

function manifests(subscriber: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'reflex-skips-'));
  writeFileSync(join(dir, 'kustomization.yaml'), 'resources: [mesh.yaml]\nnamespace: dev\n');
  const trigger = (name: string, spec: string): string =>
    `apiVersion: eventing.knative.dev/v1\nkind: Trigger\nmetadata: { name: ${name} }\nspec:\n  subscriber: { uri: "${subscriber}/${name}" }\n${spec}`;
  writeFileSync(
    join(dir, 'mesh.yaml'),
    [
      'apiVersion: eventing.knative.dev/v1\nkind: Broker\nmetadata: { name: default }\nspec: {}',
      trigger('good', '  broker: default\n  filters: [{ exact: { type: dev.reflex.a } }]'),
      // Knative's webhook takes an item with no dialect; its filter code reads it as no filter.
      trigger('nodialect', '  broker: default\n  filters: [{ not: {} }]'),
      trigger('badcesql', '  broker: default\n  filters: [{ cesql: "type = = 1" }]'),
      trigger('twodialects', '  broker: default\n  filters: [{ exact: { type: a }, prefix: { type: b } }]'),
      trigger('badtimeout', '  broker: default\n  delivery: { timeout: 30s }'),
      trigger('orphan', '  broker: elsewhere'),
    ].join('\n---\n'),
  );
  return dir;
}

const post = (url: string, type: string): Promise<Response> =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': type, 'ce-source': '/test', 'ce-type': type },
    body: '{}',
  });

const open: { close(): Promise<void> }[] = [];
const procs: Proc[] = [];
afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const o of open) await o.close();
});

describe('a Trigger Knative would refuse', () => {
  it('is reported by loadMesh, with where and why, and left out; the rest loads', async () => {
    const s = await sink();
    open.push(s);
    const mesh = loadMesh(manifests(s.url));
    expect(mesh.triggers.map((t) => t.name).sort()).toEqual(['good', 'nodialect']);
    const said = Object.fromEntries(mesh.problems.map((p) => [p.name, p.message]));
    expect(Object.keys(said).sort()).toEqual(['badcesql', 'badtimeout', 'orphan', 'twodialects']);
    expect(said['badcesql']).toMatch(/mesh\.yaml#4: Trigger badcesql: cesql "type = = 1": .* \(spec\.filters\[0\]\.cesql\)/);
    expect(said['twodialects']).toMatch(/spec\.filters\[0\]: multiple dialects found/);
    expect(said['badtimeout']).toMatch(/spec\.delivery\.timeout: invalid value: 30s/);
    expect(said['orphan']).toMatch(/spec\.broker: names Broker elsewhere, which is not in dev/);
  });

  it('startMesh routes the rest: the good Trigger by its filter, the one with no dialect everything', async () => {
    const s = await sink();
    open.push(s);
    const running = await startMesh({ manifests: manifests(s.url), port: 0, env: {} });
    open.push({ close: () => running.close() });
    expect(running.mesh.problems).toHaveLength(4);
    const ingress = running.broker.ingress('dev', 'default');
    expect((await post(ingress, 'dev.reflex.a')).status).toBe(202);
    expect((await post(ingress, 'dev.reflex.b')).status).toBe(202);
    await running.broker.idle();
    expect(s.hits).toEqual({ '/good': ['dev.reflex.a'], '/nodialect': ['dev.reflex.a', 'dev.reflex.b'] });
  });

  it('reflex dev says what it left out and routes the rest; reflex validate fails naming each', async () => {
    const s = await sink();
    open.push(s);
    const dir = manifests(s.url);
    const env = { HOME: mkdtempSync(join(tmpdir(), 'reflex-home-')), KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '', NO_COLOR: '1' };
    const bin = join(projectRoot(), 'bin', 'reflex.js');

    const dev = start(process.execPath, [bin, 'dev', '--port', '0', '--manifests', dir], env);
    procs.push(dev);
    const deadline = Date.now() + 30_000;
    while (!/broker ingress http/.test(dev.output())) {
      if (Date.now() > deadline || dev.child.exitCode !== null) throw new Error(`reflex dev did not start:\n${dev.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(dev.output()).toMatch(/not loaded \(the rest runs\): .*Trigger badcesql: cesql "type = = 1"/);
    expect(dev.output()).toMatch(/not loaded \(the rest runs\): .*Trigger orphan/);
    const ingress = /broker ingress (http:\/\/\S+)/.exec(dev.output())![1]!;
    expect((await post(ingress, 'dev.reflex.a')).status).toBe(202);
    const until = Date.now() + 10_000;
    while ((s.hits['/good'] ?? []).length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(s.hits['/good']).toEqual(['dev.reflex.a']);
    dev.child.kill('SIGTERM');
    await dev.exited;

    const validate = start(process.execPath, [bin, 'validate', '--manifests', dir], env);
    procs.push(validate);
    expect(await validate.exited).toBe(1);
    for (const name of ['badcesql', 'twodialects', 'badtimeout', 'orphan'])
      expect(validate.output()).toMatch(new RegExp(`Trigger ${name}: `));
    expect(validate.output()).toMatch(/ok Trigger good/);
  }, 60_000);
});
