/**
 * Reflex's own monitoring (monitoring/, docs/observability.md), checked by the tools' own code and
 * never by hand-written PromQL checks: the dashboard by the Grafana Foundation SDK's strict types;
 * every query and rule by Prometheus's parser, rulefmt and promtool (its unit tests included);
 * then a real Prometheus, scraping the real functions (the development mesh replaying the bundled
 * incident) as the PodMonitor says, evaluates every panel query and every rule, and every metric a
 * query names must be one the functions' /metrics expose.
 * The tools are built once by test/oracle/monitoring/build.sh (docs/observability.md has the times).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startRecordedMesh, type RecordedMesh } from '../../dev/mesh/play.js';
import { RecordedCluster } from '../../dev/mesh/recorded.js';
import { readRecording } from '../../dev/mesh/replay.js';
import deadletterFunction from '../../functions/deadletter/index.js';
import { startServer, type RunningServer } from '../../functions/_kit/index.js';
import { projectRoot } from '../../functions/_kit/schemas.js';
import { freePort } from './process.js';
import {
  askOracle,
  monitoringTools,
  promtool,
  startPrometheus,
  type MonitoringTools,
  type OracleDashboard,
  type OraclePrometheusRule,
  type RunningPrometheus,
  type Series,
} from './prometheus.js';

const ROOT = projectRoot();
const DASHBOARD = join(ROOT, 'monitoring/grafana/reflex.json');
const RULE = join(ROOT, 'monitoring/prometheus-rule.yaml');
const POD_MONITOR = join(ROOT, 'monitoring/podmonitor.yaml');
const RULE_TESTS = join(ROOT, 'test/wire/fixtures/monitoring/rules.test.yaml');
const RUNBOOKS = join(ROOT, 'docs/observability.md');
const RUNBOOK_URL = 'https://github.com/reflex-dev/reflex/blob/main/docs/observability.md';
const INCIDENT = join(ROOT, 'examples/incident/checkout.ndjson');

/** The first build of Prometheus takes minutes (docs/observability.md); later runs find it cached. */
const BUILD_TIMEOUT_MS = 30 * 60_000;
/** Scrapes and rule evaluations every second, so the test waits seconds, not minutes. */
const INTERVAL_SECONDS = 1;
/** Grafana's $__rate_interval for a 1 s scrape interval: four scrape intervals. */
const RATE_INTERVAL = `${4 * INTERVAL_SECONDS}s`;

/** Series Prometheus makes for each target itself: not in any /metrics, yet every query may name them. */
const SCRAPE_SERIES = new Set(['up']);

/**
 * Panel queries the replayed incident gives no data, with why; any other query must return
 * series. (A query listed here is still evaluated, and its metric names still checked.)
 */
const QUIET: Readonly<Record<string, string>> = {
  'Outcomes, by function/C': 'no delivery fails (5xx) in the incident',
  'Refusals by reason/A': 'nothing in the incident is refused before it is trusted',
  'Messages, by class and outcome/A': "a replay's notify has no sink URL: every result is `disabled`, no message is composed",
  'Claim record writes/A': 'without a cluster, notify keeps its claims in memory',
  'Alertmanager alerts/A': 'the incident carries no Alertmanager notification',
  'Sender authentication refusals/B': 'nobody posts to the alerts webhook without its token',
  'classify memory/B': 'a small incident evicts nothing',
};

let tools: MonitoringTools;
let dashboard: OracleDashboard;
let rule: OraclePrometheusRule;

beforeAll(async () => {
  tools = await monitoringTools();
  const answer = askOracle(tools, { dashboards: [DASHBOARD], prometheusRules: [RULE] });
  dashboard = answer.dashboards[0]!;
  rule = answer.prometheusRules[0]!;
}, BUILD_TIMEOUT_MS);

const alerts = () => rule.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined);
const targets = () => dashboard.panels.flatMap((p) => p.targets.map((t) => ({ panel: p, target: t, key: `${p.title}/${t.refId}` })));

/** Grafana's `label_values(selector, label)` variable query: its selector and label. */
function labelValues(query: unknown): { selector: string; label: string } {
  const text = typeof query === 'string' ? query : String((query as { query?: unknown }).query);
  const m = /^label_values\((.+),\s*(\w+)\)$/.exec(text);
  if (!m) throw new Error(`not a label_values() query: ${text}`);
  return { selector: m[1]!, label: m[2]! };
}

