/** classify over HTTP without a cluster (owners from names): bad input never crashes or lies. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import classify from '../../functions/classify/index.js';
import { startServer, type RunningServer } from '../../functions/_kit/index.js';
import { defaultSchemasDir, loadSchemas } from '../../functions/_kit/schemas.js';

let server: RunningServer;

beforeAll(async () => {
  server = await startServer(classify, { env: { PORT: '0', REFLEX_HOST: '127.0.0.1', REFLEX_RESOLVE_OWNERS: 'names' }, logSink: () => {} });
});
afterAll(async () => {
  await server.shutdown();
});

let seq = 0;
function bridge(object: unknown, type = 'dev.knative.apiserver.resource.add', body = JSON.stringify(object)): Promise<Response> {
  seq++;
  const o = object as { kind?: string; apiVersion?: string; metadata?: { name?: string; namespace?: string } };
  return fetch(server.url, {
    method: 'POST',
    headers: {
      'ce-specversion': '1.0',
      'ce-id': `0b0c0d0e-${seq}`,
      'ce-source': 'https://10.96.0.1:443',
      'ce-type': type,
      'ce-subject': `/apis/v1/namespaces/shop/events/${o.metadata?.name ?? 'x'}`,
      'ce-kind': String(o.kind ?? ''),
      'ce-apiversion': String(o.apiVersion ?? ''),
      'ce-name': String(o.metadata?.name ?? ''),
      'ce-namespace': 'shop',
      'content-type': 'application/json',
    },
    body,
  });
}

/** Each test uses its own workload: one problem per workload is signalled once per repeat window. */
const evicted = (name: string, message: string, pod = `${name}-7d9c8b5f4-x2x7q`) => ({
  apiVersion: 'v1',
  kind: 'Event',
  metadata: { name, namespace: 'shop', uid: `uid-${name}` },
  involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: pod, uid: `p-${pod}` },
  reason: 'Evicted',
  message,
  type: 'Warning',
  source: { component: 'kubelet', host: 'node-1' },
  count: 1,
  firstTimestamp: '2026-11-22T10:00:00Z',
  lastTimestamp: '2026-11-22T10:00:00Z',
});

describe('classify over HTTP', () => {
  it('replies with a signal whose target comes from the pod name when there is no cluster', async () => {
    const res = await bridge(evicted('e1', 'The node was low on resource: memory.', 'web-7d9c8b5f4-x2x7q'));
    expect(res.status).toBe(200);
    expect(res.headers.get('ce-type')).toBe('dev.reflex.signal.evicted');
    expect(res.headers.get('ce-dataschema')).toBe('https://reflex.dev/schemas/dev.reflex.signal.json');
    const data = (await res.json()) as { target: unknown };
    expect(data.target).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', resolvedBy: 'name' });
  });

  it('a 2 MB message is accepted and cut to 4 KiB in the signal and its evidence', async () => {
    const res = await bridge(evicted('e2', 'm'.repeat(2 * 1024 * 1024)));
    expect(res.status).toBe(200);
    const data = (await res.json()) as { message: string; evidence: { object: { message: string } } };
    expect(data.message).toHaveLength(4096);
    expect(data.evidence.object.message).toHaveLength(4096);
  });

  it.each([
    // Not a kind classify reads: harmless 202.
    [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg' }, data: { a: 'b' } }, 'dev.knative.apiserver.resource.add', 202],
    // A deleted object is never a problem.
    [evicted('e3', 'x'), 'dev.knative.apiserver.resource.delete', 202],
    // Reference mode carries no object.
    [{ kind: 'Event', namespace: 'shop', name: 'e4', apiVersion: 'v1' }, 'dev.knative.apiserver.ref.add', 202],
    // An Event without its involvedObject is malformed: 400, not a wrong signal.
    [{ apiVersion: 'v1', kind: 'Event', metadata: { name: 'e5' }, reason: 'BackOff' }, 'dev.knative.apiserver.resource.add', 400],
    // Not a Kubernetes object at all.
    [{ hello: 'world' }, 'dev.knative.apiserver.resource.update', 400],
    ['just a string', 'dev.knative.apiserver.resource.update', 400],
    // A type classify does not take.
    [evicted('e6', 'x'), 'dev.knative.apiserver.resource.patch', 400],
  ])('%j as %s -> %d', async (object, type, status) => {
    const res = await bridge(object, type);
    expect(res.status).toBe(status);
    if (status === 400) expect(res.headers.get('content-type')).toMatch(/problem\+json/);
  });

  it('the same occurrence twice gives one signal; another occurrence of the same problem is held', async () => {
    const first = await bridge(evicted('e7', 'low memory'));
    const again = await bridge(evicted('e7', 'low memory'));
    // Another pod of the same Deployment: same problem (class + target), within repeatAfterSeconds.
    const sibling = await bridge(evicted('e7b', 'low memory', 'e7-7d9c8b5f4-b9z2k'));
    expect([first.status, again.status, sibling.status]).toEqual([200, 202, 202]);
  });

  it('names the missing field of a malformed Event', async () => {
    const res = await bridge({ apiVersion: 'v1', kind: 'Event', metadata: { name: 'e8' }, reason: 'BackOff' });
    expect(JSON.stringify(await res.json())).toMatch(/involvedObject/);
  });
});

/** classify's own contract: recover and notify refuse (400) any signal that fails it. */
const signalSchema = loadSchemas([defaultSchemasDir()]).validator('https://reflex.dev/schemas/dev.reflex.signal.json');
async function signalOf(res: Response): Promise<Record<string, unknown>> {
  expect(res.status).toBe(200);
  const data = (await res.json()) as Record<string, unknown>;
  const ok = signalSchema(data);
  expect(ok ? 'valid' : signalSchema.errors).toBe('valid');
  return data;
}

const node = (name: string, condition: Record<string, unknown>) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, uid: `uid-${name}` },
  status: { conditions: [{ type: 'Ready', status: 'False', lastHeartbeatTime: '2026-11-22T10:00:00Z', ...condition }] },
});

