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
import type { ActionLine, EventLine, Line } from '../../dev/mesh/timeline.js';
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

  /** One Event as its component writes it, seen `count` times from `first` to `last`. */
  const written = (
    reason: string,
    message: string,
    involved: { kind: string; name: string },
    count: number,
    first: string,
    last: string,
  ): Recorded =>
    ({
      type: count === 1 ? 'ADDED' : 'MODIFIED',
      object: {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `${involved.name}.188a1`, namespace: 'shop', uid: `e-${involved.name}`, resourceVersion: String(count) },
        involvedObject: { apiVersion: 'v1', kind: involved.kind, namespace: 'shop', name: involved.name, uid: `u-${involved.name}` },
        reason,
        message,
        type: 'Warning',
        source: { component: reason === 'FailedScheduling' ? 'default-scheduler' : 'kubelet' },
        count,
        firstTimestamp: first,
        lastTimestamp: last,
      },
    }) as unknown as Recorded;

  it('start-up noise: one FailedScheduling while a claim binds is no signal; the same for 150 s is one', async () => {
    const message = '0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims. preemption: 0/3 nodes are available.';
    const pod = { kind: 'Pod', name: 'db-0' };
    const { lines } = await play([
      written('FailedScheduling', message, pod, 1, '2026-11-22T12:00:00Z', '2026-11-22T12:00:00Z'),
      written('FailedScheduling', message, pod, 6, '2026-11-22T12:00:00Z', '2026-11-22T12:02:30Z'),
    ]);
    const events = lines.filter((l): l is EventLine => l.kind === 'event');
    expect(events.map((e) => [e.count, e.outcome, e.why ?? ''])).toEqual([
      [1, 'none', expect.stringMatching(/^rule \S+: seen for 0s of the 120s it must last/)],
      [6, 'signal', expect.stringContaining('matched: unschedulable')],
    ]);
    expect(lines.filter((l) => l.kind === 'signal').map((l) => (l as { class: string }).class)).toEqual(['unschedulable']);
  }, 60_000);

  it("a missing ConfigMap in a replay of Events alone: recover's line names it", async () => {
    const { lines } = await play([
      written(
        'Failed',
        'Error: configmap "app-config" not found',
        { kind: 'Pod', name: 'web-6f9d8c7b5-q7x2m' },
        9,
        '2026-11-22T12:00:00Z',
        '2026-11-22T12:03:00Z',
      ),
    ]);
    expect(lines.filter((l) => l.kind === 'signal').map((l) => (l as { class: string }).class)).toEqual(['configerror']);
    const recover = lines.filter((l): l is ActionLine => l.kind === 'action' && l.function === 'recover');
    expect(recover).toHaveLength(1);
    expect(recover[0]!.outcome).toBe('escalated');
    expect(recover[0]!.reason).toContain('needs ConfigMap shop/app-config, which does not exist');
  }, 60_000);

  it('a missing StorageClass, the claim itself not in the recording: nothing to act on, and what to fix is still said', async () => {
    const { lines } = await play([
      written(
        'ProvisioningFailed',
        'storageclass.storage.k8s.io "fast-ssd" not found',
        { kind: 'PersistentVolumeClaim', name: 'data' },
        9,
        '2026-11-22T12:00:00Z',
        '2026-11-22T12:06:00Z',
      ),
    ]);
    expect(lines.filter((l) => l.kind === 'signal').map((l) => (l as { class: string }).class)).toEqual(['storagefailed']);
    const recover = lines.filter((l): l is ActionLine => l.kind === 'action' && l.function === 'recover');
    expect(recover.map((a) => [a.outcome, a.reason])).toEqual([
      [
        'skipped',
        "PersistentVolumeClaim/shop/data does not exist (any more); what the signal asks a person to fix: PersistentVolumeClaim shop/data asks for StorageClass fast-ssd, which does not exist: create it, or change the claim's storageClassName",
      ],
    ]);
  }, 60_000);
});
