/**
 * Real clients log in over STARTTLS with SCRAM, verifying the server's generated certificate:
 * slixmpp (Debian python3-slixmpp, which binds to the channel with tls-unique) and @xmpp/client.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { startTestServer, type TestServer } from './support/server.ts';

const HERE = import.meta.dirname;

interface LoginResult {
  ok: boolean;
  jid?: string;
  error?: string;
}

function runClient(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<LoginResult> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 40_000, env: { ...process.env, ...env } }, (error, stdout, stderr) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as LoginResult);
      } catch {
        resolve({ ok: false, error: `no result (${error?.message ?? ''}): ${stderr.slice(-2000)}` });
      }
    });
  });
}

function slixmpp(server: TestServer, jid: string, password: string, mechanism: string): Promise<LoginResult> {
  return runClient('/usr/bin/python3', [join(HERE, 'clients', 'slixmpp_login.py'), jid, password, '127.0.0.1', String(server.port), server.certificateFile('localhost'), mechanism]);
}

function xmppjs(server: TestServer, username: string, password: string): Promise<LoginResult> {
  return runClient(process.execPath, [join(HERE, 'clients', 'xmppjs-login.ts'), username, 'localhost', password, String(server.port)], {
    NODE_EXTRA_CA_CERTS: server.certificateFile('localhost'),
  });
}

describe('real clients over STARTTLS', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await server.addUser('alice', 'localhost', 'correct horse');
  });
  after(async () => {
    await server.stop();
  });

  for (const mechanism of ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS']) {
    test(`slixmpp logs in with ${mechanism}`, async () => {
      const result = await slixmpp(server, 'alice@localhost/slix', 'correct horse', mechanism);
      assert.deepEqual(result, { ok: true, jid: 'alice@localhost/slix' });
      await server.waitForLog('c2s authenticated', `mechanism=${mechanism}`);
      await server.waitForLog('c2s TLS established');
    });
  }

  test('slixmpp left to choose picks SCRAM-SHA-256-PLUS', async () => {
    const before = server.logLines.length;
    const result = await slixmpp(server, 'alice@localhost/choose', 'correct horse', '');
    assert.deepEqual(result, { ok: true, jid: 'alice@localhost/choose' });
    const line = server.logLines.slice(before).find((candidate) => candidate.includes('c2s authenticated'));
    assert.match(line ?? '', /mechanism=SCRAM-SHA-256-PLUS/);
  });

  test('slixmpp made to use SCRAM-SHA-256 says it could bind ("y"), which is refused as a downgrade (RFC 5802 section 6)', async () => {
    const result = await slixmpp(server, 'alice@localhost/slix', 'correct horse', 'SCRAM-SHA-256');
    assert.equal(result.ok, false);
    await server.waitForLog('c2s authentication failed', 'condition=not-authorized', 'mechanism=SCRAM-SHA-256 ');
  });

  test('slixmpp with a wrong password is refused', async () => {
    const result = await slixmpp(server, 'alice@localhost/slix', 'wrong', 'SCRAM-SHA-256-PLUS');
    assert.equal(result.ok, false);
    await server.waitForLog('c2s authentication failed', 'condition=not-authorized');
  });

  test('@xmpp/client logs in with SCRAM-SHA-1 over SASL2 and verifies the certificate; Bind 2 makes its resource from its tag', async () => {
    const result = await xmppjs(server, 'alice', 'correct horse');
    assert.equal(result.ok, true);
    // XEP-0386 section 2.2.1: "[tag]/[server-generated]".
    assert.match(String(result.jid), /^alice@localhost\/xmppjs\/[\w-]{8}$/);
    await server.waitForLog('c2s authenticated', 'mechanism=SCRAM-SHA-1', 'alice@localhost');
  });
});
