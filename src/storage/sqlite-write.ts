/** SQLite writes: each a transaction of its own, which every SQLite store is handed to write with. */
import type { DatabaseSync } from 'node:sqlite';

/** Runs `work` in one write transaction and returns what it returned. */
export type SqliteWrite = <T>(work: () => T) => T;

/** BEGIN IMMEDIATE takes the write lock at once: a busy database refuses the transaction at its start, never half-way. */
export function writeTransaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = work();
    db.exec('COMMIT');
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}
