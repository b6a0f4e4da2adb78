/**
 * scripts/function — runs one function by name. From source: `npm run function -- <name>`;
 * built, in the container: `node dist/scripts/function.js <name>` (or REFLEX_FUNCTION=<name>),
 * which runs the bundle dist/fn/<name>.mjs (scripts/bundle.ts) when the build made one.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FunctionDefinition } from '../functions/_kit/index.js';
import { functionNames, functionsDir } from './function-names.js';

const name = process.argv[2] ?? process.env['REFLEX_FUNCTION'];
const names = functionNames();
if (!name || !names.includes(name)) {
  process.stderr.write(`usage: npm run function -- <name>   (or REFLEX_FUNCTION=<name>)\n  functions: ${names.join(', ')}\n`);
  process.exit(2);
}
/** Source (tsx) or built (dist) layout: import the sibling of this file's own kind. */
const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
const bundle = join(dirname(fileURLToPath(import.meta.url)), '..', 'fn', `${name}.mjs`);
if (ext === 'js' && existsSync(bundle)) {
  // The bundle runs itself; the kit's own modules are never read.
  await import(pathToFileURL(bundle).href);
} else {
  const { run } = await import('../functions/_kit/index.js');
  const mod = (await import(pathToFileURL(join(functionsDir, name, `index.${ext}`)).href)) as { default: FunctionDefinition<unknown> };
  await run(mod.default);
}
