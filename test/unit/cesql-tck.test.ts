/**
 * The CloudEvents SQL TCK, loaded as data: every case of every file is one test, checked as the
 * TCK's README says (the result; when `error` is given, at least one error of that kind; when it
 * is absent, none). Where the TCK comes from: docs/cesql.md.
 */
import { afterAll, describe, expect, test } from '@jest/globals';
import { CesqlError, compile, type CesqlErrorKind } from '../../dev/cesql/index.js';
import { FULL_EVENT, GO_MODULE, findTck, readTck, tckCandidates } from './cesql-tck.js';

const KINDS: readonly CesqlErrorKind[] = ['parse', 'math', 'cast', 'missingFunction', 'functionEvaluation', 'missingAttribute', 'generic'];

const found = findTck();

if (!found) {
  test('the CESQL TCK is present', () => {
    throw new Error(
      `No CESQL TCK (*.yaml) found in:\n${tckCandidates()
        .map((c) => `  ${c.dir} (${c.why})`)
        .join('\n')}\n` +
        `Get it with \`bash test/unit/cesql-tck.sh\` (downloads ${GO_MODULE} into the Go module cache), ` +
        'or point REFLEX_CESQL_TCK at a copy of cesql/cesql_tck from github.com/cloudevents/spec.',
    );
  });
} else {
  const dir = found.dir;
  let passed = 0;
  let total = 0;

  for (const { file, cases } of readTck(dir)) {
    total += cases.length;
    describe(file, () => {
      for (const c of cases) {
        const { name, expression } = c;
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
      }
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
