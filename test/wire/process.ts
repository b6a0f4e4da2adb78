/** Helpers for wire tests that run a function as a real process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** A port nobody is listening on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Proc {
  readonly child: ChildProcess;
  readonly output: () => string;
  readonly exited: Promise<number | null>;
}

/** `group`: a process group of its own, so a signal to -pid reaches everything it started. */
export function start(command: string, args: readonly string[], env: Record<string, string>, options: { group?: boolean } = {}): Proc {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.group ?? false,
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  // At 'exit' the pipes may still hold output; a process it started may keep them open for good,
  // so the rest is waited for a short while, not until 'close'.
  const drained = (s: NodeJS.ReadableStream | null): Promise<void> =>
    s
      ? new Promise((r) => ((s as NodeJS.ReadableStream & { readableEnded?: boolean }).readableEnded ? r() : s.once('end', () => r())))
      : Promise.resolve();
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      let timer: NodeJS.Timeout | undefined;
      void Promise.race([
        Promise.all([drained(child.stdout), drained(child.stderr)]),
        new Promise((r) => (timer = setTimeout(r, 2000))),
      ]).then(() => {
        clearTimeout(timer);
        resolve(code);
      });
    }),
  );
  return { child, output: () => out, exited };
}

/** Polls url until it answers `status` (or the deadline passes). */
export async function waitFor(url: string, status = 200, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).status === status) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
