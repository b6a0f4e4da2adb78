/**
 * The CloudEvents SQL TCK as data, found and read once for every test that uses it
 * (test/unit/cesql-tck.test.ts checks dev/cesql against it; test/cluster/knative-oracle.test.ts
 * puts its expressions to Knative). Where it comes from: docs/cesql.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import type { CesqlErrorKind, CesqlValue } from '../../dev/cesql/index.js';

/** The Go module that ships a copy of the TCK; the proxy refuses version lists, so the version is exact. */
export const GO_MODULE = 'github.com/cloudevents/sdk-go/sql/v2@v2.16.2';

export interface TckCase {
  /** As written: names and expressions such as `TRUE` or `0` are not typed by YAML. */
  readonly name: string;
  readonly expression: string;
  readonly result?: CesqlValue;
  readonly error?: CesqlErrorKind;
  readonly event?: Record<string, unknown>;
  readonly eventOverrides?: Record<string, unknown>;
}

export interface TckFile {
  readonly file: string;
  readonly cases: readonly TckCase[];
}

/**
 * Any valid event will do when a case gives none (the README); this one has every optional
 * context attribute and an extension of each type, and none of the names cases treat as missing.
 */
export const FULL_EVENT: Readonly<Record<string, unknown>> = {
  specversion: '1.0',
  id: 'full-event',
  source: 'http://example.com/source',
  type: 'com.example.FullEvent',
  subject: 'topic',
  time: '2020-03-21T12:34:56.78Z',
  dataschema: 'http://example.com/schema',
  datacontenttype: 'text/json',
  exbool: true,
  exint: 42,
  exstring: 'exstring',
  exurl: 'http://example.com/source',
};

const repo = fileURLToPath(new URL('../..', import.meta.url));

/** Where to look, in order: REFLEX_CESQL_TCK; ../shared/cesql-tck beside the repo; sdk-go's copy in the Go module cache. */
export function tckCandidates(): { readonly dir: string; readonly why: string }[] {
  const env = process.env['REFLEX_CESQL_TCK'];
  // A directory asked for by name must be used: falling back would test something else silently.
  if (env) return [{ dir: env, why: 'REFLEX_CESQL_TCK' }];
  return [
    { dir: join(repo, '..', 'shared', 'cesql-tck'), why: 'beside the repository' },
    { dir: join(goModCache(), ...GO_MODULE.split('/'), 'test', 'tck'), why: `the Go module cache (${GO_MODULE})` },
  ];
}

function goModCache(): string {
  if (process.env['GOMODCACHE']) return process.env['GOMODCACHE'];
  try {
    const out = execFileSync('go', ['env', 'GOMODCACHE'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (out) return out;
  } catch {
    // No Go on this machine: its default location is still worth a look.
  }
  return join(process.env['GOPATH'] ?? join(homedir(), 'go'), 'pkg', 'mod');
}

const yamlFiles = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.yaml')) : []).sort();

/**
 * The first candidate holding the TCK; else, unless one was named, sdk-go's copy fetched into the
 * Go module cache now (test/unit/cesql-tck.sh), as `npm test` sets up what it needs.
 */
export function findTck(): { readonly dir: string; readonly why: string } | undefined {
  const found = tckCandidates().find((c) => yamlFiles(c.dir).length > 0);
  if (found || process.env['REFLEX_CESQL_TCK']) return found;
  process.stderr.write(`CESQL TCK: none found; fetching ${GO_MODULE} through the Go module proxy (test/unit/cesql-tck.sh)\n`);
  const dir = execFileSync('bash', [join(repo, 'test', 'unit', 'cesql-tck.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return yamlFiles(dir).length > 0 ? { dir, why: `fetched now (${GO_MODULE})` } : undefined;
}

/**
 * sdk-go's copy predates cloudevents/spec#1291 ("Update CESQL tck tests to match spec changes",
 * part of CESQL v1.0.0), which changed exactly one case: `NOT 10` is a cast error (an Integer
 * becomes a Boolean only through BOOL), with the result `true`. Applied to that copy so that a
 * machine without the spec's own files checks against v1.0.0 all the same.
 */
const SPEC_1291 = { file: 'not_operator.yaml', expression: 'NOT 10', name: 'Invalid int cast', result: true, error: 'cast' as const };

/** Every file of the TCK in `dir`, its cases with names and expressions as written. */
export function readTck(dir: string): TckFile[] {
  return yamlFiles(dir).map((file) => {
    const text = readFileSync(join(dir, file), 'utf8');
    const typed = parse(text) as { tests: Omit<TckCase, 'name' | 'expression'>[] };
    // Names and expressions such as `TRUE` or `0` are plain scalars YAML would type; the failsafe schema keeps them as written.
    const raw = parse(text, { schema: 'failsafe' }) as { tests: { name: string; expression: string }[] };
    const cases = typed.tests.map((c, i): TckCase => {
      const { name, expression } = raw.tests[i]!;
      if (dir.includes('/sdk-go/sql/v2@') && file === SPEC_1291.file && expression === SPEC_1291.expression)
        return { ...c, name: SPEC_1291.name, expression, result: SPEC_1291.result, error: SPEC_1291.error };
      return { ...c, name, expression };
    });
    return { file, cases };
  });
}
