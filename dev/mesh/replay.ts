/**
 * dev/mesh/replay — reads recordings: watch events (`kubectl get … --watch --output-watch-events -o
 * json`), pretty-printed or NDJSON, `kubectl get … -o json` Lists (sorted by time) and single
 * objects, CloudEvents, Alertmanager webhook notifications; and the recording's clock.
 * dev/mesh/play.ts replays them through the mesh.
 */
import { readFileSync } from 'node:fs';
import type { K8sObject, WatchType } from './apiserversource.js';
import { timeOf as validTime } from '../../functions/_signals/model.js';

export interface WatchRecord {
  readonly type: WatchType;
  readonly object: K8sObject;
}
/** A CloudEvent in the JSON event format (a recording of what reached a Broker). */
export interface CloudEventRecord {
  readonly type: 'CLOUDEVENT';
  readonly event: Readonly<Record<string, unknown>>;
}
/** An Alertmanager webhook notification (version 4), as its webhook_configs posts it: played to the alerts function. */
export interface AlertmanagerRecord {
  readonly type: 'ALERTMANAGER';
  readonly notification: Readonly<Record<string, unknown>>;
}
export type Recorded = WatchRecord | CloudEventRecord | AlertmanagerRecord;

/** A recorded container log's apiVersion: Reflex's, so that it is never taken for a Kubernetes object. */
export const POD_LOG_API_VERSION = 'reflex.dev/v1';

/**
 * A container's log as a recording carries it — what `kubectl logs POD -c CONTAINER [--previous]`
 * printed when it was recorded — in a watch event or on its own, like any object. Not a
 * Kubernetes kind: no ApiServerSource sends it and no function lists it; the recorded cluster
 * serves it as the pod's `pods/log` (dev/mesh/recorded.ts). A later one for the same pod,
 * container and instance replaces it; a DELETED one, or the pod's deletion, removes it.
 */
export interface PodLog extends K8sObject {
  readonly apiVersion: typeof POD_LOG_API_VERSION;
  readonly kind: 'PodLog';
  /** The pod's namespace and name. */
  readonly metadata: { readonly namespace: string; readonly name: string };
  readonly container: string;
  /** The instance before the last restart (`--previous`); absent: the current one. */
  readonly previous?: boolean;
  /** The log's text, lines ending in newlines, as the kubelet serves it. */
  readonly log: string;
}

export const isPodLog = (o: K8sObject): o is PodLog => o.kind === 'PodLog' && o.apiVersion === POD_LOG_API_VERSION;

/** What is wrong with a recorded PodLog, if anything: each field the recorded cluster reads. */
function podLogFault(o: PodLog): string | undefined {
  const m = o.metadata as { namespace?: unknown; name?: unknown };
  if (typeof m.namespace !== 'string' || m.namespace === '') return "metadata.namespace (the pod's) is missing";
  if (typeof m.name !== 'string' || m.name === '') return "metadata.name (the pod's) is missing";
  if (typeof o.container !== 'string' || o.container === '') return 'container (its name) is missing';
  if (o.previous !== undefined && typeof o.previous !== 'boolean') return 'previous is not true or false';
  if (typeof o.log !== 'string') return 'log (its text, a string) is missing';
  return undefined;
}

/** What a recording may be, for messages and help. */
export const RECORDING_FORMATS = [
  'A recording is JSON:',
  '  - watch events, as `kubectl get events -A --watch --output-watch-events -o json` writes them (pretty-printed or one per line)',
  '  - a List: `kubectl get events -A -o json`',
  '  - one object: `kubectl get event NAME -n NAMESPACE -o json`',
  '  - CloudEvents in the JSON format, one per line',
  "  - Alertmanager webhook notifications (version 4), as its webhook_configs posts them (a webhook logger's output)",
  '  - container logs, as PodLog objects of apiVersion reflex.dev/v1 (docs/local.md#container-logs-in-a-recording)',
  'Kinds may be mixed in one file.',
].join('\n');

/** A recording that cannot be read, or is not one: the message names the file (and line) and says what is read. */
export class RecordingError extends Error {
  override readonly name = 'RecordingError';
}

/**
 * Splits a stream of JSON values: NDJSON, or the pretty-printed objects one after another that
 * `kubectl … --watch -o json` writes. Returns each value's text and its starting line; anything
 * between values that is not white space (YAML, a log line) is `stray`, with its line.
 */
