/**
 * The `reflex` command as a newcomer meets it (issue 16): `dev --source <recording>` is the replay
 * that stays up, errors say what happened and what to do, a conventional CLI (help, version,
 * --json, exit codes, NO_COLOR), and `npm start` forwarding what it is given.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { apiServerSourceMessage, type K8sObject, type WatchType } from '../../dev/mesh/apiserversource.js';
import { isPodLog } from '../../dev/mesh/replay.js';
import { projectRoot } from '../../functions/_kit/schemas.js';
import { freePort, start, type Proc } from './process.js';

const root = projectRoot();
const incident = join(root, 'examples', 'incident', 'checkout.ndjson');
const dir = mkdtempSync(join(tmpdir(), 'reflex-cli-'));
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

/** A machine with no cluster: no KUBECONFIG, a HOME with no ~/.kube, not in a pod. */
const noCluster = (): Record<string, string> => ({
  HOME: mkdtempSync(join(tmpdir(), 'reflex-home-')),
  KUBECONFIG: '',
  KUBERNETES_SERVICE_HOST: '',
  NO_COLOR: '',
});

/** This Node (24) rather than whatever `node` is first on PATH. */
const running: Proc[] = [];
const reflex = (args: readonly string[], env: Record<string, string> = noCluster()): Proc => {
  const p = start(process.execPath, [join(root, 'bin', 'reflex.js'), ...args], env);
  running.push(p);
  return p;
};
afterAll(() => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});

