/**
 * Helpers for tests that check Reflex's monitoring with the real tools: Prometheus, promtool and
 * the monitoring oracle (Prometheus's parser and rulefmt, Grafana's dashboard types), built from
 * their Go modules by test/oracle/monitoring/build.sh into a cache outside the repository.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, start, waitFor, type Proc } from './process.js';

export interface MonitoringTools {
  readonly dir: string;
  readonly prometheus: string;
  readonly promtool: string;
  readonly oracle: string;
}

const BUILD = fileURLToPath(new URL('../oracle/monitoring/build.sh', import.meta.url));

/**
 * The tools, built first if they are not in the cache yet (minutes, once; see docs/testing.md).
 * Asynchronous so that jest's timers and output go on while it builds; its log goes to stderr.
 */
export async function monitoringTools(): Promise<MonitoringTools> {
  const child = spawn('bash', [BUILD], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  // 'close', not 'exit': the directory is the last line of stdout, which may still be unread at 'exit'.
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`${BUILD} failed (exit ${code}); its log is above`);
  const dir = out.trim().split('\n').pop() ?? '';
  return { dir, prometheus: join(dir, 'bin/prometheus'), promtool: join(dir, 'bin/promtool'), oracle: join(dir, 'bin/monitoring-oracle') };
}

export interface OracleExpr {
  readonly id: string;
  readonly expr: string;
  readonly error?: string;
  readonly type?: string;
  readonly metrics: readonly string[];
  readonly unnamed: readonly string[];
}

export interface OracleTarget {
  readonly refId: string;
  readonly expr: string;
  readonly legendFormat?: string;
  readonly instant: boolean;
  readonly kind: string;
  readonly datasource?: string;
}

export interface OraclePanel {
  readonly id: number;
  readonly title: string;
  readonly type: string;
  readonly row?: string;
  readonly datasource?: string;
  readonly targets: readonly OracleTarget[];
}

export interface OracleDashboard {
  readonly file: string;
  readonly errors: readonly string[];
  readonly uid?: string;
  readonly title?: string;
  readonly schemaVersion: number;
  readonly variables: readonly { name: string; type: string; query?: unknown; datasource?: string }[];
  readonly panels: readonly OraclePanel[];
}

export interface OracleRule {
  readonly alert?: string;
  readonly record?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface OraclePrometheusRule {
  readonly file: string;
  readonly errors: readonly string[];
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly name?: string;
  readonly groups: readonly { name: string; interval?: string; rules: readonly OracleRule[] }[];
  readonly ruleFile?: string;
}

/** A PodMonitor as the Prometheus Operator's own types decode it (test/oracle/monitoring/podmonitor.go). */
export interface OraclePodMonitor {
  readonly file: string;
  readonly errors: readonly string[];
  readonly name?: string;
  readonly endpoints: readonly {
    port?: string;
    path?: string;
    interval?: string;
    honorLabels: boolean;
    relabelings: number;
    metricRelabelings: number;
  }[];
}

export interface OracleAnswer {
  readonly dashboards: readonly OracleDashboard[];
  readonly prometheusRules: readonly OraclePrometheusRule[];
  readonly podMonitors: readonly OraclePodMonitor[];
  readonly exprs: readonly OracleExpr[];
}

export interface OracleRequest {
  readonly dashboards?: readonly string[];
  readonly prometheusRules?: readonly string[];
  readonly podMonitors?: readonly string[];
  readonly exprs?: readonly { id: string; expr: string }[];
}

/** One question to the monitoring oracle (test/oracle/monitoring/main.go), one JSON answer. */
export function askOracle(tools: MonitoringTools, request: OracleRequest): OracleAnswer {
  const r = spawnSync(tools.oracle, [], { input: JSON.stringify(request), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  // A spawn that failed (r.error) or a kill (r.signal) has no status and says nothing itself.
  if (r.status !== 0)
    throw new Error(
      `monitoring-oracle exited ${r.status}${r.signal ? ` (${r.signal})` : ''}${r.error ? ` (${r.error.message})` : ''}: ${r.stderr}`,
    );
  return JSON.parse(r.stdout) as OracleAnswer;
}

/** promtool with arguments, in `cwd`: its exit code and what it printed. */
export function promtool(tools: MonitoringTools, args: readonly string[], cwd: string): { code: number | null; output: string } {
  const r = spawnSync(tools.promtool, args, { cwd, encoding: 'utf8' });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

interface ApiAnswer<T> {
  readonly status: 'success' | 'error';
  readonly data?: T;
  readonly errorType?: string;
  readonly error?: string;
}

export interface Series {
  readonly metric: Readonly<Record<string, string>>;
  readonly value?: readonly [number, string];
  readonly values?: readonly (readonly [number, string])[];
}

export interface RunningPrometheus {
  readonly url: string;
  readonly proc: Proc;
  /** GET an API path; a Prometheus error (a query that does not parse or evaluate) is thrown. */
  api<T>(path: string, params?: Record<string, string | readonly string[]>): Promise<T>;
  query(expr: string, at?: Date): Promise<readonly Series[]>;
  queryRange(expr: string, start: Date, end: Date, stepSeconds: number): Promise<readonly Series[]>;
  stop(): Promise<void>;
}

/**
 * A Prometheus server on a free loopback port with `config` (YAML) and `files` beside it (rule
 * files the config names), its TSDB in `dir`; resolves once /-/ready answers.
 */
export async function startPrometheus(
  tools: MonitoringTools,
  dir: string,
  config: string,
  files: Readonly<Record<string, string>> = {},
): Promise<RunningPrometheus> {
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'prometheus.yml'), config);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = start(
    tools.prometheus,
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    {},
  );
  try {
    await Promise.race([
      waitFor(`${url}/-/ready`, 200, 30_000),
      proc.exited.then((code) => {
        throw new Error(`prometheus exited (${code}) before it was ready:\n${proc.output()}`);
      }),
    ]);
  } catch (err) {
    proc.child.kill('SIGKILL');
    throw err;
  }
  const api = async <T>(path: string, params: Record<string, string | readonly string[]> = {}): Promise<T> => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const one of typeof v === 'string' ? [v] : v) q.append(k, one);
    const res = await fetch(`${url}${path}?${q.toString()}`);
    const body = (await res.json()) as ApiAnswer<T>;
    if (body.status !== 'success') throw new Error(`${path} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
    return body.data as T;
  };
  const seconds = (d: Date): string => (d.getTime() / 1000).toFixed(3);
  return {
    url,
    proc,
    api,
    async query(expr, at = new Date()) {
      return (await api<{ result: Series[] }>('/api/v1/query', { query: expr, time: seconds(at) })).result;
    },
    async queryRange(expr, startAt, end, stepSeconds) {
      const params = { query: expr, start: seconds(startAt), end: seconds(end), step: String(stepSeconds) };
      return (await api<{ result: Series[] }>('/api/v1/query_range', params)).result;
    },
    async stop() {
      if (proc.child.exitCode !== null) return;
      proc.child.kill('SIGTERM');
      await proc.exited;
    },
  };
}
