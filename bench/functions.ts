/**
 * bench/functions — issue 19: every function as a process, side by side with two baselines
 * measured in the same run and started the same way (`node <entry file>`): a bare node:http
 * server that reads the body and answers 202, and Knative Functions' Node runtime
 * (faas-js-runtime) with a CloudEvent function that returns nothing.
 *
 *   cold start   spawn -> first 2xx to a realistic event, POSTed in a tight retry loop
 *   load         autocannon at c=1 and c=20: requests/s, p50, p99, server CPU per event
 *   memory       VmRSS after start, and classify's after 10k and 100k distinct events
 *
 * Functions that call the Kubernetes API (classify resolving owners, recover, scale, sweep) run
 * as their own ServiceAccount, with the RBAC of knative/, in dry-run, against the test control
 * plane (test/cluster/control-plane.ts, binaries from `npm run cluster:build`); without those
 * binaries they are left out and the report says so.
 *
 *   npm run build && node --import tsx bench/functions.ts   (or: npm run bench)
 *   BENCH_ROUNDS=5 BENCH_SECONDS=5 BENCH_ONLY=classify-new,faas BENCH_NO_CLUSTER=1 BENCH_NO_MEMORY=1
 *   BENCH_CPU_PROF=<dir> (V8 CPU profiles of every process)
 *   BENCH_IGNORE_JEST=1 (to try it out: by default each step waits while a jest run is going on)
 *
 * Prints a markdown report and writes it to bench/results/<date>.md, raw numbers to <date>.json.
 */
import autocannon from 'autocannon';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { freePort } from '../test/wire/process.js';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const ONLY = process.env['BENCH_ONLY']?.split(',').filter((s) => s !== '');
const CONCURRENCY = [1, 20] as const;
const MEMORY_EVENTS = [10_000, 100_000] as const;
const ALERTS_TOKEN = 'bench-0123456789abcdef0123456789abcdef';
const version = (pkg: string): string =>
  (JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;

// ---------------------------------------------------------------------------------------------
// How processes start: the one place that knows a function's start command.

export interface Command {
  readonly command: string;
  readonly args: readonly string[];
}

/** A function's start command: the bundle (dist/fn/<name>.mjs) when built, else the tsc output. */
export function functionCommand(name: string): Command {
  const bundled = join(root, 'dist', 'fn', `${name}.mjs`);
  if (existsSync(bundled)) return { command: process.execPath, args: [bundled] };
  return { command: process.execPath, args: [join(root, 'dist', 'scripts', 'function.js'), name] };
}

/** The baselines' files, in a folder of their own (faas-js-runtime reads func.yaml from its cwd). */
const scratch = mkdtempSync(join(tmpdir(), 'reflex-bench-'));
writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'bench-fn', version: '1.0.0', type: 'commonjs' }));
// What `func create -l node -t cloudevents` gives, minus its logging: a CloudEvent in, nothing back (204).
writeFileSync(join(scratch, 'index.js'), 'const handle = async (context, cloudevent) => {};\nmodule.exports = { handle };\n');
writeFileSync(
  join(scratch, 'bare.js'),
  `require('node:http')
  .createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      Buffer.concat(chunks);
      res.statusCode = 202;
      res.end();
    });
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`,
);
// The Slack webhook and the Broker (K_SINK) of the functions that send: 200 "ok", fast; GET /hits counts what it took.
writeFileSync(
  join(scratch, 'sink.js'),
  `let hits = 0;
require('node:http')
  .createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/hits') return void res.end(String(hits));
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      hits++;
      res.end('ok');
    });
  })
  .listen(Number(process.env.PORT), '127.0.0.1');
`,
);
const SINK: Command = { command: process.execPath, args: [join(scratch, 'sink.js')] };
const BARE: Command = { command: process.execPath, args: [join(scratch, 'bare.js')] };
/** What the runtime's image runs (`npm start` = `faas-js-runtime ./index.js`), without npm in front. */
const FAAS: Command = { command: process.execPath, args: [join(root, 'node_modules', 'faas-js-runtime', 'bin', 'cli.js'), './index.js'] };

// ---------------------------------------------------------------------------------------------
// Events, as their senders write them.

interface Req {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}
/** The i-th request of a workload (a workload that repeats one event ignores i). */
type Gen = (i: number) => Req;

const stamp = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
/** apimachinery's rand.String alphabet, for generated pod-name suffixes. */
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const suffix = (n: number): string =>
  Array.from({ length: 5 }, (_, i) => ALPHABET[Math.floor(n / ALPHABET.length ** i) % ALPHABET.length]).join('');

/** A kubelet BackOff Event (5 occurrences in 2 minutes: past crashloop's 3) as the ApiServerSource delivers it. */
function backoff(i: number, pod: { namespace: string; name: string; uid: string }, seq = i): Req {
  const now = Date.now();
  const name = `${pod.name}.${(0x18799a1a2b3c0000 + i).toString(16)}`;
  const event = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: {
      name,
      namespace: pod.namespace,
      uid: `e-${pod.uid}-${i}`,
      resourceVersion: String(1000 + i),
      creationTimestamp: stamp(now - 120_000),
    },
    involvedObject: {
      apiVersion: 'v1',
      kind: 'Pod',
      namespace: pod.namespace,
      name: pod.name,
      uid: pod.uid,
      fieldPath: 'spec.containers{app}',
    },
    reason: 'BackOff',
    message: `Back-off restarting failed container app in pod ${pod.name}_${pod.namespace}(${pod.uid})`,
    type: 'Warning',
    source: { component: 'kubelet', host: 'node-2' },
    count: 5,
    firstTimestamp: stamp(now - 120_000),
    lastTimestamp: stamp(now),
    eventTime: null,
    reportingComponent: 'kubelet',
    reportingInstance: 'node-2',
  };
  return {
    path: '/',
    headers: {
      'ce-specversion': '1.0',
      'ce-id': `0b0c0d0e-bench-${seq}`,
      'ce-source': 'https://10.96.0.1:443',
      'ce-type': 'dev.knative.apiserver.resource.update',
      'ce-subject': `/apis/v1/namespaces/${pod.namespace}/events/${name}`,
      'ce-time': new Date(now).toISOString(),
      'ce-kind': 'Event',
      'ce-apiversion': 'v1',
      'ce-name': name,
      'ce-namespace': pod.namespace,
      'content-type': 'application/json',
    },
    body: JSON.stringify(event),
  };
}

