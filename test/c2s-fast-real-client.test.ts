/**
 * SASL2 (XEP-0388), Bind 2 (XEP-0386) and FAST (XEP-0484) with a real client: @xmpp/client logs
 * in with its password and gets a token, then logs in with the token alone. A wrong token, an
 * expired one and one from before a password change are refused, and count as failed logins.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { newToken } from '../src/auth/hashed-token.ts';
import { makeStoredCredentials } from '../src/auth/scram.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const DRIVER = join(import.meta.dirname, 'clients', 'xmppjs-login.ts');

interface Token {
  mechanism: string;
  token: string;
  expiry: string;
}

interface LoginResult {
  ok: boolean;
  jid?: string;
  token?: Token;
  sm?: boolean;
  error?: string;
}

function xmppjs(server: TestServer, username: string, userAgentId: string, password: string, token?: Token): Promise<LoginResult> {
  const args = [DRIVER, username, 'localhost', password, String(server.port), userAgentId, ...(token ? [JSON.stringify(token)] : [])];
  return new Promise((resolve) => {
    execFile(process.execPath, args, { timeout: 40_000, env: { ...process.env, NODE_EXTRA_CA_CERTS: server.certificateFile('localhost') } }, (error, stdout, stderr) => {
      try {
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as LoginResult);
      } catch {
        resolve({ ok: false, error: `no result (${error?.message ?? ''}): ${stderr.slice(-2000)}` });
      }
    });
  });
}

describe('SASL2, Bind 2 and FAST with @xmpp/client', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer('c2s:\n  scram_iterations: 4096\n  auth_failure_delay: 10\n  max_auth_failures: 10\n');
    await server.addUser('alice', 'localhost', 'correct horse');
  });
  after(() => server.stop());

  test('a password login gets a token, and the token alone logs in again', async () => {
    const agent = randomUUID();
    const first = await xmppjs(server, 'alice', agent, 'correct horse');
    assert.equal(first.ok, true, first.error);
    assert.match(String(first.jid), /^alice@localhost\/xmppjs\/[\w-]{8}$/, 'Bind 2: the tag, then a generated part');
    assert.equal(first.sm, true, 'stream management enabled inline in Bind 2');
    assert.equal(first.token?.mechanism, 'HT-SHA-256-NONE');
    assert.ok(Date.parse(first.token!.expiry) > Date.now() + 13 * 86_400_000, 'the default lifetime is 14 days');
    await server.waitForLog('c2s authenticated', 'mechanism=SCRAM-SHA-1', 'software=trellis-test');

    const second = await xmppjs(server, 'alice', agent, '', first.token);
    assert.equal(second.ok, true, second.error);
    assert.equal(second.jid, first.jid, 'the same client gets the same resource');
    await server.waitForLog('c2s authenticated', 'mechanism=HT-SHA-256-NONE', 'alice@localhost');

    // Tokens are per client: another user-agent id cannot use it.
    const other = await xmppjs(server, 'alice', randomUUID(), '', first.token);
    assert.equal(other.ok, false);
  });

  test('a wrong token and an expired token are refused as failed logins', async () => {
    const agent = randomUUID();
    const first = await xmppjs(server, 'alice', agent, 'correct horse');
    assert.equal(first.ok, true, first.error);
    const wrong = await xmppjs(server, 'alice', agent, '', { ...first.token!, token: newToken().token });
    assert.equal(wrong.ok, false);
    await server.waitForLog('c2s authentication failed', 'condition=not-authorized', 'mechanism=HT-SHA-256-NONE');

    // A token the server holds as expired, presented with an expiry the client still believes in.
    const expired = newToken();
    const now = Date.now();
    const expiredAgent = randomUUID();
    await server.server.storage.fastTokens.issue('localhost', 'alice', { clientId: expiredAgent, mechanism: 'HT-SHA-256-NONE', hash: expired.hash, expiresAt: now - 1000 }, 16, now - 2000);
    const late = await xmppjs(server, 'alice', expiredAgent, '', { mechanism: 'HT-SHA-256-NONE', token: expired.token, expiry: new Date(now + 86_400_000).toISOString() });
    assert.equal(late.ok, false);
  });

  test('a new password ends every token', async () => {
    await server.addUser('bob', 'localhost', 'old password');
    const agent = randomUUID();
    const first = await xmppjs(server, 'bob', agent, 'old password');
    assert.equal(first.ok, true, first.error);
    assert.equal((await xmppjs(server, 'bob', agent, '', first.token)).ok, true);
    await server.server.storage.accounts.setCredentials('localhost', 'bob', makeStoredCredentials('new password', 4096));
    const after = await xmppjs(server, 'bob', agent, '', first.token);
    assert.equal(after.ok, false);
    assert.equal((await xmppjs(server, 'bob', agent, 'new password')).ok, true);
  });
});
