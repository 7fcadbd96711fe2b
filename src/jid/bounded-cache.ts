/**
 * A map that keeps at most `capacity` entries, approximately the most recently used ones.
 * JID preparation is memoized with it because routing parses addresses on every stanza.
 *
 * Entries live in two generations: new entries go to the current one, and when it is full it
 * becomes the previous one and the older generation is dropped whole. An entry read from the
 * previous generation moves back to the current one. This keeps every operation O(1), which a
 * single Map evicting its oldest key one at a time does not.
 */
export class BoundedCache<V> {
  #current = new Map<string, V>();
  #previous = new Map<string, V>();
  readonly #generationSize: number;

  constructor(capacity: number) {
    this.#generationSize = Math.max(1, Math.floor(capacity / 2));
  }

  get(key: string): V | undefined {
    const value = this.#current.get(key);
    if (value !== undefined) return value;
    const old = this.#previous.get(key);
    if (old !== undefined) {
      this.#previous.delete(key);
      this.#insert(key, old);
    }
    return old;
  }

  set(key: string, value: V): void {
    this.#previous.delete(key);
    this.#insert(key, value);
  }

  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  #insert(key: string, value: V): void {
    if (!this.#current.has(key) && this.#current.size >= this.#generationSize) {
      this.#previous = this.#current;
      this.#current = new Map();
    }
    this.#current.set(key, value);
  }
}