/** A distinct Deployment's pod per request: every event is a new problem, so a new signal. */
const newSignal: Gen = (i) => backoff(i, { namespace: 'shop', name: `web${i}-6f9d8c7b5-${suffix(i)}`, uid: `p-${i}` });
/** One Event delivered again and again: after the first, classify drops it as a duplicate. */
const duplicate: Gen = () => backoff(0, { namespace: 'shop', name: 'web-6f9d8c7b5-q7x2m', uid: 'p-q7x2m' });

/** A signal as classify emits it (notify, recover, deadletter take these). */
function signal(
  i: number,
  cls: string,
  target: { namespace: string; name: string },
  pod: string,
  extra: Record<string, unknown> = {},
): Req {
  const now = Date.now();
  const data = {
    class: cls,
    severity: 'warning',
    reason: 'BackOff',
    message: `Back-off restarting failed container app in pod ${pod}_${target.namespace}(p)`,
    rule: 'crashloop-backoff',
    target: { apiVersion: 'apps/v1', kind: 'Deployment', ...target, resolvedBy: 'ownerReferences' },
    involved: { apiVersion: 'v1', kind: 'Pod', namespace: target.namespace, name: pod },
    container: 'app',
    occurrences: 5,
    firstSeen: new Date(now - 120_000).toISOString(),
    lastSeen: new Date(now).toISOString(),
    detectedBy: 'classify',
    key: i.toString(16).padStart(16, '0'),
    ...extra,
  };
  return {
    path: '/',
    headers: {
      'ce-specversion': '1.0',
      'ce-id': `sig-bench-${i}`,
      'ce-source': '/reflex/classify',
      'ce-type': `dev.reflex.signal.${cls}`,
      'ce-subject': `apps/v1/namespaces/${target.namespace}/deployments/${target.name}`,
      'ce-reflexclass': cls,
      'ce-severity': 'warning',
      'content-type': 'application/json',
    },
    body: JSON.stringify(data),
  };
}

/** notify: a new problem per request, so each one is a message to the (local) Slack webhook. */
const notifyNew: Gen = (i) => signal(i, 'crashloop', { namespace: 'shop', name: `web${i}` }, `web${i}-6f9d8c7b5-${suffix(i)}`);
/** deadletter: a signal the Broker could not deliver to recover. */
const deadLettered: Gen = (i) => {
  const s = signal(i, 'crashloop', { namespace: 'shop', name: 'web' }, 'web-6f9d8c7b5-q7x2m');
  return {
    ...s,
    headers: {
      ...s.headers,
      'ce-knativeerrordest': 'http://recover.reflex.svc.cluster.local',
      'ce-knativeerrorcode': '503',
      'ce-knativeerrordata': Buffer.from('recover is starting').toString('base64'),
    },
  };
};
/** alerts: Alertmanager's webhook as it posted it (grouped, firing), repeated: folded after the first. */
const alertmanager: Gen = () => ({
  path: '/alertmanager',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${ALERTS_TOKEN}`, 'user-agent': 'Alertmanager/0.35.0' },
  body: readFileSync(join(root, 'test', 'wire', 'fixtures', 'alertmanager', 'firing-grouped.json'), 'utf8'),
});
/** sweep and scale: a PingSource tick. */
const tick: Gen = (i) => ({
  path: '/',
  headers: {
    'ce-specversion': '1.0',
    'ce-id': `tick-bench-${i}`,
    'ce-source': '/apis/v1/namespaces/reflex/pingsources/reflex-sweep',
    'ce-type': 'dev.knative.sources.ping',
    'ce-time': new Date().toISOString(),
    'content-type': 'application/json',
  },
  body: '{}',
});

// ---------------------------------------------------------------------------------------------
// Processes.

interface Target {
  readonly id: string;
  readonly label: string;
  readonly process: 'bare' | 'faas' | string;
  readonly command: Command;
  readonly env: Record<string, string>;
  readonly cwd: string;
  readonly event: Gen;
  /** A new request body per request (autocannon's setupRequest), or one repeated. */
  readonly varies: boolean;
  /** Runs against the control plane. */
  readonly cluster?: boolean;
}

interface Proc {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly stderr: () => string;
  readonly exited: Promise<void>;
  /** How it ended, if it has: exit code or signal, and the end of its stderr. */
  ended(): string | undefined;
  stop(): Promise<void>;
}

/** The child's environment: ours without what would change how it starts (tsx's hooks, a kubeconfig). */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const drop = new Set(['NODE_OPTIONS', 'KUBECONFIG', 'K_SINK', 'PORT', 'FUNC_PORT']);
  return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !drop.has(k))), ...extra };
}

function launch(command: Command, env: Record<string, string>, cwd: string, port: number): Proc {
  // stdout to /dev/null (logs cost their serialisation and a write, as into a container's pipe), stderr kept for errors.
  // BENCH_CPU_PROF=<dir>: a V8 CPU profile per process (written when it exits on SIGTERM), to see where the time goes.
  const prof = process.env['BENCH_CPU_PROF'];
  const args = prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`, ...command.args] : command.args;
  const child = spawn(command.command, args, {
    cwd,
    env: childEnv({ ...env, PORT: String(port), FUNC_PORT: String(port) }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  let ended: string | undefined;
  let stopping = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      if (!stopping) ended = `exited (${signal ?? `code ${code}`})${err ? `; stderr: ${err.slice(-1500)}` : ''}`;
      resolve();
    }),
  );
  return {
    child,
    pid: child.pid!,
    port,
    stderr: () => err,
    exited,
    ended: () => ended,
    stop: async () => {
      stopping = true;
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (prof) {
        child.kill('SIGTERM');
        if (await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)])) return;
      }
      child.kill('SIGKILL');
      await exited;
    },
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One POST on a fresh connection; undefined while nothing listens. */
function post(port: number, req: Req): Promise<Answer | undefined> {
  return new Promise((resolve) => {
    const r = request({ host: '127.0.0.1', port, method: 'POST', path: req.path, headers: req.headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', () => resolve(undefined));
    });
    r.on('error', () => resolve(undefined));
    r.end(req.body);
  });
}

