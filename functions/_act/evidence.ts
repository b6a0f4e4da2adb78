/**
 * _act/evidence — is the Event a signal was made from still there, as the signal describes it?
 * For signals whose only evidence is an Event (load signals: applications' own Events), this is
 * the confirmation: the Event exists with the uid, reason and involved object the signal names,
 * its count is at least what the signal saw, and it happened recently. For signals made from an
 * Alertmanager alert (load alerts), the alert is asked after in Alertmanager (confirmAlert).
 */
import type { CoreV1Event } from '@kubernetes/client-node';
import type { SignalData } from '../_contracts/events.js';
import type { ObjectReader } from '../_kit/k8s.js';
import type { ActiveAlert, AlertmanagerPort } from './alertmanager.js';

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

/** The label naming each kind a load alert can be about (functions/_signals/alerts.ts reads the same). */
const WORKLOAD_LABEL: Readonly<Record<string, string>> = { Deployment: 'deployment', StatefulSet: 'statefulset' };

interface AlertSeen {
  status?: unknown;
  labels?: Record<string, unknown>;
  fingerprint?: unknown;
  startsAt?: unknown;
}

/**
 * Undefined when a signal made from an Alertmanager alert is confirmed; otherwise why not. The
 * alert the signal carries must be firing and name the target in its labels (namespace and
 * `deployment` / `statefulset`); with an Alertmanager to ask (`alertmanager`), it must also be
 * active there now — the same fingerprint and start, neither silenced nor inhibited — which is
 * what confirms it independently of the signal. Without one, the signal's own alert is all there
 * is (docs/security.md says what that leaves open). Recency is the acting loop's (maxSignalAgeSeconds).
 */
export async function confirmAlert(signal: SignalData, alertmanager: AlertmanagerPort | undefined): Promise<string | undefined> {
  const alert = signal.evidence?.object as AlertSeen | undefined;
  if (signal.evidence?.api !== 'Alertmanager alert' || !alert) return 'the signal carries no alert to check it against';
  if (alert.status !== 'firing') return `the alert is ${String(alert.status)}, not firing`;
  const labels = alert.labels ?? {};
  const t = signal.target;
  const label = WORKLOAD_LABEL[t.kind];
  if (!label) return `an alert cannot name a ${t.kind} to scale (labels namespace with deployment or statefulset)`;
  if (labels['namespace'] !== t.namespace || labels[label] !== t.name)
    return `the alert's labels name ${String(labels['namespace'])}/${String(labels[label])}, not ${t.kind} ${t.namespace}/${t.name}`;
  if (!alertmanager) return undefined;
  const name = typeof labels['alertname'] === 'string' ? labels['alertname'] : undefined;
  let active: readonly ActiveAlert[];
  try {
    active = await alertmanager.active(name);
  } catch (err) {
    // Not retried: a missed load signal is followed by the next round of the same alert.
    return `Alertmanager could not be asked (${err instanceof Error ? err.message : String(err)})`;
  }
  const started = Date.parse(String(alert.startsAt));
  const same = active.find((a) => a.fingerprint === alert.fingerprint && Date.parse(a.startsAt) === started);
  if (!same)
    return `alert ${name ?? String(alert.fingerprint)} (${String(alert.fingerprint)}) is not active in Alertmanager at ${alertmanager.url}`;
  if (same.status.state !== 'active') return `alert ${name ?? ''} is ${same.status.state} in Alertmanager (silenced or inhibited)`;
  return undefined;
}
