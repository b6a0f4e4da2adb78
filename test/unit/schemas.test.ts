/** Every schema compiles in ajv's strict mode, and every example it carries satisfies it. */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { defaultSchemasDir, loadSchemas, SCHEMA_BASE } from '../../functions/_kit/schemas.js';

const dir = defaultSchemasDir();
const files = (d: string): string[] =>
  readdirSync(d, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(d, e.name)) : e.name.endsWith('.json') ? [join(d, e.name)] : [],
  );
const registry = loadSchemas([dir]);

describe.each(files(dir).map((f) => [relative(dir, f), f]))('%s', (name, file) => {
  const schema = JSON.parse(readFileSync(file, 'utf8')) as { $id: string; examples?: unknown[] };

  it('has the $id its path gives', () => {
    expect(schema.$id).toBe(SCHEMA_BASE + name);
  });

  it('compiles, and its examples validate', () => {
    const validate = registry.validator(schema.$id);
    expect(schema.examples?.length ?? 0).toBeGreaterThan(0);
    for (const example of schema.examples ?? []) {
      const ok = validate(example);
      expect(ok ? 'valid' : validate.errors).toBe('valid');
    }
  });
});
