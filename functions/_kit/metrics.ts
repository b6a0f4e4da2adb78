/** _kit/metrics — Prometheus metrics for one function server (its own registry). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly received: Counter<'type'>;
  readonly handled: Counter<'type' | 'outcome'>;
  readonly rejected: Counter<'type' | 'status'>;
  readonly failed: Counter<'type' | 'status'>;
  readonly duration: Histogram<'type'>;
  readonly sent: Counter<'type' | 'outcome'>;
}

export function createMetrics(functionName: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ function: functionName });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    received: new Counter({
      name: 'reflex_events_received_total',
      help: 'CloudEvents received, by type',
      labelNames: ['type'],
      registers: [registry],
    }),
    handled: new Counter({
      name: 'reflex_events_handled_total',
      help: 'CloudEvents handled, by type and outcome (reply | noreply)',
      labelNames: ['type', 'outcome'],
      registers: [registry],
    }),
    rejected: new Counter({
      name: 'reflex_events_rejected_total',
      help: 'Requests refused as invalid (4xx, not retried), by type and status',
      labelNames: ['type', 'status'],
      registers: [registry],
    }),
    failed: new Counter({
      name: 'reflex_events_failed_total',
      help: 'CloudEvents whose handling failed (5xx and other retried statuses), by type and status',
      labelNames: ['type', 'status'],
      registers: [registry],
    }),
    sent: new Counter({
      name: 'reflex_events_sent_total',
      help: 'CloudEvents this function sent (replies, and emits to K_SINK), by type and, for actions, outcome: signals by class, actions by verb and outcome',
      labelNames: ['type', 'outcome'],
      registers: [registry],
    }),
    duration: new Histogram({
      name: 'reflex_handler_duration_seconds',
      help: 'Time spent in the handler, by type',
      labelNames: ['type'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
}

/** A function's own counter, created once per registry and found again by name afterwards. */
export function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  return (registry.getSingleMetric(name) as Counter<L> | undefined) ?? new Counter({ name, help, labelNames, registers: [registry] });
}

/** A function's own gauge, read when scraped (`collect`), created once per registry. */
export function gauge<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  collect: (g: Gauge<L>) => void,
): Gauge<L> {
  const found = registry.getSingleMetric(name) as Gauge<L> | undefined;
  if (found) return found;
  return new Gauge<L>({
    name,
    help,
    labelNames,
    registers: [registry],
    collect() {
      collect(this);
    },
  });
}
