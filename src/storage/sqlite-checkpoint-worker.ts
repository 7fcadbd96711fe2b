/**
 * The worker thread that checkpoints a SQLite database's write-ahead log (started by
 * sqlite-checkpoints.ts): its own connection to the database file, which copies the pages the
 * other connections committed to the log back into the file, so that no connection on the event
 * loop ever does.
 *
 * Messages from the main thread: `checkpoint`, answered with `{ checkpointed }` once a passive
 * checkpoint has run (it copies what it can without waiting for readers or writers), or `{ error }`.
 */
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';

export interface CheckpointWorkerOptions {
  file: string;
  busyTimeoutMs: number;
}

const options = workerData as CheckpointWorkerOptions;
const db = new DatabaseSync(options.file, { timeout: options.busyTimeoutMs });
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
const port = parentPort!;

port.on('message', () => {
  try {
    const row = checkpoint.get() as { checkpointed: number } | undefined;
    port.postMessage({ checkpointed: Number(row?.checkpointed ?? 0) });
  } catch (error) {
    port.postMessage({ error: error instanceof Error ? error.message : String(error) });
  }
});
