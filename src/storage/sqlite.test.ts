import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { storageContract } from './contract.ts';
import { openSqliteStorage } from './sqlite.ts';
import { LATEST_SQLITE_SCHEMA } from './sqlite-migrations.ts';

const directory = mkdtempSync(join(tmpdir(), 'trellis-sqlite-'));
after(() => rmSync(directory, { recursive: true, force: true }));

storageContract('sqlite file', () => openSqliteStorage(join(directory, 'contract', 'trellis.db')));
storageContract('sqlite :memory:', () => openSqliteStorage(':memory:'));

test('sqlite: the parent directory is created and data survives reopening', async () => {
  const file = join(directory, 'nested', 'deeper', 'reopen.db');
  const first = await openSqliteStorage(file);
  await first.accounts.create('example.com', 'alice', {
    'SCRAM-SHA-1': { salt: 'c2FsdA==', iterations: 4096, storedKey: 'c3Q=', serverKey: 'c2U=' },
    'SCRAM-SHA-256': { salt: 'c2FsdA==', iterations: 4096, storedKey: 'c3Q=', serverKey: 'c2U=' },
  });
  await first.rosters.setItem('example.com', 'alice', {
    jid: 'bob@example.net',
    subscription: 'both',
    askIn: false,
    askOut: false,
    approved: false,
    groups: [],
  });
  await first.serverData.set('secret', 'kept');
  await first.close();
  assert.ok(existsSync(file));

  const second = await openSqliteStorage(file);
  assert.deepEqual(await second.accounts.list('example.com'), ['alice']);
  assert.equal((await second.rosters.get('example.com', 'alice')).version, 1);
  assert.equal(await second.serverData.get('secret'), 'kept');
  await second.close();
});

test('sqlite: the database runs in WAL mode with the latest schema recorded once', async () => {
  const file = join(directory, 'wal.db');
  await (await openSqliteStorage(file)).close();
  await (await openSqliteStorage(file)).close();
  const db = new DatabaseSync(file, { readOnly: true });
  assert.equal(db.prepare('PRAGMA journal_mode').get()?.journal_mode, 'wal');
  const versions = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all();
  assert.deepEqual(
    versions.map((row) => row.version),
    Array.from({ length: LATEST_SQLITE_SCHEMA }, (_, i) => i + 1),
  );
  db.close();
});

test('sqlite: a schema newer than the server is refused', async () => {
  const file = join(directory, 'newer.db');
  await (await openSqliteStorage(file)).close();
  const db = new DatabaseSync(file);
  db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(LATEST_SQLITE_SCHEMA + 1, 0);
  db.close();
  await assert.rejects(openSqliteStorage(file), /schema version \d+ is newer/);
});

test('sqlite: two storages on one file share data', async () => {
  const file = join(directory, 'shared.db');
  const [first, second] = await Promise.all([openSqliteStorage(file), openSqliteStorage(file)]);
  const pushes = Array.from({ length: 10 }, (_, i) =>
    (i % 2 === 0 ? first : second).offline.push('example.com', 'alice', `<m${i}/>`, 'bob@example.net', { maxMessages: 4, maxBytes: 1 << 20, maxPerSender: 100 }),
  );
  assert.equal((await Promise.all(pushes)).filter((outcome) => outcome === 'stored').length, 4);
  assert.equal(await first.offline.count('example.com', 'alice'), 4);
  await first.close();
  await second.close();
});

test('sqlite: the audit trail keeps the newest records when pruned by count', async () => {
  const storage = await openSqliteStorage(':memory:');
  const base = { rule: 's2s.peering["*"].block', verdict: 'refuse', direction: 'in', from: 'a@x.example', to: 'b@example.com', kind: 'message', text: 'refused' } as const;
  await storage.policyAudit.append(Array.from({ length: 5 }, (_, index) => ({ ...base, time: 1000 + index })));
  assert.equal(await storage.policyAudit.prune({ before: 0, keep: 2 }), 3);
  assert.deepEqual((await storage.policyAudit.query({ limit: 10 })).map((row) => row.time), [1004, 1003]);
  await storage.close();
});

test('sqlite: a large audit batch is written whole, in order, in several transactions with other work between them', async () => {
  const storage = await openSqliteStorage(':memory:');
  const base = { rule: 's2s.peering["*"].label_policy', verdict: 'transform', direction: 'out', from: 'a@example.com', to: 'b@x.example', kind: 'message', text: 'changed' } as const;
  let otherWorkRan = false;
  const appended = storage.policyAudit.append(Array.from({ length: 1000 }, (_, index) => ({ ...base, time: 1000 + index })));
  setImmediate(() => (otherWorkRan = true));
  const doneBeforeOtherWork = await appended.then(() => !otherWorkRan);
  assert.equal(doneBeforeOtherWork, false, 'the event loop ran other work while the batch was written');
  const rows = await storage.policyAudit.query({ limit: 2000 });
  assert.equal(rows.length, 1000);
  assert.deepEqual(rows.map((row) => row.time), Array.from({ length: 1000 }, (_, index) => 1999 - index));
  await storage.close();
});

test('sqlite: the archive of a database file is written by its own connection, committed before an account is removed and when the storage closes', async () => {
  const file = join(directory, 'archive-thread', 'trellis.db');
  const storage = await openSqliteStorage(file);
  const owner = { domain: 'example.com', name: 'alice' };
  const message = (position: number) => ({ id: `m${position}`, position, withBare: 'bob@example.net', withResource: undefined, stanza: `<message><body>${position}</body></message>` });
  await storage.accounts.create('example.com', 'alice', { 'SCRAM-SHA-1': { salt: 'c2FsdA==', iterations: 4096, storedKey: 'c3Q=', serverKey: 'c2U=' } });
  // Appends not awaited: the removal of the account still goes after them and takes them.
  const appends = [1, 2, 3].map((position) => storage.archive.append(owner, message(position)));
  assert.equal(await storage.accounts.delete('example.com', 'alice'), true);
  assert.deepEqual(await Promise.all(appends), [1, 2, 3]);
  assert.equal(await storage.archive.count(owner, {}), 0);
  // Appended and not awaited before close: committed by it, found on reopening.
  const kept = [4, 5].map((position) => storage.archive.append(owner, message(position)));
  await storage.close();
  assert.deepEqual(await Promise.all(kept), [4, 5]);
  await assert.rejects(storage.archive.append(owner, message(6)), /closed/);
  const reopened = await openSqliteStorage(file);
  assert.equal(await reopened.archive.count(owner, {}), 2);
  // Another connection (the main thread's) sees what the archive's connection wrote.
  const db = new DatabaseSync(file);
  assert.equal(db.prepare('SELECT count(*) AS n FROM archive_messages').get()!.n, 2);
  db.close();
  await reopened.close();
});
