/**
 * notify/groups — one message per problem per sink per window, with the count of what was held
 * back. Memory only, per replica: a restart or a second replica may send one more message for a
 * problem inside a window (see functions/notify/README.md).
 */
type State = 'sending' | 'delivered' | 'failed';
interface Entry {
  windowStart: number;
  held: number;
  state: State;
}

export type Admission = { readonly send: true; readonly heldSinceLast: number } | { readonly send: false; readonly reason: string };

export class Groups {
  readonly #entries = new Map<string, Entry>();
  constructor(private readonly maxEntries = 50_000) {}

  /**
   * Whether `sink` should hear about problem `key` now. A send in flight or done holds the
   * others back; only a failed one lets the next delivery (the Broker's retry) through.
   */
  admit(sink: string, key: string, now: number, windowMs: number): Admission {
    const id = `${sink}|${key}`;
    const e = this.#entries.get(id);
    if (e && now - e.windowStart < windowMs) {
      if (e.state === 'failed') {
        e.state = 'sending';
        return { send: true, heldSinceLast: e.held };
      }
      e.held++;
      return { send: false, reason: `already told ${sink} about this problem ${Math.round((now - e.windowStart) / 1000)}s ago` };
    }
    const heldSinceLast = e?.held ?? 0;
    this.#entries.delete(id);
    this.#entries.set(id, { windowStart: now, held: 0, state: 'sending' });
    while (this.#entries.size > this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    return { send: true, heldSinceLast };
  }

  /** Sent, or refused for good (retrying will not change the sink's mind): the window is closed. */
  settled(sink: string, key: string): void {
    const e = this.#entries.get(`${sink}|${key}`);
    if (e) e.state = 'delivered';
  }

  /** A transient failure: the next delivery of this problem may try again. */
  failed(sink: string, key: string): void {
    const e = this.#entries.get(`${sink}|${key}`);
    if (e) e.state = 'failed';
  }
}
