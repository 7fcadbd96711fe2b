/**
 * OMEMO between two Profanity users (Debian `profanity`, built with OMEMO: the legacy
 * eu.siacs.conversations.axolotl namespace), each in tmux as a person would run it: keys
 * generated, device lists and bundles published in personal eventing (XEP-0163) with the
 * publish options OMEMO sets (XEP-0060 section 7.1.5), a mutual subscription, and one encrypted
 * message that the other reads decrypted while the server carried only ciphertext.
 *
 * Two server behaviours make this work with Profanity 0.13, both as ejabberd has them: the
 * server's disco#info names personal eventing's pubsub features (it looks for publish-options
 * only there), and stanza errors carry their legacy code (it publishes its first device list only
 * after a 404).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from './support/server.ts';

const USERS = ['alice', 'bob'] as const;
type User = (typeof USERS)[number];
const PLAINTEXT = 'meet me at the north gate';
const DEVICE_LIST = 'eu.siacs.conversations.axolotl.devicelist';

let server: TestServer;
let home: string;

/** A tmux server of this test's own, its socket in the test's home directory. */
function tmux(...args: string[]): string {
  const result = spawnSync('tmux', ['-S', join(home, 'tmux.sock'), ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`tmux ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/** The user's Profanity window as text. */
const pane = (user: User): string => tmux('capture-pane', '-p', '-t', user, '-S', '-300');
const type = (user: User, line: string): void => void tmux('send-keys', '-t', user, line, 'Enter');

/** Profanity's debug log, which records what it sent and received and what it concluded. */
function debugLog(user: User): string {
  try {
    return readFileSync(join(home, user, 'data', 'profanity', 'logs', 'profanity.log'), 'utf8');
  } catch {
    return '';
  }
}

/** Whether `user`'s Profanity received a subscription request from `contact` (RFC 6121 section 3.1.3). */
function subscribeFrom(user: User, contact: User): boolean {
  return new RegExp(`RECV: <presence [^>]*(type="subscribe"[^>]*from="${contact}@localhost|from="${contact}@localhost"[^>]*type="subscribe")`).test(debugLog(user));
}

/** Whether the IQ `user` sent that `request` matches (its id the first group) was answered with a result. */
function answered(user: User, request: RegExp): boolean {
  const log = debugLog(user);
  const id = new RegExp(`SENT: ${request.source}`).exec(log)?.[1];
  return id !== undefined && new RegExp(`RECV: <iq id="${id}" type="result"`).test(log);
}

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; alice's window:\n${pane('alice')}\nbob's window:\n${pane('bob')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The configuration of one of `user`'s personal eventing nodes, as the server stored it. */
async function accessModel(user: User, node: string): Promise<string | undefined> {
  const stored = await server.server.storage.pubsub.node(`${user}@localhost`, node);
  return stored ? (JSON.parse(stored.state) as { config: { access_model: string } }).config.access_model : undefined;
}

before(async () => {
  server = await startTestServer();
  home = mkdtempSync(join(tmpdir(), 'trellis-profanity-omemo-'));
  for (const user of USERS) {
    await server.addUser(user, 'localhost', `pw-${user}`);
    mkdirSync(join(home, user, 'config', 'profanity'), { recursive: true });
    mkdirSync(join(home, user, 'data', 'profanity'), { recursive: true });
    // The account file (a GLib key file): the server's address and port, TLS with its self-signed certificate trusted.
    writeFileSync(
      join(home, user, 'data', 'profanity', 'accounts'),
      `[${user}@localhost]\nenabled=true\njid=${user}@localhost\nserver=127.0.0.1\nport=${server.port}\nresource=profanity\npassword=pw-${user}\ntls.policy=trust\n`,
    );
    const dirs = `HOME=${join(home, user)} XDG_CONFIG_HOME=${join(home, user, 'config')} XDG_DATA_HOME=${join(home, user, 'data')}`;
    tmux('new-session', '-d', '-s', user, '-x', '200', '-y', '50', `env ${dirs} TERM=xterm-256color profanity -l DEBUG -a ${user}@localhost`);
  }
});

after(async () => {
  if (home) spawnSync('tmux', ['-S', join(home, 'tmux.sock'), 'kill-server']);
  await server?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

test('two Profanity users exchange an OMEMO message: keys published open to contacts, the text crosses encrypted', async () => {
  for (const user of USERS) {
    await until(() => pane(user).includes(`${user}@localhost/profanity logged in successfully`), `${user}'s login`);
    // As a person would, after Profanity has read the server's features: it makes its keys on its
    // one thread and publishes them at once, before reading what arrived meanwhile, so a bundle
    // made within its first milliseconds goes without publish options whatever the server says.
    await until(() => /connection_features_received localhost$/m.test(debugLog(user)), `${user}'s view of the server's features`);
  }

  for (const user of USERS) {
    type(user, '/omemo gen');
    // XEP-0384 (legacy): the bundle, then the device list, which did not exist yet (a 404 says so).
    await until(() => debugLog(user).includes('[OMEMO] bundle published successfully'), `${user}'s bundle`);
    await until(() => debugLog(user).includes('[OMEMO] No device ID for our device. Publishing device list'), `${user}'s device list`);
    type(user, '/omemo trustmode blind');
  }
  for (const user of USERS) {
    await until(() => /Setting device list for [a-z]+@localhost/.test(debugLog(user)), `${user}'s own device list read back`);
    assert.equal(await accessModel(user, DEVICE_LIST), 'open', `${user}'s device list is open, as OMEMO's publish options ask`);
    assert.doesNotMatch(debugLog(user), /precondition-not-met/, 'no publish was refused for its options');
  }

  // A mutual subscription, as contacts have.
  type('alice', '/roster add bob@localhost');
  type('alice', '/sub request bob@localhost');
  await until(() => subscribeFrom('bob', 'alice'), "alice's request at bob's");
  type('bob', '/sub allow alice@localhost');
  type('bob', '/roster add alice@localhost');
  type('bob', '/sub request alice@localhost');
  await until(() => subscribeFrom('alice', 'bob'), "bob's request at alice's");
  type('alice', '/sub allow bob@localhost');

  // alice learns bob's devices through personal eventing, then encrypts for them.
  await until(() => debugLog('alice').includes('Setting device list for bob@localhost'), "bob's device list at alice's");
  type('alice', '/omemo start bob@localhost');
  await until(() => pane('alice').includes('[OMEMO]'), 'the OMEMO session in alice\'s window');
  // The session with bob's device is built from his bundle, which alice asks for now: a message
  // typed before the bundle's answer has no recipient it can be encrypted for.
  await until(() => /create session with bob@localhost device \d+|session with bob@localhost device \d+ exists/.test(debugLog('alice')), "alice's session with bob's device");
  type('alice', PLAINTEXT);

  type('bob', '/msg alice@localhost');
  await until(() => pane('bob').includes(`alice@localhost/profanity: ${PLAINTEXT}`), 'the decrypted message in bob\'s window');
  const received = debugLog('bob')
    .split('\n')
    .filter((line) => line.includes('RECV: <message') && line.includes('eu.siacs.conversations.axolotl'));
  assert.ok(received.length > 0, 'bob received an OMEMO-encrypted message');
  for (const line of received) assert.ok(!line.includes(PLAINTEXT), 'what the server carried held no plaintext');
  assert.doesNotMatch(pane('alice'), /cannot be decrypted|Can't find a OMEMO device/);
});

test('in a members-only room that shows real JIDs, an OMEMO message reaches the other member decrypted', async () => {
  const room = 'plans@conference.localhost';
  const secret = 'the key is under the third stone';
  type('alice', `/join ${room} nick alice`);
  await until(() => pane('alice').includes('Room locked, requires configuration.'), 'the new room');
  // The room's configuration form (src/muc/room-config.ts): field5 is members-only, field9 who may see real JIDs.
  type('alice', '/room config');
  await until(() => pane('alice').includes('[field9] Who may see real JIDs'), 'the configuration form');
  type('alice', '/field5 on');
  type('alice', '/field9 anyone');
  type('alice', '/form submit');
  await until(() => pane('alice').includes('Room configuration successful'), 'the configuration saved');
  type('alice', '/affiliation set member bob@localhost');
  await until(() => answered('alice', /<iq id="([^"]+)"[^>]*type="set"><query xmlns="http:\/\/jabber.org\/protocol\/muc#admin"><item [^>]*affiliation="member"/), 'bob made a member');
  type('bob', `/join ${room} nick bob`);
  await until(() => pane('bob').includes('You have joined the room as bob'), 'bob in the room');
  // XEP-0384 needs the room non-anonymous and members-only; Profanity reads that from the room's
  // features, again after the configuration's status codes 104 and 172 (XEP-0045 section 10.2.1).
  type('alice', '/omemo start');
  await until(() => /plans +\[OMEMO\]/.test(pane('alice')), 'OMEMO on in the room');
  type('alice', secret);
  await until(() => pane('bob').includes(`alice: ${secret}`), "the decrypted message in bob's window");
  const received = debugLog('bob')
    .split('\n')
    .filter((line) => line.includes('RECV: <message') && line.includes('type="groupchat"') && line.includes('eu.siacs.conversations.axolotl'));
  assert.ok(received.length > 0, 'bob received an OMEMO-encrypted group message');
  for (const line of received) assert.ok(!line.includes(secret), 'what the room carried held no plaintext');
  assert.doesNotMatch(pane('alice'), /must be non-anonymous/);
});
