import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage } from './open.ts';

const directory = mkdtempSync(join(tmpdir(), 'trellis-open-'));
after(() => rmSync(directory, { recursive: true, force: true }));

test('openStorage: a relative sqlite_file lives under the data directory', async () => {
  const storage = await openStorage({ driver: 'sqlite', sqlite_file: 'db/trellis.sqlite' }, join(directory, 'data'));
  assert.equal(storage.driver, 'sqlite');
  await storage.close();
  assert.ok(existsSync(join(directory, 'data', 'db', 'trellis.sqlite')));
});

test('openStorage: an absolute sqlite_file is used as it is', async () => {
  const file = join(directory, 'absolute', 'trellis.sqlite');
  const storage = await openStorage({ driver: 'sqlite', sqlite_file: file }, join(directory, 'elsewhere'));
  await storage.close();
  assert.ok(existsSync(file));
  assert.ok(!existsSync(join(directory, 'elsewhere')));
});

test('openStorage: :memory: opens an in-memory database', async () => {
  const storage = await openStorage({ driver: 'sqlite', sqlite_file: ':memory:' }, directory);
  await storage.serverData.set('k', 'v');
  assert.equal(await storage.serverData.get('k'), 'v');
  await storage.close();
});

test('openStorage: postgres without a url is refused', async () => {
  await assert.rejects(
    openStorage({ driver: 'postgres', sqlite_file: 'unused.sqlite' }, directory),
    /postgres_url is required/,
  );
});
