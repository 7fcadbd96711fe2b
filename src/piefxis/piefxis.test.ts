/**
 * XEP-0227 import and export against files real servers wrote: test/fixtures/piefxis holds an
 * `ejabberdctl export_piefxis` of ejabberd 23.01 (one host with SCRAM keys, one with plaintext
 * passwords) and the output of Prosody 0.12's prosody-migrator (mod_storage_xep0227). The
 * passwords the accounts were made with are known, so the keys are checked, not just copied.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { passwordMatches } from '../auth/scram.ts';
import { parseConfig } from '../config/load.ts';
import { openStorage } from '../storage/open.ts';
import type { Storage } from '../storage/types.ts';
import { exportPiefxis } from './export.ts';
import { ImportRefusedError, importPiefxis } from './import.ts';
import { PiefxisFormatError, readPiefxis } from './reader.ts';

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'piefxis');
const EJABBERD = join(FIXTURES, 'ejabberd-23.01');
const EJABBERD_MAIN = join(EJABBERD, '20261203-145154.xml');
const PROSODY = join(FIXTURES, 'prosody-0.12');

const dir = mkdtempSync(join(tmpdir(), 'trellis-piefxis-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;

const config = parseConfig('hosts:\n  ej.test: {}\n  plain.test: {}\n  pros.test: {}\nc2s: { scram_iterations: 4096 }\n', { baseDir: dir });

async function freshStorage(): Promise<Storage> {
  return openStorage({ driver: 'sqlite', sqlite_file: `store-${counter++}.sqlite` }, dir);
}

function file(name: string, text: string): string {
  const path = join(dir, `${counter++}-${name}`);
  writeFileSync(path, text);
  return path;
}

async function refusal(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  assert.fail('expected the import to be refused');
}

describe('import of real exports', () => {
  test('ejabberd 23.01: SCRAM-SHA-1 keys (written base64 twice) and plaintext passwords log in with the old passwords', async () => {
    const storage = await freshStorage();
    const summary = await importPiefxis(storage, config, [EJABBERD_MAIN]);
    assert.equal(summary.imported, 3);
    assert.deepEqual(summary.passwords, { plain: 1, scram: 2, none: [] });
    const alice = await storage.accounts.get('ej.test', 'alice');
    assert.equal(alice?.['SCRAM-SHA-256'], undefined);
    assert.equal(await passwordMatches('wonder land', 'SHA-1', alice!['SCRAM-SHA-1']!), true);
    assert.equal(await passwordMatches('wonder', 'SHA-1', alice!['SCRAM-SHA-1']!), false);
    const bob = await storage.accounts.get('ej.test', 'bob');
    assert.equal(await passwordMatches('b0b&<secret>', 'SHA-1', bob!['SCRAM-SHA-1']!), true);
    const carol = await storage.accounts.get('plain.test', 'carol');
    assert.equal(await passwordMatches('carol pw', 'SHA-256', carol!['SCRAM-SHA-256']!), true);

    const roster = await storage.rosters.get('ej.test', 'alice');
    assert.deepEqual(
      roster.items.map(({ jid, name, subscription, groups }) => ({ jid, name, subscription, groups })),
      [
        { jid: 'bob@ej.test', name: 'Bobby', subscription: 'both', groups: ['Friends'] },
        { jid: 'dave@remote.example', name: 'Dave', subscription: 'to', groups: ['Work'] },
      ],
    );
    assert.match((await storage.userData.get('ej.test', 'alice', 'vcard'))!, /<FN>Alice Liddell<\/FN>/);
    assert.match((await storage.userData.get('ej.test', 'alice', 'private:storage:bookmarks'))!, /room@conference\.ej\.test/);
    const offline = await storage.offline.peek('ej.test', 'alice', 10, 1 << 20);
    assert.deepEqual(
      offline.map(({ stanza }) => /<body>(.*?)<\/body>/.exec(stanza)![1]),
      ['are you there?', 'second &lt;message&gt; &amp; more'],
    );
    await storage.close();
  });

  test('Prosody 0.12 migrator: SCRAM-SHA-1 keys, roster with a pending request both ways, vCard, private XML', async () => {
    const storage = await freshStorage();
    const summary = await importPiefxis(storage, config, [PROSODY]);
    assert.equal(summary.imported, 2);
    assert.deepEqual(summary.passwords, { plain: 0, scram: 2, none: [] });
    assert.equal(await passwordMatches('alice in prosody', 'SHA-1', (await storage.accounts.get('pros.test', 'alice'))!['SCRAM-SHA-1']!), true);
    assert.equal(await passwordMatches('bob pw', 'SHA-1', (await storage.accounts.get('pros.test', 'bob'))!['SCRAM-SHA-1']!), true);
    const roster = await storage.rosters.get('pros.test', 'alice');
    assert.deepEqual(
      roster.items.map(({ jid, subscription, askOut }) => ({ jid, subscription, askOut })),
      [
        { jid: 'bob@pros.test', subscription: 'both', askOut: false },
        { jid: 'carol@remote.example', subscription: 'none', askOut: true },
      ],
    );
    assert.deepEqual(await storage.userData.keys('pros.test', 'alice', 'subscription-request:'), ['subscription-request:eve@remote.example']);
    assert.match((await storage.userData.get('pros.test', 'alice', 'private:exodus:prefs'))!, /<defaultnick>Alice<\/defaultnick>/);
    await storage.close();
  });

  test('existing accounts refuse the whole import, or are left alone with skipExisting; a second run changes nothing', async () => {
    const storage = await freshStorage();
    await importPiefxis(storage, config, [PROSODY]);
    const before = await storage.accounts.get('pros.test', 'alice');
    const error = await refusal(importPiefxis(storage, config, [PROSODY, EJABBERD]));
    assert.ok(error instanceof ImportRefusedError);
    assert.match(error.message, /2 accounts already exist here; nothing was imported/);
    assert.deepEqual(error.problems, ['alice@pros.test', 'bob@pros.test']);
    assert.deepEqual(await storage.accounts.list('ej.test'), []);
    const summary = await importPiefxis(storage, config, [PROSODY, EJABBERD], { skipExisting: true });
    assert.deepEqual([summary.imported, summary.skipped], [3, ['alice@pros.test', 'bob@pros.test']]);
    assert.deepEqual(await storage.accounts.get('pros.test', 'alice'), before);
    const again = await importPiefxis(storage, config, [PROSODY, EJABBERD], { skipExisting: true });
    assert.equal(again.imported, 0);
    assert.equal(await storage.offline.count('ej.test', 'alice'), 2);
    await storage.close();
  });

  test('a dry run checks and counts, and writes nothing', async () => {
    const storage = await freshStorage();
    const summary = await importPiefxis(storage, config, [EJABBERD], { dryRun: true });
    assert.deepEqual([summary.imported, summary.offlineMessages, summary.rosterItems], [3, 2, 2]);
    assert.deepEqual(await storage.accounts.list('ej.test'), []);
    assert.equal(await storage.offline.count('ej.test', 'alice'), 0);
    await storage.close();
  });

  test('a host not served here refuses the import unless another host is chosen', async () => {
    const storage = await freshStorage();
    const narrow = parseConfig('hosts:\n  ej.test: {}\n', { baseDir: dir });
    const error = await refusal(importPiefxis(storage, narrow, [EJABBERD_MAIN]));
    assert.ok(error instanceof ImportRefusedError);
    assert.match(error.problems[0]!, /host plain\.test is not served here \(hosts: ej\.test\)/);
    assert.deepEqual(await storage.accounts.list('ej.test'), []);
    const summary = await importPiefxis(storage, narrow, [EJABBERD_MAIN], { host: 'ej.test' });
    assert.equal(summary.imported, 2);
    assert.deepEqual([...summary.otherHosts], [['plain.test', 1]]);
    await storage.close();
  });
});

describe('export', () => {
  test('round trip: what one server exports, another imports the same, and the export reads back identical', async () => {
    const first = await freshStorage();
    await importPiefxis(first, config, [EJABBERD_MAIN, PROSODY]);
    await first.rosters.setItem('pros.test', 'bob', { jid: 'alice@pros.test', subscription: 'from', askOut: false, askIn: false, approved: true, groups: ['A', 'B'] });
    const out = join(dir, `export-${counter++}`);
    const exported = await exportPiefxis(first, out, ['ej.test', 'plain.test', 'pros.test']);
    assert.deepEqual(exported.hosts.map(({ domain, users }) => [domain, users]), [['ej.test', 2], ['plain.test', 1], ['pros.test', 2]]);

    const second = await freshStorage();
    const summary = await importPiefxis(second, config, [exported.file]);
    assert.deepEqual(summary.passwords, { plain: 0, scram: 5, none: [] });
    for (const [domain, username] of [['ej.test', 'alice'], ['ej.test', 'bob'], ['plain.test', 'carol'], ['pros.test', 'alice'], ['pros.test', 'bob']] as const) {
      assert.deepEqual(await second.accounts.get(domain, username), await first.accounts.get(domain, username), `${username}@${domain}`);
      assert.deepEqual((await second.rosters.get(domain, username)).items, (await first.rosters.get(domain, username)).items, `roster of ${username}@${domain}`);
      for (const key of await first.userData.keys(domain, username)) {
        assert.equal(await second.userData.get(domain, username, key), await first.userData.get(domain, username, key), `${key} of ${username}@${domain}`);
      }
      const messages = async (storage: Storage) => (await storage.offline.peek(domain, username, 100, 1 << 20)).map(({ stanza }) => stanza);
      assert.deepEqual(await messages(second), await messages(first));
    }
    const again = await exportPiefxis(second, join(dir, `export-${counter++}`), ['ej.test', 'plain.test', 'pros.test']);
    const { readFileSync } = await import('node:fs');
    for (const [index, host] of exported.hosts.entries()) assert.equal(readFileSync(again.hosts[index]!.file, 'utf8'), readFileSync(host.file, 'utf8'));
    await first.close();
    await second.close();
  });

  test('refuses a directory that is not empty', async () => {
    const storage = await freshStorage();
    const out = join(dir, `export-${counter++}`);
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'x');
    await assert.rejects(exportPiefxis(storage, out, ['ej.test']), /is not empty/);
    await storage.close();
  });
});

describe('bad input gets a clear error and nothing is written', () => {
  const cases: [string, string, RegExp][] = [
    ['malformed XML', "<server-data xmlns='urn:xmpp:pie:0'><host jid='ej.test'><user name='a'></host></server-data>", /end tag <\/host> does not match <user>/],
    ['a file that ends early', "<host xmlns='urn:xmpp:pie:0' jid='ej.test'><user name='a'/>", /the file ends before <\/host>/],
    ['another root', "<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'/>", /the root is <RDF xmlns='http:\/\/www\.w3\.org\/1999\/02\/22-rdf-syntax-ns#'\/>, not <server-data\/> or <host\/>/],
    ['a user without a name', "<host xmlns='urn:xmpp:pie:0' jid='ej.test'><user password='x'/></host>", /user '' of ej\.test: user name '' is not a valid JID localpart/],
    ['a user name that is no localpart', "<host xmlns='urn:xmpp:pie:0' jid='ej.test'><user name='a b@c' password='x'/></host>", /user name 'a b@c' is not a valid JID localpart/],
    ['a user given twice', "<host xmlns='urn:xmpp:pie:0' jid='ej.test'><user name='a'/><user name='A'/></host>", /a@ej\.test is given twice/],
    ['SCRAM keys of the wrong size', "<host xmlns='urn:xmpp:pie:0' jid='ej.test'><user name='a'><scram-credentials xmlns='urn:xmpp:pie:0#scram' mechanism='SCRAM-SHA-1'><iter-count>4096</iter-count><salt>c2FsdA==</salt><server-key>AAAA</server-key><stored-key>AAAA</stored-key></scram-credentials></user></host>", /SCRAM-SHA-1 keys must be 20 bytes/],
    ['an include outside the directory', "<server-data xmlns='urn:xmpp:pie:0' xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='../etc/passwd'/></server-data>", /leaves the directory of the file that includes it/],
    ['an include by URL', "<server-data xmlns='urn:xmpp:pie:0' xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='https://example.com/a.xml'/></server-data>", /only relative file names are supported/],
    ['a comment (not in the XML subset read)', "<host xmlns='urn:xmpp:pie:0' jid='ej.test'><!-- x --></host>", /comments are not allowed/],
  ];
  for (const [name, text, expected] of cases) {
    test(name, async () => {
      const storage = await freshStorage();
      const error = await refusal(importPiefxis(storage, config, [file('bad.xml', text)]));
      assert.ok(error instanceof PiefxisFormatError || error instanceof ImportRefusedError, String(error));
      assert.match(error instanceof ImportRefusedError ? error.problems.join('\n') : error.message, expected);
      assert.deepEqual(await storage.accounts.list('ej.test'), []);
      await storage.close();
    });
  }

  test('a file including itself', async () => {
    const path = join(dir, `loop-${counter++}.xml`);
    writeFileSync(path, `<server-data xmlns='urn:xmpp:pie:0' xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='${path.split('/').at(-1)}'/></server-data>`);
    await assert.rejects(consume(readPiefxis([path])), /the root is <server-data[^]*not <host\/>|includes itself/);
  });

  test('an element over the size limit is refused before it is held, whatever the file size', async () => {
    const user = `<user name='big' password='x'><vCard xmlns='vcard-temp'><FN>${'x'.repeat(200_000)}</FN></vCard></user>`;
    const path = file('big.xml', `<host xmlns='urn:xmpp:pie:0' jid='ej.test'>${user}</host>`);
    await assert.rejects(consume(readPiefxis([path], { maxElementBytes: 100_000, maxTextBytes: 1 << 20 })), /a user \(or a host written inline\) larger than 100000 bytes; raise the limit with --max-element-bytes/);
    assert.equal((await consume(readPiefxis([path], { maxElementBytes: 300_000, maxTextBytes: 1 << 20 }))).length, 1);
  });

  test('streams a host file user by user: many users under a small element limit', async () => {
    const users = Array.from({ length: 2000 }, (_, index) => `<user name='u${index}' password='p${index}'/>`).join('\n');
    const path = file('many.xml', `<?xml version='1.0' encoding='UTF-8'?>\n<host xmlns='urn:xmpp:pie:0' jid='ej.test'>\n${users}\n</host>\n`);
    const read = await consume(readPiefxis([path], { maxElementBytes: 1024, maxTextBytes: 1024 }));
    assert.equal(read.length, 2000);
    assert.equal(read[1999]!.user.attrs.name, 'u1999');
  });
});

async function consume<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}
