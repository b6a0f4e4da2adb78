/**
 * dev/mesh/replay — reads recordings: watch events (`kubectl get … --watch --output-watch-events -o
 * json`), pretty-printed or NDJSON, and `kubectl get … -o json` Lists; and the recording's clock.
 * dev/mesh/play.ts replays them through the mesh.
 */
import { readFileSync } from 'node:fs';
import type { K8sObject, WatchType } from './apiserversource.js';

export interface WatchRecord {
  readonly type: WatchType;
  readonly object: K8sObject;
}
/** A CloudEvent in the JSON event format (a recording of what reached a Broker). */
export interface CloudEventRecord {
  readonly type: 'CLOUDEVENT';
  readonly event: Readonly<Record<string, unknown>>;
}
export type Recorded = WatchRecord | CloudEventRecord;

/**
 * Splits a stream of JSON values: NDJSON, or the pretty-printed objects one after another that
 * `kubectl … --watch -o json` writes. Returns each value's text and its starting line.
 */
export function jsonValues(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  let line = 1;
  let startLine = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') line++;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') {
      if (depth === 0) {
        start = i;
        startLine = line;
      }
      depth++;
    } else if (c === '}' || c === ']') {
      depth--;
      if (depth === 0) out.push({ text: text.slice(start, i + 1), line: startLine });
    }
  }
  return out;
}

/**
 * Reads a recording: watch events ({"type": ADDED|MODIFIED|DELETED, "object": …}, as
 * `kubectl get events -A --watch --output-watch-events -o json` writes them, pretty-printed or
 * one per line), a `kubectl get … -o json` List (each item replayed as ADDED), or CloudEvents in
 * the JSON format (sent to the Broker as they are). A value that is none of these names its line.
 */
export function readRecording(path: string): Recorded[] {
  return jsonValues(readFileSync(path, 'utf8')).flatMap(({ text, line }): Recorded[] => {
    let v: { type?: unknown; object?: K8sObject; kind?: unknown; items?: Partial<K8sObject>[]; specversion?: unknown };
    try {
      v = JSON.parse(text) as typeof v;
    } catch {
      throw new Error(`${path}:${line}: not JSON`);
    }
    if (typeof v.specversion === 'string') return [{ type: 'CLOUDEVENT', event: v as Record<string, unknown> }];
    if (v.kind === 'List' || (typeof v.kind === 'string' && v.kind.endsWith('List') && Array.isArray(v.items))) {
      // kubectl writes apiVersion and kind on each item; a bare Event list may not.
      return (v.items ?? []).map((o) => ({
        type: 'ADDED',
        object: { ...o, apiVersion: o.apiVersion ?? 'v1', kind: o.kind ?? 'Event' } as K8sObject,
      }));
    }
    if (!v.object?.kind || !['ADDED', 'MODIFIED', 'DELETED'].includes(String(v.type))) {
      throw new Error(`${path}:${line}: expected {"type": ADDED|MODIFIED|DELETED, "object": {...}}, a List or a CloudEvent`);
    }
    return [{ type: v.type as WatchType, object: v.object }];
  });
}

/** When the recorded object says it happened (its last occurrence), for the replay clock. */
export function timeOf(o: K8sObject, fallback: Date): Date {
  const series = o['series'] as { lastObservedTime?: string } | undefined;
  const status = o['status'] as { containerStatuses?: { lastState?: { terminated?: { finishedAt?: string } } }[] } | undefined;
  const candidates = [
    series?.lastObservedTime,
    o['lastTimestamp'],
    o['eventTime'],
    status?.containerStatuses?.[0]?.lastState?.terminated?.finishedAt,
  ];
  for (const c of candidates) if (typeof c === 'string' && !Number.isNaN(Date.parse(c))) return new Date(c);
  // An object with no time of its own happens when the one before it did; the first, at its creation.
  const created = (o.metadata as { creationTimestamp?: string }).creationTimestamp;
  if (fallback.getTime() === 0 && created && !Number.isNaN(Date.parse(created))) return new Date(created);
  return fallback;
}
