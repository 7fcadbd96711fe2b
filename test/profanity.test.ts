/**
 * Profanity (Debian `profanity`), a terminal client, logs in through tmux as a person would: no
 * "Server error" in its window, message carbons enabled at login (XEP-0280), and its keepalive
 * (autoping: an XEP-0199 ping without `to`) answered, so it stays on. Profanity runs with a
 * home of its own and its debug log, which records what it sent and what it concluded. As the
 * server's administrator, it lists and runs the administration commands (XEP-0133) with its
 * /cmd and /form commands.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from './support/server.ts';

const ACCOUNT = 'alice@localhost';
const PASSWORD = 'correct horse';
/**
 * A tmux server of this test's own, its socket in the test's home directory: nothing else running
 * tmux is touched, and no /tmp/tmux-UID directory is left behind.
 */
const tmuxSocket = () => join(home, 'tmux.sock');

function tmux(...args: string[]): string {
  const result = spawnSync('tmux', ['-S', tmuxSocket(), ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`tmux ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/** Profanity's window as text. */
function pane(): string {
  return tmux('capture-pane', '-p', '-t', 'profanity', '-S', '-200');
}

async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; Profanity shows:\n${pane()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let server: TestServer;
let home: string;
const debugLog = () => {
  try {
    return readFileSync(join(home, 'data', 'profanity', 'logs', 'profanity.log'), 'utf8');
  } catch {
    return '';
  }
};

before(async () => {
  server = await startTestServer('admins: [alice@localhost]\n');
  await server.addUser('alice', 'localhost', PASSWORD);
  home = mkdtempSync(join(tmpdir(), 'trellis-profanity-'));
  mkdirSync(join(home, 'config', 'profanity'), { recursive: true });
  mkdirSync(join(home, 'data', 'profanity'), { recursive: true });
  // Profanity's account file (a GLib key file): the server's address and port, and TLS with the
  // test server's self-signed certificate trusted ("trust").
  writeFileSync(
    join(home, 'data', 'profanity', 'accounts'),
    `[${ACCOUNT}]\nenabled=true\njid=${ACCOUNT}\nserver=127.0.0.1\nport=${server.port}\nresource=profanity\npassword=${PASSWORD}\ntls.policy=trust\n`,
  );
  const env = `HOME=${home} XDG_CONFIG_HOME=${join(home, 'config')} XDG_DATA_HOME=${join(home, 'data')} TERM=xterm-256color`;
  tmux('new-session', '-d', '-s', 'profanity', '-x', '160', '-y', '50', `env ${env} profanity -l DEBUG -a ${ACCOUNT}`);
});

after(async () => {
  if (home) spawnSync('tmux', ['-S', tmuxSocket(), 'kill-server']);
  await server?.stop();
  if (home) rmSync(home, { recursive: true, force: true });
});

test('Profanity logs in without a server error, with carbons enabled and its keepalive answered', async () => {
  await until(() => pane().includes(`${ACCOUNT}/profanity logged in successfully`), 'the login');
  // XEP-0280: Profanity enables carbons at login; the server holds the choice on the session.
  await until(() => debugLog().includes('Message carbons enabled.'), 'carbons enabled');
  const session = [...server.server.c2s.sessions].find((candidate) => candidate.jid.toString() === `${ACCOUNT}/profanity`);
  assert.equal(session?.im.carbons, true);

  // Its keepalive every second: a ping without `to` (RFC 6120 section 10.3.3), answered each time.
  tmux('send-keys', '-t', 'profanity', '/autoping set 1', 'Enter');
  await until(() => [...debugLog().matchAll(/Autoping: Pong handler fired/g)].length >= 3, 'three answered keepalive pings');
  assert.match(debugLog(), /SENT: <iq id="[^"]+" type="get"><ping xmlns="urn:xmpp:ping"\/><\/iq>/);
  tmux('send-keys', '-t', 'profanity', '/ping', 'Enter');
  await until(() => /Ping response from [^ ]+: \d+ms/.test(pane()), 'the answer to /ping');

  const window = pane();
  assert.doesNotMatch(window, /Server error/);
  assert.doesNotMatch(window, /autoping disabled|not supported|timed out/i);
  // Nothing Profanity asked at login or since was refused.
  assert.doesNotMatch(debugLog(), /RECV: <iq [^>]*type="error"/);
});

test('Profanity lists the administration commands and runs them: a form filled in and submitted, a figure shown', async () => {
  const ADMIN = 'http://jabber.org/protocol/admin';
  tmux('send-keys', '-t', 'profanity', '/cmd list', 'Enter');
  await until(() => pane().includes(`${ADMIN}#get-registered-users-list`), 'the command list');

  // Add User (XEP-0133 section 4.1): a form whose fields Profanity names field1, field2, ...
  tmux('send-keys', '-t', 'profanity', `/cmd exec ${ADMIN}#add-user`, 'Enter');
  await until(() => pane().includes('Form title: Adding a User'), 'the form');
  for (const line of ['/field1 newbie@localhost', '/field2 n3wbie-pw', '/field3 n3wbie-pw', '/form submit']) tmux('send-keys', '-t', 'profanity', line, 'Enter');
  await until(() => pane().includes('newbie@localhost was added'), 'the completion note');
  assert.ok(await server.server.storage.accounts.get('localhost', 'newbie'));

  // Get Number of Online Users (section 4.15): one step, the figure in a result form.
  tmux('send-keys', '-t', 'profanity', `/cmd exec ${ADMIN}#get-online-users-num`, 'Enter');
  await until(() => pane().includes('The number of online users: 1'), 'the figure');
  assert.doesNotMatch(debugLog(), /RECV: <iq [^>]*type="error"/);
});
