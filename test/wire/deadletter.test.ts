/** deadletter over HTTP: whatever types senders write, /metrics stays bounded (unknown types are `other`). */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import deadletter from '../../functions/deadletter/index.js';
import { startServer, type RunningServer } from '../../functions/_kit/index.js';

let server: RunningServer;

beforeAll(async () => {
  server = await startServer(deadletter, { env: { PORT: '0', REFLEX_HOST: '127.0.0.1' }, logSink: () => {} });
});
afterAll(async () => {
  await server.shutdown();
});

const dead = (type: string, code = '503'): Promise<Response> =>
  fetch(server.url, {
    method: 'POST',
    headers: {
      'ce-specversion': '1.0',
      'ce-id': `${type}-1`,
      'ce-source': '/somewhere',
      'ce-type': type,
      'ce-knativeerrordest': 'http://recover.reflex.svc.cluster.local',
      'ce-knativeerrorcode': code,
      'content-type': 'application/json',
    },
    body: '{}',
  });

describe('deadletter metrics', () => {
  it('2,000 distinct unknown types are one label; Reflex and Knative types keep theirs', async () => {
    const before = (await (await fetch(`${server.url}/metrics`)).text()).length;
    for (let i = 0; i < 2000; i++) expect((await dead(`com.attacker.t${i}`, i % 2 ? '999' : '503')).status).toBe(202);
    expect((await dead('dev.reflex.signal.crashloop')).status).toBe(202);
    expect((await dead('dev.knative.apiserver.resource.add', '500')).status).toBe(202);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    const lines = metrics.split('\n').filter((l) => l.startsWith('reflex_deadletter_total'));
    expect(lines.some((l) => l.includes('com.attacker'))).toBe(false);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/type="other".*code="503".* 1000$|code="503".*type="other".* 1000$/),
        expect.stringMatching(/type="other".*code="other".* 1000$|code="other".*type="other".* 1000$/),
        expect.stringMatching(/type="dev\.reflex\.signal\.crashloop"/),
        expect.stringMatching(/type="dev\.knative\.apiserver\.resource\.add"/),
      ]),
    );
    // Bounded: the whole exposition grew by a handful of series, not by 2,000.
    expect(metrics.length - before).toBeLessThan(20_000);
  });
});
