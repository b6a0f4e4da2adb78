/**
 * dev/reflex — the `reflex` command: run Reflex locally (`start`, `dev`), ask what it would
 * have done (`replay`), check configuration (`validate`). See docs/local.md.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { kubeconfigOf } from '../functions/_kit/k8s.js';
import { projectRoot } from '../functions/_kit/schemas.js';
import { definitionOf, startMesh, defaultManifests } from './mesh/mesh.js';
import { loadMesh, ManifestError } from './mesh/manifests.js';
import { compileFilter } from './mesh/filters.js';
import { feed, play } from './mesh/play.js';
import { readRecording } from './mesh/replay.js';
import { startApiServerWatches, startPingSources } from './mesh/sources.js';
import { lineOf, render, type Line } from './mesh/timeline.js';

const USAGE = `usage: reflex <command> [options]

  start                 Reflex with what this machine has: against the current kube context when
                        there is a kubeconfig, else the bundled incident replayed with no cluster
  dev                   the development broker and every function the manifests deploy
      --manifests DIR     kustomization to load (default: knative/)
      --port P            ingress port (default 8080): POST to http://127.0.0.1:P/<namespace>/<broker>
      --source S          auto (default) | cluster | none | <recording file>
      --act               let recover and scale change the cluster (default: dry-run)
      --no-pings          do not run the manifests' PingSources (sweep, scale ticks)
      --verbose           print every function's log lines too
  replay <file>         what Reflex would have done with a recording (kubectl get events -A -o json,
                        or --watch --output-watch-events NDJSON), with no cluster
      --json              one JSON object per line instead of the table
      --rules FILE        classify with other rules (what-if)
      --manifests DIR
  validate              check the manifests, the rules and every policy, explaining each error
      --manifests DIR
`;

const tty = process.stdout.isTTY;
const out = (s: string): boolean => process.stdout.write(s);
const fail = (msg: string, code = 1): never => {
  process.stderr.write(`reflex: ${msg}\n`);
  process.exit(code);
};

/** The kubeconfig file the functions would load, if there is one on this machine. */
function kubeconfigPath(): string | undefined {
  const source = kubeconfigOf(process.env);
  return source && source !== 'in-cluster' && existsSync(source.file) ? source.file : undefined;
}

const incident = (): string => join(projectRoot(), 'examples', 'incident', 'checkout.ndjson');

async function replayCommand(file: string, opts: { json?: boolean; rules?: string; manifests?: string; banner?: boolean }): Promise<void> {
  let records;
  try {
    records = readRecording(file);
  } catch (err) {
    fail((err as Error).message);
  }
  if (opts.banner)
    out(
      `\nReflex: replaying ${file}\n(no cluster is contacted: the real functions run behind the development broker, in dry-run,\n reading the cluster as the recording knows it)\n\n`,
    );
  const progress = !opts.json && process.stderr.isTTY && records!.length > 200;
  const played = await play(records!, {
    ...(opts.rules ? { rulesFile: resolve(opts.rules) } : {}),
    ...(opts.manifests ? { manifests: resolve(opts.manifests) } : {}),
    onLine: (l) => out(opts.json ? `${JSON.stringify({ at: l.at.toISOString(), kind: l.kind, text: l.text })}\n` : `${render(l, tty)}\n`),
    ...(progress ? { onProgress: (done, total) => process.stderr.write(`\r${done}/${total} events${done === total ? '\n' : ''}`) } : {}),
  }).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
  const count = (k: Line['kind']): number => played.lines.filter((l) => l.kind === k).length;
  if (opts.json) return;
  out(
    `\n${played.bridged} events in (${played.contextOnly} more only described the cluster), ${count('signal')} signals, ` +
      `${count('action')} decisions, ${count('problem')} delivery problems.\n` +
      `Nothing was changed. In a cluster the same Triggers route the same events: see knative/, docs/local.md and docs/events.md.\n`,
  );
}

