/** _kit/config-file — a YAML configuration file, validated by its schema, or a ConfigError naming the place. */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { ConfigError } from './errors.js';
import { defaultSchemasDir, faultsOf, loadSchemas } from './schemas.js';

export function parseConfigText<T>(text: string, source: string, schemaId: string): T {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigError(source, `not valid YAML: ${err instanceof Error ? err.message : String(err)}`);
  }
  const validate = loadSchemas([defaultSchemasDir()]).validator(schemaId);
  if (!validate(doc))
    throw new ConfigError(
      source,
      faultsOf(validate.errors, '')
        .map((f) => `${f.where || '/'} ${f.message}`)
        .join('; '),
    );
  return doc as T;
}

export function loadConfigFile<T>(path: string, schemaId: string): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, `cannot read it: ${err instanceof Error ? err.message : String(err)}`);
  }
  return parseConfigText<T>(text, path, schemaId);
}
