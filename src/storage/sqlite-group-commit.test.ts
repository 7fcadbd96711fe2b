import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { describe, test } from 'node:test';
import { GROUP_COMMIT_MAX_WRITES, SqliteGroupCommit } from './sqlite-group-commit.ts';

function database(): DatabaseSync {
  const db = new DatabaseSync(':memory:');
  db.exec('CREATE TABLE t (n INTEGER PRIMARY KEY)');
  return db;
}

describe('SqliteGroupCommit', () => {
  test('writes queued in one turn run in one transaction and resolve with their results once committed', async () => {
    const db = database();
    const commits = new SqliteGroupCommit(db);
    const insert = db.prepare('INSERT INTO t (n) VALUES (?)');
    const seenInTransaction: boolean[] = [];
    const changesBefore: number[] = [];
    const writes = [1, 2, 3].map((n) =>
      commits.write(() => {
        seenInTransaction.push(db.isTransaction);
        changesBefore.push(Number(db.prepare('SELECT count(*) AS c FROM t').get()!.c));
        insert.run(n);
        return n * 10;
      }),
    );
    assert.deepEqual(seenInTransaction, [], 'nothing runs before the turn ends');
    assert.deepEqual(await Promise.all(writes), [10, 20, 30]);
    assert.deepEqual(seenInTransaction, [true, true, true]);
    assert.deepEqual(changesBefore, [0, 1, 2], 'in the order queued');
    assert.equal(db.isTransaction, false);
    assert.equal(db.prepare('SELECT count(*) AS c FROM t').get()!.c, 3);
  });

  test('a write that throws is rejected alone; the others are committed', async () => {
    const db = database();
    const commits = new SqliteGroupCommit(db);
    const insert = db.prepare('INSERT INTO t (n) VALUES (?)');
    const first = commits.write(() => insert.run(1));
    const duplicate = commits.write(() => insert.run(1));
    const third = commits.write(() => insert.run(3));
    await first;
    await assert.rejects(duplicate, /UNIQUE constraint failed/);
    await third;
    assert.deepEqual(db.prepare('SELECT n FROM t ORDER BY n').all().map((row) => row.n), [1, 3]);
  });

  test('flush commits what is queued at once, so a read after it sees every write made before', () => {
    const db = database();
    const commits = new SqliteGroupCommit(db);
    void commits.write(() => db.prepare('INSERT INTO t (n) VALUES (7)').run());
    assert.equal(db.prepare('SELECT count(*) AS c FROM t').get()!.c, 0);
    commits.flush();
    assert.equal(db.prepare('SELECT count(*) AS c FROM t').get()!.c, 1);
  });

  test(`a turn with more than ${GROUP_COMMIT_MAX_WRITES} writes commits them in several transactions`, async () => {
    const db = database();
    const commits = new SqliteGroupCommit(db);
    const insert = db.prepare('INSERT INTO t (n) VALUES (?)');
    const inFirstTransaction: number[] = [];
    const writes = Array.from({ length: GROUP_COMMIT_MAX_WRITES + 1 }, (_, n) => commits.write(() => insert.run(n)));
    // the first GROUP_COMMIT_MAX_WRITES are committed as the last of them is queued
    inFirstTransaction.push(Number(db.prepare('SELECT count(*) AS c FROM t').get()!.c));
    await Promise.all(writes);
    assert.deepEqual(inFirstTransaction, [GROUP_COMMIT_MAX_WRITES]);
    assert.equal(db.prepare('SELECT count(*) AS c FROM t').get()!.c, GROUP_COMMIT_MAX_WRITES + 1);
  });

  test('a commit that fails rejects every write of its transaction', async () => {
    const db = database();
    const commits = new SqliteGroupCommit(db);
    const write = commits.write(() => 1);
    db.exec('BEGIN'); // BEGIN IMMEDIATE inside an open transaction fails
    await assert.rejects(write, /within a transaction/);
    db.exec('ROLLBACK');
  });

  test('with a window, writes queued within it are committed together at its end', async () => {
    const db = database();
    const commits = new SqliteGroupCommit(db, 30);
    const insert = db.prepare('INSERT INTO t (n) VALUES (?)');
    const first = commits.write(() => insert.run(1));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = commits.write(() => insert.run(2));
    assert.equal(db.prepare('SELECT count(*) AS c FROM t').get()!.c, 0, 'nothing committed before the window ends');
    const started = Date.now();
    await Promise.all([first, second]);
    assert.ok(Date.now() - started >= 15, 'the window was waited for');
    assert.equal(db.prepare('SELECT count(*) AS c FROM t').get()!.c, 2);
  });
});
