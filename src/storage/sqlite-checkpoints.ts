/**
 * Checkpoints of a SQLite database file's write-ahead log, off the event loop. By default the
 * connection whose commit takes the log past 1,000 pages copies them all back into the database
 * file and syncs it, inside that commit: on the event loop, that stalled every stanza for
 * milliseconds each time (docs/performance.md, "Latency per hop"). Here the main connection does
 * not checkpoint (`wal_autocheckpoint = 0`); once the log has grown past that size, a worker
 * thread with its own connection (sqlite-checkpoint-worker.ts) checkpoints it each second the
 * main connection has written. A server that writes little never starts the thread.
 *
 * Should the thread fail, the main connection checkpoints as SQLite does by default again, so the
 * log never grows without bound. The message archive's thread (sqlite-archive-thread.ts) keeps the
 * default on its own connection: its commits are off the event loop already.
 */
import { statSync } from 'node:fs';
import type { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import type { CheckpointWorkerOptions } from './sqlite-checkpoint-worker.ts';

/** SQLite's default `wal_autocheckpoint`, in pages; restored if the thread fails. */
const DEFAULT_AUTOCHECKPOINT_PAGES = 1000;
/** The log's size past which the thread starts: what SQLite's default would checkpoint at (pages of 4 KiB). */
export const START_AT_LOG_BYTES = DEFAULT_AUTOCHECKPOINT_PAGES * 4096;
/** How often the main connection's writes are looked at. */
export const CHECK_INTERVAL_MS = 1000;

export class WalCheckpoints {
  readonly #db: DatabaseSync;
  readonly #options: CheckpointWorkerOptions;
  readonly #changes: () => number;
  readonly #timer: NodeJS.Timeout;
  #worker: Worker | undefined;
  #lastChanges: number;
  /** a checkpoint asked for and not answered: the next is not asked for until it is */
  #busy = false;
  #failed = false;

  constructor(db: DatabaseSync, options: CheckpointWorkerOptions) {
    this.#db = db;
    this.#options = options;
    db.exec('PRAGMA wal_autocheckpoint = 0');
    const totalChanges = db.prepare('SELECT total_changes() AS changes');
    this.#changes = () => Number((totalChanges.get() as { changes: number }).changes);
    this.#lastChanges = this.#changes();
    this.#timer = setInterval(() => this.#check(), CHECK_INTERVAL_MS).unref();
  }

  /** Whether the thread runs (started once the log has grown past START_AT_LOG_BYTES). */
  get threadStarted(): boolean {
    return this.#worker !== undefined;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }

  #check(): void {
    if (this.#failed || this.#busy || !this.#db.isOpen) return;
    const changes = this.#changes();
    if (changes === this.#lastChanges) return;
    this.#lastChanges = changes;
    if (this.#worker === undefined && logBytes(this.#options.file) < START_AT_LOG_BYTES) return;
    const worker = (this.#worker ??= this.#start());
    this.#busy = true;
    worker.ref();
    worker.postMessage('checkpoint');
  }

  #start(): Worker {
    const worker = new Worker(new URL('./sqlite-checkpoint-worker.ts', import.meta.url), { workerData: this.#options });
    const fail = () => {
      if (this.#worker !== worker) return;
      this.#failed = true;
      this.#worker = undefined;
      void worker.terminate();
      if (this.#db.isOpen) this.#db.exec(`PRAGMA wal_autocheckpoint = ${DEFAULT_AUTOCHECKPOINT_PAGES}`);
    };
    worker.on('message', (answer: { checkpointed: number } | { error: string }) => {
      if ('error' in answer) return fail();
      this.#busy = false;
      worker.unref();
    });
    worker.on('error', fail);
    worker.on('exit', fail);
    return worker;
  }
}

/** The size of the database's write-ahead log file; 0 when there is none. */
function logBytes(file: string): number {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
}
