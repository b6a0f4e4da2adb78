/**
 * The CloudEvents SQL TCK, loaded as data: every case of every file is one test, checked as the
 * TCK's README says (the result; when `error` is given, at least one error of that kind; when it
 * is absent, none). Where the TCK comes from: docs/cesql.md.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { CesqlError, compile, type CesqlErrorKind, type CesqlValue } from '../../dev/cesql/index.js';

/** The Go module that ships a copy of the TCK; the proxy refuses version lists, so the version is exact. */
const GO_MODULE = 'github.com/cloudevents/sdk-go/sql/v2@v2.16.2';

const KINDS: readonly CesqlErrorKind[] = ['parse', 'math', 'cast', 'missingFunction', 'functionEvaluation', 'missingAttribute', 'generic'];

interface TckCase {
  readonly name: string;
  readonly expression: string;
  readonly result?: CesqlValue;
  readonly error?: CesqlErrorKind;
  readonly event?: Record<string, unknown>;
  readonly eventOverrides?: Record<string, unknown>;
}

/**
 * Any valid event will do when a case gives none (the README); this one has every optional
 * context attribute and an extension of each type, and none of the names cases treat as missing.
 */
const FULL_EVENT: Readonly<Record<string, unknown>> = {
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
function candidates(): { readonly dir: string; readonly why: string }[] {
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

const looked = candidates();
/**
 * `npm test` sets up what it needs, as it builds the control plane: when no copy is found and none
 * was named, sdk-go's is fetched into the Go module cache (test/unit/cesql-tck.sh) and used.
 */
function fetched(): { readonly dir: string; readonly why: string } | undefined {
  if (process.env['REFLEX_CESQL_TCK']) return undefined;
  process.stderr.write(`CESQL TCK: none found; fetching ${GO_MODULE} through the Go module proxy (test/unit/cesql-tck.sh)\n`);
  const dir = execFileSync('bash', [join(repo, 'test', 'unit', 'cesql-tck.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  return yamlFiles(dir).length > 0 ? { dir, why: `fetched now (${GO_MODULE})` } : undefined;
}
const found = looked.find((c) => yamlFiles(c.dir).length > 0) ?? fetched();

/**
 * sdk-go's copy predates cloudevents/spec#1291 ("Update CESQL tck tests to match spec changes",
 * part of CESQL v1.0.0), which changed exactly one case: `NOT 10` is a cast error (an Integer
 * becomes a Boolean only through BOOL), with the result `true`. Applied to that copy so that a
 * machine without the spec's own files checks against v1.0.0 all the same.
 */
const SPEC_1291 = { file: 'not_operator.yaml', expression: 'NOT 10', name: 'Invalid int cast', result: true, error: 'cast' as const };

if (!found) {
  test('the CESQL TCK is present', () => {
    throw new Error(
      `No CESQL TCK (*.yaml) found in:\n${looked.map((c) => `  ${c.dir} (${c.why})`).join('\n')}\n` +
        `Get it with \`bash test/unit/cesql-tck.sh\` (downloads ${GO_MODULE} into the Go module cache), ` +
        'or point REFLEX_CESQL_TCK at a copy of cesql/cesql_tck from github.com/cloudevents/spec.',
    );
  });
} else {
  const dir = found.dir;
  let passed = 0;
  let total = 0;

  for (const file of yamlFiles(dir)) {
    const text = readFileSync(join(dir, file), 'utf8');
    const suite = parse(text) as { tests: TckCase[] };
    // Names and expressions such as `TRUE` or `0` are plain scalars YAML would type; the failsafe schema keeps them as written.
    const raw = parse(text, { schema: 'failsafe' }) as { tests: { name: string; expression: string }[] };
    total += suite.tests.length;

    if (dir.includes('/sdk-go/sql/v2@') && file === SPEC_1291.file)
      suite.tests.forEach((c, i) => {
        if (c.expression !== SPEC_1291.expression) return;
        suite.tests[i] = { ...c, result: SPEC_1291.result, error: SPEC_1291.error };
        raw.tests[i] = { name: SPEC_1291.name, expression: SPEC_1291.expression };
      });

    describe(file, () => {
      suite.tests.forEach((c, i) => {
        const { name, expression } = raw.tests[i]!;
        test(name, () => {
          if (c.error !== undefined) expect(KINDS).toContain(c.error);
          if (c.error === 'parse') {
            // An expression that does not parse never evaluates (as in sdk-go's TCK runner): compile refuses it.
            const err = thrownBy(() => compile(expression));
            expect(err).toBeInstanceOf(CesqlError);
            expect((err as CesqlError).kind).toBe('parse');
          } else {
            const { value, errors } = compile(expression).evaluate({ ...(c.event ?? FULL_EVENT), ...c.eventOverrides });
            if (c.result !== undefined) expect(value).toStrictEqual(c.result);
            if (c.error === undefined) expect(errors).toEqual([]);
            else expect(errors.map((e) => e.kind)).toContain(c.error);
          }
          passed++;
        });
      });
    });
  }

  afterAll(() => {
    console.log(`CESQL TCK: ${passed}/${total} cases passed from ${dir}`);
  });
}

function thrownBy(f: () => unknown): unknown {
  try {
    f();
  } catch (err) {
    return err;
  }
  return undefined;
}
