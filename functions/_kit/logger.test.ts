import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { createLogger, stdoutSink } from './logger.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('the stdout sink', () => {
  it('writes the lines of one turn of the event loop in one write, in order, after it', async () => {
    const writes: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, done) {
        writes.push(chunk.toString());
        done();
      },
    });
    const log = createLogger('info', { function: 't' }, stdoutSink(out));
    log.info('one');
    log.warn('two', { n: 2 });
    log.debug('hidden');
    log.error('three');
    expect(writes).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(writes).toHaveLength(1);
    const lines = writes[0]!
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; n?: number });
    expect(lines.map((l) => l.msg)).toEqual(['one', 'two', 'three']);
    expect(lines[1]!.n).toBe(2);
    log.info('four');
    await new Promise((r) => setImmediate(r));
    expect(writes).toHaveLength(2);
  });

  it('writes what is pending when the process exits right after logging', () => {
    const script = [
      "import { createLogger } from './functions/_kit/logger.ts';",
      "const log = createLogger('info');",
      "for (let i = 0; i < 3; i++) log.info('line ' + i);",
      'process.exit(3);',
    ].join('\n');
    let stdout = '';
    try {
      execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    } catch (err) {
      const e = err as { status: number; stdout: string };
      expect(e.status).toBe(3);
      stdout = e.stdout;
    }
    expect(
      stdout
        .trimEnd()
        .split('\n')
        .map((l) => (JSON.parse(l) as { msg: string }).msg),
    ).toEqual(['line 0', 'line 1', 'line 2']);
  });
});
