/**
 * SQLite writes that many callers make at once, committed together: the writes queued within a
 * short window run in one transaction at its end. In WAL mode every commit appends each page it
 * changed to the log, so a message archived in a transaction of its own rewrites the table's
 * page and a page of each of its four indexes (16 KB) for one row; one transaction for a window's
 * messages writes each of those pages once, however many rows it took (docs/performance.md,
 * "The message archive's writes").
 */
import type { DatabaseSync } from 'node:sqlite';
import { writeTransaction } from './sqlite-write.ts';

/** Writes in one transaction at most, by default: a busier window commits in several, so none holds the lock for long. */
export const GROUP_COMMIT_MAX_WRITES = 500;

interface QueuedWrite {
  work: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export class SqliteGroupCommit {
  readonly #db: DatabaseSync;
  readonly #windowMs: number;
  readonly #maxWrites: number;
  #queued: QueuedWrite[] = [];
  #scheduled = false;

  /**
   * `windowMs`: how long the first write queued waits for others; 0 commits at the end of the
   * event loop's turn. `maxWrites`: the most one transaction takes.
   */
  constructor(db: DatabaseSync, windowMs = 0, maxWrites = GROUP_COMMIT_MAX_WRITES) {
    this.#db = db;
    this.#windowMs = windowMs;
    this.#maxWrites = maxWrites;
  }

  /**
   * Runs `work` in the next group transaction and resolves with what it returned once that
   * transaction is committed. A write that throws is rejected alone (SQLite undoes only the
   * statement that failed); a commit that fails rejects every write of its transaction.
   */
  write<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queued.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (this.#queued.length >= this.#maxWrites) this.flush();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        const commit = (): void => {
          this.#scheduled = false;
          this.flush();
        };
        if (this.#windowMs > 0) setTimeout(commit, this.#windowMs);
        else setImmediate(commit);
      }
    });
  }

  /** Commits what is queued now; reads and other writes call it first, so they see every write made before them. */
  flush(): void {
    const batch = this.#queued;
    if (batch.length === 0) return;
    this.#queued = [];
    let outcomes: Outcome[];
    try {
      outcomes = writeTransaction(this.#db, () =>
        batch.map((queued): Outcome => {
          try {
            return { ok: true, value: queued.work() };
          } catch (error) {
            return { ok: false, error };
          }
        }),
      );
    } catch (error) {
      for (const queued of batch) queued.reject(error);
      return;
    }
    outcomes.forEach((outcome, index) => (outcome.ok ? batch[index]!.resolve(outcome.value) : batch[index]!.reject(outcome.error)));
  }
}
