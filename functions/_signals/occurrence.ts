/**
 * _signals/occurrence — pure: a core/v1 or events.k8s.io/v1 Event -> one normalised Occurrence.
 * Both APIs show the same objects with different field names, and either may have written them:
 * written through core/v1, an Event has firstTimestamp/lastTimestamp/count (deprecated* in
 * events.k8s.io/v1) and a null eventTime; written through events.k8s.io/v1, it has eventTime (its
 * first occurrence) and, once repeated, `series {count, lastObservedTime}`, with null first/last
 * timestamps and no count in core/v1. Times come from whichever is set, else the Event's
 * creation (its first occurrence); the clock only when an Event carries no time at all.
 * @see https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/
 * @see k8s.io/kubernetes pkg/apis/events/v1/conversion.go, pkg/apis/core/validation/events.go
 */
import type { EvidenceApi, Involved } from '../_contracts/events.js';
import { countOf, timeOf } from './model.js';

interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
}

interface Series {
  count?: number;
  lastObservedTime?: string;
}

/** core/v1 Event, the fields Reflex reads (schemas/k8s/core.v1.Event.json). */
export interface CoreEvent {
  apiVersion: 'v1';
  kind: 'Event';
  metadata: Meta;
  involvedObject: Involved & { fieldPath?: string };
  reason?: string;
  message?: string;
  type?: string;
  source?: { component?: string; host?: string };
  count?: number;
  firstTimestamp?: string | null;
  lastTimestamp?: string | null;
  eventTime?: string | null;
  series?: Series | null;
  reportingComponent?: string;
  reportingInstance?: string;
  action?: string;
}

/** events.k8s.io/v1 Event (schemas/k8s/events.v1.Event.json). */
export interface EventsEvent {
  apiVersion: 'events.k8s.io/v1';
  kind: 'Event';
  metadata: Meta;
  regarding?: Involved & { fieldPath?: string };
  reason?: string;
  note?: string;
  type?: string;
  eventTime?: string | null;
  series?: Series | null;
  reportingController?: string;
  reportingInstance?: string;
  action?: string;
  deprecatedSource?: { component?: string; host?: string };
  deprecatedCount?: number;
  deprecatedFirstTimestamp?: string | null;
  deprecatedLastTimestamp?: string | null;
}

export type KubeEvent = CoreEvent | EventsEvent;

export interface Occurrence {
  readonly api: EvidenceApi;
  readonly uid: string;
  readonly reason: string;
  readonly type: string;
  readonly message: string;
  readonly involved: Involved;
  /** source.component / reportingController / reportingComponent: who wrote it. */
  readonly component: string;
  readonly count: number;
  readonly firstSeen: Date;
  readonly lastSeen: Date;
}

/** The first usable time (see timeOf: out-of-range times count as missing). */
function date(...candidates: (string | null | undefined)[]): Date | undefined {
  for (const c of candidates) {
    const d = timeOf(c);
    if (d) return d;
  }
  return undefined;
}

export function occurrenceOf(event: KubeEvent, now: Date): Occurrence {
  const uid = event.metadata.uid ?? `${event.metadata.namespace ?? ''}/${event.metadata.name ?? ''}`;
  if (event.apiVersion === 'events.k8s.io/v1') {
    const regarding = event.regarding ?? { kind: '', name: '' };
    const last =
      date(event.series?.lastObservedTime, event.deprecatedLastTimestamp, event.eventTime, event.metadata.creationTimestamp) ?? now;
    return {
      api: 'events.k8s.io/v1 Event',
      uid,
      reason: event.reason ?? '',
      type: event.type ?? '',
      message: event.note ?? '',
      involved: refOf(regarding),
      component: event.reportingController || event.deprecatedSource?.component || '',
      count: countOf(event.series?.count, event.deprecatedCount),
      firstSeen: date(event.eventTime, event.deprecatedFirstTimestamp, event.metadata.creationTimestamp) ?? last,
      lastSeen: last,
    };
  }
  const last = date(event.series?.lastObservedTime, event.lastTimestamp, event.eventTime, event.metadata.creationTimestamp) ?? now;
  return {
    api: 'core/v1 Event',
    uid,
    reason: event.reason ?? '',
    type: event.type ?? '',
    message: event.message ?? '',
    involved: refOf(event.involvedObject),
    component: event.reportingComponent || event.source?.component || '',
    count: countOf(event.count, event.series?.count),
    firstSeen: date(event.firstTimestamp, event.eventTime, event.metadata.creationTimestamp) ?? last,
    lastSeen: last,
  };
}

function refOf(o: Involved): Involved {
  return {
    kind: o.kind,
    name: o.name,
    ...(o.apiVersion ? { apiVersion: o.apiVersion } : {}),
    ...(o.namespace ? { namespace: o.namespace } : {}),
    ...(o.uid ? { uid: o.uid } : {}),
  };
}

/** The container a kubelet Event is about: fieldPath `spec.containers{web}`. */
export function containerOf(event: KubeEvent): string | undefined {
  const fieldPath = event.apiVersion === 'events.k8s.io/v1' ? event.regarding?.fieldPath : event.involvedObject.fieldPath;
  return /^spec\.(?:initContainers|containers|ephemeralContainers)\{(.+)\}$/.exec(fieldPath ?? '')?.[1];
}
