/**
 * dev/cesql — CloudEvents SQL v1.0: compile an expression once, evaluate it against many
 * events. Standalone (no Reflex imports); the development broker uses it for Trigger `cesql`
 * filters. See docs/cesql.md.
 * @see https://github.com/cloudevents/spec/blob/main/cesql/spec.md
 */
import type { CesqlError } from './errors.js';
import { evaluate, type EventAttributes } from './evaluate.js';
import { BUILT_INS, builtIns, functionResolver, type CesqlFunction } from './functions.js';
import { parse } from './parser.js';
import type { CesqlValue } from './values.js';

export { CesqlError, type CesqlErrorKind, type SourcePosition } from './errors.js';
export { LIMITS, type Limits } from './limits.js';
export type { CesqlFunction, FunctionOutcome, ParameterType } from './functions.js';
export type { CesqlType, CesqlValue } from './values.js';
export type { EventAttributes } from './evaluate.js';

/** A parsed expression. Evaluation is total: it always gives a value, and the errors met on the way (§3.3). */
export interface Expression {
  readonly source: string;
  evaluate(event: Readonly<Record<string, unknown>>): { value: CesqlValue; errors: CesqlError[] };
}

export interface CompileOptions {
  /** User-defined functions, callable beside the built-ins (same name only with another arity). */
  readonly functions?: readonly CesqlFunction[];
}

/**
 * Parses `source`. Throws a CesqlError of kind `parse` (with the position and what was expected)
 * for an expression that does not parse or passes one of LIMITS (naming it), and of kind
 * `generic` for a bad function definition. Unknown functions are not refused here: the spec makes
 * them a missingFunction error at evaluation.
 */
export function compile(source: string, options: CompileOptions = {}): Expression {
  const resolve = options.functions?.length ? functionResolver([...BUILT_INS, ...options.functions]) : builtIns;
  const tree = parse(source);
  return Object.freeze({ source, evaluate: (event: EventAttributes) => evaluate(tree, event, resolve) });
}

/**
 * Does the event pass the expression used as a Trigger filter? Only when the value is the Boolean
 * true and evaluation met no error. That is Knative's CESQL filter (eventing
 * pkg/eventfilter/subscriptionsapi/cesql_filter.go: an error from Evaluate fails the filter; then
 * the result must be true) and the spec's rule for filters (§1.2: a non-Boolean result, or any
 * error, MUST NOT pass). So a non-Boolean result is not cast: `'true'` fails, as §1.2 says, where
 * Knative's type assertion on a non-bool would not pass it either.
 * @see https://github.com/cloudevents/spec/blob/main/cesql/spec.md#12-relation-to-the-subscriptions-api
 */
export function matches(expression: Expression, event: Readonly<Record<string, unknown>>): boolean {
  const { value, errors } = expression.evaluate(event);
  return errors.length === 0 && value === true;
}
