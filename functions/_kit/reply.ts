/** _kit/reply — the only way a handler answers with an event (200, binary mode). */
import { CloudEvent } from 'cloudevents';
import { randomUUID } from 'node:crypto';
import { InternalError } from './errors.js';
import { formatTraceparent, type TraceContext } from './trace.js';

export type Extensions = Readonly<Record<string, string | number | boolean>>;

export interface ReplySpec {
  /** A deterministic id when the same cause must give the same event; random otherwise. */
  readonly id?: string;
  readonly type: string;
  readonly data: unknown;
  readonly subject?: string;
  /** `$id` of the schema `data` follows (sent as `dataschema`). */
  readonly dataschema?: string;
  readonly extensions?: Extensions;
}

/**
 * A reply event. The class has a private field, so a plain object literal cannot pass for it:
 * Knative's broker treats a non-CloudEvent 2xx body as a failed delivery, and this makes that
 * mistake a compile error.
 */
export class Reply {
  readonly #brand = true;
  private constructor(readonly event: CloudEvent<unknown>) {}

  /** Built by the kit for a handler; see HandlerContext.reply. */
  static create(spec: ReplySpec, env: { source: string; incomingType: string; trace: TraceContext; now: Date }): Reply {
    // A reply of the incoming type would be routed straight back to the same Trigger.
    if (spec.type === env.incomingType) throw new InternalError(`a reply must not reuse the incoming type ${spec.type}`);
    const event = new CloudEvent<unknown>({
      ...spec.extensions,
      id: spec.id ?? randomUUID(),
      source: env.source,
      type: spec.type,
      specversion: '1.0',
      time: env.now.toISOString(),
      datacontenttype: 'application/json',
      ...(spec.subject === undefined ? {} : { subject: spec.subject }),
      ...(spec.dataschema === undefined ? {} : { dataschema: spec.dataschema }),
      traceparent: formatTraceparent(env.trace),
      ...(env.trace.tracestate === undefined ? {} : { tracestate: env.trace.tracestate }),
      data: spec.data,
    });
    return new Reply(event);
  }

  /** Used by tests and the development mesh to see that a value really is a Reply. */
  static is(value: unknown): value is Reply {
    return typeof value === 'object' && value !== null && #brand in value;
  }
}