/**
 * What Grafana sends Prometheus for an expression: its variables replaced, as with the namespace
 * `reflex`, every function (the `All` value, `.+`) and the time range `rangeSeconds`.
 */
function interpolate(expr: string, rangeSeconds = 3600): string {
  const values: Record<string, string> = {
    __rate_interval: RATE_INTERVAL,
    __range: `${rangeSeconds}s`,
    namespace: 'reflex',
    function: '.+',
  };
  const out = expr.replace(/\$(\w+)/g, (whole, name: string) => values[name] ?? whole);
  // What is left must be no Grafana variable: `$1` (label_replace's group) is Prometheus's.
  const left = /\$(?!\d)\w+|\$\{/.exec(out);
  if (left) throw new Error(`variable ${left[0]} has no value in ${expr}`);
  return out;
}

describe('the checks can fail', () => {
  it('the oracle refuses a dashboard with an unknown field or option, a query or a rule that does not parse', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reflex-bad-monitoring-'));
    try {
      const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { type: string; options?: Record<string, unknown> }[] };
      d.panels.find((p) => p.type === 'timeseries')!.options!['legendz'] = {};
      writeFileSync(join(dir, 'bad.json'), JSON.stringify(d));
      writeFileSync(join(dir, 'bad-rule.yaml'), readFileSync(RULE, 'utf8').replace('for: 5m', 'for: 5m\n          keep_firing: 1m'));
      // A field the Operator does not have (one letter off), and a relabeling Prometheus refuses.
      const monitor = readFileSync(POD_MONITOR, 'utf8');
      writeFileSync(join(dir, 'bad-field.yaml'), monitor.replace('honorLabels: true', 'honourLabels: true'));
      writeFileSync(join(dir, 'bad-relabel.yaml'), monitor.replace(/\n\s+targetLabel: function/, ''));
      const a = askOracle(tools, {
        dashboards: [join(dir, 'bad.json')],
        prometheusRules: [join(dir, 'bad-rule.yaml')],
        podMonitors: [join(dir, 'bad-field.yaml'), join(dir, 'bad-relabel.yaml')],
        exprs: [{ id: 'bad', expr: 'rate(reflex_events_received_total[$__rate_interval])' }],
      });
      expect(a.dashboards[0]!.errors.join()).toMatch(/unexpected field 'legendz'/);
      expect(a.prometheusRules[0]!.errors.join()).toMatch(/keep_firing/);
      expect(a.podMonitors[0]!.errors.join()).toBe('manifest: json: unknown field "honourLabels"');
      expect(a.podMonitors[1]!.errors).toEqual([
        "spec.podMetricsEndpoints[0].relabelings[1]: relabel configuration for replace action requires 'target_label' value",
      ]);
      expect(a.exprs[0]!.error).toMatch(/parse error/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("every query the incident may leave without data is one of the dashboard's", () => {
    const keys = new Set(targets().map((t) => t.key));
    expect(Object.keys(QUIET).filter((k) => !keys.has(k))).toEqual([]);
  });
});

describe('the Grafana dashboard (monitoring/grafana/reflex.json)', () => {
  it("decodes strictly as Grafana's dashboard types and passes their validation", () => {
    expect(dashboard.errors).toEqual([]);
    expect(dashboard.panels.length).toBeGreaterThan(10);
  });

  it('imports anywhere: a uid, the current schema, a data source chosen by a variable, never by uid', () => {
    expect(dashboard.uid).toBe('reflex-overview');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(41);
    expect(dashboard.variables.map((v) => [v.name, v.type])).toEqual([
      ['datasource', 'datasource'],
      ['namespace', 'query'],
      ['function', 'query'],
    ]);
    const refs = [
      ...dashboard.variables.flatMap((v) => (v.datasource ? [v.datasource] : [])),
      ...dashboard.panels.flatMap((p) => [p.datasource, ...p.targets.map((t) => t.datasource)]),
    ];
    expect(new Set(refs)).toEqual(new Set(['prometheus:${datasource}']));
    // The raw file too: no data source uid of someone's Grafana, no export-only fields.
    const raw = readFileSync(DASHBOARD, 'utf8');
    expect(raw).not.toMatch(/"__inputs"|"__requires"|\$\{DS_/);
    for (const t of targets()) expect(t.target.kind).toBe('prometheus');
  });

  it("every query parses with Prometheus's parser once Grafana has put its variables in, and names its metrics", () => {
    const exprs = [
      ...targets().map((t) => ({ id: t.key, expr: interpolate(t.target.expr) })),
      ...dashboard.variables
        .filter((v) => v.type === 'query')
        .map((v) => ({ id: `$${v.name}`, expr: interpolate(labelValues(v.query).selector) })),
    ];
    const answers = askOracle(tools, { exprs }).exprs;
    expect(answers.filter((a) => a.error !== undefined).map((a) => `${a.id}: ${a.error}`)).toEqual([]);
    // Every selector names a metric: no {__name__=~...}, which would hide what a panel reads.
    expect(answers.filter((a) => a.unnamed.length > 0).map((a) => `${a.id}: ${a.unnamed.join(', ')}`)).toEqual([]);
  });

  it('shows what issue 23 asks: events in, signals, actions, refusals, notify, latency, dead letters, up and ready', () => {
    const named = new Set(
      askOracle(tools, { exprs: targets().map((t) => ({ id: t.key, expr: interpolate(t.target.expr) })) }).exprs.flatMap((a) => a.metrics),
    );
    for (const m of [
      'reflex_events_received_total',
      'reflex_events_handled_total',
      'reflex_events_rejected_total',
      'reflex_events_failed_total',
      'reflex_refusals_total',
      'reflex_notify_total',
      'reflex_handler_duration_seconds_bucket',
      'reflex_deadletter_total',
      'up',
    ])
      expect(named).toContain(m);
  });
});

describe('the PrometheusRule (monitoring/prometheus-rule.yaml)', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'reflex-rules-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("is a monitoring.coreos.com/v1 PrometheusRule whose spec passes rulefmt, as the Operator's webhook checks it", () => {
    expect(rule.errors).toEqual([]);
    expect([rule.apiVersion, rule.kind, rule.name]).toEqual(['monitoring.coreos.com/v1', 'PrometheusRule', 'reflex']);
    expect(alerts().length).toBeGreaterThanOrEqual(3);
  });

  it('passes `promtool check rules`', () => {
    writeFileSync(join(work, 'prometheus-rule.groups.yaml'), rule.ruleFile ?? '');
    const r = promtool(tools, ['check', 'rules', 'prometheus-rule.groups.yaml'], work);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.code).toBe(0);
  });

  it('passes its unit tests (`promtool test rules`): each alert fires on the series it is for, with its labels and words', () => {
    writeFileSync(join(work, 'prometheus-rule.groups.yaml'), rule.ruleFile ?? '');
    writeFileSync(join(work, 'rules.test.yaml'), readFileSync(RULE_TESTS));
    const r = promtool(tools, ['test', 'rules', 'rules.test.yaml'], work);
    expect(r.output).toMatch(/SUCCESS/);
    expect(r.code).toBe(0);
    // Every alert is tested somewhere.
    const tested = new Set([...readFileSync(RULE_TESTS, 'utf8').matchAll(/alertname: (\w+)/g)].map((m) => m[1]));
    expect(
      alerts()
        .map((a) => a.alert)
        .filter((a) => !tested.has(a)),
    ).toEqual([]);
  });

  it('every alert has a severity, a for:, a summary, a description and a runbook: its own section of docs/observability.md', () => {
    // GitHub's anchors: the heading in lower case, without punctuation, spaces as hyphens.
    const anchors = new Set(
      readFileSync(RUNBOOKS, 'utf8')
        .split('\n')
        .filter((l) => /^#{2,4} /.test(l))
        .map((l) =>
          l
            .replace(/^#+ /, '')
            .trim()
            .toLowerCase()
            .replace(/[^\w\- ]/g, '')
            .replace(/ /g, '-'),
        ),
    );
    for (const a of alerts()) {
      expect([a.alert, a.labels?.['severity']]).toEqual([a.alert, expect.stringMatching(/^(critical|warning|info)$/)]);
      expect([a.alert, a.for]).toEqual([a.alert, expect.stringMatching(/^\d+[smh]/)]);
      expect([a.alert, Object.keys(a.annotations ?? {}).sort()]).toEqual([a.alert, ['description', 'runbook_url', 'summary']]);
      const url = a.annotations?.['runbook_url'] ?? '';
      expect(url).toBe(`${RUNBOOK_URL}#${a.alert!.toLowerCase()}`);
      expect([a.alert, anchors.has(url.split('#')[1]!)]).toEqual([a.alert, true]);
    }
  });
});

interface PodMonitorEndpoint {
  port: string;
  path: string;
  honorLabels?: boolean;
  relabelings?: Record<string, unknown>[];
  metricRelabelings?: Record<string, unknown>[];
}

/** A PodMonitor relabeling in Prometheus's own spelling (sourceLabels -> source_labels…). */
const relabelConfig = (r: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(
    Object.entries(r).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), k === 'action' ? String(v).toLowerCase() : v]),
  );

