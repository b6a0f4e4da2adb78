/**
 * `reflex silence` without a cluster (issue 20): its help, matchers refused with a clear error and
 * exit 2 before anything is contacted, the command a message suggests accepted once <why> is
 * replaced, and a cluster that does not answer said as such (exit 1). On a real API server:
 * test/cluster/notify-silences.test.ts.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../functions/_kit/schemas.js';
import { start, type Proc } from './process.js';

const root = projectRoot();
const noCluster = (): Record<string, string> => ({
  HOME: mkdtempSync(join(tmpdir(), 'reflex-home-')),
  KUBECONFIG: '',
  KUBERNETES_SERVICE_HOST: '',
  NO_COLOR: '',
});
const running: Proc[] = [];
afterAll(() => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
});

async function reflex(args: readonly string[], env: Record<string, string> = noCluster()): Promise<{ code: number | null; out: string }> {
  const p = start(process.execPath, [join(root, 'bin', 'reflex.js'), ...args], env);
  running.push(p);
  const code = await p.exited;
  return { code, out: p.output() };
}

describe('reflex silence', () => {
  it('is listed by reflex --help, and its own --help says the subcommands, the matchers and examples (exit 0)', async () => {
    expect((await reflex(['--help'])).out).toMatch(/^ {2}silence +hold notify's messages back/m);
    const help = await reflex(['silence', '--help']);
    expect(help.code).toBe(0);
    for (const want of [
      'usage: reflex silence add <matcher>...',
      '  list ',
      '  expire <id>...',
      '--comment TEXT',
      '--duration D',
      'Examples:',
    ])
      expect(help.out).toContain(want);
  });

  it.each([
    [
      ['add', 'clas=crashloop', '--comment', 'x'],
      /matcher "clas=crashloop": unknown name "clas"; matchers name class, severity, namespace, target, reason/,
    ],
    [['add', 'class=crashlop', '--comment', 'x'], /unknown class "crashlop"; the classes are crashloop, oomkilled/],
    [['add', 'severity=high', '--comment', 'x'], /unknown severity "high"/],
    [['add', 'target=web', '--comment', 'x'], /a target is <kind>\/<name>, e.g. deployment\/web/],
    [['add', 'target=~(web', '--comment', 'x'], /not a valid RE2 regular expression/],
    [['add', 'reason=~(?!x)', '--comment', 'x'], /not a valid RE2 regular expression/],
    [['add', 'namespace!=shop', '--comment', 'x'], /would silence nearly everything/],
    [['add', '--comment', 'x'], /at least one matcher/],
    [['add', 'class=crashloop'], /--comment is required/],
    [['add', 'class=crashloop', '--comment', 'x', '--duration', '2 hours'], /--duration 2 hours: not a duration/],
    [['add', 'class=crashloop', '--comment', 'x', '--end', '2020-01-01T00:00:00Z'], /would end in the past/],
    [['add', 'class=crashloop', '--comment', 'x', '--end', 'tomorrow'], /--end tomorrow: not a time/],
    [['add', 'class=crashloop', '--comment', 'x', '--end', '2099-01-01T00:00:00Z', '--duration', '1h'], /--end or --duration, not both/],
    [['list', '--comment', 'x'], /--comment does not apply to silence list/],
    [['expire'], /needs the id of a silence/],
    [['mute'], /unknown subcommand mute; the subcommands are add, list, expire/],
    [[], /silence needs a subcommand: add, list, expire/],
  ])('%j: refused with a clear error, exit 2, before any cluster is contacted', async (args, why) => {
    const r = await reflex(['silence', ...args]);
    expect(r.code).toBe(2);
    expect(r.out).toMatch(why);
    expect(r.out).toContain('Run `reflex silence --help`');
  });

  it('the command a message suggests: refused while it says <why>, accepted once it says why (here there is no cluster: exit 1, saying so)', async () => {
    const suggested = ['add', 'class=crashloop', 'namespace=shop', 'target=deployment/web', '--duration', '1h'];
    const placeholder = await reflex(['silence', ...suggested, '--comment', '<why>']);
    expect([placeholder.code, placeholder.out]).toEqual([2, expect.stringContaining('replace <why> with the reason')]);
    const real = await reflex(['silence', ...suggested, '--comment', 'rolling back by hand']);
    expect([real.code, real.out.trim()]).toEqual([
      1,
      'reflex: no kubeconfig found (KUBECONFIG or ~/.kube/config): silences live in the cluster notify runs in',
    ]);
  });

  it('a cluster that does not answer is named, with its context and server (exit 1)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reflex-kc-'));
    const kubeconfig = join(dir, 'config');
    writeFileSync(
      kubeconfig,
      'apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: "https://127.0.0.1:1", insecure-skip-tls-verify: true}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: gone\n  context: {cluster: c, user: u}\ncurrent-context: gone\n',
    );
    const r = await reflex(['silence', 'list'], { ...noCluster(), KUBECONFIG: kubeconfig });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/the cluster of kube context gone \(https:\/\/127\.0\.0\.1:1\) does not answer/);
  });
});
