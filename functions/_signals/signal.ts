/** _signals/signal — pure: a finding and its target -> the signal reply (type, id, extensions, data). */
import { createHash } from 'node:crypto';
import type { ReplySpec } from '../_kit/reply.js';
import { SIGNAL_SCHEMA, signalExtensions, signalType, subjectOf, type SignalData, type Target } from '../_contracts/events.js';
import { bounded as boundDepth } from '../_kit/json.js';
import { countOf, MAX_MESSAGE, reasonOf, truncate, type Finding } from './model.js';

/** Evidence beyond this size is dropped (the summary fields stay): signals must stay small. */
const MAX_EVIDENCE_BYTES = 32 * 1024;

const hash = (...parts: string[]): string => createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 16);

/** The stable key of a problem: one class on one target. Notify groups by it, guards count by it. */
export function problemKey(f: Pick<Finding, 'class'>, t: Target): string {
  return hash(f.class, t.kind, t.namespace, t.name);
}

/**
 * managedFields is noise; a huge message or note is cut like the signal's own message; what is
 * nested deeper than MAX_DEPTH is cut (so measuring and sending it cannot overflow the stack).
 */
export function trimEvidence(object: Record<string, unknown>, maxText: number): Record<string, unknown> | undefined {
  const { metadata, ...rest } = object as { metadata?: Record<string, unknown> };
  const trimmed: Record<string, unknown> = { ...rest };
  if (metadata) {
    const { managedFields: _drop, ...meta } = metadata;
    trimmed['metadata'] = meta;
  }
  for (const k of ['message', 'note']) {
    const v = trimmed[k];
    if (typeof v === 'string') trimmed[k] = truncate(v, maxText);
  }
  const bounded = boundDepth(trimmed) as Record<string, unknown>;
  return JSON.stringify(bounded).length <= MAX_EVIDENCE_BYTES ? bounded : undefined;
}

/**
 * The reply for a finding. The CloudEvent id is derived from the occurrence, so the same
 * occurrence delivered twice (at-least-once Broker, random ApiServerSource ids) gives the same
 * signal id, whichever replica handles it: consumers can drop repeats by `source` + `id`.
 */
export function signalReply(
  f: Finding,
  target: Target,
  detectedBy: SignalData['detectedBy'],
): ReplySpec & { id: string; data: SignalData; subject: string } {
  const key = problemKey(f, target);
  const object = f.evidence.object ? trimEvidence(f.evidence.object, MAX_MESSAGE) : undefined;
  // The bounds of dev.reflex.signal.json hold whoever built the finding: consumers refuse (400) a
  // signal that breaks them. (Times are made valid where they are read: model.ts timeOf.)
  const reason = reasonOf(f.reason, f.class);
  const data: SignalData = {
    class: f.class,
    severity: f.severity,
    reason,
    message: truncate(f.message),
    ...(f.rule ? { rule: f.rule } : {}),
    target,
    involved: f.involved,
    ...(f.container ? { container: f.container } : {}),
    occurrences: countOf(f.occurrences),
    firstSeen: f.firstSeen.toISOString(),
    lastSeen: f.lastSeen.toISOString(),
    detectedBy,
    key,
    evidence: { api: f.evidence.api, ...(object ? { object } : {}) },
  };
  return {
    id: `${key}-${hash(f.class, f.occurrence)}`,
    type: signalType(f.class),
    subject: subjectOf(target),
    dataschema: SIGNAL_SCHEMA,
    data,
    extensions: signalExtensions(data),
  };
}
