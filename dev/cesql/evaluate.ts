/**
 * dev/cesql/evaluate — pure: syntax tree + event -> a value and the errors met on the way (§3.3).
 *
 * How errors flow, which the TCK pins down:
 * - An operator or function whose operand (argument) evaluated with an error does not compute:
 *   it returns the zero value of its return type and passes the errors up, without evaluating
 *   the operands after it. So `missing / 0` is 0 with only a missingAttribute error, `NOT missing`
 *   is false, and `true AND (1 != 1 / 0)` is false with a math error.
 * - A failed cast is the operator's own error: it yields the target type's zero and the operator
 *   goes on with it (§3.7: "raise a CastError and the cast result is false"), so `NOT 10` is true
 *   with a cast error.
 * - AND and OR short-circuit (§3.6): `false AND x` never evaluates x, so x's errors never arise.
 *
 * What it costs is bounded (limits.ts), whatever the event: a function's string result longer than
 * maxStringLength is a functionEvaluation error (CONCAT refuses before joining), and one
 * evaluation does at most maxEvaluationSteps steps of work (one per node, one per character read
 * or written by a function, a cast, a string comparison or a LIKE); past it, evaluation stops,
 * false with a generic error. Errors carry positions computed at parse: none reads the source.
 * @see https://github.com/cloudevents/spec/blob/main/cesql/spec.md#3-language-semantics
 */
import { CesqlError, type CesqlErrorKind } from './errors.js';
import type { FunctionResolver, ParameterType } from './functions.js';
import { likeMatcher, type LikeMatcher } from './like.js';
import { LIMITS, tooLong } from './limits.js';
import type { BinaryOperator, Node } from './parser.js';
import { cast, describeValue, fromAttribute, isInt32, typeOf, ZERO, type CesqlType, type CesqlValue } from './values.js';

/** A CloudEvent's attributes, flat: context attributes and extensions, as in the JSON format without data. */
export type EventAttributes = Readonly<Record<string, unknown>>;

export interface Evaluation {
  readonly value: CesqlValue;
  readonly errors: CesqlError[];
}

/** §3.4.4: a valid event always has these, so EXISTS is true for them whatever the map holds. */
const REQUIRED = new Set(['specversion', 'id', 'source', 'type']);

/** `data` is the event's payload, not an attribute: CESQL does not see it (§1), even when a caller passes it. */
const PAYLOAD = 'data';

const likeMatchers = new WeakMap<Node, LikeMatcher>();

interface Context {
  readonly event: EventAttributes;
  readonly resolve: FunctionResolver;
  readonly errors: CesqlError[];
  /** Steps of work done so far (see spend). */
  steps: number;
}

/** Thrown by spend when the budget is gone, caught by evaluate: the one way an evaluation stops early. */
class OutOfSteps {
  constructor(readonly node: Node) {}
}

export function evaluate(tree: Node, event: EventAttributes, resolve: FunctionResolver): Evaluation {
  const ctx: Context = { event, resolve, errors: [], steps: 0 };
  try {
    return { value: evaluateNode(tree, ctx), errors: ctx.errors };
  } catch (err) {
    if (!(err instanceof OutOfSteps)) throw err;
    // What the expression would have given is unknown: false, with an error, so no filter passes.
    report(
      ctx,
      err.node,
      'generic',
      `evaluation stopped after ${LIMITS.maxEvaluationSteps} steps of work (the limit maxEvaluationSteps): too much done with too long strings`,
    );
    return { value: false, errors: ctx.errors };
  }
}

/** Counts `n` steps of work for `node`; past LIMITS.maxEvaluationSteps the evaluation stops. */
function spend(ctx: Context, n: number, node: Node): void {
  ctx.steps += n;
  if (ctx.steps > LIMITS.maxEvaluationSteps) throw new OutOfSteps(node);
}

/** The steps it takes to read a value: its length for a String. */
const size = (v: CesqlValue): number => (typeof v === 'string' ? v.length : 1);

function evaluateNode(node: Node, ctx: Context): CesqlValue {
  spend(ctx, 1, node);
  switch (node.kind) {
    case 'literal':
      return node.value;
    case 'attribute':
      return read(node, ctx);
    case 'exists':
      return REQUIRED.has(node.name) || present(ctx.event, node.name);
    case 'not':
    case 'negate':
      return prefix(node, ctx);
    case 'binary':
      return binary(node, ctx);
    case 'like':
      return like(node, ctx);
    case 'in':
      return inSet(node, ctx);
    case 'call':
      return call(node, ctx);
  }
}

function read(node: Node & { kind: 'attribute' }, ctx: Context): CesqlValue {
  const value = attribute(ctx, node);
  if (value !== undefined) return value;
  // §3.2: the type of a bare attribute cannot be known, so its zero is Boolean's.
  report(ctx, node, 'missingAttribute', `missing attribute '${node.name}'`);
  return false;
}

