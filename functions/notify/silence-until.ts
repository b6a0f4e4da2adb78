/**
 * notify/silence-until — pure: the `reflex.dev/silence-until` annotation of a message's target
 * (a Deployment, a Node…) and the time -> the message is silenced until then, or not, and why.
 * A silence on the object itself, for whoever may annotate it: it ends by itself, and a value
 * that cannot be read silences nothing (never "forever" by a typo).
 * @see functions/notify/README.md#silences
 */

export const SILENCE_UNTIL = 'reflex.dev/silence-until';

/** Further ahead than this, a value is taken for a typo (2062 for 2026), not a silence: never "forever" by a slip. */
const MAX_AHEAD_DAYS = 31;
const MAX_AHEAD_MS = MAX_AHEAD_DAYS * 86_400_000;

export type UntilDecision =
  /** Not told: the object says so, until `until`. */
  | { readonly kind: 'silenced'; readonly until: string; readonly reason: string }
  /** Told as usual: no annotation, or its time has passed. */
  | { readonly kind: 'none'; readonly reason: string }
  /** Told as usual: the annotation says nothing notify can read (the caller logs it, naming the object). */
  | { readonly kind: 'invalid'; readonly value: string; readonly reason: string };

/**
 * RFC 3339 `date-time` (section 5.6): a full date, `T`, a full time with seconds, and a zone (`Z`
 * or an offset). No zone would be read in the replica's local zone and a date alone at some
 * midnight: both are refused rather than guessed.
 * @see https://www.rfc-editor.org/rfc/rfc3339#section-5.6
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))$/;

/** An RFC 3339 time -> ms since the epoch; undefined when it is not one (or names no real day, like 02-30). */
export function parseRfc3339(text: string): number | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const [offsetHours, offsetMinutes] = [Number(m[9] ?? 0), Number(m[10] ?? 0)];
  const valid =
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day === new Date(Date.UTC(year, month - 1, day)).getUTCDate() &&
    hour <= 23 &&
    minute <= 59 &&
    // 60: a leap second, which RFC 3339 allows; Date cannot hold it, so it is read as the second before.
    second <= 60 &&
    offsetHours <= 23 &&
    offsetMinutes <= 59;
  if (!valid) return undefined;
  const upper = text.toUpperCase();
  const ms = Date.parse(second === 60 ? upper.replace(/:60(?=[.Z+-])/, ':59') : upper);
  return Number.isFinite(ms) ? ms : undefined;
}

/** `in 2h`, `in 45m`, `in 30s`: how long a silence has left, for the log. */
function left(ms: number): string {
  const s = Math.ceil(ms / 1000);
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

/**
 * The target's annotations (undefined: none, or it could not be read) at `now` -> the decision.
 * `object` names it (`Deployment shop/web`) in the reason, so a log line says which to fix.
 */
export function silencedUntil(annotations: Readonly<Record<string, string>> | undefined, object: string, now: number): UntilDecision {
  const raw = annotations?.[SILENCE_UNTIL];
  if (raw === undefined) return { kind: 'none', reason: `${object} has no ${SILENCE_UNTIL} annotation` };
  const value = raw.trim();
  const until = parseRfc3339(value);
  if (until === undefined)
    return {
      kind: 'invalid',
      value: raw,
      reason: `${object}: ${SILENCE_UNTIL} ${JSON.stringify(raw.slice(0, 100))} is not an RFC 3339 time (e.g. 2026-11-23T08:00:00Z); ignored, the message is told`,
    };
  if (until <= now) return { kind: 'none', reason: `${object}: ${SILENCE_UNTIL} ${value} has passed` };
  if (until - now > MAX_AHEAD_MS)
    return {
      kind: 'invalid',
      value: raw,
      reason: `${object}: ${SILENCE_UNTIL} ${value} is more than ${MAX_AHEAD_DAYS} days ahead, more likely a typo (a year) than a silence; ignored, the message is told (for longer, reflex silence add)`,
    };
  return {
    kind: 'silenced',
    until: new Date(until).toISOString(),
    reason: `${object} is annotated ${SILENCE_UNTIL}: ${value} (in ${left(until - now)})`,
  };
}
