/** The write-ahead log of a database file checkpointed by a thread of its own, never by the event loop's connection. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { CHECK_INTERVAL_MS, START_AT_LOG_BYTES, WalCheckpoints } from './sqlite-checkpoints.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('the log is checkpointed by the thread once it has grown, and the thread starts only then', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trellis-checkpoints-'));
  const file = join(dir, 'db.sqlite');
  const db = new DatabaseSync(file);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('CREATE TABLE t (v TEXT)');
  const checkpoints = new WalCheckpoints(db, { file, busyTimeoutMs: 5000 });
  try {
    const fileBytes = () => statSync(file).size;
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const write = (rows: number) => {
      db.exec('BEGIN');
      for (let row = 0; row < rows; row++) insert.run('x'.repeat(4000));
      db.exec('COMMIT');
    };
    assert.equal((db.prepare('PRAGMA wal_autocheckpoint').get() as { wal_autocheckpoint: number }).wal_autocheckpoint, 0);
    const before = fileBytes();
    write(10);
    await sleep(CHECK_INTERVAL_MS * 1.5);
    assert.equal(checkpoints.threadStarted, false, 'a small log starts no thread');
    assert.equal(fileBytes(), before, 'nothing checkpointed into the file yet');

    // Past what SQLite would checkpoint at: the rows' pages reach the database file, copied by the thread.
    write(Math.ceil((START_AT_LOG_BYTES * 1.5) / 4000));
    const deadline = Date.now() + CHECK_INTERVAL_MS * 5;
    while (fileBytes() < START_AT_LOG_BYTES && Date.now() < deadline) await sleep(100);
    assert.equal(checkpoints.threadStarted, true);
    assert.ok(fileBytes() >= START_AT_LOG_BYTES, `the database file is ${fileBytes()} bytes`);
  } finally {
    await checkpoints.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
