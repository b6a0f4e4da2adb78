/**
 * _mesh/replay — feeds recorded watch events (`kubectl get … --watch --output-watch-events -o json`
 * lines) through classify exactly as an ApiServerSource would deliver them, on the recording's
 * own clock, and reports what each one became.
 */
import { readFileSync } from 'node:fs';
import classify from '../classify/index.js';
import { startServer } from '../_kit/server.js';
import { apiServerSourceMessage, type K8sObject, type WatchType } from './apiserversource.js';

export interface Recorded {
  readonly type: WatchType;
  readonly object: K8sObject;
}

export interface Row {
  readonly at: Date;
  readonly watch: WatchType;
  readonly object: K8sObject;
  readonly status: number;
  /** The signal classify replied with, if any. */
  readonly signal?: { type: string; severity: string; subject: string; reason: string; message: string };
  /** Why there was no signal (classify's own words). */
  readonly why?: string;
}

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
 * one per line), or a `kubectl get … -o json` List (each item replayed as ADDED). A value that is
 * neither names its line.
 */
export function readRecording(path: string): Recorded[] {
  return jsonValues(readFileSync(path, 'utf8')).flatMap(({ text, line }): Recorded[] => {
    let v: { type?: unknown; object?: K8sObject; kind?: unknown; items?: Partial<K8sObject>[] };
    try {
      v = JSON.parse(text) as typeof v;
    } catch {
      throw new Error(`${path}:${line}: not JSON`);
    }
    if (v.kind === 'List' || (typeof v.kind === 'string' && v.kind.endsWith('List') && Array.isArray(v.items))) {
      // kubectl writes apiVersion and kind on each item; a bare Event list may not.
      return (v.items ?? []).map((o) => ({
        type: 'ADDED',
        object: { ...o, apiVersion: o.apiVersion ?? 'v1', kind: o.kind ?? 'Event' } as K8sObject,
      }));
    }
    if (!v.object?.kind || !['ADDED', 'MODIFIED', 'DELETED'].includes(String(v.type))) {
      throw new Error(`${path}:${line}: expected {"type": ADDED|MODIFIED|DELETED, "object": {...}} or a List`);
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
  return fallback;
}

/** `rulesFile` replays through other rules than the shipped ones (what-if). */
export async function replay(records: readonly Recorded[], options: { rulesFile?: string; source?: string } = {}): Promise<Row[]> {
  const source = options.source ?? 'https://kubernetes.default.svc';
  let clock = new Date(0);
  const why = new Map<string, string>();
  const server = await startServer(classify, {
    env: {
      PORT: '0',
      REFLEX_HOST: '127.0.0.1',
      REFLEX_RESOLVE_OWNERS: 'names',
      REFLEX_LOG_LEVEL: 'debug',
      ...(options.rulesFile ? { REFLEX_RULES_FILE: options.rulesFile } : {}),
    },
    now: () => clock,
    logSink: (line) => {
      const l = JSON.parse(line) as { msg?: string; ceId?: string; why?: string };
      if (l.msg === 'no signal' && l.ceId && l.why) why.set(l.ceId, l.why);
    },
  });
  const rows: Row[] = [];
  try {
    for (const r of records) {
      clock = timeOf(r.object, clock);
      const { headers, body } = apiServerSourceMessage(r.type, r.object, source, clock);
      const res = await fetch(server.url, { method: 'POST', headers, body });
      const text = await res.text();
      const base = { at: clock, watch: r.type, object: r.object, status: res.status };
      if (res.status === 200) {
        const data = JSON.parse(text) as { severity: string; reason: string; message: string };
        rows.push({
          ...base,
          signal: {
            type: res.headers.get('ce-type') ?? '',
            severity: data.severity,
            subject: res.headers.get('ce-subject') ?? '',
            reason: data.reason,
            message: data.message,
          },
        });
      } else if (res.status === 202) {
        rows.push({ ...base, why: why.get(headers['ce-id']!) ?? 'accepted without a signal' });
      } else {
        rows.push({ ...base, why: `HTTP ${res.status}: ${text.slice(0, 200)}` });
      }
    }
  } finally {
    await server.shutdown();
  }
  return rows;
}
