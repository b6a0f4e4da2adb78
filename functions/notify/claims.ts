/**
 * notify/claims — pure: whether this replica may tell a sink about a problem now, judged from
 * the claim record every replica shares (a Lease in Reflex's namespace, see port.ts).
 *
 * Claim before send: a replica first records {sink, problem, window, claimedBy, claimedAt,
 * state: sending} (a create, or a write with a resourceVersion precondition, so exactly one
 * replica wins), then tells the sink, then records `sent`. A claim still `sending` after the
 * claim TTL was abandoned (its replica died, before or after telling the sink): it may be
 * retaken, so a message is never lost, and at most one extra is sent per abandoned claim.
 * @see functions/notify/README.md#grouping-and-delivery
 */

export type ClaimState = 'sending' | 'sent' | 'failed';

export interface ClaimRecord {
  readonly sink: string;
  /** The grouping key: the problem (signals), the problem, verb and outcome (actions), the problem's end (resolutions). */
  readonly key: string;
  /** When this window began (ms): one message per sink per problem per window. */
  readonly windowStart: number;
  readonly state: ClaimState;
  /** The replica (pod name and process) that holds the claim. */
  readonly claimedBy: string;
  readonly claimedAt: number;
  /** How long the claim holds while `sending` (ms), as its claimant saw it. */
  readonly ttlMs: number;
  readonly resourceVersion?: string;
}

export interface ClaimPolicy {
  readonly windowMs: number;
  readonly claimTtlMs: number;
  /** This replica's identity. */
  readonly me: string;
}

export type Judgement =
  /** Told in this window already (or told for good: the sink refused it). */
  | { readonly kind: 'grouped'; readonly windowStart: number; readonly reason: string }
  /** Another replica is telling the sink right now: ask for a retry (503) once its claim settles or lapses. */
  | { readonly kind: 'busy'; readonly retryAfterSeconds: number; readonly reason: string }
  /** Ours to tell: `create` a first record, `renew` for a new window, `retake` an abandoned or failed claim. */
  | { readonly kind: 'claim'; readonly how: 'create' | 'renew' | 'retake'; readonly windowStart: number; readonly reason: string };

const seconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

/**
 * How far ahead of this delivery's `now` a window may have begun and still be the current one.
 * `now` is when the delivery arrived, before the silences, the target and the record were read:
 * another replica may have claimed the window in between (two copies of one signal, a few
 * milliseconds apart, on two replicas), and replicas' clocks are assumed to agree within 5 s
 * (README, "Claim before send"). Further ahead than that, the record is not trusted (a clock far
 * off, a hand edit): renewed, so a wrong clock cannot hold messages back.
 */
const CLOCK_SKEW_MS = 5000;

/**
 * The claim record (undefined: none yet) -> what this replica may do at `now`. The caller holds
 * no claim of its own on this record in flight (one send per sink and problem at a time per
 * replica), so a `sending` claim of `me` is one whose outcome was never recorded: retaken.
 */
export function judge(record: ClaimRecord | undefined, now: number, policy: ClaimPolicy): Judgement {
  if (!record) return { kind: 'claim', how: 'create', windowStart: now, reason: 'no one has told this sink about this problem' };
  const age = now - record.windowStart;
  if (age >= policy.windowMs || age <= -CLOCK_SKEW_MS)
    return { kind: 'claim', how: 'renew', windowStart: now, reason: `the last window began ${seconds(age)}s ago` };
  switch (record.state) {
    case 'sent':
      return {
        kind: 'grouped',
        windowStart: record.windowStart,
        reason: `told ${Math.max(0, Math.round(age / 1000))}s ago (window ${seconds(policy.windowMs)}s)`,
      };
    case 'failed':
      return { kind: 'claim', how: 'retake', windowStart: record.windowStart, reason: 'the last attempt failed' };
    case 'sending': {
      // Negative when the claim was made after this delivery arrived: held for no time yet.
      const held = Math.max(0, now - record.claimedAt);
      const ttl = Math.max(record.ttlMs, policy.claimTtlMs);
      if (record.claimedBy === policy.me || held >= ttl)
        return {
          kind: 'claim',
          how: 'retake',
          windowStart: record.windowStart,
          reason: `a claim by ${record.claimedBy} was abandoned ${seconds(held)}s ago`,
        };
      return {
        kind: 'busy',
        retryAfterSeconds: seconds(ttl - held),
        reason: `${record.claimedBy} is telling this sink now (claimed ${seconds(held)}s ago)`,
      };
    }
  }
}
