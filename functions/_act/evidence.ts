/**
 * _act/evidence — is the Event a signal was made from still there, as the signal describes it?
 * For signals whose only evidence is an Event (load signals: applications' own Events), this is
 * the confirmation: the Event exists with the uid, reason and involved object the signal names,
 * its count is at least what the signal saw, and it happened recently.
 */
import type { CoreV1Event } from '@kubernetes/client-node';
import type { SignalData } from '../_contracts/events.js';
import type { ObjectReader } from '../_kit/k8s.js';

interface EventSeen {
  metadata?: { name?: string; namespace?: string; uid?: string };
  count?: number;
  series?: { count?: number };
  deprecatedCount?: number;
}

/** The Event's count (series.count first); anything but a positive integer is no count at all. */
const countOf = (e: EventSeen): number | undefined => {
  const n = e.series?.count ?? e.count ?? e.deprecatedCount ?? 1;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 1 ? n : undefined;
};

/** Undefined when confirmed; otherwise why not. `targetUid`: the target as just read. */
export async function confirmEvent(
  reader: ObjectReader,
  signal: SignalData,
  targetUid: string,
  now: Date,
  maxAgeSeconds: number,
): Promise<string | undefined> {
  const claimed = signal.evidence?.object as EventSeen | undefined;
  const api = signal.evidence?.api;
  const name = claimed?.metadata?.name;
  const namespace = claimed?.metadata?.namespace;
  if ((api !== 'core/v1 Event' && api !== 'events.k8s.io/v1 Event') || !name || !namespace)
    return 'the signal carries no Event to check it against';
  // Both APIs serve the same objects; core/v1 is always there.
  const live = await reader.get<CoreV1Event>({ apiVersion: 'v1', kind: 'Event', namespace, name });
  const event = `Event ${namespace}/${name}`;
  if (!live) return `${event} does not exist (any more)`;
  if (claimed.metadata?.uid && live.metadata?.uid !== claimed.metadata.uid) return `${event} is not the Event the signal names (uid)`;
  if (live.reason !== signal.reason) return `${event} has reason ${String(live.reason)}, not ${signal.reason}`;
  const inv = live.involvedObject;
  const t = signal.target;
  const aboutTarget = inv.uid ? inv.uid === targetUid : inv.kind === t.kind && inv.name === t.name && (inv.namespace ?? '') === t.namespace;
  if (!aboutTarget) return `${event} is about ${inv.kind} ${inv.name}, not ${t.kind} ${t.name}`;
  // The claim comes from the sender: its count is checked for type before it is compared.
  const claimedCount = countOf(claimed);
  if (claimedCount === undefined) return `the signal's copy of ${event} has no count that is a positive integer`;
  const liveCount = countOf(live as EventSeen) ?? 1;
  if (liveCount < claimedCount) return `${event} counts ${liveCount}, fewer than the signal claims`;
  const last = Date.parse(String(live.series?.lastObservedTime ?? live.lastTimestamp ?? live.eventTime ?? ''));
  const age = (now.getTime() - last) / 1000;
  if (!(age <= maxAgeSeconds))
    return `${event} last happened ${Number.isNaN(age) ? 'at no known time' : `${Math.round(age)}s ago`}, longer than maxSignalAgeSeconds (${maxAgeSeconds}s)`;
  return undefined;
}
