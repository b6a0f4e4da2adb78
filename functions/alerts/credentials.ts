/**
 * alerts/credentials — pure: does an Authorization header carry the credentials Alertmanager was
 * given (bearer token or basic auth)? Compared in constant time: a wrong secret takes as long to
 * refuse whatever its length and however much of it is right.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Credentials } from './config.js';

/** Why a request was refused: the `reason` label of reflex_alerts_refused_total (a closed set). */
export type Refusal = 'unconfigured' | 'missing' | 'malformed' | 'scheme' | 'invalid';

export type Verdict = { readonly ok: true; readonly scheme: 'bearer' | 'basic' } | { readonly ok: false; readonly reason: Refusal };

/** Longer than any token or basic pair Alertmanager would send; anything past it is not compared. */
const MAX_AUTHORIZATION_CHARS = 8192;

/**
 * Equal in constant time: both sides are hashed first (SHA-256), so the comparison neither
 * stops at the first differing byte nor reveals the secret's length.
 */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

/** The challenge a 401 carries: the schemes this configuration accepts (RFC 9110 §11.6.1). */
export function challengeOf(c: Credentials): string {
  const realm = 'realm="reflex-alerts"';
  const schemes = [...(c.bearer || !c.basic ? [`Bearer ${realm}`] : []), ...(c.basic ? [`Basic ${realm}, charset="UTF-8"`] : [])];
  return schemes.join(', ');
}

export function check(authorization: string | undefined, c: Credentials): Verdict {
  if (!c.bearer && !c.basic) return { ok: false, reason: 'unconfigured' };
  const header = authorization?.trim() ?? '';
  if (header === '') return { ok: false, reason: 'missing' };
  if (header.length > MAX_AUTHORIZATION_CHARS) return { ok: false, reason: 'malformed' };
  const space = header.indexOf(' ');
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const value = space < 0 ? '' : header.slice(space + 1).trim();
  if (value === '') return { ok: false, reason: 'malformed' };
  if (scheme === 'bearer' && c.bearer)
    return sameSecret(value, c.bearer) ? { ok: true, scheme: 'bearer' } : { ok: false, reason: 'invalid' };
  if (scheme === 'basic' && c.basic) return basic(value, c.basic);
  return { ok: false, reason: 'scheme' };
}

/** RFC 7617: base64 of `user-id:password`, split at the first colon. */
function basic(value: string, expected: { readonly username: string; readonly password: string }): Verdict {
  if (!/^[A-Za-z0-9+/]+=*$/.test(value)) return { ok: false, reason: 'malformed' };
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { ok: false, reason: 'malformed' };
  // Both halves are always compared: which one is wrong takes no different time.
  const user = sameSecret(decoded.slice(0, colon), expected.username);
  const password = sameSecret(decoded.slice(colon + 1), expected.password);
  return user && password ? { ok: true, scheme: 'basic' } : { ok: false, reason: 'invalid' };
}
