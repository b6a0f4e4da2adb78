// jest global setup of the browser tests: Debian's Chromium must be there. On a fresh machine, as
// root, it is installed with apt-get (saying so); otherwise the run stops saying how to get it.
// Never a silent skip: a console nobody tested in a browser is not tested.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** The browser the tests drive: Debian's package (REFLEX_CHROMIUM: another Chromium binary). */
const chromium = process.env.REFLEX_CHROMIUM || '/usr/bin/chromium';

function run(command, args) {
  process.stderr.write(`browser tests: ${command} ${args.join(' ')}\n`);
  const r = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0)
    throw new Error(
      `browser tests: \`${command} ${args.join(' ')}\` failed (exit ${r.status ?? r.signal}); install Chromium by hand: apt-get install -y chromium`,
    );
}

export default async function globalSetup() {
  if (!existsSync(chromium)) {
    const root = process.getuid?.() === 0;
    const apt = spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
    if (!root || !apt)
      throw new Error(
        `browser tests: no Chromium at ${chromium}, and ${!apt ? 'no apt-get here' : 'not root'} to install it.\n` +
          '  Install it (Debian: sudo apt-get install -y chromium), or set REFLEX_CHROMIUM to a Chromium binary.',
      );
    process.stderr.write(`\nbrowser tests: no Chromium at ${chromium}: installing Debian's package\n`);
    run('apt-get', ['update']);
    run('apt-get', ['install', '-y', '--no-install-recommends', 'chromium']);
    if (!existsSync(chromium)) throw new Error(`browser tests: apt-get installed chromium, yet there is no ${chromium}`);
  }
  const version = spawnSync(chromium, ['--version'], { encoding: 'utf8' });
  process.stderr.write(`\nbrowser tests: ${(version.stdout || '').trim() || chromium}\n`);
}
