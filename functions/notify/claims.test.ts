/** Who may tell a sink now, from the shared claim record: one message per window, never none (issue 20). */
import { describe, expect, it } from '@jest/globals';
import { judge, type ClaimRecord } from './claims.js';

const policy = { windowMs: 600_000, claimTtlMs: 10_000, me: 'notify-a-1' };
const T = 1_000_000_000;
const record = (edit: Partial<ClaimRecord>): ClaimRecord => ({
  sink: 'slack',
  key: '00000000000000a1',
  windowStart: T,
  state: 'sent',
  claimedBy: 'notify-b-2',
  claimedAt: T,
  ttlMs: 10_000,
  resourceVersion: '7',
  ...edit,
});

describe('judge', () => {
  it.each<[string, ClaimRecord | undefined, number, Record<string, unknown>]>([
    ['no record: the first to create it tells the sink', undefined, T, { kind: 'claim', how: 'create', windowStart: T }],
    ['told in this window: grouped', record({}), T + 599_000, { kind: 'grouped', windowStart: T }],
    [
      'the window is over: renewed, a new window from now',
      record({}),
      T + 600_000,
      { kind: 'claim', how: 'renew', windowStart: T + 600_000 },
    ],
    [
      'another replica is telling it now: retry once its claim settles or lapses',
      record({ state: 'sending', claimedAt: T + 1000 }),
      T + 4000,
      { kind: 'busy', retryAfterSeconds: 7 },
    ],
    [
      'a claim older than its TTL was abandoned (its replica died): retaken, in the same window',
      record({ state: 'sending', claimedAt: T + 1000 }),
      T + 11_000,
      { kind: 'claim', how: 'retake', windowStart: T },
    ],
    [
      "this replica's own claim, not in flight here: its outcome was never recorded, retaken",
      record({ state: 'sending', claimedBy: 'notify-a-1' }),
      T + 1000,
      { kind: 'claim', how: 'retake', windowStart: T },
    ],
    ['the last try failed: the next delivery tries again at once', record({ state: 'failed' }), T + 1000, { kind: 'claim', how: 'retake' }],
    [
      "a longer TTL in the record (another replica's configuration) is honoured",
      record({ state: 'sending', ttlMs: 30_000 }),
      T + 20_000,
      { kind: 'busy', retryAfterSeconds: 10 },
    ],
    [
      // Seen on two processes: one claimed the window a few ms after the other's copy arrived.
      'a window that began just after this delivery arrived is the current one: grouped, not a second message',
      record({ windowStart: T + 40, claimedAt: T + 40 }),
      T,
      { kind: 'grouped', windowStart: T + 40 },
    ],
    [
      'a claim made just after this delivery arrived is in flight: busy, for no longer than its TTL',
      record({ state: 'sending', windowStart: T + 40, claimedAt: T + 40 }),
      T,
      { kind: 'busy', retryAfterSeconds: 10 },
    ],
    [
      'a replica whose clock is behind by less than the assumed 5 s groups into the window as well',
      record({ windowStart: T + 4999 }),
      T,
      { kind: 'grouped', windowStart: T + 4999 },
    ],
    [
      'a window that starts in the future (a skewed clock) is not trusted: renewed',
      record({ windowStart: T + 5000 }),
      T,
      { kind: 'claim', how: 'renew' },
    ],
  ])('%s', (_why, rec, now, expected) => {
    expect(judge(rec, now, policy)).toMatchObject(expected);
  });
});
