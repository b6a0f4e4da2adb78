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

/** The line and column of `offset` in `source`: expressions written as YAML block scalars span lines. */
export function positionOf(source: string, offset: number): SourcePosition {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < source.length; i++) {
    if (source[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { offset, line, column: offset - lineStart + 1 };
}
