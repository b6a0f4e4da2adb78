/** dev/cesql/lexer — source text -> tokens, as the spec's lexer grammar (CESQLLexer.g4) cuts it. */
import { CesqlError, positionOf } from './errors.js';

/** The keywords; matched case-insensitively, so no attribute can be named after one. */
const KEYWORDS = ['AND', 'OR', 'XOR', 'NOT', 'LIKE', 'EXISTS', 'IN', 'TRUE', 'FALSE'] as const;
export type Keyword = (typeof KEYWORDS)[number];

/** Longest first, so that `<=` is not read as `<` then `=`. */
const SYMBOLS = ['!=', '<>', '<=', '>=', '(', ')', ',', '*', '/', '%', '+', '-', '=', '<', '>'] as const;
export type Punct = (typeof SYMBOLS)[number];

interface Span {
  /** Offsets into the source: `start` included, `end` excluded. */
  readonly start: number;
  readonly end: number;
}

export type Token =
  /** Digits, with the sign when one comes directly before them. */
  | (Span & { readonly type: 'integer'; readonly digits: string })
  | (Span & { readonly type: 'string'; readonly value: string; readonly quote: "'" | '"' })
  /** Letters, digits and `_`, not all digits: an attribute or a function name, told apart by the parser. */
  | (Span & { readonly type: 'name'; readonly text: string })
  | (Span & { readonly type: 'keyword'; readonly keyword: Keyword })
  | (Span & { readonly type: 'symbol'; readonly symbol: Punct })
  | (Span & { readonly type: 'end' });

const WORD = /[A-Za-z0-9_]/;
const DIGIT = /[0-9]/;
/** The grammar skips exactly these (`SPACE: [ \t\r\n]+`); anything else unexpected is an error. */
const SPACE = /[ \t\r\n]/;

export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    if (SPACE.test(source[i]!)) {
      i++;
      continue;
    }
    const t = readToken(source, i);
    tokens.push(t);
    i = t.end;
  }
  tokens.push({ type: 'end', start: source.length, end: source.length });
  return tokens;
}

function readToken(source: string, i: number): Token {
  const c = source[i]!;
  if (c === "'" || c === '"') return readString(source, i, c);
  // The grammar's INTEGER_LITERAL is `('+'|'-')? digit+` and the longest match wins, so a sign
  // directly before digits is part of the literal: `a -1` is two operands, as in Knative.
  const signed = (c === '-' || c === '+') && DIGIT.test(source[i + 1] ?? '');
  if (signed || WORD.test(c)) {
    const part = signed ? DIGIT : WORD;
    let end = i + 1;
    while (end < source.length && part.test(source[end]!)) end++;
    return word(source.slice(i, end), i, end);
  }
  const symbol = SYMBOLS.find((s) => source.startsWith(s, i));
  if (!symbol) {
    const hint = c === '!' ? "; the only operator starting with '!' is '!='" : '';
    throw new CesqlError('parse', `unexpected character ${JSON.stringify(c)}${hint}`, positionOf(source, i));
  }
  return { type: 'symbol', symbol, start: i, end: i + symbol.length };
}

function word(text: string, start: number, end: number): Token {
  if (/^[+-]?[0-9]+$/.test(text)) return { type: 'integer', digits: text, start, end };
  const upper = text.toUpperCase();
  const keyword = KEYWORDS.find((k) => k === upper);
  return keyword ? { type: 'keyword', keyword, start, end } : { type: 'name', text, start, end };
}

/**
 * A string literal. As in the spec's lexer, a backslash always pairs with the character after it
 * (so `'a\'` is unterminated); `\'` in a '…' string and `\"` in a "…" string stand for the quote,
 * and every other pair is kept as written, backslash included, so that LIKE can see `\%` and `\_`.
 */
function readString(source: string, start: number, quote: "'" | '"'): Token {
  let value = '';
  let i = start + 1;
  while (i < source.length) {
    const c = source[i]!;
    if (c === quote) return { type: 'string', value, quote, start, end: i + 1 };
    if (c === '\\' && i + 1 < source.length) {
      const next = source[i + 1]!;
      value += next === quote ? quote : c + next;
      i += 2;
    } else {
      value += c;
      i++;
    }
  }
  throw new CesqlError('parse', `unterminated string literal: expected a closing ${quote}`, positionOf(source, start));
}

/** How a token reads in an error message. */
export function describeToken(t: Token, source: string): string {
  switch (t.type) {
    case 'end':
      return 'the end of the expression';
    case 'string':
      return `string ${source.slice(t.start, t.end)}`;
    case 'integer':
      // Where an operator was expected, a signed literal is most likely a subtraction without its space.
      return /^[+-]/.test(t.digits)
        ? `integer ${t.digits} (to add or subtract, put a space after '${t.digits[0]}')`
        : `integer ${t.digits}`;
    case 'keyword':
      return t.keyword;
    case 'name':
      return `'${t.text}'`;
    case 'symbol':
      return `'${t.symbol}'`;
  }
}
