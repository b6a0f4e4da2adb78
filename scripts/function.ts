/**
 * scripts/function — runs one function by name. From source: `npm run function -- <name>`;
 * built, in the container: `node dist/scripts/function.js <name>` (or REFLEX_FUNCTION=<name>).
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { run, type FunctionDefinition } from '../functions/_kit/index.js';

const functionsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'functions');
/** Every folder in functions/ that is not shared code (_kit, _act, _signals…) is a function. */
export function functionNames(): string[] {
  return readdirSync(functionsDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('_'))
    .map((e) => e.name)
    .sort();
}

const name = process.argv[2] ?? process.env['REFLEX_FUNCTION'];
/** Source (tsx) or built (dist) layout: import the sibling of this file's own kind. */
const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
const names = functionNames();
if (!name || !names.includes(name)) {
  process.stderr.write(`usage: npm run function -- <name>   (or REFLEX_FUNCTION=<name>)\n  functions: ${names.join(', ')}\n`);
  process.exit(2);
}
const mod = (await import(pathToFileURL(join(functionsDir, name, `index.${ext}`)).href)) as { default: FunctionDefinition<unknown> };
await run(mod.default);
