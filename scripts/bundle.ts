/**
 * scripts/bundle — each function as one ES module for the image: dist/fn/<name>.mjs (run with
 * `node dist/fn/<name>.mjs`), its dependencies bundled in, the code they share in common chunks.
 * Node then reads a few files instead of some hundreds at start-up; the Kubernetes client, imported
 * only when a function first needs it, stays a chunk of its own that a function without cluster
 * work never loads, and so does the OpenTelemetry SDK, imported only when an OTLP endpoint is set
 * (functions/_kit/tracing.ts); every JSON Schema is compiled here, once, into ajv's standalone code. bench/README.md
 * has the figures. Run by `npm run build`.
 */
import { _ } from 'ajv';
import standaloneModule from 'ajv/dist/standalone/index.js';
import { build, type Metafile, type Plugin } from 'esbuild';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { defaultSchemasDir, newAjv, readSchemas } from '../functions/_kit/schemas.js';
import { functionNames } from './function-names.js';

// ajv's standalone module is CommonJS with a default export that ESM sees one level down.
const standaloneCode = ((standaloneModule as unknown as { default?: typeof standaloneModule }).default ?? standaloneModule) as unknown as (
  ajv: ReturnType<typeof newAjv>,
  refs: Record<string, string>,
) => string;

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist', 'fn');

/**
 * Every schema of schemas/ as ajv's standalone code (the same ajv options as at run time), and
 * `byId`, the validators by `$id`: a bundled function compiles no schema at start-up.
 */
export function validatorsSource(): string {
  const schemas = readSchemas([defaultSchemasDir()]);
  // The formats are referenced, not inlined: the code requires ajv-formats, which esbuild bundles.
  const ajv = newAjv({ code: { source: true, esm: true, formats: _`require("ajv-formats/dist/formats").fullFormats` } });
  for (const s of schemas) ajv.addSchema(s.schema);
  const names = new Map(schemas.map((s, i) => [s.id, `v${i}`]));
  const code = standaloneCode(ajv, Object.fromEntries([...names].map(([id, name]) => [name, id])));
  return `${code}\nexport const byId = {${[...names].map(([id, name]) => `${JSON.stringify(id)}: ${name}`).join(', ')}};\n`;
}

/**
 * `reflex-fn:<name>`: an entry that runs that function as scripts/function.ts does, with the
 * precompiled validators (`reflex-fn:validators`).
 */
const entries: Plugin = {
  name: 'reflex-fn',
  setup(b) {
    let validators: string | undefined;
    b.onResolve({ filter: /^reflex-fn:/ }, (a) => ({ path: a.path.slice('reflex-fn:'.length), namespace: 'reflex-fn' }));
    b.onLoad({ filter: /.*/, namespace: 'reflex-fn' }, (a) =>
      a.path === 'validators'
        ? { resolveDir: root, loader: 'js', contents: (validators ??= validatorsSource()) }
        : {
            resolveDir: root,
            loader: 'ts',
            contents: [
              `import { byId } from 'reflex-fn:validators';`,
              `import { usePrecompiled } from './functions/_kit/schemas.ts';`,
              `import definition from './functions/${a.path}/index.ts';`,
              `import { run } from './functions/_kit/index.ts';`,
              'usePrecompiled(byId);',
              'await run(definition);',
            ].join('\n'),
          },
    );
  },
};

/** Bundles every function into `outDir` (emptied first); the metafile says what went in, and where. */
export async function bundle(outDir = out): Promise<{ names: string[]; inputs: string[]; outputs: Metafile['outputs'] }> {
  rmSync(outDir, { recursive: true, force: true });
  const names = functionNames();
  const result = await build({
    entryPoints: Object.fromEntries(names.map((n) => [n, `reflex-fn:${n}`])),
    plugins: [entries],
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    // CommonJS dependencies (express, prom-client…) call require() for Node's own modules.
    banner: { js: "import { createRequire as __reflexRequire } from 'node:module'; const require = __reflexRequire(import.meta.url);" },
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
  });
  return { names, inputs: Object.keys(result.metafile.inputs), outputs: result.metafile.outputs };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { names } = await bundle();
  process.stdout.write(`bundled ${names.length} functions into ${out}: ${names.join(', ')}\n`);
}
