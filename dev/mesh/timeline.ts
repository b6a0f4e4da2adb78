/**
 * dev/mesh/timeline — what the development broker saw, as lines a person reads: what happened in
 * the cluster, the signal it became, what each function decided and why, and deliveries that
 * failed or were dead-lettered.
 */
import type { BrokerRecord } from './broker.js';
import type { Event } from './delivery.js';

export interface Line {
  readonly at: Date;
  /** 'event' (from the cluster), 'signal', 'action', 'problem' (failed delivery), 'other'. */
  readonly kind: 'event' | 'signal' | 'action' | 'problem' | 'other';
  readonly text: string;
}

type Obj = {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  reason?: string;
  type?: string;
  count?: number;
  series?: { count?: number };
  involvedObject?: { kind?: string; name?: string };
  regarding?: { kind?: string; name?: string };
};

/** One watched object, in a few words: `BackOff x5 (Warning) on Pod web-6f9d8c7b5-q7x2m`. */
export function describeObject(o: Obj, verb = ''): string {
  if (o.kind === 'Event') {
    const inv = o.involvedObject ?? o.regarding;
    const n = o.count ?? o.series?.count ?? 1;
    return `${o.reason ?? ''}${n > 1 ? ` x${n}` : ''} (${o.type ?? ''}) on ${inv?.kind ?? '?'} ${inv?.name ?? '?'}`;
  }
  return `${o.kind ?? '?'} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? '?'}${verb ? ` ${verb}` : ''}`;
}

const VERBS: { [k: string]: string } = { add: 'added', update: 'changed', delete: 'deleted' };

/** An event as a timeline line (undefined: not worth a line). */
export function describeEvent(e: Event): Line {
  const at = new Date(e.time ?? Date.now());
  const data = (e.data ?? {}) as { [k: string]: unknown };
  const ext = e as unknown as { [k: string]: unknown };
  if (e.type.startsWith('dev.knative.apiserver.resource.'))
    return { at, kind: 'event', text: describeObject(data as Obj, VERBS[e.type.split('.').pop()!] ?? '') };
  if (e.type.startsWith('dev.reflex.signal.')) {
    const d = data as { class?: string; severity?: string; reason?: string; target?: { kind?: string; namespace?: string; name?: string } };
    const t = d.target;
    return {
      at,
      kind: 'signal',
      text: `signal ${d.class ?? '?'} ${String(d.severity ?? '').toUpperCase()} on ${t?.kind ?? '?'} ${t?.namespace ? `${t.namespace}/` : ''}${t?.name ?? '?'} (${d.reason ?? ''})`,
    };
  }
  if (e.type.startsWith('dev.reflex.action.')) {
    const d = data as { outcome?: string; reason?: string; steps?: { detail?: string }[] };
    const who = e.source.split('/').pop();
    const steps = (d.steps ?? []).map((s) => s.detail).filter(Boolean);
    return {
      at,
      kind: 'action',
      text: `${who}: ${d.outcome ?? String(ext['outcome'] ?? '?')} ${String(ext['reflexaction'] ?? e.type.split('.').pop())} on ${String(ext['targetkind'] ?? '')} ${ext['targetns'] ? `${String(ext['targetns'])}/` : ''}${String(ext['targetname'] ?? '')}: ${d.reason ?? ''}${steps.length ? ` [${steps.join('; ')}]` : ''}`,
    };
  }
  return { at, kind: 'other', text: `${e.type}${e.subject ? ` ${e.subject}` : ''}` };
}

/** A broker record as a line; undefined for what a person need not see (a successful delivery). */
export function lineOf(r: BrokerRecord): Line | undefined {
  if (r.kind === 'accepted') return describeEvent(r.event);
  if (r.kind === 'refused') return { at: new Date(), kind: 'problem', text: `${r.broker} refused an event (${r.status}): ${r.reason}` };
  if (r.result.ok) return undefined;
  const dl = r.deadLettered;
  const where = dl?.to
    ? `dead-lettered to ${dl.to} (${dl.result.ok ? 'delivered' : `failed too: ${dl.result.status}`})`
    : 'dropped (no dead-letter sink)';
  return {
    at: new Date(),
    kind: 'problem',
    text: `${r.trigger}: ${r.event.type} not delivered to ${r.subscriber} after ${r.result.attempts} attempt(s), last ${r.result.status}${r.result.error ? ` (${r.result.error})` : ''}; ${where}`,
  };
}

const COLOURS: { [k in Line['kind']]: string } = { event: '2', signal: '1;33', action: '1;36', problem: '31', other: '0' };

/** The line as printed: `10:00:12  text`, coloured on a terminal. */
export function render(line: Line, tty: boolean): string {
  const time = Number.isNaN(line.at.getTime()) ? '--:--:--' : line.at.toISOString().slice(11, 19);
  const indent = line.kind === 'event' ? '' : '   -> ';
  const text = `${time}  ${indent}${line.text}`;
  return tty ? `\u001b[${COLOURS[line.kind]}m${text}\u001b[0m` : text;
}
