/** Runs work for one key at a time, in the order asked; keys with nothing waiting are forgotten. */
export class KeyedLock {
  #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.catch(() => undefined);
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** keys with work running or waiting */
  get size(): number {
    return this.#tails.size;
  }
}
