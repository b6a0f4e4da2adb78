/**
 * The upstream vocabulary replayed (issue 17): every reason of vocabulary/events.tsv (and the
 * messages of vocabulary/examples.tsv), written as an Event the way its component writes it,
 * goes through the development broker and the real functions; each gets the expected class, or
 * no signal with the reason classify states (an `ignore` rule by name).
 */
import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { projectRoot } from '../../functions/_kit/schemas.js';
import { play } from '../../dev/mesh/play.js';
import type { Recorded } from '../../dev/mesh/replay.js';
import type { EventLine, Line } from '../../dev/mesh/timeline.js';
import { eventOf, readVocabulary, sampleMessage, type Row } from '../../scripts/vocabulary.js';

const rows: (Row & { text: string })[] = [
  ...readVocabulary().map((r) => ({ ...r, text: sampleMessage(r.message) })),
  ...readVocabulary(join(projectRoot(), 'vocabulary', 'examples.tsv')).map((r) => ({ ...r, text: r.message })),
];

/** One Event per row, a second apart, each about its own object (a name no controller pattern reads as one of its pods), so no repeat is held back. */
function recording(): Recorded[] {
  const base = Date.parse('2026-11-22T12:00:00Z');
  return rows.map((r, i) => {
    const e = eventOf({ ...r, reason: r.reason.replace('%s', 'cpu') }, r.text, new Date(base + i * 1000)) as unknown as {
      metadata: { name: string; uid: string };
      involvedObject: { name: string };
    };
    e.metadata.name = `row${i}.17a${i.toString(16)}`;
    e.metadata.uid = `e-${i}`;
    e.involvedObject.name = `row${i}`;
    return { type: 'ADDED', object: e } as unknown as Recorded;
  });
}

describe('the vocabulary through the mesh', () => {
  it('each Event gets its expected class, or no signal with the rule that ignores it', async () => {
    const { lines } = await play(recording());
    const seen = new Map<string, string>();
    lines.forEach((l: Line, i) => {
      if (l.kind !== 'event') return;
      const e = l as EventLine;
      const next = lines[i + 1];
      seen.set(
        e.object.name,
        e.outcome === 'signal' && next?.kind === 'signal'
          ? (next as { class: string }).class
          : /rule \S+ ignores it/.test(e.why ?? '')
            ? 'ignore'
            : `none: ${e.why ?? '(no reason given)'}`,
      );
    });
    const wrong = rows
      .map((r, i) => ({
        row: `${r.component} ${r.reason} on ${r.involvedKind} (line ${r.line})`,
        expected: r.expect,
        got: seen.get(`row${i}`),
      }))
      .filter(({ expected, got }) => (expected.startsWith('none: ') ? !got?.startsWith('none: ') : got !== expected));
    expect(wrong).toEqual([]);
    expect(seen.size).toBe(rows.length);
    expect(lines.filter((l) => l.kind === 'problem')).toEqual([]);
  }, 120_000);
});