/** Resolves when `test` holds of the output (or rejects after `ms`). */
async function until(p: Proc, test: (out: string) => boolean, ms = 30_000): Promise<string> {
  const deadline = Date.now() + ms;
  while (!test(p.output())) {
    if (Date.now() > deadline) throw new Error(`timed out; output so far:\n${p.output()}`);
    if (p.child.exitCode !== null) throw new Error(`exited ${p.child.exitCode}; output:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return p.output();
}

/** The timeline's indented lines (signals, decisions, problems) as [time, text]: what the mesh made of the events. */
const arrows = (out: string): [string, string][] =>
  out
    .split('\n')
    .map((l) => /^(\d\d:\d\d:\d\d) +-> (.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1]!, m[2]!]);

/** --json output: its rows (other lines, such as a banner on stderr, are not JSON). */
const rows = (out: string): { at: string; kind: string; text: string }[] =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { at: string; kind: string; text: string });

const ingressOf = (out: string): string => /broker ingress (http:\/\/\S+)/.exec(out)![1]!;

/** The incident's watch events, as an ApiServerSource would see them: without the container logs it carries (PodLog). */
const watched = (): string[] =>
  readFileSync(incident, 'utf8')
    .trim()
    .split('\n')
    .filter((l) => !isPodLog((JSON.parse(l) as { object: K8sObject }).object));

/**
 * A recorded watch event as the ApiServerSource would POST it, its times moved so that its latest
 * is now: how long it lasted (an Event's first to last occurrence) stays as recorded.
 */
function posted(index: number): { headers: Record<string, string>; body: string } {
  const r = JSON.parse(watched()[index]!) as { type: WatchType; object: K8sObject };
  const text = JSON.stringify(r.object);
  const times = /"2026-11-22T[0-9:.]+Z"/g;
  const latest = Math.max(...[...text.matchAll(times)].map((m) => Date.parse(JSON.parse(m[0]) as string)));
  const shift = Date.now() - latest;
  const moved = text.replaceAll(times, (t) => JSON.stringify(new Date(Date.parse(JSON.parse(t) as string) + shift).toISOString()));
  return apiServerSourceMessage(r.type, JSON.parse(moved) as K8sObject, 'https://kubernetes.default.svc', new Date(), 'Resource');
}

async function stopped(p: Proc): Promise<number | null> {
  p.child.kill('SIGTERM');
  return p.exited;
}

describe('reflex dev --source <recording>: the replay, then the ingress stays up', () => {
  it('gives the same signals and decisions as reflex replay, on the recording clock, and keeps serving', async () => {
    const replay = reflex(['replay', incident]);
    expect(await replay.exited).toBe(0);
    const expected = arrows(replay.output());
    expect(expected.length).toBeGreaterThanOrEqual(12);

    const dev = reflex(['dev', '--port', '0', '--source', incident]);
    const out = await until(dev, (o) => /recording is over/i.test(o) || arrows(o).length >= expected.length);
    expect(arrows(out)).toEqual(expected);
    expect(out).not.toMatch(/dead-letter|could not deliver/);

    // Still serving: the broker answers, and a live event is routed (on the wall clock).
    const ingress = ingressOf(out);
    expect((await fetch(new URL('/', ingress))).status).toBe(200);
    const { headers, body } = posted(17);
    expect((await fetch(ingress, { method: 'POST', headers, body })).status).toBe(202);
    await until(dev, (o) => o.split('\n').filter((l) => l.includes('QueueBacklogHigh (Warning)')).length === 3);
    expect(await stopped(dev)).toBe(0);
  }, 90_000);

  it('never contacts the cluster of a kubeconfig: the recording is the cluster (no retries, no dead letters)', async () => {
    const port = await freePort();
    const env = { ...noCluster(), KUBECONFIG: kubeconfig('kind-away', `https://127.0.0.1:${port}`) };
    const began = Date.now();
    const dev = reflex(['dev', '--port', '0', '--source', incident, '--json'], env);
    await until(dev, (o) => rows(o).filter((r) => r.kind === 'action').length >= 6);
    expect(Date.now() - began).toBeLessThan(20_000);
    const replay = reflex(['replay', '--json', incident]);
    expect(await replay.exited).toBe(0);
    // The evidence too: the same recorded cluster, logs included, on the same clock.
    const decisive = (out: string) => rows(out).filter((r) => r.kind === 'signal' || r.kind === 'enriched' || r.kind === 'action');
    expect(decisive(dev.output())).toEqual(decisive(replay.output()));
    expect(rows(dev.output()).filter((r) => r.kind === 'problem')).toEqual([]);
    expect(await stopped(dev)).toBe(0);
  }, 60_000);

  it('with no cluster and no source: the bundled incident posted to the ingress decides as its replay does', async () => {
    const replay = reflex(['replay', incident]);
    expect(await replay.exited).toBe(0);
    const expected = arrows(replay.output()).map(([, t]) => t);

    const dev = reflex(['dev', '--port', '0']);
    const ingress = ingressOf(await until(dev, (o) => /broker ingress http/.test(o)));
    const records = watched();
    for (let i = 0; i < records.length; i++) {
      const { headers, body } = posted(i);
      expect((await fetch(ingress, { method: 'POST', headers, body })).status).toBe(202);
      // One at a time, as the replay goes: the next record waits until this one's decisions are out.
      let seen = -1;
      await until(
        dev,
        (o) => {
          const n = arrows(o).length;
          const settled = n === seen;
          seen = n;
          return settled;
        },
        10_000,
      ).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(arrows(dev.output()).map(([, t]) => t)).toEqual(expected);
    expect(dev.output()).not.toMatch(/dead-letter|could not deliver|refused/);
    expect(await stopped(dev)).toBe(0);
  }, 90_000);

  it('with no cluster and no source: a posted Event and Pod are classified and decided, with no delivery problem', async () => {
    const dev = reflex(['dev', '--port', '0']);
    const ingress = ingressOf(await until(dev, (o) => /broker ingress http/.test(o)));
    for (const i of [11, 12]) {
      const { headers, body } = posted(i);
      expect((await fetch(ingress, { method: 'POST', headers, body })).status).toBe(202);
    }
    // Each signal, enrich's evidence about it, recover's decision.
    const out = await until(dev, (o) => arrows(o).length >= 6);
    const texts = arrows(out).map(([, t]) => t);
    expect(texts).toEqual(
      expect.arrayContaining([
        'signal crashloop WARNING on Deployment shop/web (BackOff, rule crashloop-backoff)',
        'signal oomkilled WARNING on Deployment shop/worker (OOMKilled)',
        'enrich gathered the evidence on Deployment shop/web (crashloop)',
        'enrich gathered the evidence on Deployment shop/worker (oomkilled)',
        expect.stringMatching(/^recover .*Deployment shop\/web/),
        expect.stringMatching(/^recover .*Deployment shop\/worker/),
      ]),
    );
    expect(texts).toHaveLength(6);
    await new Promise((r) => setTimeout(r, 500));
    expect(dev.output()).not.toMatch(/dead-letter|could not deliver|refused/);
    expect(await stopped(dev)).toBe(0);
  }, 60_000);
});