describe('the PodMonitor (monitoring/podmonitor.yaml)', () => {
  it("decodes strictly as the Prometheus Operator's own PodMonitor type, its relabelings valid for Prometheus", () => {
    const [monitor] = askOracle(tools, { podMonitors: [POD_MONITOR] }).podMonitors;
    expect(monitor!.errors).toEqual([]);
    expect(monitor!.name).toBe('reflex');
    // What the dashboard and rules rely on: the functions' port and path, their own labels kept.
    expect(monitor!.endpoints).toEqual([
      { port: 'user-port', path: '/metrics', interval: '30s', honorLabels: true, relabelings: 3, metricRelabelings: 1 },
    ]);
  });
});

describe('a real Prometheus scraping the functions as the PodMonitor says', () => {
  const work = mkdtempSync(join(tmpdir(), 'reflex-prometheus-'));
  let mesh: RecordedMesh;
  /** A deadletter pod with REFLEX_AUTH=oidc: the kit's authentication metrics exist only there. */
  let oidc: RunningServer;
  let prometheus: RunningPrometheus;
  let startedAt: Date;
  let functions: string[];
  /** A pod of sweep that does not answer: up == 0 (sweep itself does not run in a replay). */
  const DOWN = 'sweep';
  /** A second pod of recover, not ready yet. */
  const NOT_READY = 'recover';

  beforeAll(async () => {
    mesh = await startRecordedMesh({});
    oidc = await startServer(deadletterFunction, {
      env: { PORT: '0', REFLEX_HOST: '127.0.0.1', REFLEX_AUTH: 'oidc', REFLEX_AUTH_AUDIENCE: 'reflex' },
      cluster: new RecordedCluster(),
      logSink: () => {},
    });
    functions = [...mesh.running.services.keys()].map((k) => k.split('/')[1]!).sort();
    const endpoint = (parse(readFileSync(POD_MONITOR, 'utf8')) as { spec: { podMetricsEndpoints: PodMonitorEndpoint[] } }).spec
      .podMetricsEndpoints[0]!;
    // Each function's pod as Kubernetes service discovery would describe it; the relabelings after
    // them are what the Prometheus Operator generates for a PodMonitor (namespace, pod, job first,
    // then the PodMonitor's own), so the labels the rules and panels read come from podmonitor.yaml.
    const pod = (address: string, fn: string, name: string, ready: boolean) => ({
      targets: [address],
      labels: {
        __meta_kubernetes_namespace: 'reflex',
        __meta_kubernetes_pod_name: name,
        __meta_kubernetes_pod_label_serving_knative_dev_service: fn,
        __meta_kubernetes_pod_ready: String(ready),
      },
    });
    const host = (url: string) => new URL(url).host;
    const staticConfigs = [
      ...[...mesh.running.services.entries()].map(([k, s]) => {
        const fn = k.split('/')[1]!;
        return pod(host(s.url), fn, `${fn}-00001-deployment-5d9c7b-x1`, true);
      }),
      pod(host(mesh.running.services.get(`reflex/${NOT_READY}`)!.url), NOT_READY, `${NOT_READY}-00002-deployment-7f8e6d-y2`, false),
      pod(host(oidc.url), 'deadletter', 'deadletter-00003-deployment-9a8b7c-o3', true),
      pod(`127.0.0.1:${await freePort()}`, DOWN, `${DOWN}-00001-deployment-4c3b2a-z3`, true),
    ];
    const config = {
      global: {
        scrape_interval: `${INTERVAL_SECONDS}s`,
        scrape_timeout: `${INTERVAL_SECONDS}s`,
        evaluation_interval: `${INTERVAL_SECONDS}s`,
      },
      rule_files: ['prometheus-rule.groups.yaml'],
      scrape_configs: [
        {
          job_name: 'podMonitor/reflex/reflex/0',
          metrics_path: endpoint.path,
          honor_labels: endpoint.honorLabels ?? false,
          static_configs: staticConfigs,
          relabel_configs: [
            { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
            { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
            { target_label: 'job', replacement: 'reflex/reflex' },
            ...(endpoint.relabelings ?? []).map(relabelConfig),
          ],
          metric_relabel_configs: (endpoint.metricRelabelings ?? []).map(relabelConfig),
        },
      ],
    };
    prometheus = await startPrometheus(tools, work, JSON.stringify(config, null, 2), {
      'prometheus-rule.groups.yaml': rule.ruleFile ?? '',
    });
    startedAt = new Date();
    // Every target scraped once before anything happens: counters born later then rise in rate().
    const expected = staticConfigs.length;
    await until(
      async () => (await prometheus.query('count(up{job="reflex"})'))[0]?.value?.[1] === String(expected),
      'every target scraped',
    );
    await mesh.feed(readRecording(INCIDENT));
    // A dead letter, as the Broker sends one after its retries, and an event that is not valid.
    const deadletter = mesh.running.services.get('reflex/deadletter')!.url;
    const dead = await fetch(deadletter, {
      method: 'POST',
      headers: {
        'ce-specversion': '1.0',
        'ce-id': 'lost-1',
        'ce-source': '/apis/v1/namespaces/shop/events',
        'ce-type': 'dev.reflex.signal.crashloop',
        'ce-knativeerrordest': 'http://recover.reflex.svc.cluster.local',
        'ce-knativeerrorcode': '503',
        'content-type': 'application/json',
      },
      body: '{}',
    });
    expect(dead.status).toBe(202);
    const invalid = await fetch(mesh.running.services.get('reflex/classify')!.url, {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-id': 'x', 'ce-source': '/x', 'ce-type': 'dev.knative.apiserver.resource.add' },
      body: 'not json',
    });
    expect(invalid.status).toBe(400);
    expect((await fetch(oidc.url, { method: 'POST', body: '{}' })).status).toBe(401);
    // Two more scrapes after the last event, so rates over the last seconds see it.
    await sleep(3 * INTERVAL_SECONDS * 1000);
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    await mesh?.running.close();
    await oidc?.shutdown();
    rmSync(work, { recursive: true, force: true });
  });

  it('every metric a panel, a variable or a rule names is one the functions expose on /metrics', async () => {
    // What the functions' /metrics said, as Prometheus read it (# TYPE lines, samples or not).
    const metadata = await prometheus.api<Record<string, { type: string }[]>>('/api/v1/metadata');
    const exposed = new Set(SCRAPE_SERIES);
    for (const [family, [{ type } = { type: 'unknown' }]] of Object.entries(metadata)) {
      exposed.add(family);
      if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) exposed.add(family + s);
      if (type === 'summary') for (const s of ['_sum', '_count']) exposed.add(family + s);
    }
    expect(exposed).toContain('reflex_deadletter_total');
    const exprs = [
      ...targets().map((t) => ({ id: t.key, expr: interpolate(t.target.expr) })),
      ...dashboard.variables
        .filter((v) => v.type === 'query')
        .map((v) => ({ id: `$${v.name}`, expr: interpolate(labelValues(v.query).selector) })),
      ...alerts().map((a) => ({ id: a.alert!, expr: a.expr })),
    ];
    const unknown = askOracle(tools, { exprs }).exprs.flatMap((a) => a.metrics.filter((m) => !exposed.has(m)).map((m) => `${a.id}: ${m}`));
    expect(unknown).toEqual([]);
  });

  it('every panel query evaluates; each returns data unless the incident has nothing for it', async () => {
    const end = new Date();
    const range = Math.ceil((end.getTime() - startedAt.getTime()) / 1000);
    const empty: string[] = [];
    for (const { target, key } of targets()) {
      const expr = interpolate(target.expr, range);
      const result: readonly Series[] = target.instant
        ? await prometheus.query(expr, end)
        : await prometheus.queryRange(expr, startedAt, end, INTERVAL_SECONDS);
      if (result.length === 0 && !(key in QUIET)) empty.push(key);
    }
    expect(empty).toEqual([]);
  });

  it('the panels tell what happened: every function up but the one down, the dead letter counted', async () => {
    const up = targets().find((t) => t.panel.title === 'Functions up')!;
    const byFunction = Object.fromEntries(
      (await prometheus.query(interpolate(up.target.expr))).map((s) => [s.metric['function'], s.value?.[1]]),
    );
    expect(byFunction).toEqual(Object.fromEntries([...functions.map((f) => [f, '1']), [DOWN, '0']]));
    const range = Math.ceil((Date.now() - startedAt.getTime()) / 1000);
    const dead = targets().find((t) => t.panel.title === 'Dead letters')!;
    const [count] = await prometheus.query(interpolate(dead.target.expr, range));
    expect(Number(count?.value?.[1])).toBe(1);
    const signals = targets().find((t) => t.panel.title === 'Signals by class')!;
    const classes = (await prometheus.queryRange(interpolate(signals.target.expr), startedAt, new Date(), 1)).map((s) => s.metric['class']);
    expect(classes).toEqual(expect.arrayContaining(['crashloop', 'loadhigh']));
    // Actions by verb and outcome: the replay is in dry-run, and recover escalates the unschedulable pod.
    const actions = targets().filter((t) => t.panel.title === 'Actions by verb and outcome')[1]!;
    const outcomes = (await prometheus.queryRange(interpolate(actions.target.expr), startedAt, new Date(), 1)).map(
      (s) => `${s.metric['function']} ${s.metric['outcome']}`,
    );
    expect(outcomes).toEqual(expect.arrayContaining(['recover dryrun', 'recover escalated', 'scale dryrun']));
    // `ready` is on up (and Prometheus's other series of a scrape) alone: the PodMonitor drops it
    // from what the functions expose, so a pod turning ready starts no new series.
    const withReady = await prometheus.query('group by (__name__) ({__name__=~"reflex_.+|process_.+|nodejs_.+", ready!=""})');
    expect(withReady).toEqual([]);
    expect(await prometheus.query('up{job="reflex", ready="false"}')).toHaveLength(1);
  });

  it('the variables list the namespace and every function scraped', async () => {
    const values = async (name: string) => {
      const { selector, label } = labelValues(dashboard.variables.find((v) => v.name === name)!.query);
      return prometheus.api<string[]>(`/api/v1/label/${label}/values`, { 'match[]': interpolate(selector) });
    };
    expect(await values('namespace')).toEqual(['reflex']);
    expect(await values('function')).toEqual([...functions, DOWN].sort());
  });

  it('every rule evaluates without error, and exactly the alerts this run calls for are raised', async () => {
    const raised = async () =>
      (await prometheus.api<{ alerts: { labels: Record<string, string>; state: string }[] }>('/api/v1/alerts')).alerts
        .map((a) => `${a.labels['alertname']} ${a.labels['function'] ?? a.labels['type'] ?? ''}`)
        .sort();
    const want = ['ReflexDeadLetters dev.reflex.signal.crashloop', `ReflexFunctionDown ${DOWN}`, `ReflexFunctionNotReady ${NOT_READY}`];
    await until(async () => JSON.stringify(await raised()) === JSON.stringify(want), `alerts ${want.join(', ')}`);
    // Pending, not firing: their for: is minutes; raised is what this test can see in seconds.
    const groups = (
      await prometheus.api<{ groups: { rules: { name: string; health: string; lastError?: string; type: string }[] }[] }>('/api/v1/rules')
    ).groups;
    const rules = groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.name).sort()).toEqual(
      alerts()
        .map((a) => a.alert)
        .sort(),
    );
    expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)).toEqual([]);
    expect(await raised()).toEqual(want);
  });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it holds, or fails naming `what` after 15 s. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}
