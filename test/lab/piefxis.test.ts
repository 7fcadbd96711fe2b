/**
 * Moving to Trellis from a live ejabberd 23.01 and a Prosody 0.12 data directory (XEP-0227,
 * docs/migrating.md). ejabberd runs privately (HTTP API only): accounts (one host keeping SCRAM
 * keys, one plaintext passwords), a roster, a vCard, private XML and offline messages are made
 * through its API, then `export_piefxis` writes the files. Prosody's accounts are made by
 * `prosodyctl register` and converted by Debian's `prosody-migrator` to XEP-0227 (it writes into
 * Prosody's data path whatever the config says, so it runs in a private mount namespace with a
 * scratch directory bound there). `trellis import` takes both; slixmpp logs in with the old
 * passwords and finds the roster and the offline messages.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { ClientDriver } from '../support/client-driver.ts';
import { prepareEjabberdErl } from '../support/lab/ejabberd-erl.ts';
import { assertInsideLab } from '../support/lab/namespace.ts';
import { makeScratchDir, startDaemon, tail, waitForListeners, type Daemon as LabDaemon } from '../support/lab/process.ts';
import { importConfig, loginWith, rosterLines, type Mechanism } from '../support/piefxis.ts';
import { Daemon, trellis } from '../support/trellis-cli.ts';

const run = promisify(execFile);
const EJABBERD_ADDRESS = '127.0.160.1';
const TRELLIS_ADDRESS = '127.0.160.2';
const API_PORT = 5280;

describe('import from a live ejabberd 23.01 and a Prosody 0.12 data directory', () => {
  let dir: string;
  let ejabberd: LabDaemon | undefined;
  let trellisServer: Daemon | undefined;
  const clients: ClientDriver[] = [];
  let ejabberdLog = '';

  before(() => {
    assertInsideLab();
    dir = makeScratchDir('piefxis');
  });
  after(async () => {
    for (const client of clients) client.stop();
    await trellisServer?.stop();
    await ejabberd?.stop(10_000);
  });

  async function ejabberdExport(): Promise<string> {
    const home = join(dir, 'ejabberd');
    mkdirSync(home);
    const configFile = join(home, 'ejabberd.yml');
    ejabberdLog = join(home, 'ejabberd.log');
    writeFileSync(configFile, ejabberdConfig());
    const erl = prepareEjabberdErl({ dir: home, configFile, logFile: ejabberdLog });
    ejabberd = startDaemon('ejabberd', erl.command, erl.args, erl.options);
    await waitForListeners(ejabberd, [{ address: EJABBERD_ADDRESS, port: API_PORT }], { logFile: ejabberdLog });
    const api = async (command: string, body: Record<string, string>): Promise<void> => {
      const response = await fetch(`http://${EJABBERD_ADDRESS}:${API_PORT}/api/${command}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const text = await response.text();
      assert.ok(response.ok && !/"status":"error"|unknown_command|enoent/.test(text), `ejabberd ${command}: ${response.status} ${text}\n${tail(ejabberdLog)}`);
    };
    await api('register', { user: 'alice', host: 'ej.test', password: 'wonder land' });
    await api('register', { user: 'bob', host: 'ej.test', password: 'b0b&<secret>' });
    await api('register', { user: 'carol', host: 'plain.test', password: 'carol pw' });
    await api('add_rosteritem', { localuser: 'alice', localhost: 'ej.test', user: 'bob', host: 'ej.test', nick: 'Bobby', group: 'Friends', subs: 'both' });
    await api('add_rosteritem', { localuser: 'bob', localhost: 'ej.test', user: 'alice', host: 'ej.test', nick: 'Alice', group: 'Friends', subs: 'both' });
    await api('add_rosteritem', { localuser: 'alice', localhost: 'ej.test', user: 'dave', host: 'remote.example', nick: 'Dave', group: 'Work', subs: 'to' });
    await api('set_vcard', { user: 'alice', host: 'ej.test', name: 'FN', content: 'Alice Liddell' });
    await api('private_set', { user: 'alice', host: 'ej.test', element: "<storage xmlns='storage:bookmarks'><conference jid='room@conference.ej.test' autojoin='true' name='Room'/></storage>" });
    await api('send_message', { type: 'chat', from: 'bob@ej.test/home', to: 'alice@ej.test', subject: '', body: 'are you there?' });
    await api('send_message', { type: 'normal', from: 'carol@plain.test', to: 'alice@ej.test', subject: 'hello', body: 'second <message> & more' });
    const out = join(home, 'export');
    mkdirSync(out);
    await api('export_piefxis', { dir: out });
    const main = readdirSync(out).filter((name) => /^\d{8}-\d{6}\.xml$/.test(name));
    assert.equal(main.length, 1, `the export's main file among ${readdirSync(out).join(', ')}`);
    return join(out, main[0]!);
  }

  async function prosodyExport(): Promise<string> {
    const home = join(dir, 'prosody');
    const data = join(home, 'data');
    const out = join(home, 'export');
    mkdirSync(data, { recursive: true });
    mkdirSync(out);
    const configFile = join(home, 'prosody.cfg.lua');
    writeFileSync(configFile, `data_path = ${JSON.stringify(data)}\nrun_as_root = true\nlog = { { levels = { min = "error" }, to = "console" } }\nVirtualHost "pros.test"\n`);
    await run('prosodyctl', ['--config', configFile, 'register', 'alice', 'pros.test', 'alice in prosody'], { cwd: home });
    await run('prosodyctl', ['--config', configFile, 'register', 'bob', 'pros.test', 'bob pw'], { cwd: home });
    // A roster as Prosody's internal storage keeps it (mod_storage_internal, Lua table files).
    const rosterDir = join(data, 'pros%2etest', 'roster');
    mkdirSync(rosterDir, { recursive: true });
    writeFileSync(join(rosterDir, 'alice.dat'), `return {
  [false] = { ["version"] = 2; ["pending"] = { ["eve@remote.example"] = true; }; };
  ["bob@pros.test"] = { ["subscription"] = "both"; ["name"] = "Bob"; ["groups"] = { ["Friends"] = true; }; };
};
`);
    const migratorConfig = join(home, 'migrator.cfg.lua');
    writeFileSync(migratorConfig, `input { hosts = { ["pros.test"] = { "accounts", "roster", "vcard", "private" } }; type = "internal"; path = ${JSON.stringify(data)}; }\noutput { type = "xep0227"; path = ${JSON.stringify(out)}; }\n`);
    // --root: stay root rather than switch to the prosody user (Prosody's util/startup.lua).
    await run('unshare', ['-m', 'sh', '-c', 'mount --bind "$1" /var/lib/prosody && exec prosody-migrator --root --config "$2" input output', 'sh', out, migratorConfig]);
    assert.deepEqual(readdirSync(out).sort(), ['alice@pros.test.xml', 'bob@pros.test.xml']);
    return out;
  }

  it('users log in to Trellis with their old passwords and find their rosters and offline messages', async () => {
    const ejabberdFile = await ejabberdExport();
    const prosodyDir = await prosodyExport();
    const configFile = join(dir, 'trellis.yaml');
    const dataDir = join(dir, 'trellis');
    writeFileSync(configFile, importConfig(dataDir, ['ej.test', 'plain.test', 'pros.test'], TRELLIS_ADDRESS));
    const imported = await trellis(['import', ejabberdFile, prosodyDir, '--config', configFile]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /^imported 5 accounts: 1 with a password, 4 with SCRAM keys, 0 without either\n {2}4 roster items, 1 pending subscription request, 1 vCard, 1 private XML document, 2 offline messages\n$/);

    trellisServer = await Daemon.start(configFile);
    const port = trellisServer.port('listening for clients (STARTTLS)');
    const login = async (jid: string, password: string, mechanism: Mechanism) => {
      const client = await loginWith(TRELLIS_ADDRESS, port, join(dataDir, 'certs', `${jid.split('@')[1]}.crt`), jid, password, mechanism);
      clients.push(client);
      return client;
    };
    const alice = await login('alice@ej.test', 'wonder land', 'SCRAM-SHA-1-PLUS');
    assert.deepEqual(rosterLines(await alice.ok({ op: 'get_roster', full: true })), ['bob@ej.test both "Bobby" [Friends]', 'dave@remote.example to "Dave" [Work]']);
    await alice.ok({ op: 'presence' });
    await alice.waitEvent((event) => event.event === 'message' && event.body === 'are you there?' && event.from === 'bob@ej.test/home', 10_000);
    await alice.waitEvent((event) => event.event === 'message' && event.body === 'second <message> & more', 10_000);
    const bob = await login('bob@ej.test', 'b0b&<secret>', 'PLAIN');
    assert.deepEqual(rosterLines(await bob.ok({ op: 'get_roster', full: true })), ['alice@ej.test both "Alice" [Friends]']);
    await login('carol@plain.test', 'carol pw', 'SCRAM-SHA-256-PLUS');
    const prosodyAlice = await login('alice@pros.test', 'alice in prosody', 'SCRAM-SHA-1-PLUS');
    assert.deepEqual(rosterLines(await prosodyAlice.ok({ op: 'get_roster', full: true })), ['bob@pros.test both "Bob" [Friends]']);
    await prosodyAlice.ok({ op: 'presence' });
    await prosodyAlice.waitEvent((event) => event.event === 'subscription_request' && event.from === 'eve@remote.example', 10_000);
    await login('bob@pros.test', 'bob pw', 'PLAIN');
    await assert.rejects(login('bob@pros.test', 'not bob', 'SCRAM-SHA-1-PLUS'), /login failed/);
  });
});

function ejabberdConfig(): string {
  return `# Generated for one lab run: the HTTP API only, one host keeping SCRAM keys and one plaintext passwords.
hosts: ["ej.test", "plain.test"]
loglevel: info
log_rotate_count: 0
auth_method: internal
auth_password_format: scram
host_config:
  plain.test:
    auth_password_format: plain
default_db: mnesia
listen:
  - port: ${API_PORT}
    ip: "${EJABBERD_ADDRESS}"
    module: ejabberd_http
    request_handlers:
      /api: mod_http_api
api_permissions:
  "lab administration":
    from: [mod_http_api]
    who:
      ip: 127.0.0.0/8
    what: ["*"]
modules:
  mod_admin_extra: {}
  mod_http_api: {}
  mod_offline: {}
  mod_private: {}
  mod_roster: {}
  mod_vcard: {}
`;
}