/** NOT x: Boolean -> Boolean; -x: Integer -> Integer (§3.4.1). */
function prefix(node: Node & { kind: 'not' | 'negate' }, ctx: Context): CesqlValue {
  const v = operand(node.operand, ctx);
  if (node.kind === 'not') return v === undefined ? false : !to('Boolean', v, node, ctx);
  if (v === undefined) return 0;
  const i = to('Integer', v, node, ctx);
  return int32(-i, node, ctx, () => `-(${i})`);
}

function like(node: Node & { kind: 'like' }, ctx: Context): boolean {
  const v = operand(node.operand, ctx);
  if (v === undefined) return false;
  let match = likeMatchers.get(node);
  if (!match) likeMatchers.set(node, (match = likeMatcher(node.pattern)));
  // The matcher stops one step past what is left, so that spend then stops the evaluation.
  const { matched, steps } = match(to('String', v, node, ctx), LIMITS.maxEvaluationSteps - ctx.steps + 1);
  spend(ctx, steps, node);
  return matched !== node.negated;
}

/** Own properties only: `constructor` is no attribute; null is absent. */
function present(event: EventAttributes, name: string): boolean {
  return name !== PAYLOAD && Object.hasOwn(event, name) && event[name] !== undefined && event[name] !== null;
}

/** The attribute's value as CESQL sees it; undefined when absent. */
function attribute(ctx: Context, node: Node & { name: string }): CesqlValue | undefined {
  if (!present(ctx.event, node.name)) return undefined;
  const raw = ctx.event[node.name];
  const value = fromAttribute(raw);
  // An object is turned into its JSON at each read: that is work, as long as the text.
  if (typeof raw === 'object' && value !== undefined) spend(ctx, size(value), node);
  return value;
}

/** One operand's value, or undefined when it brought an error (the caller then returns its zero). */
function operand(node: Node, ctx: Context): CesqlValue | undefined {
  return operands([node], ctx)?.[0];
}

/** Evaluates in order; undefined as soon as one operand brings an error (the caller then returns its zero). */
function operands(nodes: readonly Node[], ctx: Context): CesqlValue[] | undefined {
  const before = ctx.errors.length;
  const values: CesqlValue[] = [];
  for (const n of nodes) {
    values.push(evaluateNode(n, ctx));
    if (ctx.errors.length > before) return undefined;
  }
  return values;
}

function binary(node: Node & { kind: 'binary' }, ctx: Context): CesqlValue {
  const { operator } = node;
  if (operator === 'AND' || operator === 'OR' || operator === 'XOR') return logic(node, ctx);
  const pair = operands([node.left, node.right], ctx);
  if (!pair) return ZERO[returnType(operator)];
  const [l, r] = pair as [CesqlValue, CesqlValue];
  switch (operator) {
    case '=':
    case '!=':
    case '<>':
      // §3.7: `=` is ambiguous (defined for the three types); the right operand's type decides.
      return equal(to(typeOf(r), l, node, ctx), r, node, ctx) === (operator === '=');
    case '<':
      return to('Integer', l, node, ctx) < to('Integer', r, node, ctx);
    case '<=':
      return to('Integer', l, node, ctx) <= to('Integer', r, node, ctx);
    case '>':
      return to('Integer', l, node, ctx) > to('Integer', r, node, ctx);
    case '>=':
      return to('Integer', l, node, ctx) >= to('Integer', r, node, ctx);
    default:
      return arithmetic(operator, to('Integer', l, node, ctx), to('Integer', r, node, ctx), node, ctx);
  }
}

/** `===`, counting the characters two Strings may have to compare. */
function equal(a: CesqlValue, b: CesqlValue, node: Node, ctx: Context): boolean {
  if (typeof a === 'string' && typeof b === 'string') spend(ctx, Math.min(a.length, b.length), node);
  return a === b;
}

function returnType(operator: BinaryOperator): CesqlType {
  return ['*', '/', '%', '+', '-'].includes(operator) ? 'Integer' : 'Boolean';
}

/** §3.4.2: 32-bit Integers; division truncates towards 0, `%` takes the sign of `a`, a zero divisor is a math error. */
function arithmetic(operator: BinaryOperator, a: number, b: number, node: Node, ctx: Context): number {
  const text = (): string => `${a} ${operator} ${b}`;
  switch (operator) {
    case '+':
      return int32(a + b, node, ctx, text);
    case '-':
      return int32(a - b, node, ctx, text);
    case '*':
      // a * b is exact enough to tell overflow (it is beyond 2^31 whenever the true product is); imul gives the wrapped value.
      return isInt32(a * b) ? (a * b) | 0 : int32(Math.imul(a, b), node, ctx, text, true);
    default:
      if (b === 0) {
        report(ctx, node, 'math', `division by zero: ${text()}`);
        return 0;
      }
      // Integer quotients are exact in doubles at this size; `| 0` makes -0 into 0.
      return operator === '/' ? int32(Math.trunc(a / b), node, ctx, text) : (a % b) | 0;
  }
}

