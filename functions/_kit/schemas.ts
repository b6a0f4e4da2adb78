/**
 * _kit/schemas — every JSON Schema in schemas/, in one ajv instance; each compiled once, when first
 * asked for (the server asks for those of its accepted types at start-up, so a broken one still
 * fails start-up; test/unit/schemas.test.ts compiles them all). A function pays only for its own;
 * a bundled function (scripts/bundle.ts) for none: its validators were generated at build time.
 */
import { Ajv2020, type ErrorObject, type Options, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Fault } from './errors.js';

// ajv-formats is CommonJS with a default export that ESM sees one level down.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as unknown as (
  ajv: Ajv2020,
) => void;

/** Where `$id`s live: a schema file `schemas/<name>.json` has `$id` `${SCHEMA_BASE}<name>.json`. */
export const SCHEMA_BASE = 'https://reflex.dev/schemas/';

export interface SchemaRegistry {
  /** The compiled validator for a schema `$id`; throws at start-up if unknown. */
  validator(id: string): ValidateFunction;
  has(id: string): boolean;
  readonly ids: readonly string[];
}

/**
 * The project root (the folder holding package.json and schemas/), found from this file in both
 * the source and the dist layouts, and in the container image.
 */
export function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'schemas')) && existsSync(join(dir, 'package.json'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the project root (package.json + schemas/) above ' + fileURLToPath(import.meta.url));
}

export function defaultSchemasDir(): string {
  return join(projectRoot(), 'schemas');
}

function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? jsonFiles(join(dir, e.name)) : e.name.endsWith('.json') ? [join(dir, e.name)] : [],
  );
}

/** The ajv every schema is compiled with, at run time or (scripts/bundle.ts) at build time. */
export function newAjv(options: Options = {}): Ajv2020 {
  // strict: a typo in a schema keyword is an error, not a silently ignored rule.
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, ...options });
  addFormats(ajv);
  return ajv;
}

/** Every schema file of `dirs`, parsed; each must have an `$id`. */
export function readSchemas(dirs: readonly string[]): { readonly id: string; readonly schema: object }[] {
  return dirs.flatMap((dir) =>
    jsonFiles(dir).map((file) => {
      const schema = JSON.parse(readFileSync(file, 'utf8')) as { $id?: string };
      if (typeof schema.$id !== 'string') throw new Error(`${file}: a schema needs an $id`);
      return { id: schema.$id, schema };
    }),
  );
}

const loaded = new Map<string, SchemaRegistry>();
let precompiled: Readonly<Record<string, ValidateFunction>> | undefined;

/**
 * The validators of schemas/ as ajv's standalone code generated them at build time (the bundles'
 * entry calls this; scripts/bundle.ts): the registry of the default folder then compiles nothing.
 */
export function usePrecompiled(byId: Readonly<Record<string, ValidateFunction>>): void {
  precompiled = byId;
  loaded.clear();
}

/** One registry per set of folders per process: the kit and config parsers share it. */
export function loadSchemas(dirs: readonly string[]): SchemaRegistry {
  const key = dirs.join('\u0000');
  let registry = loaded.get(key);
  if (!registry) {
    registry = precompiled && dirs.length === 1 && dirs[0] === defaultSchemasDir() ? fromPrecompiled(precompiled) : compileSchemas(dirs);
    loaded.set(key, registry);
  }
  return registry;
}

function fromPrecompiled(byId: Readonly<Record<string, ValidateFunction>>): SchemaRegistry {
  const ids = Object.keys(byId);
  return {
    ids,
    has: (id) => Object.hasOwn(byId, id),
    validator(id) {
      const v = byId[id];
      if (!v) throw new Error(`no schema with $id ${id} (known: ${ids.join(', ') || 'none'})`);
      return v;
    },
  };
}

function compileSchemas(dirs: readonly string[]): SchemaRegistry {
  const schemas = readSchemas(dirs);
  const ids = schemas.map((s) => s.id);
  // Made on first use: a function that validates nothing never pays for ajv.
  let ajv: Ajv2020 | undefined;
  const compiled = new Map<string, ValidateFunction>();
  return {
    ids,
    has: (id) => ids.includes(id),
    validator(id) {
      let v = compiled.get(id);
      if (!v) {
        if (!ajv) {
          ajv = newAjv();
          for (const s of schemas) ajv.addSchema(s.schema);
        }
        v = ajv.getSchema(id);
        if (!v) throw new Error(`no schema with $id ${id} (known: ${ids.join(', ') || 'none'})`);
        compiled.set(id, v);
      }
      return v;
    },
  };
}

/** ajv errors as faults: where (a JSON pointer into data) and what. */
export function faultsOf(errors: readonly ErrorObject[] | null | undefined, root = 'data'): Fault[] {
  return (errors ?? []).map((e) => {
    const extra =
      e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: string }).additionalProperty)})` : '';
    return { where: `${root}${e.instancePath}`, message: `${e.message ?? 'invalid'}${extra}` };
  });
}
