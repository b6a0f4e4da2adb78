/**
 * The production image builds only the functions and their launcher: the development broker,
 * CESQL and the reflex CLI (dev/) must not reach dist/, not even through an import.
 */
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundle } from '../../scripts/bundle.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)).map((f) => `${e.name}/${f}`) : [e.name],
  );
}

describe('the production build', () => {
  it('is what the Dockerfile builds', () => {
    const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/RUN npm run build\n/);
    expect(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts.build).toBe(
      'tsc -p tsconfig.build.json && node --import tsx scripts/bundle.ts',
    );
    // The final stage takes dist/ and no node_modules: the bundles carry their dependencies.
    expect(dockerfile.slice(dockerfile.lastIndexOf('FROM '))).not.toMatch(/node_modules/);
    expect(dockerfile).toMatch(/ENTRYPOINT \["node", "dist\/scripts\/function\.js"\]/);
    expect(dockerfile).not.toMatch(/COPY dev\b/);
  });

  it('holds the functions and the launcher, and no development code', () => {
    const out = mkdtempSync(join(tmpdir(), 'reflex-dist-'));
    try {
      execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', out], {
        cwd: root,
        stdio: 'pipe',
      });
      const built = files(out).filter((f) => f.endsWith('.js'));
      expect(built).toContain('scripts/function.js');
      expect(built).toContain('scripts/function-names.js');
      for (const fn of ['classify', 'sweep', 'recover', 'scale', 'enrich', 'notify', 'deadletter'])
        expect(built).toContain(`functions/${fn}/index.js`);
      // Only the functions' tree and the launcher: nothing from dev/ (mesh, CESQL, CLI), tests or benchmarks.
      expect(built.filter((f) => !f.startsWith('functions/') && !['scripts/function.js', 'scripts/function-names.js'].includes(f))).toEqual(
        [],
      );
      expect(built.filter((f) => /mesh|cesql|reflex\.js|broker|\.test\.js$/.test(f))).toEqual([]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('bundles each function with its dependencies, and no development code', async () => {
    const out = mkdtempSync(join(tmpdir(), 'reflex-fn-'));
    try {
      const { names, inputs } = await bundle(out);
      expect(names).toEqual(expect.arrayContaining(['classify', 'sweep', 'recover', 'scale', 'enrich', 'notify', 'deadletter', 'alerts']));
      for (const n of names) expect(readdirSync(out)).toContain(`${n}.mjs`);
      expect(inputs.filter((f) => f.startsWith('node_modules/')).length).toBeGreaterThan(0);
      expect(inputs.filter((f) => /^(dev|test|bench)\/|\.test\.ts$/.test(f))).toEqual([]);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});