function kubeconfig(context: string, server: string): string {
  return file(
    `${context}.yaml`,
    [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{ name: ${context}, cluster: { server: '${server}', insecure-skip-tls-verify: true } }]`,
      `contexts: [{ name: ${context}, context: { cluster: ${context}, user: me } }]`,
      `current-context: ${context}`,
      'users: [{ name: me, user: { token: t } }]',
      '',
    ].join('\n'),
  );
}

describe('errors say what happened and what to do', () => {
  it.each([['start'], ['dev']])(
    'reflex %s: a kubeconfig whose server does not answer names the context, the server, the error and the offline way',
    async (command) => {
      const port = await freePort();
      const p = reflex([command, '--port', '0'], { ...noCluster(), KUBECONFIG: kubeconfig('kind-gone', `https://127.0.0.1:${port}`) });
      expect(await p.exited).toBe(1);
      const out = p.output();
      expect(out).toMatch(/context kind-gone/);
      expect(out).toContain(`https://127.0.0.1:${port}`);
      expect(out).toMatch(/ECONNREFUSED/);
      expect(out).toMatch(/npm start -- --replay/);
      expect(out).toMatch(/reflex replay <recording>/);
      expect(out).not.toMatch(/fetch failed|\n\s+at /);
    },
    30_000,
  );

  it('reflex dev: a server that takes the connection and never answers is named after 10 s, with the offline way', async () => {
    const silent: Server = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    try {
      const p = reflex(['dev', '--port', '0'], { ...noCluster(), KUBECONFIG: kubeconfig('kind-silent', `https://127.0.0.1:${port}`) });
      expect(await p.exited).toBe(1);
      const out = p.output();
      expect(out).toMatch(/context kind-silent/);
      expect(out).toContain(`https://127.0.0.1:${port}`);
      expect(out).toMatch(/no answer within 10 s/);
      expect(out).toMatch(/reflex replay <recording>/);
      expect(out).not.toMatch(/fetch failed|\n\s+at /);
    } finally {
      silent.close();
    }
  }, 30_000);

  it('a busy port: which port, and --port', async () => {
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const p = reflex(['dev', '--port', String(port)]);
      expect(await p.exited).toBe(1);
      expect(p.output()).toMatch(new RegExp(`port ${port} is in use`));
      expect(p.output()).toMatch(/--port/);
      expect(p.output()).not.toMatch(/\n\s+at /);
    } finally {
      server.close();
    }
  }, 30_000);

  it.each([
    ['a YAML file', 'events.yaml', 'apiVersion: v1\nkind: Event\nreason: BackOff\n', /events\.yaml:1: not JSON/],
    ['an empty file', 'empty.json', '', /empty\.json is empty/],
    ['whitespace only', 'blank.json', '\n  \n', /blank\.json is empty/],
    ['JSON of another kind', 'other.json', '{"hello": "world"}\n', /other\.json:1: not a recording/],
    ['a file that is not there', 'missing.json', undefined, /cannot read .*missing\.json: no such file/],
  ])('replay refuses %s, saying which formats it reads, exit 1', async (_what, name, text, message) => {
    const path = text === undefined ? join(dir, name) : file(name, text);
    const p = reflex(['replay', path]);
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(message);
    if (text !== undefined) expect(p.output()).toMatch(/kubectl get events -A -o json/);
    expect(p.output()).not.toMatch(/0 events/);
  });

  it('replay reads one Event as kubectl get event X -o json writes it: one ADDED record', async () => {
    const backoff = (JSON.parse(watched()[11]!) as { object: unknown }).object;
    const p = reflex(['replay', file('one-event.json', JSON.stringify(backoff, null, 4))]);
    expect(await p.exited).toBe(0);
    expect(p.output()).toMatch(/BackOff x3 \(Warning\) on Pod shop\/web-6f9d8c7b5-q7x2m/);
    expect(p.output()).toMatch(/^1 event went through the broker; 1 signal, 1 decision, no delivery problems\.$/m);
  });

  it('replay: a delivery that failed is a problem found, exit 1, with what the subscriber said', async () => {
    const signal = { specversion: '1.0', id: 'x1', source: '/me', type: 'dev.reflex.signal.crashloop', time: '2026-11-22T10:00:00Z' };
    const p = reflex(['replay', file('bad-signal.ndjson', JSON.stringify({ ...signal, data: { hello: 'world' } }))]);
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/could not deliver dev\.reflex\.signal\.crashloop .*answered 400 \(data does not match the schema/);
    expect(p.output()).toMatch(/; 1 signal, 0 decisions, 2 delivery problems\./);
  });

  it.each([
    [['replay', incident, 'extra.json'], /replay takes one recording/],
    [['replay'], /replay needs a recording/],
    [['replay', '--nope', incident], /unknown option --nope/],
    [['replay', incident, '--rules'], /--rules needs a value/],
    [['dev', 'extra'], /dev takes no arguments/],
    [['dev', '--port', 'eighty'], /--port eighty: not a port number/],
    [['dev', '--source', incident, '--act'], /--act: .*--source cluster/],
    [['dev', '--act'], /--act: with no kubeconfig there is no cluster to act on/],
    [['validate', 'knative'], /validate takes no arguments/],
    [['start', '--bogus'], /unknown option --bogus/],
    [['start', 'a.json', 'b.json'], /start takes one recording/],
    [['start', '--act'], /--act: .*replay/],
    [['frobnicate'], /unknown command frobnicate/],
  ])('reflex %j is a usage error: exit 2, the fault and how to get help', async (args, message) => {
    const p = reflex(args);
    expect(await p.exited).toBe(2);
    expect(p.output()).toMatch(message);
    expect(p.output()).toMatch(/reflex (\S+ )?--help/);
    expect(p.output()).not.toMatch(/ERR_PARSE_ARGS|\n\s+at /);
  });
});

