/**
 * A sliding-window counter per key (a client IP address, an account): at most `limit` events
 * in any `windowMs`. Memory is bounded: at most `maxKeys` keys, the least recently used dropped
 * first, and at most `limit` timestamps per key (older ones cannot change a decision).
 * Used for in-band registration per address and for failed logins (src/limits).
 */
export class SlidingWindowLimit {
  readonly limit: number;
  readonly windowMs: number;
  readonly maxKeys: number;
  #events = new Map<string, number[]>();

  constructor(limit: number, windowMs: number, maxKeys = 10_000) {
    this.limit = limit;
    this.windowMs = windowMs;
    this.maxKeys = maxKeys;
  }

  /** Whether one more event for the key stays within the limit. */
  allows(key: string, now = Date.now()): boolean {
    return this.#recent(key, now).length < this.limit;
  }

  /** Events of the key within the window, at most `limit`. */
  count(key: string, now = Date.now()): number {
    return this.#recent(key, now).length;
  }

  /** Records an event; returns how many the key now has within the window (at most `limit`). */
  record(key: string, now = Date.now()): number {
    const events = this.#recent(key, now);
    events.push(now);
    if (events.length > this.limit) events.splice(0, events.length - this.limit);
    // Re-inserting keeps the map ordered from least to most recently used.
    this.#events.delete(key);
    this.#events.set(key, events);
    for (const oldest of this.#events.keys()) {
      if (this.#events.size <= this.maxKeys) break;
      this.#events.delete(oldest);
    }
    return events.length;
  }

  /** Forgets the key's events. */
  clear(key: string): void {
    this.#events.delete(key);
  }

  #recent(key: string, now: number): number[] {
    const events = this.#events.get(key);
    if (!events) return [];
    const recent = events.filter((time) => now - time < this.windowMs);
    if (recent.length === 0) this.#events.delete(key);
    else this.#events.set(key, recent);
    return recent;
  }

  get size(): number {
    return this.#events.size;
  }
}