export function jsonValues(text: string): { values: { text: string; line: number }[]; stray?: number; unclosed?: number } {
  const values: { text: string; line: number }[] = [];
  let depth = 0;
  let start = 0;
  let line = 1;
  let startLine = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') line++;
    else if (depth === 0 && c !== '{' && c !== '[') {
      if (!/\s/.test(c)) return { values, stray: line };
    } else if (c === '"') {
      const end = endOfString(text, i);
      line += text.slice(i, end).split('\n').length - 1;
      i = end;
    } else if (c === '{' || c === '[') {
      if (depth++ === 0) [start, startLine] = [i, line];
    } else if ((c === '}' || c === ']') && --depth === 0) values.push({ text: text.slice(start, i + 1), line: startLine });
  }
  return depth > 0 ? { values, unclosed: startLine } : { values };
}

/** The index of the quote that closes the string opened at `open` (past the end if none does). */
function endOfString(text: string, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i;
  }
  return text.length;
}

const WATCH_TYPES: readonly unknown[] = ['ADDED', 'MODIFIED', 'DELETED'];

/**
 * Reads a recording: watch events ({"type": ADDED|MODIFIED|DELETED, "object": …}, as
 * `kubectl get events -A --watch --output-watch-events -o json` writes them, pretty-printed or
 * one per line), a `kubectl get … -o json` List (each item replayed as ADDED), one object as
 * `kubectl get <kind> NAME -o json` writes it (ADDED), CloudEvents in the JSON format (sent to
 * the Broker as they are), or Alertmanager webhook notifications (posted to the alerts function).
 * Anything else is a RecordingError naming the file and line.
 */
export function readRecording(path: string): Recorded[] {
  const text = textOf(path);
  if (text.trim() === '') throw new RecordingError(`${path} is empty.\n${RECORDING_FORMATS}`);
  const { values, stray, unclosed } = jsonValues(text);
  if (stray !== undefined) throw new RecordingError(`${path}:${stray}: not JSON (YAML or text?).\n${RECORDING_FORMATS}`);
  if (unclosed !== undefined) throw new RecordingError(`${path}:${unclosed}: this JSON value does not end (a truncated file?)`);
  return values.flatMap(({ text, line }) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw new RecordingError(`${path}:${line}: not JSON (${(err as Error).message}).\n${RECORDING_FORMATS}`);
    }
    const where = `${path}:${line}`;
    const records = recordsOf(value, where);
    for (const r of records) {
      const fault = 'object' in r && isPodLog(r.object) ? podLogFault(r.object) : undefined;
      if (fault)
        throw new RecordingError(`${where}: a PodLog (a container's log): ${fault}; see docs/local.md#container-logs-in-a-recording`);
    }
    return records;
  });
}

function textOf(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = { ENOENT: 'no such file', EISDIR: 'it is a directory', EACCES: 'permission denied' }[code ?? ''] ?? (err as Error).message;
    throw new RecordingError(`cannot read ${path}: ${why}`);
  }
}

/** The records one JSON value of a recording stands for; `where` is its file and line. */
function recordsOf(value: unknown, where: string): Recorded[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new RecordingError(`${where}: not a recording: a JSON array, where an object was expected.\n${RECORDING_FORMATS}`);
  const v = value as {
    type?: unknown;
    object?: K8sObject;
    apiVersion?: unknown;
    kind?: unknown;
    metadata?: unknown;
    items?: unknown;
    specversion?: unknown;
  };
  if (typeof v.specversion === 'string') return [{ type: 'CLOUDEVENT', event: v as Record<string, unknown> }];
  if (isNotification(v as { version?: unknown })) return [{ type: 'ALERTMANAGER', notification: v as Record<string, unknown> }];
  if (typeof v.kind === 'string' && v.kind.endsWith('List') && Array.isArray(v.items)) {
    // kubectl writes apiVersion and kind on each item; a bare Event list may not.
    const items = (v.items as Partial<K8sObject>[]).map((o) => ({
      type: 'ADDED' as const,
      object: { ...o, apiVersion: o.apiVersion ?? 'v1', kind: o.kind ?? 'Event' } as K8sObject,
    }));
    // A List is in name order (the API server lists by key), not in the order things happened.
    return inTimeOrder(items);
  }
  if (v.object?.kind && WATCH_TYPES.includes(v.type)) return [{ type: v.type as WatchType, object: v.object }];
  // One object, as `kubectl get event NAME -o json` writes it: as if it had just been added.
  if (typeof v.apiVersion === 'string' && typeof v.kind === 'string' && typeof v.metadata === 'object' && v.metadata !== null)
    return [{ type: 'ADDED', object: v as K8sObject }];
  throw new RecordingError(
    `${where}: not a recording: expected a watch event {"type": ADDED|MODIFIED|DELETED, "object": {...}}, a List, ` +
      `an object with apiVersion, kind and metadata, a CloudEvent, or an Alertmanager notification {"version": "4", "alerts": [...]}.\n${RECORDING_FORMATS}`,
  );
}

