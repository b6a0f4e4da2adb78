/** deadletter/handler — accepts any dead-lettered event -> decides what failed -> logs and counts it. */
import { KNOWN_TYPES } from '../_contracts/events.js';
import { counter, type Deps, type Handler } from '../_kit/index.js';
import { decide } from './decide.js';

export function deadletterHandler(_config: undefined, deps: Deps): Handler<undefined> {
  const dead = counter(
    deps.registry,
    'reflex_deadletter_total',
    'Events dead-lettered by the Broker, by original type and last HTTP status',
    ['type', 'code'],
  );
  return async (event, ctx) => {
    const d = decide(event);
    // Labels stay bounded whatever senders write: a type Reflex does not know, or a code that is not HTTP, is 'other'.
    dead.inc({
      type: KNOWN_TYPES.has(d.eventType) ? d.eventType : 'other',
      code: d.code === undefined ? 'none' : d.code >= 100 && d.code < 600 ? String(d.code) : 'other',
    });
    // The event itself is logged: the log is the record an operator replays from.
    ctx.log.error('dead-lettered event', {
      deadLetter: d,
      data: Buffer.isBuffer(event.data) ? { base64: event.data.toString('base64') } : event.data,
    });
    return undefined;
  };
}
