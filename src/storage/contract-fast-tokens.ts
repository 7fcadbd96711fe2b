/** The storage contract for FAST tokens (FastTokenStore), run by storageContract. */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { FastToken, Storage } from './types.ts';

type OpenFor = (t: TestContext) => Promise<Storage>;

const NOW = 1_700_000_000_000;
const DAY = 86_400_000;

function token(hash: string, clientId: string, expiresIn: number): FastToken {
  return { clientId, mechanism: 'HT-SHA-256-NONE', hash, expiresAt: NOW + expiresIn };
}

async function withAccount(openFor: OpenFor, t: TestContext): Promise<{ storage: Storage; domain: string }> {
  const storage = await openFor(t);
  const domain = `${randomUUID()}.example`;
  await storage.accounts.create(domain, 'alice', { 'SCRAM-SHA-256': { salt: 'c2FsdA==', iterations: 4096, storedKey: 'c3Q=', serverKey: 'c2U=' } });
  return { storage, domain };
}

export function fastTokenTests(openFor: OpenFor): void {
  test('a new token replaces the client\'s unused ones and keeps its used one until the new one is used', async (t) => {
    const { storage, domain } = await withAccount(openFor, t);
    const tokens = storage.fastTokens;
    await tokens.issue(domain, 'alice', token('a', 'phone', DAY), 10, NOW);
    await tokens.issue(domain, 'alice', token('b', 'phone', 2 * DAY), 10, NOW);
    assert.deepEqual((await tokens.forClient(domain, 'alice', 'phone', NOW)).map((row) => row.hash), ['b'], 'a was never used');
    await tokens.used(domain, 'alice', 'phone', 'b', NOW + 1);
    assert.equal((await tokens.forClient(domain, 'alice', 'phone', NOW))[0]!.usedAt, NOW + 1);
    await tokens.issue(domain, 'alice', token('c', 'phone', 3 * DAY), 10, NOW);
    assert.deepEqual((await tokens.forClient(domain, 'alice', 'phone', NOW)).map((row) => row.hash), ['c', 'b'], 'b stays until c is used');
    await tokens.used(domain, 'alice', 'phone', 'c', NOW + 2);
    assert.deepEqual((await tokens.forClient(domain, 'alice', 'phone', NOW)).map((row) => row.hash), ['c'], 'using c ends b, which expires earlier');
  });

  test('tokens are per client, expire, and are bounded per account', async (t) => {
    const { storage, domain } = await withAccount(openFor, t);
    const tokens = storage.fastTokens;
    await tokens.issue(domain, 'alice', token('p', 'phone', DAY), 2, NOW);
    await tokens.issue(domain, 'alice', token('l', 'laptop', 2 * DAY), 2, NOW);
    assert.deepEqual((await tokens.forClient(domain, 'alice', 'phone', NOW)).map((row) => row.hash), ['p']);
    assert.deepEqual(await tokens.forClient(domain, 'alice', 'phone', NOW + DAY), [], 'expired');
    await tokens.issue(domain, 'alice', token('w', 'watch', 3 * DAY), 2, NOW);
    assert.equal(await tokens.count(domain, 'alice', NOW), 2);
    assert.deepEqual(await tokens.forClient(domain, 'alice', 'phone', NOW), [], 'the token expiring first went');
    assert.equal(await tokens.remove(domain, 'alice', 'w'), true);
    assert.equal(await tokens.remove(domain, 'alice', 'w'), false);
    assert.equal(await tokens.count(domain, 'alice', NOW), 1);
  });

  test('new credentials and deleting the account remove every token', async (t) => {
    const { storage, domain } = await withAccount(openFor, t);
    const tokens = storage.fastTokens;
    await tokens.issue(domain, 'alice', token('a', 'phone', DAY), 10, NOW);
    await tokens.issue(domain, 'alice', token('b', 'laptop', DAY), 10, NOW);
    await storage.accounts.setCredentials(domain, 'alice', { 'SCRAM-SHA-256': { salt: 'bmV3', iterations: 4096, storedKey: 'c3Q=', serverKey: 'c2U=' } });
    assert.equal(await tokens.count(domain, 'alice', NOW), 0);
    await tokens.issue(domain, 'alice', token('c', 'phone', DAY), 10, NOW);
    await storage.accounts.delete(domain, 'alice');
    assert.equal(await tokens.count(domain, 'alice', NOW), 0);
  });
}
