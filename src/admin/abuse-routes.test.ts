import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressBan, DomainBlock } from '../policy/abuse-list.ts';
import { handleAbuseRequest } from './abuse-routes.ts';
import type { AdminSources } from './sources.ts';

function sources(): AdminSources & { calls: string[] } {
  const calls: string[] = [];
  const bans: AddressBan[] = [];
  const blocks: DomainBlock[] = [];
  return {
    calls,
    startedAt: 0,
    hosts: () => ['local.example'],
    listening: { c2s: [], c2sDirectTls: [], s2s: [], s2sDirectTls: [] },
    federation: () => 'encrypted',
    c2s: { connections: new Set() },
    s2s: { connections: () => [], closeConnection: () => false, pairs: () => [], revokePair: () => 0 },
    limits: {
      bans,
      blocks,
      metrics: () => [],
      async ban(address, reason) {
        calls.push(`ban ${address} ${reason}`);
        const ban = { address, reason, createdAt: Date.UTC(2026, 0, 1) };
        bans.push(ban);
        return { ban, created: true, closed: 2 };
      },
      async unban(address) {
        calls.push(`unban ${address}`);
        return address === '10.0.0.0/8';
      },
      async block(domain, reason) {
        calls.push(`block ${domain} ${reason}`);
        return { block: { domain, reason, createdAt: 0 }, created: false, closed: 0 };
      },
      async unblock(domain) {
        calls.push(`unblock ${domain}`);
        return false;
      },
    },
  };
}

test('a range is one path segment with its "/" written %2F; the reason comes from the query', async () => {
  const source = sources();
  const answer = (await handleAbuseRequest('PUT', '/v1/bans/10.0.0.0%2F8?reason=spam%20bots', source))!;
  assert.equal(answer.status, 201);
  assert.deepEqual(JSON.parse(answer.body), { ban: { address: '10.0.0.0/8', reason: 'spam bots', createdAt: '2026-01-01T00:00:00.000Z' }, created: true, connectionsClosed: 2 });
  assert.deepEqual(JSON.parse((await handleAbuseRequest('GET', '/v1/bans', source))!.body).bans, [{ address: '10.0.0.0/8', reason: 'spam bots', createdAt: '2026-01-01T00:00:00.000Z' }]);
  assert.equal((await handleAbuseRequest('DELETE', '/v1/bans/10.0.0.0%2F8', source))!.status, 200);
  assert.equal((await handleAbuseRequest('GET', '/v1/bans/10.0.0.0/8', source))!.status, 404, 'an unescaped "/" is another path');
  assert.deepEqual(source.calls, ['ban 10.0.0.0/8 spam bots', 'unban 10.0.0.0/8']);
});

test('wrong addresses and domains are 400, unknown ones 404, other methods 405, other paths not ours', async () => {
  const source = sources();
  assert.match((await handleAbuseRequest('PUT', '/v1/bans/10.1.0.0%2F8', source))!.body, /bits are set beyond the \/8 prefix/);
  assert.equal((await handleAbuseRequest('PUT', '/v1/bans/nonsense', source))!.status, 400);
  assert.equal((await handleAbuseRequest('DELETE', '/v1/bans/192.0.2.1', source))!.status, 404);
  assert.equal((await handleAbuseRequest('PUT', '/v1/blocked-domains/Local.Example', source))!.status, 400, 'a hosted domain');
  const updated = (await handleAbuseRequest('PUT', '/v1/blocked-domains/Spam.Example', source))!;
  assert.equal(updated.status, 200, 'an existing block is updated');
  assert.equal((await handleAbuseRequest('DELETE', '/v1/blocked-domains/spam.example', source))!.status, 404);
  const wrong = (await handleAbuseRequest('POST', '/v1/bans', source))!;
  assert.deepEqual([wrong.status, wrong.headers], [405, { Allow: 'GET, HEAD' }]);
  assert.deepEqual((await handleAbuseRequest('GET', '/v1/bans/192.0.2.1', source))!.headers, { Allow: 'PUT, DELETE' });
  assert.equal((await handleAbuseRequest('GET', '/v1/bans/%zz', source))!.status, 400);
  assert.equal(await handleAbuseRequest('GET', '/v1/status', source), undefined);
  assert.equal(await handleAbuseRequest('GET', '/v1/bansx', source), undefined);
  assert.deepEqual(source.calls, ['unban 192.0.2.1', 'block spam.example undefined', 'unblock spam.example']);
});
