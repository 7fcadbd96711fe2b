/**
 * Client listener options: direct TLS (XEP-0368), TLS not required, idle timeout, and the
 * PostgreSQL storage driver behind a real login.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { RawClient, streamHeader } from './support/raw-client.ts';
import { authenticate, login } from './support/login.ts';
import { startTestServer } from './support/server.ts';
import { startPostgres } from './support/postgres.ts';

describe('client listener options', () => {
  test('direct TLS on its own port offers SASL at once and logs in (XEP-0368)', async () => {
    const server = await startTestServer('listeners:\n  c2s: { addresses: ["127.0.0.1"], port: 0 }\n  c2s_direct_tls: { enabled: true, addresses: ["127.0.0.1"], port: 0 }\n  s2s: { enabled: false }\n');
    try {
      await server.addUser('alice', 'localhost', 'secret');
      const port = server.server.listening.c2sDirectTls[0]!.port;
      const client = await RawClient.connectDirectTls(port, readFileSync(server.certificateFile('localhost')), 'localhost');
      client.send(streamHeader('localhost'));
      const features = await client.waitFor('</stream:features>');
      assert.doesNotMatch(features, /starttls/);
      assert.match(features, /<mechanism>SCRAM-SHA-256<\/mechanism>/);
      assert.equal(await authenticate(client, { username: 'alice', password: 'secret', resource: 'direct' }), 'alice@localhost/direct');
      client.close();
      await server.waitForLog('listening for clients (direct TLS)');
    } finally {
      await server.stop();
    }
  });

  test('with require_tls off, SCRAM is offered on a plain stream but PLAIN never is', async () => {
    const server = await startTestServer('c2s:\n  require_tls: false\n  scram_iterations: 4096\n');
    try {
      await server.addUser('alice', 'localhost', 'secret');
      const client = await RawClient.connect(server.port);
      client.send(streamHeader('localhost'));
      const features = await client.waitFor('</stream:features>');
      assert.match(features, /<starttls xmlns=["']urn:ietf:params:xml:ns:xmpp-tls["']\/>/, 'STARTTLS still offered, not required');
      assert.match(features, /<mechanism>SCRAM-SHA-256<\/mechanism><mechanism>SCRAM-SHA-1<\/mechanism><\/mechanisms>/);
      assert.equal(await authenticate(client, { username: 'alice', password: 'secret', resource: 'plain' }), 'alice@localhost/plain');
      client.close();
    } finally {
      await server.stop();
    }
  });

  test('an authenticated stream that stays silent past idle_timeout is closed', async () => {
    const server = await startTestServer('c2s:\n  idle_timeout: 1\n  scram_iterations: 4096\n');
    try {
      await server.addUser('alice', 'localhost', 'secret');
      const { client } = await login(server, { username: 'alice', password: 'secret' });
      await client.waitFor('<connection-timeout', 4000);
      await client.waitClosed();
      await server.waitForLog('c2s connection closed', 'idle for more than 1 s');
    } finally {
      await server.stop();
    }
  });

  test('a server on PostgreSQL storage creates and authenticates accounts', async () => {
    const postgres = await startPostgres();
    try {
      const server = await startTestServer(`storage: { driver: postgres, postgres_url: "${postgres.url}" }\n`);
      try {
        assert.equal(server.server.storage.driver, 'postgres');
        await server.addUser('alice', 'localhost', 'secret');
        const { client, jid } = await login(server, { username: 'alice', password: 'secret', resource: 'pg' });
        assert.equal(jid, 'alice@localhost/pg');
        client.close();
      } finally {
        await server.stop();
      }
    } finally {
      await postgres.stop();
    }
  });
});
