/**
 * What a lab peer (an IRC client, a SIP user agent) has received, in order, with a wait for the
 * first record matching a predicate, whether it came before the wait or comes during it.
 */
export class AwaitedRecords<T> {
  readonly items: T[] = [];
  #waiters = new Set<() => void>();
  #describe: (item: T) => string;

  /** `describe` names a record in the error of a wait that timed out. */
  constructor(describe: (item: T) => string) {
    this.#describe = describe;
  }

  push(item: T): void {
    this.items.push(item);
    for (const wake of [...this.#waiters]) wake();
  }

  /** Resolves with the first record at index `from` or later matching `predicate`. */
  waitFor(predicate: (item: T) => boolean, timeoutMs = 15_000, from = 0): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.items.slice(from).find(predicate);
        if (found === undefined) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve(found);
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        const last = this.items.slice(-15).map(this.#describe).join('\n');
        reject(new Error(`nothing matching ${predicate.toString()} within ${timeoutMs} ms; last received:\n${last}`));
      }, timeoutMs);
      this.#waiters.add(check);
      check();
    });
  }
}