describe('a conventional command line', () => {
  it.each([[['--help']], [['-h']], [['help']], [[]]])('reflex %j: every command, exit 0', async (args) => {
    const p = reflex(args);
    expect(await p.exited).toBe(0);
    for (const c of ['start', 'dev', 'replay', 'validate']) expect(p.output()).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(p.output()).toMatch(/--version/);
    expect(p.output()).toMatch(/Exit status: 0 .*, 1 .*, 2 /);
  });

  it.each([['start'], ['dev'], ['replay'], ['validate']])(
    'reflex %s --help (and reflex help %s): options and examples, exit 0',
    async (c) => {
      for (const args of [
        [c, '--help'],
        ['help', c],
      ]) {
        const p = reflex(args);
        expect(await p.exited).toBe(0);
        expect(p.output()).toMatch(new RegExp(`^usage: reflex ${c}`, 'm'));
        expect(p.output()).toMatch(/^Examples:$/m);
        expect(p.output()).toMatch(new RegExp(`^  (npx reflex|npm start) ${c === 'start' ? '' : c}`, 'm'));
        expect(p.output()).toMatch(/--json/);
      }
    },
  );

  it('reflex --version prints the version of package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const p = reflex(['--version']);
    expect(await p.exited).toBe(0);
    expect(p.output()).toBe(`reflex ${version}\n`);
  });

  it('validate --json: one JSON document, exit 0 when valid', async () => {
    const p = reflex(['validate', '--json']);
    expect(await p.exited).toBe(0);
    const doc = JSON.parse(p.output()) as { valid: boolean; manifests: string; checked: string[]; errors: unknown[] };
    expect(doc.valid).toBe(true);
    expect(doc.errors).toEqual([]);
    expect(doc.checked).toEqual(expect.arrayContaining([expect.stringMatching(/^Trigger recover-on-failure/)]));
  }, 30_000);

  const script = spawnSync('script', ['--version']).status === 0;
  (script ? it : it.skip)(
    'colour on a terminal only, and never with NO_COLOR set (any non-empty value)',
    () => {
      const recording = file('colour.json', readFileSync(incident, 'utf8').trim().split('\n').slice(0, 2).join('\n'));
      const onTty = (env: Record<string, string>): string => {
        const cmd = `${process.execPath} ${join(root, 'bin', 'reflex.js')} replay ${recording}`;
        const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, ...noCluster(), ...env }, encoding: 'utf8' });
        expect(r.status).toBe(0);
        return r.stdout;
      };
      expect(onTty({})).toContain('\u001b[');
      expect(onTty({ NO_COLOR: '1' })).not.toContain('\u001b[');
      expect(onTty({ NO_COLOR: 'false' })).not.toContain('\u001b[');
      // Not a terminal: never.
      const piped = reflex(['replay', recording]);
      return piped.exited.then((code) => {
        expect(code).toBe(0);
        expect(piped.output()).not.toContain('\u001b[');
      });
    },
    30_000,
  );

  (script ? it : it.skip)(
    'a long replay shows its progress on a terminal, and only there',
    async () => {
      const backoff = JSON.parse(watched()[11]!) as { type: string; object: { metadata: { name: string; uid: string } } };
      const lines = Array.from({ length: 250 }, (_, i) =>
        JSON.stringify({
          ...backoff,
          object: { ...backoff.object, metadata: { ...backoff.object.metadata, name: `e${i}.1`, uid: `u${i}` } },
        }),
      );
      const recording = file('long.ndjson', lines.join('\n'));
      const cmd = `${process.execPath} ${join(root, 'bin', 'reflex.js')} replay ${recording}`;
      const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { env: { ...process.env, ...noCluster() }, encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('\r250/250 events');
      // Piped, or asked for JSON: no progress in what a program reads.
      const piped = reflex(['replay', recording]);
      expect(await piped.exited).toBe(0);
      expect(piped.output()).not.toMatch(/\d+\/250 events/);
    },
    60_000,
  );
});

