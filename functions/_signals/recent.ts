/**
 * _signals/recent — what this replica signalled lately: drops the same occurrence delivered twice
 * and repeats of one problem inside its rule's window. Memory only, bounded; signal ids are
 * deterministic, so what another replica sends again is recognisable downstream by its id.
 */
export class Recent {
  readonly #seen = new Map<string, number>();
  constructor(private readonly maxEntries = 20_000) {}

  /** Milliseconds since `key` was recorded, if within `windowMs`. */
  ageWithin(key: string, windowMs: number, now: number): number | undefined {
    const at = this.#seen.get(key);
    return at !== undefined && now - at < windowMs ? now - at : undefined;
  }

  record(key: string, now: number): void {
    this.#seen.delete(key);
    this.#seen.set(key, now);
    // Oldest first: Map keeps insertion order.
    while (this.#seen.size > this.maxEntries) this.#seen.delete(this.#seen.keys().next().value!);
  }
}
