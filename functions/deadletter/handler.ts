/** deadletter/handler — accepts any dead-lettered event -> decides what failed -> logs and counts it. */
import { counter, type Handler } from '../_kit/index.js';
import { decide } from './decide.js';

export const handle: Handler<undefined> = async (event, ctx) => {
  const dead = decide(event);
  counter(ctx.registry, 'reflex_deadletter_total', 'Events dead-lettered by the Broker, by original type and last HTTP status', [
    'type',
    'code',
  ]).inc({
    type: dead.eventType,
    code: dead.code === undefined ? 'none' : String(dead.code),
  });
  // The event itself is logged: the log is the record an operator replays from.
  ctx.log.error('dead-lettered event', {
    deadLetter: dead,
    data: Buffer.isBuffer(event.data) ? { base64: event.data.toString('base64') } : event.data,
  });
  return undefined;
};