async function devCommand(opts: {
  manifests?: string;
  port?: string;
  source?: string;
  act?: boolean;
  verbose?: boolean;
  pings?: boolean;
}): Promise<void> {
  const source = opts.source ?? 'auto';
  const kubeconfig = kubeconfigPath();
  const useCluster = source === 'cluster' || (source === 'auto' && kubeconfig !== undefined);
  if (source === 'cluster' && !kubeconfig) fail('--source cluster: no kubeconfig found (KUBECONFIG or ~/.kube/config)');
  const port = Number(opts.port ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port ${opts.port}: not a port number`);
  const running = await startMesh({
    manifests: resolve(opts.manifests ?? defaultManifests()),
    port,
    act: opts.act === true,
    onRecord: (r) => {
      const l = lineOf(r);
      if (l) out(`${render({ ...l, at: l.kind === 'problem' ? new Date() : l.at }, tty)}\n`);
    },
    ...(opts.verbose ? { logSink: (line: string, svc: string) => out(`[${svc}] ${line}\n`) } : {}),
  }).catch((err: unknown) => fail(err instanceof ManifestError || err instanceof Error ? err.message : String(err)));
  const stops: (() => void)[] = [];
  const warn = (m: string): boolean => process.stderr.write(`reflex: ${m}\n`);
  if (useCluster) {
    stops.push(
      await startApiServerWatches(running.mesh, running.broker, undefined, warn).catch((e: unknown) => fail(String((e as Error).message))),
    );
    if (opts.pings !== false) stops.push(startPingSources(running.mesh, running.broker, warn));
  } else if (source !== 'none' && source !== 'auto') {
    // A recording: into the broker as the sources would send it, then keep serving the ingress.
    await Promise.resolve()
      .then(() => feed(running, readRecording(source)))
      .catch((err: unknown) => fail((err as Error).message));
  }
  out(
    `\nReflex dev: ${running.services.size} functions, broker ingress ${running.mesh.brokers.map((b) => running.broker.ingress(b.namespace, b.name)).join(', ')}\n` +
      `  source: ${useCluster ? `the cluster of ${kubeconfig} (${opts.act ? 'ACTING' : 'dry-run'})` : source === 'auto' || source === 'none' ? 'none: POST CloudEvents to the ingress' : source}\n  Ctrl-C to stop.\n\n`,
  );
  const stop = async (): Promise<void> => {
    for (const s of stops) s();
    await running.close(false);
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

async function validateCommand(opts: { manifests?: string }): Promise<void> {
  const dir = resolve(opts.manifests ?? defaultManifests());
  const errors: string[] = [];
  const ok = (m: string): boolean => out(`${tty ? '\u001b[32m✓\u001b[0m' : 'ok'} ${m}\n`);
  let mesh;
  try {
    mesh = loadMesh(dir);
  } catch (err) {
    fail(`✗ ${(err as Error).message}`);
  }
  const count = (kind: string): number => mesh!.objects.filter((o) => o.kind === kind).length;
  ok(
    `${dir}: ${mesh!.objects.length} objects (${count('Broker')} Broker, ${count('Trigger')} Triggers, ${mesh!.services.length} Services)`,
  );
  for (const t of mesh!.triggers) {
    try {
      compileFilter(t);
      const ref = t.subscriber.ref;
      if (ref?.kind === 'Service' && !mesh!.services.some((s) => s.name === ref.name && s.namespace === (ref.namespace ?? t.namespace)))
        throw new Error(`${t.from}: Trigger ${t.name} subscribes Service ${ref.name}, which the manifests do not define`);
      ok(`Trigger ${t.name}`);
    } catch (err) {
      errors.push((err as Error).message);
    }
  }
  for (const s of mesh!.services) {
    const fn = s.args[0] ?? '';
    const def = await definitionOf(s);
    if (!def) {
      errors.push(`${s.from}: Service ${s.name} runs "${fn}", which is not a function in functions/`);
      continue;
    }
    try {
      // Each function's own configuration step reads and validates its files (rules, policies, routes).
      def.configure({ ...s.env });
      const files = Object.entries(s.env).filter(([, v]) => v.startsWith('/') && existsSync(v));
      ok(
        `Service ${s.name} (${fn})${files.length ? `: ${files.map(([k, v]) => `${k}=${v.replace(`${projectRoot()}/`, '')}`).join(', ')}` : ''}`,
      );
    } catch (err) {
      errors.push(`${s.from}: Service ${s.name}: ${(err as Error).message}`);
    }
  }
  for (const e of errors) process.stderr.write(`${tty ? '\u001b[31m✗\u001b[0m' : 'error'} ${e}\n`);
  if (errors.length) process.exit(1);
  out('valid\n');
}

const [command, ...rest] = process.argv.slice(2);
const { values, positionals } = (() => {
  try {
    return parseArgs({
      args: rest,
      allowPositionals: true,
      allowNegative: true,
      options: {
        manifests: { type: 'string' },
        port: { type: 'string' },
        source: { type: 'string' },
        act: { type: 'boolean' },
        verbose: { type: 'boolean' },
        json: { type: 'boolean' },
        rules: { type: 'string' },
        replay: { type: 'boolean' },
        pings: { type: 'boolean' },
      },
    });
  } catch (err) {
    return fail(`${(err as Error).message}\n\n${USAGE}`, 2);
  }
})();

switch (command) {
  case 'start':
    if (kubeconfigPath() && !values.replay) await devCommand({ ...values, source: 'cluster' });
    else await replayCommand(positionals[0] ?? incident(), { banner: true });
    break;
  case 'dev':
    await devCommand(values);
    break;
  case 'replay':
    if (!positionals[0]) fail(`replay needs a file\n\n${USAGE}`, 2);
    await replayCommand(positionals[0]!, values);
    break;
  case 'validate':
    await validateCommand(values);
    break;
  case undefined:
  case 'help':
  case '--help':
  case '-h':
    out(USAGE);
    break;
  default:
    fail(`unknown command ${command}\n\n${USAGE}`, 2);
}
