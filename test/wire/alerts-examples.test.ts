/**
 * The Alertmanager examples (examples/alerts/, docs/install.md#alerts-from-alertmanager), checked by
 * the tools' own code: the Alertmanager configuration by `amtool check-config` and its routing by
 * `amtool config routes test` (amtool from the same module and version as the alertmanager
 * test/cluster/alertmanager.test.ts runs, built by test/cluster/build.sh), the PrometheusRule by
 * the monitoring oracle (the Operator's rulefmt check, its spec as a rule file), `promtool check
 * rules` and a `promtool test rules` of its alerts (test/oracle/monitoring/build.sh). What the
 * alerts fire with is then what the shipped rules make load signals of, and what the example routes
 * to Reflex; every alert Reflex has a rule for is routed to it; the receiver docs/install.md shows
 * is the example's.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import type { AlertData } from '../../functions/_contracts/events.js';
import { classifyAlert } from '../../functions/_signals/alerts.js';
import { defaultRulesPath } from '../../functions/_signals/config.js';
import { loadRules, type Rules } from '../../functions/_signals/rules.js';
import { projectRoot } from '../../functions/_kit/schemas.js';
import { askOracle, monitoringTools, promtool, type MonitoringTools, type OraclePrometheusRule } from './prometheus.js';

const ROOT = projectRoot();
const CONFIG = join(ROOT, 'examples/alerts/alertmanager.yaml');
const RULE = join(ROOT, 'examples/alerts/load-prometheusrule.yaml');
const INSTALL = join(ROOT, 'docs/install.md');
const BUILD = fileURLToPath(new URL('../cluster/build.sh', import.meta.url));
/** Cold, each build takes minutes (Alertmanager's module; Prometheus's: docs/observability.md). */
const BUILD_TIMEOUT_MS = 30 * 60_000;

let amtool: string;
let tools: MonitoringTools;
let rules: Rules;
let work: string;

/**
 * amtool, beside the alertmanager the cluster tier runs: `build.sh --alertmanager` builds the two
 * (or finds them in the cache) and prints the directory. Asynchronous, as monitoringTools is.
 */
