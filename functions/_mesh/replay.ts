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

/** Reads NDJSON watch events; a line that is not one names its line number. */
export function readRecording(path: string): Recorded[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((line, i) => ({ line: line.trim(), n: i + 1 }))
    .filter(({ line }) => line !== '')
    .map(({ line, n }) => {
      let r: Partial<Recorded>;
      try {
        r = JSON.parse(line) as Partial<Recorded>;
      } catch {
        throw new Error(`${path}:${n}: not JSON`);
      }
      if (!r.object?.kind || !['ADDED', 'MODIFIED', 'DELETED'].includes(String(r.type)))
        throw new Error(`${path}:${n}: expected {"type": ADDED|MODIFIED|DELETED, "object": {...}}`);
      return r as Recorded;
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

export async function replay(records: readonly Recorded[], source = 'https://kubernetes.default.svc'): Promise<Row[]> {
  let clock = new Date(0);
  const why = new Map<string, string>();
  const server = await startServer(classify, {
    env: { PORT: '0', REFLEX_HOST: '127.0.0.1', REFLEX_RESOLVE_OWNERS: 'names', REFLEX_LOG_LEVEL: 'debug' },
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
