/**
 * Account administration as an operator does it on a running server: `trellis users list`,
 * `trellis sessions list`, `trellis sessions kick` (one resource or a whole account, with
 * <policy-violation/>), `trellis deluser` ending the account's live sessions with
 * <not-authorized/>, and deleting from storage when no server runs. Failed logins are logged
 * with the account and the address.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { login } from './support/login.ts';
import type { RawClient } from './support/raw-client.ts';
import type { TestServer } from './support/server.ts';
import { Daemon, trellis } from './support/trellis-cli.ts';

const STREAM_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams';

describe('users, sessions and deluser against a running server', () => {
  let dir: string;
  let configFile: string;
  let daemon: Daemon;
  let server: TestServer;
  const clients: RawClient[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trellis-cli-accounts-'));
    configFile = join(dir, 'trellis.yaml');
    await writeFile(configFile, `data_dir: ${join(dir, 'data')}
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { enabled: false }
c2s: { scram_iterations: 4096, auth_failure_delay: 10 }
hosts:
  example.test: {}
  other.test: {}
`);
    for (const jid of ['alice@example.test', 'bob@example.test', 'carol@example.test', 'dave@other.test']) {
      const run = await trellis(['adduser', jid, '--password', 'secret', '--config', configFile]);
      assert.equal(run.code, 0, run.stderr);
    }
    daemon = await Daemon.start(configFile);
    server = { port: daemon.port('listening for clients (STARTTLS)'), certificateFile: (domain: string) => join(dir, 'data', 'certs', `${domain}.crt`) } as Partial<TestServer> as TestServer;
  });
  after(async () => {
    for (const client of clients) client.close();
    await daemon?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function connect(username: string, resource: string): Promise<RawClient> {
    const { client } = await login(server, { username, password: 'secret', domain: 'example.test', resource });
    clients.push(client);
    return client;
  }

  test('users list: every hosted domain, or one', async () => {
    const all = await trellis(['users', 'list', '--config', configFile]);
    assert.deepEqual([all.code, all.stdout], [0, 'alice@example.test\nbob@example.test\ncarol@example.test\ndave@other.test\n']);
    const one = await trellis(['users', 'list', 'other.test', '--config', configFile]);
    assert.deepEqual([one.code, one.stdout], [0, 'dave@other.test\n']);
    const foreign = await trellis(['users', 'list', 'elsewhere.test', '--config', configFile]);
    assert.equal(foreign.code, 1);
    assert.match(foreign.stderr, /elsewhere\.test is not a hosted domain/);
  });

  test('sessions list and kick: one resource, then a whole account', async () => {
    const laptop = await connect('alice', 'laptop');
    const phone = await connect('alice', 'phone');
    const table = await trellis(['sessions', 'list', '--config', configFile]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^JID\s+ADDRESS\s+TLS\s+SINCE\s+IDLE\n/);
    assert.match(table.stdout, /alice@example\.test\/laptop\s+127\.0\.0\.1:\d+\s+TLSv1\.3 /);
    const json = await trellis(['sessions', '--json', '--config', configFile]);
    assert.deepEqual((JSON.parse(json.stdout) as { sessions: { jid: string }[] }).sessions.map((row) => row.jid).sort(), ['alice@example.test/laptop', 'alice@example.test/phone']);

    const kicked = await trellis(['sessions', 'kick', 'alice@example.test/laptop', '--reason', 'maintenance', '--config', configFile]);
    assert.deepEqual([kicked.code, kicked.stdout], [0, 'disconnected alice@example.test/laptop\n']);
    await laptop.waitFor(new RegExp(`<policy-violation xmlns=["']${STREAM_ERRORS}["']/>.*maintenance`, 's'));
    await laptop.waitClosed();
    assert.ok(!phone.socket.destroyed, 'the other resource stays');

    const again = await connect('alice', 'laptop');
    const all = await trellis(['sessions', 'kick', 'alice@example.test', '--config', configFile]);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, /^disconnected alice@example\.test\/(phone|laptop), alice@example\.test\/(phone|laptop)\n$/);
    for (const client of [phone, again]) {
      await client.waitFor(/<policy-violation\b.*disconnected by the server administrator/s);
      await client.waitClosed();
    }

    const nobody = await trellis(['sessions', 'kick', 'carol@example.test', '--config', configFile]);
    assert.equal(nobody.code, 1);
    assert.match(nobody.stderr, /carol@example\.test has no session/);
  });

  test('deluser ends the account\'s live sessions with not-authorized, and its logins fail', async () => {
    const bob = await connect('bob', 'desk');
    const run = await trellis(['deluser', 'bob@example.test', '--config', configFile]);
    assert.deepEqual([run.code, run.stdout], [0, 'deleted bob@example.test; 1 session ended\n']);
    await bob.waitFor(new RegExp(`<not-authorized xmlns=["']${STREAM_ERRORS}["']/>.*this account has been deleted`, 's'));
    await bob.waitClosed();
    await assert.rejects(login(server, { username: 'bob', password: 'secret', domain: 'example.test' }), /no success/);
    const missing = await trellis(['deluser', 'bob@example.test', '--config', configFile]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no account bob@example\.test/);
  });

  test('a failed login is logged with the account and the client\'s address', async () => {
    await assert.rejects(login(server, { username: 'carol', password: 'wrong', domain: 'example.test' }), /no success/);
    await daemon.waitForOutput(/c2s authentication failed .*peer=127\.0\.0\.1:\d+.*user=carol@example\.test|c2s authentication failed .*user=carol@example\.test.*peer=127\.0\.0\.1:\d+/);
  });

  test('with no server running, deluser deletes from storage', async () => {
    await daemon.stop();
    const run = await trellis(['deluser', 'carol@example.test', '--config', configFile]);
    assert.deepEqual([run.code, run.stdout], [0, 'deleted carol@example.test\n']);
    const list = await trellis(['users', 'list', 'example.test', '--config', configFile]);
    assert.equal(list.stdout, 'alice@example.test\n');
  });
});
