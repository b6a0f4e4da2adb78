/**
 * dev/cesql/limits — the bounds that keep compiling and evaluating cheap whatever the expression
 * and the event: a Trigger filter runs on every event, and its input is whatever a client sent.
 * Compile-time limits are parse errors naming the limit; evaluation limits are evaluation errors
 * (the expression gives a value with an error, so a filter does not match). See docs/cesql.md.
 */
export const LIMITS = Object.freeze({
  /** Characters (UTF-16 units) of source: 64 KiB, hundreds of times a hand-written filter; bounds lexing and every literal. */
  maxSourceLength: 65_536,
  /** Nodes of the tree (literals, attributes, operators, calls): bounds the tree and the evaluation's fixed work. */
  maxNodes: 10_000,
  /** Elements of one IN set: a longer list is data, which belongs in the event or in a function. */
  maxInListLength: 1_000,
  /** Levels of nesting: parsing and evaluation recurse once per level, so this keeps them far from the stack's end. */
  maxDepth: 1_000,
  /**
   * Characters of a string a function produces (CONCAT, UPPER, a user function…): 1 MiB, the
   * ingress's default body limit, so only a string grown inside the expression can exceed it.
   */
  maxStringLength: 1_048_576,
  /**
   * Work of one evaluation: one step per node, plus one per character that a function, a cast, a
   * comparison of strings or a LIKE reads or writes. 4 Mi steps: enough to read a 1 MiB attribute
   * four times; at most ~40 ms of work here (a LIKE step, the slowest, takes up to ~10 ns); a
   * filter over ordinary events takes a few hundred.
   */
  maxEvaluationSteps: 4_194_304,
});

export type Limits = typeof LIMITS;

/** The functionEvaluation error of a String result over maxStringLength. */
export function tooLong(name: string, length: number): string {
  return `${name}: a result of ${length} characters is longer than ${LIMITS.maxStringLength} (the limit maxStringLength)`;
}
