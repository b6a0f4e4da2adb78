/**
 * A tick visits every workload scale keeps state on, cluster-wide: one the API server refuses
 * (RBAC, or its namespace being deleted, where new Events are forbidden) must not stop the
 * others, nor fail the tick; another fault fails it after the others had their turn (the Broker
 * retries; each step is idempotent). Found as a 403 tick when another test's namespace was going.
 */
import { describe, expect, it } from '@jest/globals';
import { CloudEvent } from 'cloudevents';
import { Registry } from 'prom-client';
import { ForbiddenError, UnavailableError } from '../_kit/errors.js';
import type { Cluster, ObjectRef } from '../_kit/k8s.js';
import type { Deps, HandlerContext } from '../_kit/index.js';
import { PING_TYPE } from '../_contracts/events.js';
import { parseScaleConfig, type ScaleConfig } from './config.js';
import { scaleHandler } from './handler.js';
import { STATE_ANNOTATION } from './decide.js';

const warned: unknown[] = [];
const log = {
  debug() {},
  info() {},
  warn: (...a: unknown[]) => void warned.push(a),
  error() {},
  child() {
    return log;
  },
} as unknown as Deps['log'];

/** Two workloads with scale's state; reading `failing`'s namespace fails with `fault`. */
function cluster(fault: Error, reads: string[]): Cluster {
  const deployment = (namespace: string) => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'worker',
      namespace,
      uid: `u-${namespace}`,
      resourceVersion: '1',
      annotations: { [STATE_ANNOTATION]: '{"actions":[]}' },
    },
    spec: { replicas: 2 },
  });
  const known: Partial<Cluster> = {
    async list(_v: string, kind: string) {
      return (kind === 'Deployment' ? [deployment('going'), deployment('shop')] : []) as never;
    },
    async get(ref: ObjectRef) {
      reads.push(`${ref.kind} ${ref.namespace ?? ''}/${ref.name}`);
      if (ref.namespace === 'going' || (ref.kind === 'Namespace' && ref.name === 'going')) throw fault;
      if (ref.kind === 'Namespace') return { metadata: { name: ref.name, labels: { 'reflex.dev/enabled': 'true' } } } as never;
      if (ref.kind === 'Deployment') return deployment(ref.namespace!) as never;
      return undefined;
    },
    async replicas() {
      return 2;
    },
    async patch() {
      return true;
    },
    async setReplicas() {
      return true;
    },
    async create(o) {
      return o as never;
    },
  };
  return new Proxy(known as Cluster, {
    get: (t, k) => (k in t ? t[k as keyof Cluster] : () => Promise.reject(new Error(`not in this test: ${String(k)}`))),
  });
}

async function tickWith(fault: Error): Promise<{ result: unknown; reads: string[] }> {
  const reads: string[] = [];
  const config = parseScaleConfig({});
  const handler = scaleHandler(config, {
    log,
    registry: new Registry(),
    cluster: cluster(fault, reads),
    now: () => new Date(),
  } as unknown as Deps);
  const ctx = { config, log, now: () => new Date(), reply: (x: unknown) => x, emit: undefined } as unknown as HandlerContext<ScaleConfig>;
  const event = new CloudEvent(
    { id: 'tick-1', source: '/apis/v1/namespaces/reflex/pingsources/reflex-scale', type: PING_TYPE, data: {} },
    false,
  );
  try {
    return { result: await handler(event, ctx), reads };
  } catch (err) {
    return { result: err, reads };
  }
}

describe('a tick over several workloads', () => {
  it('one refused by the API server: the others still tick, the tick succeeds, the refusal is logged', async () => {
    const { result, reads } = await tickWith(new ForbiddenError('Kubernetes API refused (403): namespace going is being terminated'));
    expect(result).toBeUndefined();
    expect(reads.some((r) => r.includes('shop/worker'))).toBe(true);
    expect(JSON.stringify(warned)).toContain('going/worker');
  });

  it('one that fails otherwise: the others still tick, then the tick fails so the Broker retries', async () => {
    const { result, reads } = await tickWith(new UnavailableError('the API server is unreachable'));
    expect(result).toBeInstanceOf(UnavailableError);
    expect(reads.some((r) => r.includes('shop/worker'))).toBe(true);
  });
});
