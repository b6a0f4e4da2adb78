/** scripts/function-names — the functions of this repository, by folder. */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const functionsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'functions');

/** Every folder in functions/ that is not shared code (_kit, _act, _signals…) is a function. */
export function functionNames(): string[] {
  return readdirSync(functionsDir, { withFileTypes: true })
    .filter((e) => e.isDirectory() && !e.name.startsWith('_'))
    .map((e) => e.name)
    .sort();
}