/** The object as JSON text, with `depth` arrays inside each other (8 KB for 4,000 levels) in place of "DEEP". */
const withDeep = (object: unknown, depth: number): string =>
  JSON.stringify(object).replace('"DEEP"', '['.repeat(depth) + ']'.repeat(depth));

describe('every signal classify sends satisfies dev.reflex.signal.json (issue 15)', () => {
  it.each([
    // An RFC 3339 offset moves 9999-12-31 into year 10000: toISOString would write +010000-….
    ['a last time past year 9999', { lastTimestamp: '9999-12-31T23:59:59-14:00', count: 5 }],
    ['a first time before year 1', { firstTimestamp: '0000-01-01T00:00:00+01:00' }],
    ['a first time before 1970', { firstTimestamp: '1969-12-31T23:59:59Z' }],
    // MicroTime fields are not format-checked: anything Date parses arrives.
    ['a series time in year 10000', { series: { count: 3, lastObservedTime: '+010000-01-01T00:00:00Z' } }],
    ['an eventTime far in the future', { lastTimestamp: null, eventTime: '275760-09-13T00:00:00Z' }],
    ['a huge count', { count: 1e300 }],
  ])('an Event with %s', async (_what, fields) => {
    const name = `t${++seq}`;
    const data = await signalOf(await bridge({ ...evicted(name, 'low memory'), ...fields }));
    for (const at of [data['firstSeen'], data['lastSeen']]) expect(at).toMatch(/^(19[7-9]\d|[2-9]\d{3})-/);
  });

  it.each([
    ['an empty reason', { reason: '' }, 'NodeNotReady'],
    ['a reason longer than 128 characters', { reason: 'R'.repeat(300) }, 'R'.repeat(127) + '…'],
    ['a heartbeat in year 10000', { reason: 'KubeletNotReady', lastHeartbeatTime: '9999-12-31T23:30:00-01:00' }, 'KubeletNotReady'],
  ])('a Node condition with %s', async (_what, condition, reason) => {
    const data = await signalOf(await bridge(node(`n${++seq}`, condition)));
    expect(data['reason']).toBe(reason);
  });

  it.each([
    // Signals carry names in CloudEvent headers: 100 KB of name would overflow the Broker's limit.
    ['100 KB long', { name: 'w'.repeat(100_000) }],
    ['with a line break', { name: 'web\nx' }],
    ['with a slash', { name: '../web' }],
    ['in a namespace that cannot exist', { namespace: 'Shop Floor' }],
  ])('an Event about an object whose name is %s is no signal (202), not a broken one', async (_what, ref) => {
    const e = evicted(`bad${++seq}`, 'low memory');
    const res = await bridge({ ...e, involvedObject: { ...e.involvedObject, ...ref } });
    expect(res.status).toBe(202);
  });

  it.each([
    ['the Event', (name: string) => ({ ...evicted(name, 'low memory'), deep: 'DEEP' })],
    [
      'a Pod',
      (name: string) => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: `${name}-7d9c8b5f4-x2x7q`, namespace: 'shop', uid: `uid-${name}` },
        spec: { deep: 'DEEP' },
        status: {
          phase: 'Running',
          containerStatuses: [{ name: 'w', restartCount: 1, lastState: { terminated: { reason: 'OOMKilled' } }, state: { running: {} } }],
        },
      }),
    ],
  ])('4,000 and 100,000 levels of JSON in %s are cut from the evidence, not a 500', async (_what, object) => {
    for (const depth of [4000, 100_000]) {
      const o = object(`d${++seq}`);
      const data = await signalOf(await bridge(o, undefined, withDeep(o, depth)));
      const evidence = JSON.stringify(data['evidence']);
      expect(evidence.length).toBeLessThan(32 * 1024);
      expect(evidence).toMatch(/deeper than 64 levels/);
    }
  });
});
