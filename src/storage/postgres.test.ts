import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startPostgres } from '../../test/support/postgres.ts';
import type { TestPostgres } from '../../test/support/postgres.ts';
import { storageContract } from './contract.ts';
import { openPostgresStorage } from './postgres.ts';
import { LATEST_POSTGRES_SCHEMA } from './postgres-migrations.ts';

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(() => server.stop());

/** A database of its own on the test server. */
async function freshDatabase(name: string): Promise<string> {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return url.toString();
}

storageContract('postgres', () => openPostgresStorage(server.url));

test('postgres: servers starting together migrate once', async () => {
  const url = await freshDatabase('concurrent_start');
  const storages = await Promise.all(Array.from({ length: 4 }, () => openPostgresStorage(url)));
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
  await client.end();
  assert.deepEqual(
    rows.map((row) => row.version),
    Array.from({ length: LATEST_POSTGRES_SCHEMA }, (_, i) => i + 1),
  );
  await Promise.all(storages.map((storage) => storage.close()));
});

test('postgres: data survives reopening', async () => {
  const url = await freshDatabase('reopen');
  const first = await openPostgresStorage(url);
  await first.serverData.set('secret', 'kept');
  await first.rosters.setItem('example.com', 'alice', {
    jid: 'bob@example.net',
    subscription: 'both',
    askIn: false,
    askOut: true,
    approved: false,
    groups: ['Friends'],
  });
  await first.close();
  const second = await openPostgresStorage(url);
  assert.equal(await second.serverData.get('secret'), 'kept');
  assert.equal((await second.rosters.get('example.com', 'alice')).version, 1);
  await second.close();
});

test('postgres: a schema newer than the server is refused', async () => {
  const url = await freshDatabase('newer_schema');
  await (await openPostgresStorage(url)).close();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [LATEST_POSTGRES_SCHEMA + 1]);
  await client.end();
  await assert.rejects(openPostgresStorage(url), /schema version \d+ is newer/);
});

test('postgres: pushes from two servers share one quota', async () => {
  const url = await freshDatabase('shared_quota');
  const [first, second] = await Promise.all([openPostgresStorage(url), openPostgresStorage(url)]);
  const pushes = Array.from({ length: 30 }, (_, i) =>
    (i % 2 === 0 ? first : second).offline.push('example.com', 'alice', `<m${i}/>`, 'bob@example.net', { maxMessages: 9, maxBytes: 1 << 20, maxPerSender: 100 }),
  );
  assert.equal((await Promise.all(pushes)).filter((outcome) => outcome === 'stored').length, 9);
  assert.equal(await first.offline.count('example.com', 'alice'), 9);
  await first.close();
  await second.close();
});

test('postgres: a failed connection is reported when opening', async () => {
  const url = new URL(server.url);
  url.password = 'wrong';
  await assert.rejects(openPostgresStorage(url.toString()), /password authentication failed/);
});
