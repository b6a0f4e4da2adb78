/**
 * dev/cesql/parser — tokens -> syntax tree, by precedence climbing over the spec's grammar
 * (CESQLParser.g4). Precedence, tightest first: function calls and literals; the prefix operators
 * NOT and `-`; LIKE; IN; `*` `/` `%`; `+` `-`; comparisons; then AND, OR and XOR, which share one
 * level and group to the right, as in the spec's grammar and so in Knative (`a AND b OR c` is
 * `a AND (b OR c)`, not SQL's `(a AND b) OR c`). The limits of limits.ts (source length, nodes,
 * IN-set length, depth) are parse errors naming the limit, so no expression is costly to hold.
 * @see https://github.com/cloudevents/spec/blob/main/cesql/spec.md#2-language-syntax
 */
import { CesqlError, positionOf, positions, type SourcePosition } from './errors.js';
import { describeToken, tokenize, type Punct, type Token } from './lexer.js';
import { LIMITS } from './limits.js';
import { isInt32, type CesqlValue } from './values.js';

export type BinaryOperator = '*' | '/' | '%' | '+' | '-' | '=' | '!=' | '<>' | '<' | '<=' | '>' | '>=' | 'AND' | 'OR' | 'XOR';

/** A node of the tree; `at` is where its errors point (the operator, name or literal), computed once at parse. */
export type Node =
  | { readonly kind: 'literal'; readonly value: CesqlValue; readonly at: SourcePosition }
  | { readonly kind: 'attribute'; readonly name: string; readonly at: SourcePosition }
  | { readonly kind: 'exists'; readonly name: string; readonly at: SourcePosition }
  | { readonly kind: 'not' | 'negate'; readonly operand: Node; readonly at: SourcePosition }
  | { readonly kind: 'binary'; readonly operator: BinaryOperator; readonly left: Node; readonly right: Node; readonly at: SourcePosition }
  | { readonly kind: 'like'; readonly operand: Node; readonly pattern: string; readonly negated: boolean; readonly at: SourcePosition }
  | { readonly kind: 'in'; readonly operand: Node; readonly set: readonly Node[]; readonly negated: boolean; readonly at: SourcePosition }
  | { readonly kind: 'call'; readonly name: string; readonly args: readonly Node[]; readonly at: SourcePosition };

/** Binding power of the infix operators; higher binds tighter. LIKE and IN bind tighter than all of them. */
const INFIX: Readonly<Partial<Record<string, number>>> = {
  '*': 40,
  '/': 40,
  '%': 40,
  '+': 30,
  '-': 30,
  '=': 20,
  '!=': 20,
  '<>': 20,
  '<': 20,
  '<=': 20,
  '>': 20,
  '>=': 20,
  AND: 10,
  OR: 10,
  XOR: 10,
};
const LOGIC = 10;
const LIKE = 60;
const IN = 50;

/**
 * Nesting deeper than this is refused: parsing and evaluation recurse once per level, and a
 * stack overflow must be a parse error, not a crash. Far beyond any hand-written filter.
 */
const MAX_DEPTH = LIMITS.maxDepth;

/** Attribute names: letters and digits, per CloudEvents' naming convention (read in lower case, see `attribute`). */
const ATTRIBUTE_NAME = /^[A-Za-z0-9]+$/;
const FUNCTION_NAME = /^[A-Za-z][A-Za-z_]*$/;

export function parse(source: string): Node {
  // Checked before anything reads the source, so a huge one costs nothing.
  if (source.length > LIMITS.maxSourceLength)
    throw new CesqlError(
      'parse',
      `the expression is ${source.length} characters long, more than ${LIMITS.maxSourceLength} (the limit maxSourceLength)`,
      positionOf(source, LIMITS.maxSourceLength),
    );
  return new Parser(source).parseAll();
}

/** The first node found below `limit` levels, walking without recursion; undefined when the tree is shallower. */
function deeperThan(root: Node, limit: number): Node | undefined {
  const stack: [Node, number][] = [[root, 1]];
  for (let top = stack.pop(); top; top = stack.pop()) {
    const [node, depth] = top;
    if (depth > limit) return node;
    for (const child of children(node)) stack.push([child, depth + 1]);
  }
  return undefined;
}

function children(node: Node): readonly Node[] {
  switch (node.kind) {
    case 'not':
    case 'negate':
    case 'like':
      return [node.operand];
    case 'binary':
      return [node.left, node.right];
    case 'in':
      return [node.operand, ...node.set];
    case 'call':
      return node.args;
    default:
      return [];
  }
}

class Parser {
  private readonly tokens: Token[];
  private readonly position: (offset: number) => SourcePosition;
  private i = 0;
  private depth = 0;
  private nodes = 0;

