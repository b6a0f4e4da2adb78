/**
 * bench/cold-start — time from process spawn to the first 200 on /readyz, for the built form of
 * each function, against a baseline measured in the same run: a bare node:http server.
 * Run: npm run build && node bench/cold-start.ts  (or: npm run bench)
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const RUNS = Number(process.env['BENCH_RUNS'] ?? 7);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function once(args: string[], env: Record<string, string>): Promise<number> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, ...env, PORT: String(port), REFLEX_HOST: '127.0.0.1' },
    stdio: 'ignore',
  });
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) break;
    } catch {
      // not yet listening
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const ms = performance.now() - t0;
  child.kill('SIGKILL');
  return ms;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const baseline = ['-e', "require('http').createServer((q,s)=>s.end('ok')).listen(process.env.PORT,'127.0.0.1')"];
const cases: [string, string[], Record<string, string>][] = [
  ['baseline: bare node:http', baseline, {}],
  ['deadletter', ['dist/scripts/function.js', 'deadletter'], {}],
  ['classify (names)', ['dist/scripts/function.js', 'classify'], { REFLEX_RESOLVE_OWNERS: 'names' }],
  ['notify', ['dist/scripts/function.js', 'notify'], { REFLEX_SLACK_WEBHOOK_URL: 'http://127.0.0.1:9/hook' }],
];

const results: [string, number][] = [];
for (const [name, args, env] of cases) {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push(await once(args, env));
  results.push([name, median(times)]);
}
const base = results[0]![1];
process.stdout.write(`cold start to /readyz, median of ${RUNS} runs (Node ${process.versions.node})\n`);
for (const [name, ms] of results)
  process.stdout.write(`${name.padEnd(28)} ${ms.toFixed(0).padStart(6)} ms   ${(ms / base).toFixed(2)}x baseline\n`);