/**
 * A result outside 32 bits is a math error; the value is the two's-complement wrap, what a 32-bit
 * engine such as Knative's computes (-2147483648 / -1 stays -2147483648).
 */
function int32(n: number, node: Node, ctx: Context, text: () => string, overflowed = false): number {
  if (!overflowed && isInt32(n)) return n | 0;
  report(ctx, node, 'math', `integer overflow: ${text()} does not fit in 32 bits`);
  return n | 0;
}

/** AND, OR, XOR: both operands Booleans; AND and OR do not evaluate the right one when the left decides. */
function logic(node: Node & { kind: 'binary' }, ctx: Context): boolean {
  const l = operand(node.left, ctx);
  if (l === undefined) return false;
  const left = to('Boolean', l, node, ctx);
  if (node.operator === 'AND' && !left) return false;
  if (node.operator === 'OR' && left) return true;
  const r = operand(node.right, ctx);
  if (r === undefined) return false;
  const right = to('Boolean', r, node, ctx);
  return node.operator === 'XOR' ? left !== right : right;
}

/** §3.4.5: each element is cast to the type of the left operand and compared as `=` does; the first equal one decides. */
function inSet(node: Node & { kind: 'in' }, ctx: Context): boolean {
  const v = operand(node.operand, ctx);
  if (v === undefined) return false;
  const target = typeOf(v);
  let found = false;
  for (const element of node.set) {
    const e = operand(element, ctx);
    if (e === undefined) return false;
    if (equal(to(target, e, element, ctx), v, element, ctx)) {
      found = true;
      break;
    }
  }
  return found !== node.negated;
}

function call(node: Node & { kind: 'call' }, ctx: Context): CesqlValue {
  const fn = ctx.resolve(node.name, node.args.length);
  if (!fn) {
    // §3.5: a call that cannot be dispatched is false with a missingFunction error.
    report(
      ctx,
      node,
      'missingFunction',
      `no function ${node.name} taking ${node.args.length} argument${node.args.length === 1 ? '' : 's'}`,
    );
    return false;
  }
  const zero = ZERO[fn.returns];
  const values = operands(node.args, ctx);
  if (!values) return zero;
  const args = values.map((v, i) => {
    const type: ParameterType = fn.parameters[i] ?? fn.variadic!;
    return type === 'Any' ? v : to(type, v, node.args[i]!, ctx);
  });
  // A function reads its arguments: charged before it runs, so CONCAT of a huge attribute 500 times never starts.
  spend(
    ctx,
    args.reduce<number>((n, a) => n + size(a), 0),
    node,
  );
  let out;
  try {
    out = fn.run(args);
  } catch (err) {
    report(ctx, node, 'functionEvaluation', `${node.name} failed: ${err instanceof Error ? err.message : String(err)}`);
    return zero;
  }
  const { value, error } = out !== null && typeof out === 'object' ? out : { value: out, error: undefined };
  if (error) report(ctx, node, error.kind, error.message);
  // §3.5.3: a function that gives no valid value of its return type yields that type's zero.
  if (!isOfType(value, fn.returns)) {
    report(ctx, node, 'functionEvaluation', `${node.name} returned ${describeValue(value)}, not a ${fn.returns}`);
    return zero;
  }
  if (typeof value === 'string') {
    if (value.length > LIMITS.maxStringLength) {
      report(ctx, node, 'functionEvaluation', tooLong(node.name, value.length));
      return zero;
    }
    spend(ctx, value.length, node);
  }
  return typeof value === 'number' ? value | 0 : value;
}

/** Checked at run time: user functions are JavaScript, whatever their declared types say. */
function isOfType(v: unknown, type: CesqlType): v is CesqlValue {
  if (type === 'Integer') return typeof v === 'number' && isInt32(v);
  return typeof v === (type === 'Boolean' ? 'boolean' : 'string');
}

/** An implicit cast (§3.7); a failure is reported here and its zero value used. */
function to(target: 'Boolean', v: CesqlValue, node: Node, ctx: Context): boolean;
function to(target: 'Integer', v: CesqlValue, node: Node, ctx: Context): number;
function to(target: 'String', v: CesqlValue, node: Node, ctx: Context): string;
function to(target: CesqlType, v: CesqlValue, node: Node, ctx: Context): CesqlValue;
function to(target: CesqlType, v: CesqlValue, node: Node, ctx: Context): CesqlValue {
  // Parsing a String (as an Integer or a Boolean) reads it.
  if (typeof v === 'string' && target !== 'String') spend(ctx, v.length, node);
  const c = cast(v, target, 'implicit');
  if (c.failure !== undefined) report(ctx, node, 'cast', c.failure);
  return c.value;
}

function report(ctx: Context, node: Node, kind: CesqlErrorKind, message: string): void {
  ctx.errors.push(new CesqlError(kind, message, node.at));
}