  constructor(private readonly source: string) {
    this.tokens = tokenize(source);
    this.position = positions(source);
  }

  parseAll(): Node {
    const node = this.expression(0);
    // Chains such as `1 + 1 + ...` build depth without recursing here, yet evaluation recurses on it.
    const tooDeep = deeperThan(node, MAX_DEPTH);
    if (tooDeep) throw new CesqlError('parse', `the expression nests deeper than ${MAX_DEPTH} levels (the limit maxDepth)`, tooDeep.at);
    const t = this.peek();
    if (t.type !== 'end') {
      const prev = this.tokens[this.i - 1];
      // SQL escapes a quote by doubling it; CESQL does not, and Knative would keep both quotes.
      const doubled = t.type === 'string' && prev?.type === 'string' && prev.end === t.start && prev.quote === t.quote;
      const hint = doubled ? `; a ${t.quote} inside a string is written \\${t.quote}, not doubled` : '';
      throw this.error(t, `expected an operator or the end of the expression, found ${describeToken(t, this.source)}${hint}`);
    }
    return node;
  }

  private expression(minPower: number): Node {
    this.enter();
    let left = this.unary();
    for (;;) {
      const t = this.peek();
      const postfix = this.postfix(t);
      if (postfix) {
        if (postfix.power < minPower) break;
        left = postfix.build(left);
        continue;
      }
      const operator = t.type === 'symbol' ? t.symbol : t.type === 'keyword' ? t.keyword : undefined;
      const power = operator === undefined ? undefined : INFIX[operator];
      if (power === undefined || power < minPower) break;
      this.i++;
      // Left-associative operators take a tighter right operand; AND/OR/XOR take their own level (right-associative).
      const right = this.expression(power === LOGIC ? power : power + 1);
      left = this.node({ kind: 'binary', operator: operator as BinaryOperator, left, right, at: this.at(t) });
    }
    this.depth--;
    return left;
  }

  /** `[NOT] LIKE 'pattern'` and `[NOT] IN (set)`, which follow their operand. */
  private postfix(t: Token): { power: number; build: (operand: Node) => Node } | undefined {
    const negated = t.type === 'keyword' && t.keyword === 'NOT';
    const op = negated ? this.tokens[this.i + 1]! : t;
    const keyword = op.type === 'keyword' ? op.keyword : undefined;
    if (keyword !== 'LIKE' && keyword !== 'IN') {
      if (negated) throw this.error(op, `expected LIKE or IN after NOT, found ${describeToken(op, this.source)}`);
      return undefined;
    }
    const skip = negated ? 2 : 1;
    if (keyword === 'LIKE')
      return {
        power: LIKE,
        build: (operand) => {
          this.i += skip;
          const p = this.next();
          // §3.4.3: the pattern must be a string literal without casting, else a parse error.
          if (p.type !== 'string')
            throw this.error(p, `expected a string literal as the LIKE pattern, found ${describeToken(p, this.source)}`);
          return this.node({ kind: 'like', operand, pattern: p.value, negated, at: this.at(op) });
        },
      };
    return {
      power: IN,
      build: (operand) => {
        this.i += skip;
        const open = this.expect('(', 'to open the set after IN');
        // §2.3: a set has at least one element.
        const set = this.list(open, 'IN (', LIMITS.maxInListLength);
        if (set.length === 0) throw this.error(this.tokens[this.i - 1]!, 'expected at least one element in the IN set, found ()');
        return this.node({ kind: 'in', operand, set, negated, at: this.at(op) });
      },
    };
  }

  private unary(): Node {
    const t = this.peek();
    if (t.type === 'keyword' && t.keyword === 'NOT') {
      this.i++;
      return this.prefix('not', t);
    }
    if (t.type === 'symbol' && t.symbol === '-') {
      this.i++;
      return this.prefix('negate', t);
    }
    // There is no unary plus: `+5` is one literal (see the lexer), `+ 5` nothing.
    if (t.type === 'symbol' && t.symbol === '+')
      throw this.error(t, `expected an expression, found '+' (a sign belongs directly before digits, as in +5)`);
    return this.primary();
  }

  private prefix(kind: 'not' | 'negate', t: Token): Node {
    this.enter();
    const operand = this.unary();
    this.depth--;
    return this.node({ kind, operand, at: this.at(t) });
  }