/** Alertmanager's webhook body: version 4, a group key, its alerts (the alerts function checks the rest). */
const isNotification = (v: { version?: unknown; groupKey?: unknown; alerts?: unknown }): boolean =>
  v.version === '4' && typeof v.groupKey === 'string' && Array.isArray(v.alerts);

/**
 * When Alertmanager sent a notification, as far as it says (it carries no time of its own): not
 * before any of its alerts started, nor before a resolved one ended; never before `fallback`, the
 * record before it.
 */
export function notificationTime(n: Readonly<Record<string, unknown>>, fallback: Date): Date {
  const times = ((n['alerts'] ?? []) as { status?: unknown; startsAt?: unknown; endsAt?: unknown }[]).flatMap((a) => [
    dateOf(a.startsAt),
    a.status === 'resolved' ? dateOf(a.endsAt) : undefined,
  ]);
  return new Date(Math.max(fallback.getTime(), ...times.map((t) => t?.getTime() ?? 0)));
}

/** A time from a recorded object: a string in 1970-9999 (a zero or absent time is no time; model.ts timeOf). */
const dateOf = (value: unknown): Date | undefined => (typeof value === 'string' ? validTime(value) : undefined);

/**
 * When the recorded object says it happened, if it says: an Event's last occurrence, whichever API
 * wrote it — `series.lastObservedTime` (a series, either API), `lastTimestamp` (core/v1, written
 * through core/v1) or `deprecatedLastTimestamp` (the same, read through events.k8s.io/v1),
 * `eventTime` (written through events.k8s.io/v1: its first occurrence; null when written through
 * core/v1), and else its creation, which is its first occurrence — or a Pod's last termination.
 * @see k8s.io/kubernetes pkg/apis/events/v1/conversion.go, pkg/apis/core/validation/events.go
 */
export function ownTimeOf(o: K8sObject): Date | undefined {
  const series = o['series'] as { lastObservedTime?: unknown } | null | undefined;
  const status = o['status'] as { containerStatuses?: { lastState?: { terminated?: { finishedAt?: unknown } } }[] } | undefined;
  const candidates =
    o.kind === 'Event'
      ? [series?.lastObservedTime, o['lastTimestamp'], o['deprecatedLastTimestamp'], o['eventTime'], createdOf(o)]
      : [status?.containerStatuses?.[0]?.lastState?.terminated?.finishedAt];
  for (const c of candidates) {
    const d = dateOf(c);
    if (d) return d;
  }
  return undefined;
}

const createdOf = (o: Partial<K8sObject>): unknown => (o.metadata as { creationTimestamp?: unknown } | undefined)?.creationTimestamp;

/** When the recorded object happened, for the replay clock: its own time, else `fallback` (the record before it). */
export function timeOf(o: K8sObject, fallback: Date): Date {
  const own = ownTimeOf(o);
  if (own) return own;
  // An object with no time of its own happens when the one before it did; the first, at its creation.
  const created = dateOf(createdOf(o));
  return fallback.getTime() === 0 && created ? created : fallback;
}

/**
 * Records sorted by when they happened (their own time, else their creation; none: first), ties
 * and records with no time keeping their order.
 */
export function inTimeOrder<R extends WatchRecord>(records: readonly R[]): R[] {
  const key = (r: R): number => (ownTimeOf(r.object) ?? dateOf(createdOf(r.object)))?.getTime() ?? -Infinity;
  return records
    .map((r, i) => ({ r, i, at: key(r) }))
    .sort((a, b) => a.at - b.at || a.i - b.i)
    .map(({ r }) => r);
}
