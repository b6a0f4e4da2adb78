/**
 * The bundled form the image runs (scripts/bundle.ts: dist/fn/<name>.mjs, schemas compiled at
 * build time into ajv's standalone code) answers exactly as the source does: the same statuses
 * and bodies for good and bad events, the same start-up refusal of a bad rules file; and the
 * OpenTelemetry SDK stays out of its way (a chunk that only an OTLP endpoint makes it load).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from '../../scripts/bundle.js';
import classify from '../../functions/classify/index.js';
import { startServer, type RunningServer } from '../../functions/_kit/index.js';
import { freePort, start, waitFor, type Proc } from './process.js';
import { evictedEvent } from './fixtures/events.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
// Inside the repository: a bundle finds schemas/ by walking up from itself, as in the image.
const dir = mkdtempSync(join(root, '.bundle-test-'));
const out = join(dir, 'fn');
const env = { REFLEX_HOST: '127.0.0.1', REFLEX_RESOLVE_OWNERS: 'names' };

// Every module the bundled process loads (test/wire/record-loads.mjs).
const loads = join(dir, 'loads.txt');

let source: RunningServer;
let bundled: Proc;
let bundledUrl: string;
let outputs: Awaited<ReturnType<typeof bundle>>['outputs'];

beforeAll(async () => {
  ({ outputs } = await bundle(out));
  source = await startServer(classify, { env: { ...env, PORT: '0' }, logSink: () => {} });
  const port = await freePort();
  writeFileSync(loads, '');
  bundled = start(process.execPath, ['--import', join(root, 'test', 'wire', 'record-loads.mjs'), join(out, 'classify.mjs')], {
    ...env,
    PORT: String(port),
    REFLEX_TEST_LOADS: loads,
    // No OTLP endpoint, whatever the shell running the tests has.
    OTEL_EXPORTER_OTLP_ENDPOINT: '',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
  });
  bundledUrl = `http://127.0.0.1:${port}/`;
  await waitFor(`${bundledUrl}readyz`);
}, 60_000);

afterAll(async () => {
  await source?.shutdown();
  bundled?.child.kill('SIGTERM');
  await bundled?.exited;
  rmSync(dir, { recursive: true, force: true });
});

const event = evictedEvent;

/** Requests that pass and fail each schema classify validates with. */
const cases: [string, string, unknown, number][] = [
  ['a good Event', 'dev.knative.apiserver.resource.add', event('b1'), 200],
  ['a name that is a number', 'dev.knative.apiserver.resource.add', event('b2', { metadata: { name: 5 } }), 400],
  ['no metadata', 'dev.knative.apiserver.resource.update', { apiVersion: 'v1', kind: 'Event' }, 400],
  ['a count that is text', 'dev.knative.apiserver.resource.add', event('b3', { count: 'many' }), 400],
  ['a time that is not a date-time', 'dev.knative.apiserver.resource.add', event('b4', { lastTimestamp: 'yesterday' }), 400],
  ['an array', 'dev.knative.apiserver.resource.add', [1, 2], 400],
  ['a reference', 'dev.knative.apiserver.ref.add', { apiVersion: 'v1', kind: 'Event', name: 'b5', namespace: 'shop' }, 202],
  ['a reference without a kind', 'dev.knative.apiserver.ref.add', { apiVersion: 'v1', name: 'b6' }, 400],
  ['an alert without labels', 'dev.reflex.alert.firing', { status: 'firing' }, 400],
];

async function answer(url: string, type: string, body: unknown, i: number): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'ce-specversion': '1.0',
      'ce-id': `b-${i}`,
      'ce-source': 'https://10.96.0.1:443',
      'ce-type': type,
      'content-type': 'application/json',
    },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: compared as text
  }
  return { status: res.status, body: parsed };
}

describe('the bundled function', () => {
  it.each(cases.map((c, i) => [...c, i] as const))('answers %s as the source does', async (_what, type, body, status, i) => {
    const [theirs, ours] = await Promise.all([answer(source.url, type, body, i), answer(bundledUrl, type, body, i)]);
    expect(theirs.status).toBe(status);
    expect(ours).toEqual(theirs);
  });

  it('refuses a bad rules file at start-up with the source’s words', async () => {
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, 'rules:\n  - name: 5\n');
    const refused = start(process.execPath, [join(out, 'classify.mjs')], { ...env, PORT: '0', REFLEX_RULES_FILE: rules });
    expect(await refused.exited).not.toBe(0);
    let expected = '';
    try {
      await startServer(classify, { env: { ...env, PORT: '0', REFLEX_RULES_FILE: rules }, logSink: () => {} });
    } catch (err) {
      expected = (err as Error).message;
    }
    expect(expected).not.toBe('');
    expect(refused.output()).toContain(JSON.stringify(expected).slice(1, -1));
  });
});

describe('the OpenTelemetry SDK', () => {
  /** The SDK and the kit's adapter; not @opentelemetry/api, which prom-client's default metrics load anyway. */
  const isSdk = (input: string): boolean => /node_modules\/@opentelemetry\/(?!api\/)|functions\/_kit\/otel\.ts$/.test(input);
  const withSdk = (): string[] => Object.keys(outputs).filter((o) => Object.keys(outputs[o]!.inputs).some(isSdk));

  it('is in chunks that only a dynamic import reaches, never on the way a function starts', () => {
    expect(withSdk().length).toBeGreaterThan(0);
    for (const [file, output] of Object.entries(outputs)) {
      // A function's own entry (a dynamic import's target is an entry point too).
      if (!output.entryPoint?.startsWith('reflex-fn:')) continue;
      const reached = new Set<string>();
      const walk = (f: string): void => {
        if (reached.has(f) || !outputs[f]) return;
        reached.add(f);
        for (const i of outputs[f].imports) if (i.kind === 'import-statement' && !i.external) walk(i.path);
      };
      walk(file);
      expect([file, [...reached].flatMap((f) => Object.keys(outputs[f]!.inputs).filter(isSdk))]).toEqual([file, []]);
    }
  });

  it('is never loaded by a bundled function without an OTLP endpoint, events handled and all', () => {
    const loaded = readFileSync(loads, 'utf8').split('\n').filter(Boolean);
    expect(loaded.some((u) => u.endsWith('/classify.mjs'))).toBe(true);
    const chunks = withSdk().map((o) => `/${o.split('/').pop()}`);
    expect(loaded.filter((u) => chunks.some((c) => u.endsWith(c)))).toEqual([]);
  });
});
