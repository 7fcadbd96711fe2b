/**
 * Moving to Trellis as an operator does it (docs/migrating.md): `trellis import` of the files
 * ejabberd 23.01 and Prosody 0.12's migrator wrote (test/fixtures/piefxis), then the users log
 * in with a real client (slixmpp) and their old passwords, and find their rosters, vCards and
 * offline messages; then `trellis export` from that server and `trellis import` into a second
 * one, where the same holds.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientDriver } from './support/client-driver.ts';
import { importConfig, loginWith, rosterLines, type Mechanism } from './support/piefxis.ts';
import { Daemon, trellis } from './support/trellis-cli.ts';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'piefxis');
const EJABBERD_EXPORT = join(FIXTURES, 'ejabberd-23.01', '20261203-145154.xml');
const PROSODY_EXPORT = join(FIXTURES, 'prosody-0.12');
const HOSTS = ['ej.test', 'plain.test', 'pros.test'];

describe('trellis import and export with real clients', () => {
  let dir: string;
  const daemons: Daemon[] = [];
  const clients: ClientDriver[] = [];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trellis-piefxis-'));
  });
  after(async () => {
    for (const client of clients) client.stop();
    for (const daemon of daemons) await daemon.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function server(name: string): Promise<{ configFile: string; dataDir: string }> {
    const dataDir = join(dir, name);
    const configFile = join(dir, `${name}.yaml`);
    await writeFile(configFile, importConfig(dataDir, HOSTS));
    return { configFile, dataDir };
  }

  async function start(configFile: string, dataDir: string) {
    const daemon = await Daemon.start(configFile);
    daemons.push(daemon);
    const port = daemon.port('listening for clients (STARTTLS)');
    return async (jid: string, password: string, mechanism: Mechanism) => {
      const domain = jid.split('@')[1]!;
      const client = await loginWith('127.0.0.1', port, join(dataDir, 'certs', `${domain}.crt`), jid, password, mechanism);
      clients.push(client);
      return client;
    };
  }

  test('import from ejabberd and Prosody, export, import into a second server; users log in with their old passwords on both', async () => {
    const first = await server('first');
    const imported = await trellis(['import', EJABBERD_EXPORT, PROSODY_EXPORT, '--config', first.configFile]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /^imported 5 accounts: 1 with a password, 4 with SCRAM keys, 0 without either\n {2}4 roster items, 1 pending subscription request, 2 vCards, 2 private XML documents, 2 offline messages\n$/);

    // Running it again changes nothing: refused, or nothing left to import.
    const again = await trellis(['import', EJABBERD_EXPORT, PROSODY_EXPORT, '--config', first.configFile]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /5 accounts already exist here; nothing was imported \(--skip-existing/);
    const skipped = await trellis(['import', EJABBERD_EXPORT, PROSODY_EXPORT, '--skip-existing', '--config', first.configFile]);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.match(skipped.stdout, /^imported 0 accounts/);

    const exportDir = join(dir, 'export');
    const exported = await trellis(['export', exportDir, '--config', first.configFile]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.equal(exported.stdout, `ej.test: 2 accounts in ${exportDir}/ej.test.xml\nplain.test: 1 account in ${exportDir}/plain.test.xml\npros.test: 2 accounts in ${exportDir}/pros.test.xml\nimport with: trellis import ${exportDir}/server-data.xml\n`);

    const second = await server('second');
    const reimported = await trellis(['import', join(exportDir, 'server-data.xml'), '--config', second.configFile]);
    assert.equal(reimported.code, 0, reimported.stderr);
    assert.match(reimported.stdout, /^imported 5 accounts: 0 with a password, 5 with SCRAM keys/);

    for (const [name, { configFile, dataDir }] of [['first', first], ['second', second]] as const) {
      const login = await start(configFile, dataDir);
      // ejabberd kept SCRAM-SHA-1 keys: that mechanism (with channel binding, as slixmpp chooses) and PLAIN work; SCRAM-SHA-256 cannot.
      const alice = await login('alice@ej.test', 'wonder land', 'SCRAM-SHA-1-PLUS');
      // The roster as imported, before presence: bob's own roster (made on ejabberd with one
      // add_rosteritem) does not list alice, which the presence exchange then corrects.
      assert.deepEqual(rosterLines(await alice.ok({ op: 'get_roster', full: true })), ['bob@ej.test both "Bobby" [Friends]', 'dave@remote.example to "Dave" [Work]'], name);
      await alice.ok({ op: 'presence' });
      const message = await alice.waitEvent((event) => event.event === 'message' && event.body === 'are you there?', 10_000);
      assert.equal(message.from, 'bob@ej.test/home', name);
      assert.ok(String(message.delay).startsWith('2026-12-03T14:51:54'), `${name}: the old server's stamp, ${String(message.delay)}`);
      await alice.waitEvent((event) => event.event === 'message' && event.body === 'second <message> & more', 10_000);
      await (await login('bob@ej.test', 'b0b&<secret>', 'PLAIN')).disconnect();
      await assert.rejects(login('bob@ej.test', 'b0b&<secret>', 'SCRAM-SHA-256-PLUS'), /login failed/);
      await assert.rejects(login('bob@ej.test', 'wrong', 'SCRAM-SHA-1-PLUS'), /login failed/);
      // ejabberd's plaintext password became both verifiers here.
      await (await login('carol@plain.test', 'carol pw', 'SCRAM-SHA-256-PLUS')).disconnect();
      // Prosody kept SCRAM-SHA-1 keys too, with a pending request each way.
      const prosodyAlice = await login('alice@pros.test', 'alice in prosody', 'SCRAM-SHA-1-PLUS');
      const roster = await prosodyAlice.ok({ op: 'get_roster', full: true });
      assert.deepEqual(rosterLines(roster), ['bob@pros.test both "Bob" [Friends]', 'carol@remote.example none []'], name);
      assert.equal((roster.items as Record<string, { ask: string }>)['carol@remote.example']!.ask, 'subscribe');
      await prosodyAlice.ok({ op: 'presence' });
      await prosodyAlice.waitEvent((event) => event.event === 'subscription_request' && event.from === 'eve@remote.example', 10_000);
      for (const client of clients.splice(0)) await client.disconnect();
    }
  });
});