  private primary(): Node {
    const t = this.next();
    switch (t.type) {
      case 'integer':
        return this.integer(t.digits, t);
      case 'string':
        return this.node({ kind: 'literal', value: t.value, at: this.at(t) });
      case 'name':
        return this.peekIs('(') ? this.call(t) : this.node({ kind: 'attribute', name: this.attribute(t), at: this.at(t) });
      case 'symbol':
        if (t.symbol === '(') {
          const inner = this.expression(0);
          this.expect(')', `to close the '(' at ${this.where(t)}`);
          return inner;
        }
        break;
      case 'keyword':
        if (t.keyword === 'TRUE' || t.keyword === 'FALSE')
          return this.node({ kind: 'literal', value: t.keyword === 'TRUE', at: this.at(t) });
        if (t.keyword === 'EXISTS') {
          const n = this.next();
          if (n.type !== 'name') throw this.error(n, `expected an attribute name after EXISTS, found ${describeToken(n, this.source)}`);
          return this.node({ kind: 'exists', name: this.attribute(n), at: this.at(t) });
        }
        break;
      case 'end':
        break;
    }
    throw this.error(
      t,
      `expected an expression (a literal, an attribute, a function call, NOT, EXISTS, '-' or '('), found ${describeToken(t, this.source)}`,
    );
  }

  /**
   * §2.2: "Integer literals MUST be valid 32 bit signed integer values", so a wider one does not
   * parse. The sign is part of the literal, which is how -2147483648 can be written.
   */
  private integer(text: string, t: Token): Node {
    const n = Number(text);
    if (!isInt32(n)) throw this.error(t, `integer literal ${text} is outside the 32-bit range [-2147483648, 2147483647]`);
    return this.node({ kind: 'literal', value: n | 0, at: this.at(t) });
  }

  /**
   * An attribute name, read in lower case: CloudEvents attribute names are lower case only, so
   * an upper-case letter can only mean its lower-case self (the TCK's `EXISTS SOURCE` is true),
   * just as keywords are case-insensitive.
   */
  private attribute(t: Token & { type: 'name' }): string {
    if (!ATTRIBUTE_NAME.test(t.text))
      throw this.error(t, `'${t.text}' is not an attribute name (letters and digits only) nor, without '(', a function call`);
    return t.text.toLowerCase();
  }

  private call(t: Token & { type: 'name' }): Node {
    if (!FUNCTION_NAME.test(t.text)) throw this.error(t, `'${t.text}' is not a function name (a letter, then letters and '_')`);
    const open = this.next();
    const name = t.text.toUpperCase();
    return this.node({ kind: 'call', name, args: this.list(open, `${name}(`), at: this.at(t) });
  }

  /** `expression (, expression)* )` after an opening parenthesis already consumed; possibly empty; at most `max` items. */
  private list(open: Token, what: string, max = Infinity): Node[] {
    const items: Node[] = [];
    if (this.peekIs(')')) {
      this.i++;
      return items;
    }
    for (;;) {
      if (this.peek().type === 'end')
        throw this.error(
          this.peek(),
          `expected an expression or ')' to close ${what} at ${this.where(open)}, found the end of the expression`,
        );
      if (items.length === max)
        throw this.error(this.peek(), `the IN set at ${this.where(open)} has more than ${max} elements (the limit maxInListLength)`);
      items.push(this.expression(0));
      const t = this.next();
      if (t.type === 'symbol' && t.symbol === ')') return items;
      if (t.type !== 'symbol' || t.symbol !== ',')
        throw this.error(t, `expected ',' or ')' to close ${what} at ${this.where(open)}, found ${describeToken(t, this.source)}`);
    }
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH)
      throw this.error(this.peek(), `the expression nests deeper than ${MAX_DEPTH} levels (the limit maxDepth)`);
  }

  /** Every node is made here, so that the count is exact and the limit is met where it is passed. */
  private node<N extends Node>(n: N): N {
    if (++this.nodes > LIMITS.maxNodes)
      throw new CesqlError(
        'parse',
        `the expression has more than ${LIMITS.maxNodes} literals, attributes, operators and calls (the limit maxNodes)`,
        n.at,
      );
    return n;
  }

  private at(t: Token): SourcePosition {
    return this.position(t.start);
  }

  private expect(symbol: Punct, why: string): Token {
    const t = this.next();
    if (t.type !== 'symbol' || t.symbol !== symbol)
      throw this.error(t, `expected '${symbol}' ${why}, found ${describeToken(t, this.source)}`);
    return t;
  }

  private peek(): Token {
    return this.tokens[this.i]!;
  }

  private peekIs(symbol: Punct): boolean {
    const t = this.peek();
    return t.type === 'symbol' && t.symbol === symbol;
  }

  /** The current token, then move past it; never past the end token. */
  private next(): Token {
    const t = this.peek();
    if (t.type !== 'end') this.i++;
    return t;
  }

  private where(t: Token): string {
    const p = this.at(t);
    return `${p.line}:${p.column}`;
  }

  private error(t: Token, message: string): CesqlError {
    return new CesqlError('parse', message, this.at(t));
  }
}
