/** _kit/trace — W3C trace context: read `traceparent`, derive the child for replies. */
import { randomFillSync } from 'node:crypto';

/** @see https://www.w3.org/TR/trace-context/#traceparent-header-field-values */
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

export interface TraceContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly flags: string;
  readonly tracestate: string | undefined;
}

/** Parses a traceparent value; an invalid one is ignored, as the spec requires (start a new trace). */
export function parseTraceparent(value: string | undefined, tracestate?: string): TraceContext | undefined {
  const m = value === undefined ? null : TRACEPARENT.exec(value.trim().toLowerCase());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  // Version ff is forbidden; version 00 must have nothing after the flags.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, flags, tracestate: tracestate?.trim() || undefined };
}

// Random ids from a pool filled 4 KiB at a time: one call into the CSPRNG per ~300 requests,
// where one per id was a twentieth of a busy function's CPU.
const pool = Buffer.alloc(4096);
let used = pool.length;

/** `bytes` random bytes as hex; never all zeros (an invalid trace or span id). */
export function randomHex(bytes: number): string {
  for (;;) {
    if (used + bytes > pool.length) {
      randomFillSync(pool);
      used = 0;
    }
    const hex = pool.toString('hex', used, (used += bytes));
    if (/[^0]/.test(hex)) return hex;
  }
}

/** The context for work caused by `parent`: same trace, a new span (a new trace if none). */
export function childOf(parent: TraceContext | undefined): TraceContext {
  const spanId = randomHex(8);
  if (!parent) return { traceId: randomHex(16), spanId, flags: '00', tracestate: undefined };
  return { ...parent, spanId };
}

export function formatTraceparent(ctx: TraceContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${ctx.flags}`;
}