async function buildAmtool(): Promise<string> {
  const child = spawn('bash', [BUILD, '--alertmanager'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  // 'close', not 'exit': the directory is the last line of stdout, which may still be unread at 'exit'.
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`${BUILD} --alertmanager failed (exit ${code}); its log is above`);
  return join(out.trim().split('\n').pop() ?? '', 'bin', 'amtool');
}

/** amtool with arguments, in the work directory: its exit code and what it printed. */
function run(args: readonly string[]): { code: number | null; output: string } {
  const r = spawnSync(amtool, args, { cwd: work, encoding: 'utf8', env: { ...process.env, HOME: work } });
  return { code: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The receivers `amtool config routes test` resolves an alert with these labels to, in `config`. */
function receivers(labels: Readonly<Record<string, string>>, config = CONFIG): string[] {
  const r = run(['config', 'routes', 'test', `--config.file=${config}`, ...Object.entries(labels).map(([k, v]) => `${k}=${v}`)]);
  if (r.code !== 0) throw new Error(`amtool config routes test exited ${r.code}: ${r.output}`);
  return r.output.trim().split(/[,\s]+/);
}

beforeAll(async () => {
  [amtool, tools] = await Promise.all([buildAmtool(), monitoringTools()]);
  rules = loadRules(defaultRulesPath());
  work = mkdtempSync(join(tmpdir(), 'reflex-alert-examples-'));
}, BUILD_TIMEOUT_MS);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('examples/alerts/alertmanager.yaml', () => {
  it("passes `amtool check-config`: Alertmanager's own configuration loader (v0.35.0)", () => {
    const r = run(['check-config', CONFIG]);
    expect(r.output).toMatch(/SUCCESS/);
    expect(r.output).toMatch(/- 2 receivers/);
    expect(r.code).toBe(0);
  });

  it('the check can fail: a route to a receiver that is not defined, an unknown field', () => {
    const text = readFileSync(CONFIG, 'utf8');
    writeFileSync(join(work, 'undefined-receiver.yaml'), text.replace('receiver: default', 'receiver: defualt'));
    writeFileSync(join(work, 'unknown-field.yaml'), text.replace('send_resolved: true', 'send_resolve: true'));
    const undefinedReceiver = run(['check-config', 'undefined-receiver.yaml']);
    expect([undefinedReceiver.code, undefinedReceiver.output]).toEqual([1, expect.stringMatching(/undefined receiver "defualt"/)]);
    const unknownField = run(['check-config', 'unknown-field.yaml']);
    expect([unknownField.code, unknownField.output]).toEqual([1, expect.stringMatching(/field send_resolve not found/)]);
  });

  it('routes to Reflex every alert the shipped rules make a signal of, load alerts by their label, and not those they ignore', () => {
    const wrong: string[] = [];
    for (const rule of rules.alerts) {
      // One alert per alertname the rule names (a load rule names none: any alert with its labels).
      for (const alertname of rule.alertnames ?? ['SomeLoadAlert']) {
        const labels = {
          alertname,
          namespace: 'shop',
          ...Object.fromEntries([...rule.labels].map(([name, values]) => [name, [...values][0]!])),
        };
        const to = receivers(labels);
        const want = rule.class === 'ignore' ? !to.includes('reflex') : to.includes('reflex');
        if (!want) wrong.push(`${rule.name} (${rule.class}) ${JSON.stringify(labels)} -> ${to.join(',')}`);
      }
    }
    expect(wrong).toEqual([]);
    // The rules are read: a kube-prometheus alert Reflex has no rule for goes where it went before.
    expect(rules.alerts.length).toBeGreaterThan(10);
    expect(receivers({ alertname: 'KubeCPUOvercommit' })).toEqual(['default']);
  });

  it('docs/install.md shows the receiver of the example, as it is', () => {
    const text = readFileSync(INSTALL, 'utf8');
    const start = text.indexOf('\n## Alerts from Alertmanager');
    const section = text.slice(start, text.indexOf('\n## ', start + 1));
    // Every YAML block there that is Alertmanager configuration (indented as a list item's).
    const snippets = [...section.matchAll(/\n( *)```yaml\n([\s\S]*?)\n *```/g)]
      .map(([, indent, body]) => body!.replace(new RegExp(`^${indent}`, 'gm'), ''))
      .filter((body) => /^\s*(receivers|route):/m.test(body))
      .map((body) => parse(body) as { receivers?: { name: string }[]; route?: unknown });
    expect(snippets).toHaveLength(1);
    const example = parse(readFileSync(CONFIG, 'utf8')) as { receivers: { name: string }[] };
    for (const snippet of snippets) {
      expect(snippet.route).toBeUndefined();
      for (const receiver of snippet.receivers ?? []) expect(receiver).toEqual(example.receivers.find((r) => r.name === receiver.name));
      expect(snippet.receivers?.map((r) => r.name)).toEqual(['reflex']);
    }
  });
});

describe('examples/alerts/load-prometheusrule.yaml', () => {
  /** What each of its alerts fires with (labels, annotations), on the series of `promtool test rules` below. */
  const FIRES = {
    QueueBacklogHigh: {
      labels: { alertname: 'QueueBacklogHigh', namespace: 'shop', deployment: 'worker', reflex_scale: 'up', severity: 'info' },
      annotations: { summary: 'Queue orders has 3k messages waiting per worker.' },
    },
    QueueBacklogLow: {
      labels: { alertname: 'QueueBacklogLow', namespace: 'shop', deployment: 'worker', reflex_scale: 'down', severity: 'info' },
      annotations: { summary: 'Queue orders is nearly empty: 20 messages per worker.' },
    },
  };
  const expected = (name: keyof typeof FIRES) => {
    const { alertname: _, ...labels } = FIRES[name].labels;
    return [{ exp_labels: labels, exp_annotations: FIRES[name].annotations }];
  };
  /** Two workers; the orders queue high (3000 per worker), then nearly empty (20); another queue's backlog never counts. */
  const TESTS = {
    rule_files: ['load.rules.yaml'],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m',
        input_series: [
          { series: 'rabbitmq_queue_messages_ready{namespace="shop", queue="orders"}', values: '6000x20' },
          { series: 'rabbitmq_queue_messages_ready{namespace="shop", queue="payments"}', values: '0x20' },
          { series: 'kube_deployment_status_replicas_available{namespace="shop", deployment="worker"}', values: '2x20' },
        ],
        alert_rule_test: [
          { eval_time: '1m', alertname: 'QueueBacklogHigh', exp_alerts: [] },
          { eval_time: '3m', alertname: 'QueueBacklogHigh', exp_alerts: expected('QueueBacklogHigh') },
          { eval_time: '20m', alertname: 'QueueBacklogLow', exp_alerts: [] },
        ],
      },
      {
        interval: '1m',
        input_series: [
          { series: 'rabbitmq_queue_messages_ready{namespace="shop", queue="orders"}', values: '40x20' },
          { series: 'rabbitmq_queue_messages_ready{namespace="shop", queue="payments"}', values: '100000x20' },
          { series: 'kube_deployment_status_replicas_available{namespace="shop", deployment="worker"}', values: '2x20' },
        ],
        alert_rule_test: [
          { eval_time: '10m', alertname: 'QueueBacklogLow', exp_alerts: [] },
          { eval_time: '16m', alertname: 'QueueBacklogLow', exp_alerts: expected('QueueBacklogLow') },
          { eval_time: '16m', alertname: 'QueueBacklogHigh', exp_alerts: [] },
        ],
      },
    ],
  };
  let rule: OraclePrometheusRule;
  beforeAll(() => {
    rule = askOracle(tools, { prometheusRules: [RULE] }).prometheusRules[0]!;
    writeFileSync(join(work, 'load.rules.yaml'), rule.ruleFile ?? '');
  });

  it("is a monitoring.coreos.com/v1 PrometheusRule whose spec passes rulefmt, as the Operator's webhook checks it", () => {
    expect(rule.errors).toEqual([]);
    expect([rule.apiVersion, rule.kind, rule.name]).toEqual(['monitoring.coreos.com/v1', 'PrometheusRule', 'orders-load']);
    expect(rule.groups.flatMap((g) => g.rules.map((r) => r.alert))).toEqual(Object.keys(FIRES));
  });

  it('its spec, as a rule file, passes `promtool check rules`', () => {
    const r = promtool(tools, ['check', 'rules', 'load.rules.yaml'], work);
    expect(r.output).toMatch(/SUCCESS: 2 rules found/);
    expect(r.code).toBe(0);
  });

  it('its alerts fire on the backlog per worker, after their `for:`, with the labels Reflex reads (`promtool test rules`)', () => {
    writeFileSync(join(work, 'load.test.yaml'), stringify(TESTS));
    const r = promtool(tools, ['test', 'rules', 'load.test.yaml'], work);
    expect(r.output).toMatch(/SUCCESS/);
    expect(r.code).toBe(0);
  });

  it("what they fire with is routed to Reflex by the example's routes and is a load signal on Deployment shop/worker", () => {
    const seenAt = new Date('2026-11-22T10:10:00Z');
    const made = Object.values(FIRES).map(({ labels, annotations }) => {
      const alert: AlertData = {
        status: 'firing',
        labels,
        annotations,
        startsAt: '2026-11-22T10:05:00Z',
        fingerprint: '077a83821ed9cc44',
        receiver: 'reflex',
        groupKey: '{}:{namespace="shop"}',
        externalURL: 'http://alertmanager-main-0:9093',
      };
      const outcome = classifyAlert(alert, rules, seenAt);
      return {
        to: receivers(labels),
        signal: outcome.kind === 'finding' ? [outcome.rule.name, outcome.finding.class, outcome.finding.involved] : outcome.reason,
      };
    });
    const worker = { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'worker' };
    expect(made).toEqual([
      { to: ['reflex'], signal: ['alert-load-up', 'loadhigh', worker] },
      { to: ['reflex'], signal: ['alert-load-down', 'loadlow', worker] },
    ]);
  });
});