describe('npm start forwards what it is given', () => {
  // Only FailedScheduling is a rule: no crash loop, no load signal; the OOM kill is a pod state, not a rule.
  const rules = file(
    'rules.yaml',
    'rules:\n  - name: unschedulable-critical\n    when: { reason: FailedScheduling }\n    class: unschedulable\n    severity: critical\n',
  );
  const signals = (out: string): string[] =>
    rows(out)
      .filter((r) => r.kind === 'signal')
      .map((r) => r.text);

  it('npm start -- <recording> --rules FILE --json: a replay of that recording, with those rules, as JSON', async () => {
    const p = start('npm', ['start', '--silent', '--', incident, '--rules', rules, '--json'], {
      ...noCluster(),
      npm_config_loglevel: 'silent',
    });
    expect(await p.exited).toBe(0);
    expect(signals(p.output())).toEqual([
      'signal oomkilled WARNING on Deployment shop/worker (OOMKilled)',
      'signal unschedulable CRITICAL on Deployment shop/web (FailedScheduling, rule unschedulable-critical)',
    ]);
  }, 60_000);

  it('REFLEX_RULES_FILE from the environment when --rules is not given', async () => {
    const p = reflex(['start', incident, '--json'], { ...noCluster(), REFLEX_RULES_FILE: rules });
    expect(await p.exited).toBe(0);
    expect(signals(p.output())).toEqual([
      'signal oomkilled WARNING on Deployment shop/worker (OOMKilled)',
      'signal unschedulable CRITICAL on Deployment shop/web (FailedScheduling, rule unschedulable-critical)',
    ]);
  }, 30_000);

  it('a rules file that is not there: named, exit 1', async () => {
    const p = reflex(['replay', incident], { ...noCluster(), REFLEX_RULES_FILE: join(dir, 'nope.yaml') });
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/REFLEX_RULES_FILE=.*nope\.yaml/);
  }, 30_000);
});

