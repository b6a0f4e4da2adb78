/** dev/cesql/errors — the error kinds of CESQL §3.3, each carrying where in the expression it arose. */

/**
 * The seven kinds every engine must support, named as the TCK names them.
 * @see https://github.com/cloudevents/spec/blob/main/cesql/spec.md#33-errors
 */
export type CesqlErrorKind = 'parse' | 'math' | 'cast' | 'missingFunction' | 'functionEvaluation' | 'missingAttribute' | 'generic';

/** A place in the expression's source: `offset` counts UTF-16 units from 0; line and column count from 1. */
export interface SourcePosition {
  readonly offset: number;
  readonly line: number;
  readonly column: number;
}

export class CesqlError extends Error {
  readonly kind: CesqlErrorKind;
  /** Where the error arose: the offending token for a parse error, the subexpression for an evaluation error. */
  readonly position: SourcePosition | undefined;

  constructor(kind: CesqlErrorKind, message: string, position?: SourcePosition) {
    super(position ? `${message} (at ${position.line}:${position.column})` : message);
    this.name = 'CesqlError';
    this.kind = kind;
    this.position = position;
  }
}

/**
 * Line and column for every offset of `source`, from one scan of it: the parser gives each node
 * its position once, so an error raised while evaluating never reads the source again.
 */
export function positions(source: string): (offset: number) => SourcePosition {
  const starts = [0];
  for (let i = source.indexOf('\n'); i !== -1; i = source.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset) => {
    // The last line starting at or before `offset`.
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { offset, line: lo + 1, column: offset - starts[lo]! + 1 };
  };
}

/** The line and column of `offset` in `source`, reading only what comes before it. */
export function positionOf(source: string, offset: number): SourcePosition {
  return positions(source.slice(0, offset))(offset);
}
