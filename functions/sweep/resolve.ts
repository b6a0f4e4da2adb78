/**
 * sweep/resolve — pure: the problems open after the last ticks + what this tick found -> the
 * problems still open, and those that are over. A problem is over after it has been absent for
 * `afterTicks` ticks in a row (one missed list is not a recovery).
 */
import type { Severity, Target } from '../_contracts/events.js';

export interface OpenProblem {
  readonly class: string;
  readonly severity: Severity;
  readonly reason: string;
  readonly target: Target;
  readonly firstSeen: string;
  readonly lastSeen: string;
  /** Ticks in a row that did not find it. */
  readonly missing: number;
}

export type OpenState = Readonly<Record<string, OpenProblem>>;

export interface Found {
  readonly key: string;
  readonly class: string;
  readonly severity: Severity;
  readonly reason: string;
  readonly target: Target;
}

/** At most this many open problems are kept (a ConfigMap holds 1 MiB); the oldest go first. */
export const MAX_OPEN = 1000;

export function track(
  open: OpenState,
  found: readonly Found[],
  now: Date,
  afterTicks: number,
): { open: OpenState; resolved: (OpenProblem & { key: string })[] } {
  const at = now.toISOString();
  const next: Record<string, OpenProblem> = {};
  const seen = new Set(found.map((f) => f.key));
  const resolved: (OpenProblem & { key: string })[] = [];
  for (const [key, p] of Object.entries(open)) {
    if (seen.has(key)) continue;
    const missing = p.missing + 1;
    if (missing >= afterTicks) resolved.push({ ...p, key, missing });
    else next[key] = { ...p, missing };
  }
  for (const f of found) {
    const before = open[f.key];
    next[f.key] = {
      class: f.class,
      severity: f.severity,
      reason: f.reason,
      target: f.target,
      firstSeen: before?.firstSeen ?? at,
      lastSeen: at,
      missing: 0,
    };
  }
  const kept = Object.entries(next)
    .sort(([, a], [, b]) => b.lastSeen.localeCompare(a.lastSeen))
    .slice(0, MAX_OPEN);
  return { open: Object.fromEntries(kept), resolved };
}