describe('reflex replay explains every decision (issue 17)', () => {
  type Row = { at: string; kind: string; text: string; [k: string]: unknown };
  const jsonRows = (out: string): Row[] => rows(out) as Row[];
  const events = (out: string): Row[] => jsonRows(out).filter((r) => r.kind === 'event');

  /** `kubectl get events -A -o json`: core/v1 Events, listed by namespace and name, not by time. */
  const coreEvent = (namespace: string, name: string, involved: Record<string, string>, fields: Record<string, unknown>) => ({
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name, namespace, uid: `u-${name}`, creationTimestamp: fields['firstTimestamp'] },
    involvedObject: involved,
    eventTime: null,
    reportingComponent: '',
    reportingInstance: '',
    ...fields,
  });
  const pod = { apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-6f9d8c7b5-q7x2m', uid: 'p-q7x2m' };
  const list = {
    apiVersion: 'v1',
    kind: 'List',
    metadata: { resourceVersion: '' },
    items: [
      coreEvent(
        'default',
        'node-3.18799a3c4d5e6f70',
        { kind: 'Node', name: 'node-3', uid: 'n-3' },
        {
          reason: 'NodeNotReady',
          type: 'Normal',
          message: 'Node node-3 status is now: NodeNotReady',
          source: { component: 'node-controller' },
          count: 1,
          firstTimestamp: '2026-11-22T10:05:00Z',
          lastTimestamp: '2026-11-22T10:05:00Z',
        },
      ),
      coreEvent(
        'shop',
        'web-6f9d8c7b5-q7x2m.18799a0f0a1b2c3d',
        { ...pod, fieldPath: 'spec.containers{web}' },
        {
          reason: 'Pulled',
          type: 'Normal',
          message: 'Successfully pulled image "registry.example/web:2.5.0" in 1.2s (1.2s including waiting).\nImage size: 48213120 bytes.',
          source: { component: 'kubelet', host: 'node-1' },
          count: 1,
          firstTimestamp: '2026-11-22T10:00:12Z',
          lastTimestamp: '2026-11-22T10:00:12Z',
        },
      ),
      coreEvent(
        'shop',
        'web-6f9d8c7b5-q7x2m.18799a1a2b3c4d5e',
        { ...pod, fieldPath: 'spec.containers{web}' },
        {
          reason: 'BackOff',
          type: 'Warning',
          message: 'Back-off restarting failed container web in pod web-6f9d8c7b5-q7x2m_shop(p-q7x2m)',
          source: { component: 'kubelet', host: 'node-1' },
          count: 2,
          firstTimestamp: '2026-11-22T10:00:30Z',
          lastTimestamp: '2026-11-22T10:01:10Z',
        },
      ),
      coreEvent(
        'shop',
        'web.18799a0c1b2d3e4f',
        { apiVersion: 'apps/v1', kind: 'Deployment', namespace: 'shop', name: 'web', uid: 'd-web' },
        {
          reason: 'ScalingReplicaSet',
          type: 'Normal',
          message: 'Scaled up replica set web-6f9d8c7b5 from 0 to 1',
          source: { component: 'deployment-controller' },
          count: 1,
          firstTimestamp: '2026-11-22T10:00:00Z',
          lastTimestamp: '2026-11-22T10:00:00Z',
        },
      ),
    ],
  };

  it('a List in name order is replayed in time order, with the date, and every event says why it is or is not a signal', async () => {
    const p = reflex(['replay', file('events.json', JSON.stringify(list, null, 4))]);
    expect(await p.exited).toBe(0);
    const out = p.output();
    const timeline = out.slice(0, out.indexOf('\n\n'));
    expect(timeline.split('\n').filter((l) => /^(\d{4}-|\d\d:)/.test(l))).toEqual([
      '2026-11-22',
      '10:00:00  ScalingReplicaSet (Normal) on Deployment shop/web: Scaled up replica set web-6f9d8c7b5 from 0 to 1',
      '10:00:12  Pulled (Normal) on Pod shop/web-6f9d8c7b5-q7x2m: Successfully pulled image "registry.example/web:2.5.0" in 1.2s (1.2s including waiting). Image…',
      '10:01:10  BackOff x2 (Warning) on Pod shop/web-6f9d8c7b5-q7x2m: Back-off restarting failed container web in pod web-6f9d8c7b5-q7x2m_shop(p-q7x2m)',
      '10:05:00  NodeNotReady (Normal) on Node node-3: Node node-3 status is now: NodeNotReady',
      '10:05:00     -> signal nodenotready CRITICAL on Node node-3 (NodeNotReady, rule node-not-ready)',
      // What enrich read of the node (its evidence is indented below, with no time).
      '10:05:00     -> enrich gathered the evidence on Node node-3 (nodenotready)',
      expect.stringMatching(/^10:05:00 {5}-> recover .* Node node-3/),
    ]);
    // Below each event that became no signal, classify's own reason.
    expect(timeline).toContain(
      'on Pod shop/web-6f9d8c7b5-q7x2m: Back-off restarting failed container web in pod web-6f9d8c7b5-q7x2m_shop(p-q7x2m)\n' +
        '          no signal: rule crashloop-backoff: 2 of 3 occurrences within 900s\n',
    );
    expect(timeline).toContain('\n          no signal: no rule matches reason Pulled (Normal) on Pod\n');
    expect(timeline).toContain('\n          no signal: no rule matches reason ScalingReplicaSet (Normal) on Deployment\n');
  }, 30_000);

  it('--json: each row carries its fields, the reason for no signal being the one classify gave', async () => {
    const p = reflex(['replay', file('events.json', JSON.stringify(list)), '--json']);
    expect(await p.exited).toBe(0);
    const all = jsonRows(p.output());
    expect(events(p.output()).map((r) => [r.at, r.reason])).toEqual([
      ['2026-11-22T10:00:00.000Z', 'ScalingReplicaSet'],
      ['2026-11-22T10:00:12.000Z', 'Pulled'],
      ['2026-11-22T10:01:10.000Z', 'BackOff'],
      ['2026-11-22T10:05:00.000Z', 'NodeNotReady'],
    ]);
    const [, pulled, backOff, node] = events(p.output());
    expect(backOff).toEqual({
      at: '2026-11-22T10:01:10.000Z',
      kind: 'event',
      text: expect.stringMatching(/^BackOff x2 \(Warning\) on Pod shop\/web-6f9d8c7b5-q7x2m: Back-off/),
      namespace: 'shop',
      object: { kind: 'Pod', name: 'web-6f9d8c7b5-q7x2m' },
      reason: 'BackOff',
      type: 'Warning',
      count: 2,
      message: 'Back-off restarting failed container web in pod web-6f9d8c7b5-q7x2m_shop(p-q7x2m)',
      outcome: 'none',
      why: 'rule crashloop-backoff: 2 of 3 occurrences within 900s',
      rule: 'crashloop-backoff',
    });
    // The message on one line; no rule, so no `rule`.
    expect(pulled).toMatchObject({
      message: 'Successfully pulled image "registry.example/web:2.5.0" in 1.2s (1.2s including waiting). Image size: 48213120 bytes.',
      outcome: 'none',
      why: 'no rule matches reason Pulled (Normal) on Pod',
    });
    expect(pulled).not.toHaveProperty('rule');
    expect(node).toMatchObject({ object: { kind: 'Node', name: 'node-3' }, outcome: 'signal', rule: 'node-not-ready' });
    expect(all.find((r) => r.kind === 'signal')).toEqual({
      at: '2026-11-22T10:05:00.000Z',
      kind: 'signal',
      text: 'signal nodenotready CRITICAL on Node node-3 (NodeNotReady, rule node-not-ready)',
      class: 'nodenotready',
      severity: 'critical',
      target: { kind: 'Node', name: 'node-3' },
      rule: 'node-not-ready',
      reason: 'NodeNotReady',
    });
    expect(all.find((r) => r.kind === 'action')).toEqual({
      at: '2026-11-22T10:05:00.000Z',
      kind: 'action',
      text: expect.stringMatching(/^recover /),
      function: 'recover',
      outcome: expect.any(String),
      verb: 'drained',
      target: { kind: 'Node', name: 'node-3' },
      reason: expect.any(String),
      dryRun: expect.any(Boolean),
    });
  }, 30_000);

  it('events.k8s.io/v1 Events with a null eventTime happen at their series or deprecated times, in time order', async () => {
    // `kubectl get events.v1.events.k8s.io -A -o json`: c was written through events.k8s.io/v1 (eventTime);
    // a and b through core/v1 (eventTime null, the deprecated fields), b repeated as a series.
    const v1 = (name: string, fields: Record<string, unknown>) => ({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name, namespace: 'shop', uid: `u-${name}`, creationTimestamp: '2026-11-22T10:00:00Z' },
      regarding: { ...pod, fieldPath: 'spec.containers{web}' },
      type: 'Warning',
      ...fields,
    });
    const eventsList = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        v1('a', {
          reason: 'BackOff',
          note: 'Back-off restarting failed container web in pod web-6f9d8c7b5-q7x2m_shop(p-q7x2m)',
          eventTime: null,
          reportingController: '',
          deprecatedSource: { component: 'kubelet', host: 'node-1' },
          deprecatedFirstTimestamp: '2026-11-22T10:00:30Z',
          deprecatedLastTimestamp: '2026-11-22T10:02:30Z',
          deprecatedCount: 3,
        }),
        v1('b', {
          reason: 'FailedMount',
          note: 'MountVolume.SetUp failed for volume "config" : configmap "web-config" not found',
          eventTime: null,
          reportingController: '',
          deprecatedSource: { component: 'kubelet', host: 'node-1' },
          deprecatedFirstTimestamp: '2026-11-22T10:00:00Z',
          deprecatedLastTimestamp: '2026-11-22T10:01:00Z',
          deprecatedCount: 1,
          series: { count: 2, lastObservedTime: '2026-11-22T10:03:00.000000Z' },
        }),
        v1('c', {
          reason: 'Pulled',
          type: 'Normal',
          note: 'Container image "registry.example/web:2.5.0" already present on machine',
          eventTime: '2026-11-22T10:01:00.500000Z',
          reportingController: 'kubelet',
          reportingInstance: 'node-1',
          action: 'Pulling',
        }),
      ],
    };
    const p = reflex(['replay', file('events-v1.json', JSON.stringify(eventsList, null, 2)), '--json']);
    expect(await p.exited).toBe(0);
    expect(events(p.output()).map((r) => [r.at, r.reason, r.count, r.outcome, r.rule])).toEqual([
      ['2026-11-22T10:01:00.500Z', 'Pulled', 1, 'none', undefined],
      ['2026-11-22T10:02:30.000Z', 'BackOff', 3, 'signal', 'crashloop-backoff'],
      ['2026-11-22T10:03:00.000Z', 'FailedMount', 2, 'signal', 'mount-failed'],
    ]);
  }, 30_000);
});