/** A GET's body, or undefined while nothing listens. */
function get(port: number, path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    })
      .on('error', () => resolve(undefined))
      .end();
  });
}

/** How many requests the local sink (webhook, Broker) has taken so far. */
let sinkHits = async (): Promise<number> => NaN;

/** VmRSS of a process, MiB. */
function rssMiB(pid: number): number {
  if (!existsSync(`/proc/${pid}/status`)) return NaN;
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
/** CPU time (user + system) a process has used, ms. */
function cpuMs(pid: number): number {
  if (!existsSync(`/proc/${pid}/stat`)) return NaN;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

/** What an answer says, for the record: status, reply type, and an acting function's outcome. */
function describe(a: Answer): string {
  const type = a.headers['ce-type'];
  let outcome = '';
  if (typeof type === 'string' && type.startsWith('dev.reflex.action.')) {
    try {
      const d = JSON.parse(a.body) as { outcome?: string; reason?: string };
      outcome = ` ${d.outcome}: ${(d.reason ?? '').slice(0, 100)}`;
    } catch {
      // not JSON: the status says enough
    }
  }
  return `${a.status}${typeof type === 'string' ? ` ${type}` : ''}${outcome}`;
}

interface Started {
  readonly proc: Proc;
  /** spawn -> the first HTTP response of any status (listening). */
  readonly listeningMs: number;
  /** spawn -> the first 2xx. */
  readonly answeredMs: number;
  readonly answer: string;
}

/** Spawns a target and POSTs its first event until a 2xx answers it (503 while starting: again). */
async function start(t: Target, first: Req): Promise<Started> {
  const port = await freePort();
  const t0 = performance.now();
  const proc = launch(t.command, t.env, t.cwd, port);
  let listeningMs: number | undefined;
  let dead = false;
  void proc.exited.then(() => (dead = true));
  for (;;) {
    const a = await post(port, first);
    const ms = performance.now() - t0;
    if (a) {
      listeningMs ??= ms;
      if (a.status >= 200 && a.status < 300) return { proc, listeningMs, answeredMs: ms, answer: describe(a) };
      if (a.status !== 503) {
        await proc.stop();
        throw new Error(`${t.id}: the first event was answered ${a.status}: ${a.body.slice(0, 500)}`);
      }
    }
    if (dead) throw new Error(`${t.id} exited before answering: ${proc.stderr()}`);
    if (ms > 60_000) {
      await proc.stop();
      throw new Error(`${t.id}: no 2xx within 60 s; stderr: ${proc.stderr()}`);
    }
    await sleep(2);
  }
}

// ---------------------------------------------------------------------------------------------
// Sharing the machine: wait for the CI's jest, note what else runs.

const context = { jestWaitedSeconds: 0, jestStillRunning: [] as string[], load1: [] as number[], busy: [] as string[] };

function jestRunning(): boolean {
  if (process.env['BENCH_IGNORE_JEST']) return false; // trying the bench out, not measuring
  return spawnSync('pgrep', ['-f', 'jest.js'], { stdio: 'ignore' }).status === 0;
}

/** Before a heavy step: wait while a jest run is going on (every 20 s, up to 15 minutes). */
async function quiet(step: string): Promise<void> {
  const deadline = Date.now() + 15 * 60_000;
  let waited = false;
  while (jestRunning()) {
    if (Date.now() > deadline) {
      context.jestStillRunning.push(step);
      log(`jest still running after 15 minutes; measuring ${step} anyway`);
      break;
    }
    if (!waited) log(`waiting for the jest run to end before ${step}`);
    waited = true;
    await sleep(20_000);
    context.jestWaitedSeconds += 20;
  }
  context.load1.push(loadavg()[0]!);
}

/** The busiest processes (lifetime CPU share, RSS in KiB, command name), for the record. */
function busiest(): string {
  // Command names only: other processes' arguments are not ours to record.
  const ps = spawnSync('ps', ['-eo', 'pcpu,rss,comm', '--sort=-pcpu', '--no-headers'], { encoding: 'utf8' });
  return (ps.stdout ?? '')
    .split('\n')
    .slice(0, 6)
    .map((l) => l.trim().slice(0, 140))
    .filter((l) => l !== '')
    .join('\n');
}

const log = (msg: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// ---------------------------------------------------------------------------------------------
// Load.

interface Run {
  readonly connections: number;
  readonly seconds: number;
  readonly ok: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** Server CPU per event sent (those in flight at the end included, until the server is idle again), µs. */
  readonly cpuUsPerEvent: number;
  /** The load generator's own CPU over the run, as a share of one core. */
  readonly loaderCore: number;
  /** Requests the function made to the local sink (Slack webhook, Broker) per answered event. */
  readonly sinkCallsPerEvent: number;
  readonly statusCodes: Record<string, number>;
}

/** Until the process uses no more than a clock tick of CPU in 150 ms (at most 20 s). */
async function settle(proc: Proc): Promise<void> {
  const deadline = performance.now() + 20_000;
  let last = cpuMs(proc.pid);
  while (performance.now() < deadline) {
    await sleep(150);
    const now = cpuMs(proc.pid);
    if (!(now - last > 10)) return; // idle, or gone
    last = now;
  }
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** autocannon against a running target; latency from each response's own timing (sub-millisecond). */
async function hammer(
  t: Target,
  proc: Proc,
  connections: number,
  limit: { seconds: number } | { amount: number },
  next: () => number,
): Promise<Run> {
  const first = t.event(next());
  const latencies: number[] = [];
  const hits0 = await sinkHits();
  const cpu0 = cpuMs(proc.pid);
  const own0 = process.cpuUsage();
  const wall0 = performance.now();
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${proc.port}${first.path}`,
        method: 'POST',
        connections,
        ...('seconds' in limit ? { duration: limit.seconds } : { amount: limit.amount }),
        headers: first.headers,
        body: first.body,
        ...(t.varies
          ? {
              requests: [
                {
                  setupRequest: (r: autocannon.Request): autocannon.Request => {
                    const q = t.event(next());
                    r.headers = q.headers;
                    r.body = q.body;
                    return r;
                  },
                },
              ],
            }
          : {}),
      },
      (err, res) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(res)),
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
  const wall = (performance.now() - wall0) / 1000;
  const own = process.cpuUsage(own0);
  // Requests still in flight when the time is up finish now, not in the next measurement; their CPU is counted here.
  await settle(proc);
  const sorted = Float64Array.from(latencies).sort();
  const ok = result['2xx'];
  const sent = Math.max(result.requests.sent, ok);
  const cpu = cpuMs(proc.pid) - cpu0;
  const hits = (await sinkHits()) - hits0;
  return {
    connections,
    seconds: result.duration,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    rps: ok / result.duration,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    cpuUsPerEvent: sent > 0 ? (cpu * 1000) / sent : NaN,
    loaderCore: (own.user + own.system) / 1e6 / wall,
    sinkCallsPerEvent: ok > 0 ? hits / ok : NaN,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count ?? 0])),
  };
}

// ---------------------------------------------------------------------------------------------
// The steps.

interface ColdStart {
  readonly listeningMs: number[];
  readonly answeredMs: number[];
  readonly rssMiB: number[];
  answer: string;
}
interface Results {
  date: string;
  node: string;
  cpus: string;
  rounds: number;
  seconds: number;
  versions: Record<string, string>;
  commands: Record<string, string>;
  coldStart: Record<string, ColdStart>;
  load: Record<string, { label: string; answer: string; runs: Run[] }>;
  memory: { idleMiB?: number; after: Record<string, number> };
  cluster: { used: boolean; why?: string; startedInMs?: number };
  context: typeof context & { busiestAtStart: string; busiestAtEnd?: string };
  errors: string[];
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const wanted = (t: Target): boolean => !ONLY || ONLY.includes(t.id) || ONLY.includes(t.process);

/** Cold starts, interleaved: round r starts every target once (one at a time), so drift hits all alike. */
async function coldStarts(targets: readonly Target[], results: Results): Promise<void> {
  for (let r = 0; r < ROUNDS; r++) {
    await quiet(`cold-start round ${r + 1}`);
    for (const t of targets) {
      const rec = (results.coldStart[t.id] ??= { listeningMs: [], answeredMs: [], rssMiB: [], answer: '' });
      try {
        const s = await start(t, t.event(r));
        // Idle after its first event: what a scaled-from-zero replica holds while it waits for more.
        await sleep(500);
        rec.listeningMs.push(s.listeningMs);
        rec.answeredMs.push(s.answeredMs);
        rec.rssMiB.push(rssMiB(s.proc.pid));
        rec.answer = s.answer;
        await s.proc.stop();
        log(`cold start ${t.id}: ${s.answeredMs.toFixed(0)} ms (listening at ${s.listeningMs.toFixed(0)} ms) -> ${s.answer}`);
      } catch (err) {
        results.errors.push(`cold start ${t.id}: ${(err as Error).message}`);
        log(`cold start ${t.id} failed: ${(err as Error).message}`);
      }
      await sleep(200);
    }
  }
}

/** A process that ended under load is reported once (with its stderr) and measured no more. */
function gone(t: Target, proc: Proc, results: Results): boolean {
  const ended = proc.ended();
  if (ended === undefined) return false;
  const note = `load ${t.id}: the process ${ended}`;
  if (!results.errors.includes(note)) {
    results.errors.push(note);
    log(note);
  }
  return true;
}

/** Load at each concurrency, rounds interleaved across targets (all started, one measured at a time). */
async function loads(targets: readonly Target[], results: Results): Promise<void> {
  const running: { t: Target; proc: Proc; next: () => number }[] = [];
  try {
    for (const t of targets) {
      let n = 1_000_000; // clear of the cold-start events' numbers
      const next = (): number => n++;
      try {
        const s = await start(t, t.event(next()));
        // The path this workload measures, as one more request shows it (a duplicate's second delivery…).
        const check = await post(s.proc.port, t.event(next()));
        results.load[t.id] = { label: t.label, answer: check ? describe(check) : 'no answer', runs: [] };
        running.push({ t, proc: s.proc, next });
      } catch (err) {
        results.errors.push(`load ${t.id}: ${(err as Error).message}`);
      }
    }
    // Warm-up (JIT, pools, the first allocation of memories), not recorded.
    await quiet('load warm-up');
    for (const { t, proc, next } of running) if (!gone(t, proc, results)) await hammer(t, proc, 20, { seconds: 1 }, next);
    for (let r = 0; r < ROUNDS; r++) {
      await quiet(`load round ${r + 1}`);
      const measures = running.flatMap((x) => CONCURRENCY.map((c) => ({ ...x, c })));
      for (const { t, proc, next, c } of measures) {
        if (gone(t, proc, results)) continue;
        const run = await hammer(t, proc, c, { seconds: SECONDS }, next);
        results.load[t.id]!.runs.push(run);
        log(
          `load ${t.id} c=${c}: ${run.rps.toFixed(0)}/s p50 ${run.p50.toFixed(2)} ms p99 ${run.p99.toFixed(2)} ms ` +
            `${run.cpuUsPerEvent.toFixed(0)} µs CPU/event${run.non2xx || run.errors ? ` (${run.non2xx} non-2xx, ${run.errors} errors)` : ''}`,
        );
      }
    }
  } finally {
    for (const { proc } of running) await proc.stop();
  }
}

/** classify's memory: idle, then after 10k and 100k distinct events (a new problem each). */
async function memory(t: Target, results: Results): Promise<void> {
  await quiet('memory');
  let n = 2_000_000;
  const next = (): number => n++;
  const s = await start(t, t.event(next()));
  try {
    await sleep(1000);
    results.memory.idleMiB = rssMiB(s.proc.pid);
    let sent = 1;
    for (const total of MEMORY_EVENTS) {
      const run = await hammer(t, s.proc, 20, { amount: total - sent }, next);
      sent = total;
      await sleep(1000);
      results.memory.after[String(total)] = rssMiB(s.proc.pid);
      log(`memory classify after ${total} events: ${results.memory.after[String(total)]!.toFixed(0)} MiB (${run.rps.toFixed(0)}/s)`);
    }
  } finally {
    await s.proc.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// The control plane, for the functions that call the API.

interface ClusterBed {
  readonly kubeconfigs: Record<string, string>;
  readonly namespace: string;
  readonly pod: { namespace: string; name: string; uid: string };
  /** The load Event scale reads back as evidence. */
  readonly evidence: Record<string, unknown>;
  readonly startedInMs: number;
  stop(): Promise<void>;
}

/** The test harness's control plane (cached binaries only: the bench never starts a 15-minute build). */
async function clusterBed(): Promise<ClusterBed | string> {
  if (process.env['BENCH_NO_CLUSTER']) return 'BENCH_NO_CLUSTER is set';
  const printed = spawnSync('bash', [join(root, 'test', 'cluster', 'build.sh'), '--print-dir'], { encoding: 'utf8' });
  const cache = printed.stdout?.trim() ?? '';
  const binDir = join(cache, 'bin');
  if (printed.status !== 0 || !existsSync(join(binDir, 'kube-apiserver')))
    return `no control-plane binaries in ${binDir || 'the cache'}: run npm run cluster:build`;
  const { startControlPlane, useControlPlane } = await import('../test/cluster/control-plane.js');
  const cp = await startControlPlane({ binDir });
  try {
    useControlPlane(cp);
    const { admin, asFunction, eventually, freshNamespace } = await import('../test/cluster/kube.js');
    const a = admin();
    const namespace = await freshNamespace('bench', { 'reflex.dev/enabled': 'true' });
    const { createDeployment, crashLoopingStatus, setPodStatus } = await import('../test/cluster/kubelet.js');
    for (const [name, replicas] of [
      ['web', 1],
      ['worker', 2],
    ] as const)
      await createDeployment(namespace, name, {
        replicas,
        resources: { limits: { memory: '256Mi' }, requests: { memory: '128Mi', cpu: '100m' } },
      });
    // The replicaset controller makes web's pod (nobody schedules it: owners are what classify reads).
    const webPod = await eventually(
      'the web pod',
      async () => (await a.core.listNamespacedPod({ namespace, labelSelector: 'app=web' })).items[0],
    );
    // Playing the kubelet: its container keeps crashing, so recover confirms the crash loop it is told about.
    await setPodStatus(webPod, crashLoopingStatus('registry.example/web:1.0', 5));
    const pod = { namespace, name: webPod.metadata!.name!, uid: webPod.metadata!.uid! };
    const live = await a.apps.readNamespacedDeployment({ name: 'worker', namespace });
    const now = new Date();
    const e = await a.core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { name: `worker.${randomBytes(4).toString('hex')}`, namespace },
        involvedObject: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'worker', namespace, uid: live.metadata!.uid! },
        reason: 'QueueBacklogHigh',
        message: 'orders backlog',
        type: 'Warning',
        source: { component: 'orders' },
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
      },
    });
    const kubeconfigs: Record<string, string> = {};
    for (const f of ['classify', 'recover', 'scale', 'sweep']) kubeconfigs[f] = await asFunction(f);
    return {
      kubeconfigs,
      namespace,
      pod,
      evidence: { api: 'core/v1 Event', object: JSON.parse(JSON.stringify(e)) as Record<string, unknown> },
      startedInMs: cp.startedInMs,
      stop: () => cp.stop(),
    };
  } catch (err) {
    await cp.stop();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Targets.

function targets(sink: string, bed: ClusterBed | undefined): { cold: Target[]; load: Target[]; cluster: Target[] } {
  const reflex = (id: string, name: string, label: string, event: Gen, varies: boolean, env: Record<string, string> = {}): Target => ({
    id,
    label,
    process: name,
    command: functionCommand(name),
    env: { REFLEX_HOST: '127.0.0.1', ...env },
    cwd: root,
    event,
    varies,
  });
  const bare: Target = {
    id: 'bare',
    label: 'bare node:http',
    process: 'bare',
    command: BARE,
    env: {},
    cwd: scratch,
    event: newSignal,
    varies: true,
  };
  const faas: Target = {
    id: 'faas',
    label: `faas-js-runtime ${version('faas-js-runtime')}`,
    process: 'faas',
    command: FAAS,
    env: {},
    cwd: scratch,
    event: newSignal,
    varies: true,
  };
  const names = { REFLEX_RESOLVE_OWNERS: 'names' };
  const notifyEnv = { REFLEX_SLACK_WEBHOOK_URL: `${sink}/services/T000/B000/XXXX`, REFLEX_CLUSTER_NAME: 'bench' };
  const alertsEnv = { K_SINK: sink, REFLEX_ALERTS_BEARER_TOKEN: ALERTS_TOKEN };
  const local = {
    deadletter: reflex('deadletter', 'deadletter', 'deadletter (a dead-lettered signal)', deadLettered, true),
    classifyNew: reflex('classify-new', 'classify', 'classify, new signal per request (owners by name)', newSignal, true, names),
    classifyDup: reflex('classify-dup', 'classify', 'classify, the same Event repeated (owners by name)', duplicate, false, names),
    notify: reflex('notify', 'notify', 'notify, new problem per request -> local Slack webhook', notifyNew, true, notifyEnv),
    alerts: reflex('alerts', 'alerts', 'alerts, the same Alertmanager notification repeated (folded)', alertmanager, false, alertsEnv),
  };
  const cluster: Target[] = [];
  if (bed) {
    const kc = (f: string): Record<string, string> => ({ KUBECONFIG: bed.kubeconfigs[f]!, REFLEX_DRY_RUN: 'true' });
    const ns = bed.namespace;
    const pod = bed.pod;
    cluster.push(
      {
        ...reflex(
          'classify-owners',
          'classify',
          'classify, owners from the API (cached 60 s): new occurrences of one crash loop, held',
          (i) => backoff(i, pod),
          true,
          {
            KUBECONFIG: bed.kubeconfigs['classify']!,
            REFLEX_RESOLVE_OWNERS: 'cluster',
          },
        ),
        cluster: true,
      },
      {
        ...reflex(
          'recover',
          'recover',
          'recover, crashloop on a Deployment (dry-run)',
          (i) => signal(i, 'crashloop', { namespace: ns, name: 'web' }, pod.name),
          true,
          kc('recover'),
        ),
        cluster: true,
      },
      {
        ...reflex(
          'scale',
          'scale',
          'scale, loadhigh on a Deployment (dry-run)',
          (i) =>
            signal(i, 'loadhigh', { namespace: ns, name: 'worker' }, 'worker', {
              severity: 'info',
              reason: 'QueueBacklogHigh',
              message: 'orders backlog',
              rule: undefined,
              container: undefined,
              involved: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name: 'worker' },
              target: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: ns, name: 'worker', resolvedBy: 'self' },
              key: 'b0a7c1d2e3f40516',
              evidence: bed.evidence,
            }),
          true,
          kc('scale'),
        ),
        cluster: true,
      },
      {
        ...reflex('sweep', 'sweep', 'sweep, a PingSource tick (lists the opted-in namespaces)', tick, true, {
          ...kc('sweep'),
          K_SINK: sink,
        }),
        cluster: true,
      },
    );
  }
  return {
    cold: [bare, faas, local.deadletter, local.classifyNew, local.notify, local.alerts],
    load: [bare, faas, local.deadletter, local.classifyDup, local.classifyNew, local.notify, local.alerts],
    cluster,
  };
}

// ---------------------------------------------------------------------------------------------
// The report.

const f0 = (x: number): string => (Number.isNaN(x) ? '–' : Math.round(x).toLocaleString('en-US'));
const f2 = (x: number): string => (Number.isNaN(x) ? '–' : x < 10 ? x.toFixed(2) : x.toFixed(1));
const ratio = (x: number, base: number): string =>
  Number.isNaN(x) || Number.isNaN(base) || base === 0 ? '–' : `${(x / base).toFixed(2)}x`;

/** Names in the report for the processes whose id says how they run. */
const SHOWN: Record<string, string> = {
  'classify-new': 'classify (owners by name)',
  'classify-owners': 'classify (owners from the API)',
  bare: 'bare node:http',
  faas: 'faas-js-runtime',
};
const shown = (id: string): string => SHOWN[id] ?? id;
const cell = (s: string): string => s.replace(/\|/g, '/');

class Report {
  readonly lines: string[] = [];
  constructor(private readonly results: Results) {}

  private cold(id: string): number {
    return median(this.results.coldStart[id]?.answeredMs ?? []);
  }
  private rss(id: string): number {
    return median(this.results.coldStart[id]?.rssMiB ?? []);
  }
  private stat(id: string, c: number, key: 'rps' | 'p50' | 'p99' | 'cpuUsPerEvent'): number {
    return median((this.results.load[id]?.runs ?? []).filter((r) => r.connections === c).map((r) => r[key]));
  }
  private row(what: string, x: number, faas: number, bare: number, unit: (v: number) => string, baseNote = ''): void {
    this.lines.push(
      `| ${what} | ${unit(x)} (${ratio(x, faas)} faas, ${ratio(x, bare)} bare) | ${unit(faas)}${baseNote} | ${unit(bare)}${baseNote} |`,
    );
  }

  headline(): void {
    const r = this.results;
    this.lines.push(
      `# Reflex functions vs faas-js-runtime vs bare node:http — ${r.date}`,
      '',
      `Node ${r.node}, ${r.cpus}; medians of ${r.rounds} rounds; load ${r.seconds} s per round with ` +
        `autocannon ${r.versions['autocannon']} in the bench process; Reflex started as \`${r.commands['function']}\`, ` +
        `faas-js-runtime ${r.versions['faas-js-runtime']} as \`${r.commands['faas']}\`. Ratios: Reflex / baseline ` +
        '(time and memory: lower is better; requests/s: higher is better).',
      '',
      '| | Reflex | faas-js-runtime | bare node:http |',
      '| --- | --- | --- | --- |',
    );
    const ms = (v: number): string => `${f0(v)} ms`;
    for (const id of Object.keys(r.coldStart).filter((i) => i !== 'bare' && i !== 'faas'))
      this.row(`cold start to first answered event: ${shown(id)}`, this.cold(id), this.cold('faas'), this.cold('bare'), ms);
    const rps = (v: number): string => `${f0(v)}/s`;
    const p99 = (v: number): string => `${f2(v)} ms`;
    for (const [id, what] of [
      ['classify-new', 'new signal per request'],
      ['classify-dup', 'same Event repeated'],
    ] as const) {
      this.row(
        `classify throughput, c=20, ${what}`,
        this.stat(id, 20, 'rps'),
        this.stat('faas', 20, 'rps'),
        this.stat('bare', 20, 'rps'),
        rps,
      );
      this.row(`classify p99, c=20, ${what}`, this.stat(id, 20, 'p99'), this.stat('faas', 20, 'p99'), this.stat('bare', 20, 'p99'), p99);
    }
    const mib = (v: number): string => `${f0(v)} MiB`;
    const [fr, br] = [this.rss('faas'), this.rss('bare')];
    this.row('RSS after start and one event: classify (owners by name)', this.rss('classify-new'), fr, br, mib);
    if (r.memory.idleMiB !== undefined) this.row('RSS classify idle, before any event', r.memory.idleMiB, fr, br, mib, ' after 1 event');
    for (const [n, v] of Object.entries(r.memory.after))
      this.row(`RSS classify after ${Number(n).toLocaleString('en-US')} distinct events`, v, fr, br, mib, ' after 1 event');
  }

  coldStarts(): void {
    this.lines.push(
      '',
      '## Cold start',
      '',
      'Spawn -> first HTTP response of any status (listening) -> first 2xx to a realistic event POSTed every 2 ms; RSS 0.5 s after that answer.',
      '',
      '| process | listening | first answered event | vs faas | vs bare | RSS | the answer |',
      '| --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const [id, c] of Object.entries(this.results.coldStart)) {
      const answered = median(c.answeredMs);
      this.lines.push(
        `| ${shown(id)} | ${f0(median(c.listeningMs))} ms | ${f0(answered)} ms | ${ratio(answered, this.cold('faas'))} | ${ratio(answered, this.cold('bare'))} | ${f0(median(c.rssMiB))} MiB | ${cell(c.answer)} |`,
      );
    }
  }

  loads(): void {
    this.lines.push(
      '',
      '## Throughput and latency',
      '',
      "requests/s counts 2xx answers only; latency of 2xx answers, measured per response; CPU is the server process's (user + system) per answered event.",
      '',
      '| process, workload | c=1 /s | c=1 p50 | c=1 p99 | c=20 /s | c=20 p50 | c=20 p99 | CPU/event (c=20) | c=20 /s vs faas | vs bare | answer |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const [id, l] of Object.entries(this.results.load)) {
      const s = (c: number, k: 'rps' | 'p50' | 'p99' | 'cpuUsPerEvent'): number => this.stat(id, c, k);
      const codes = new Map<string, number>();
      for (const r of l.runs)
        for (const [code, n] of Object.entries(r.statusCodes)) if (!code.startsWith('2')) codes.set(code, (codes.get(code) ?? 0) + n);
      const errors = l.runs.reduce((acc, r) => acc + r.errors, 0);
      const bad = [...[...codes].map(([code, n]) => `${n}× ${code}`), ...(errors ? [`${errors} connection errors or timeouts`] : [])];
      const calls = median(l.runs.map((r) => r.sinkCallsPerEvent));
      const extra = [...(calls > 0 ? [`${calls.toFixed(2)} sink calls/event`] : []), ...(bad.length ? [`not 2xx: ${bad.join(', ')}`] : [])];
      const rps = s(20, 'rps');
      this.lines.push(
        `| ${id}: ${l.label} | ${f0(s(1, 'rps'))} | ${f2(s(1, 'p50'))} ms | ${f2(s(1, 'p99'))} ms | ${f0(rps)} | ${f2(s(20, 'p50'))} ms | ${f2(s(20, 'p99'))} ms | ${f0(s(20, 'cpuUsPerEvent'))} µs | ${ratio(rps, this.stat('faas', 20, 'rps'))} | ${ratio(rps, this.stat('bare', 20, 'rps'))} | ${cell(l.answer)}${extra.length ? ` (${extra.join('; ')})` : ''} |`,
      );
    }
  }

  conditions(): void {
    const r = this.results;
    const loader = Math.max(...Object.values(r.load).flatMap((l) => l.runs.map((x) => x.loaderCore)));
    const cp = r.cluster.used
      ? `used for the API-calling functions (started in ${f0(r.cluster.startedInMs ?? NaN)} ms; etcd, kube-apiserver and kube-controller-manager share the machine while those are measured)`
      : `not used: ${r.cluster.why}`;
    const jest = process.env['BENCH_IGNORE_JEST']
      ? 'not checked (BENCH_IGNORE_JEST): a jest run may have been going on'
      : r.context.jestWaitedSeconds
        ? `waited ${r.context.jestWaitedSeconds} s for jest runs to end`
        : 'no jest run seen';
    const still = r.context.jestStillRunning.length ? `; jest still running during ${r.context.jestStillRunning.join(', ')}` : '';
    this.lines.push(
      '',
      '## Conditions',
      '',
      `- Control plane: ${cp}.`,
      `- Other work: ${jest}${still}; 1-minute load average before the steps: ${Math.min(...r.context.load1).toFixed(2)}–${Math.max(...r.context.load1).toFixed(2)}.`,
      `- The load generator used up to ${(loader * 100).toFixed(0)}% of a core (it shares the 2 cores with the server under test).`,
      '- Reflex logs a JSON line per event at its default level (info); faas-js-runtime logs nothing per request at its default (warn); stdout goes to /dev/null.',
    );
    if (r.errors.length) this.lines.push('', '## Errors', '', ...r.errors.map((e) => `- ${e}`));
  }
}

function report(results: Results): string {
  const r = new Report(results);
  r.headline();
  r.coldStarts();
  r.loads();
  r.conditions();
  return r.lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const fnCommand = functionCommand('classify');
  if (!existsSync(fnCommand.args[0]!)) throw new Error(`${fnCommand.args[0]} is missing: npm run build first`);
  const results: Results = {
    date: new Date().toISOString().slice(0, 10),
    node: process.versions.node,
    cpus: `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}`,
    rounds: ROUNDS,
    seconds: SECONDS,
    versions: { 'faas-js-runtime': version('faas-js-runtime'), autocannon: version('autocannon') },
    commands: {
      function: `node ${fnCommand.args
        .map((a) => a.replace(root, ''))
        .join(' ')
        .replace('classify', '<name>')}`,
      faas: 'node node_modules/faas-js-runtime/bin/cli.js ./index.js',
      bare: 'node bare.js',
    },
    coldStart: {},
    load: {},
    memory: { after: {} },
    cluster: { used: false },
    context: { ...context, busiestAtStart: busiest() },
    errors: [],
  };
  // The Slack webhook and the Broker (K_SINK): a bare server answering 200 fast, in a process of its own.
  const sinkPort = await freePort();
  const sink = launch(SINK, {}, scratch, sinkPort);
  const sinkUrl = `http://127.0.0.1:${sinkPort}`;
  try {
    sinkHits = async () => Number((await get(sinkPort, '/hits')) ?? NaN);
    for (let i = 0; !(await post(sinkPort, { path: '/', headers: {}, body: '' })); i++) {
      if (i > 1000) throw new Error('the local sink did not start');
      await sleep(5);
    }
    const local = targets(sinkUrl, undefined);
    await coldStarts(local.cold.filter(wanted), results);
    await loads(local.load.filter(wanted), results);
    const classify = local.load.find((t) => t.id === 'classify-new')!;
    if (wanted(classify) && !process.env['BENCH_NO_MEMORY']) await memory(classify, results);

    let bed: ClusterBed | string;
    try {
      await quiet('control plane start');
      bed = await clusterBed();
    } catch (err) {
      bed = `the control plane did not start: ${(err as Error).message}`;
    }
    if (typeof bed === 'string') {
      results.cluster = { used: false, why: bed };
      log(`API-calling functions left out: ${bed}`);
    } else {
      results.cluster = { used: true, startedInMs: bed.startedInMs };
      try {
        const api = targets(sinkUrl, bed).cluster.filter(wanted);
        await coldStarts(api, results);
        await loads(api, results);
      } finally {
        await bed.stop();
      }
    }
  } finally {
    await sink.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
  results.context.busiestAtEnd = busiest();
  Object.assign(results.context, context);
  const md = report(results);
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${results.date}.md`), md);
  // In the repository's style (prettier --check . runs in npm run lint).
  const jsonFile = join(dir, `${results.date}.json`);
  const prettier = await import('prettier');
  const style = (await prettier.resolveConfig(jsonFile)) ?? {};
  writeFileSync(jsonFile, await prettier.format(JSON.stringify(results), { ...style, parser: 'json' }));
  process.stdout.write(md);
  log(`written: bench/results/${results.date}.md and .json`);
}

await main();
