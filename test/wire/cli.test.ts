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

/** A recorded watch event as the ApiServerSource would POST it, with its times set to now. */
function posted(index: number): { headers: Record<string, string>; body: string } {
  const r = JSON.parse(readFileSync(incident, 'utf8').trim().split('\n')[index]!) as { type: WatchType; object: K8sObject };
  const now = new Date().toISOString();
  const o = JSON.parse(JSON.stringify(r.object).replaceAll(/"2026-11-22T[0-9:.]+Z"/g, JSON.stringify(now))) as K8sObject;
  return apiServerSourceMessage(r.type, o, 'https://kubernetes.default.svc', new Date(), 'Resource');
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
    const decisive = (out: string) => rows(out).filter((r) => r.kind === 'signal' || r.kind === 'action');
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
    const records = readFileSync(incident, 'utf8').trim().split('\n');
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
    const out = await until(dev, (o) => arrows(o).length >= 4);
    const texts = arrows(out).map(([, t]) => t);
    expect(texts).toEqual(
      expect.arrayContaining([
        'signal crashloop WARNING on Deployment shop/web (BackOff)',
        'signal oomkilled WARNING on Deployment shop/worker (OOMKilled)',
        expect.stringMatching(/^recover .*Deployment shop\/web/),
        expect.stringMatching(/^recover .*Deployment shop\/worker/),
      ]),
    );
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
    const backoff = (JSON.parse(readFileSync(incident, 'utf8').trim().split('\n')[11]!) as { object: unknown }).object;
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
      'signal unschedulable CRITICAL on Deployment shop/web (FailedScheduling)',
    ]);
  }, 60_000);

  it('REFLEX_RULES_FILE from the environment when --rules is not given', async () => {
    const p = reflex(['start', incident, '--json'], { ...noCluster(), REFLEX_RULES_FILE: rules });
    expect(await p.exited).toBe(0);
    expect(signals(p.output())).toEqual([
      'signal oomkilled WARNING on Deployment shop/worker (OOMKilled)',
      'signal unschedulable CRITICAL on Deployment shop/web (FailedScheduling)',
    ]);
  }, 30_000);

  it('a rules file that is not there: named, exit 1', async () => {
    const p = reflex(['replay', incident], { ...noCluster(), REFLEX_RULES_FILE: join(dir, 'nope.yaml') });
    expect(await p.exited).toBe(1);
    expect(p.output()).toMatch(/REFLEX_RULES_FILE=.*nope\.yaml/);
  }, 30_000);
});
