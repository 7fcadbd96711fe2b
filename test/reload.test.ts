/**
 * Virtual hosts picked up on reload, without a restart: in-process through `server.reload()`,
 * and end to end through `trellis reload` (the admin API) and SIGHUP to a server started by `trellis start`.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeStoredCredentials } from '../src/auth/scram.ts';
import { loadConfig } from '../src/config/load.ts';
import { openStorage } from '../src/storage/open.ts';
import { startServer, type TrellisServer } from '../src/server.ts';
import { memoryLogger } from '../src/util/log.ts';
import { login } from './support/login.ts';
import { RawClient, streamHeader } from './support/raw-client.ts';
import { reloadableConfig } from './support/config-file.ts';
import type { TestServer } from './support/server.ts';

const TRELLIS = join(import.meta.dirname, '..', 'bin', 'trellis');

function configText(hosts: string): string {
  return reloadableConfig(`hosts:\n${hosts}`);
}

/** What login() needs of a server: its port and where its self-signed certificates are. */
function target(port: number, dataDir: string): TestServer {
  return { port, certificateFile: (domain: string) => join(dataDir, 'certs', `${domain}.crt`) } as TestServer;
}

async function expectStreamError(client: RawClient, condition: string): Promise<void> {
  await client.waitFor(new RegExp(`<${condition} xmlns=["']urn:ietf:params:xml:ns:xmpp-streams["']/>`));
  await client.waitClosed();
}

describe('reload in process', () => {
  let dir: string;
  let configFile: string;
  let server: TrellisServer;
  let lines: string[];
  let port: number;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trellis-reload-'));
    configFile = join(dir, 'trellis.yaml');
    await writeFile(configFile, configText('  localhost: {}\n  old.test: {}\n'));
    const memory = memoryLogger();
    lines = memory.lines;
    server = await startServer(await loadConfig(configFile), memory.logger);
    port = server.listening.c2s[0]!.port;
    for (const [user, domain] of [['alice', 'localhost'], ['olga', 'old.test'], ['nina', 'new.test']] as const) {
      await server.storage.accounts.create(domain, user, makeStoredCredentials('secret', 4096));
    }
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('a host added to the file serves logins after reload, with its certificate and modules', async () => {
    const refused = await RawClient.connect(port);
    refused.send(streamHeader('new.test'));
    await expectStreamError(refused, 'host-unknown');

    await writeFile(configFile, configText('  localhost: {}\n  old.test: {}\n  new.test: {}\n'));
    const outcome = await server.reload();
    assert.deepEqual(outcome, { ok: true, added: ['new.test'], removed: [], changed: [], needRestart: [], restartPending: [], certificates: { renewed: [], failed: [] }, components: { added: [], removed: [], secretChanged: [] }, links: { added: [], removed: [], changed: [] } });
    assert.deepEqual(server.config.hosts.map((host) => host.domain), ['localhost', 'old.test', 'new.test']);

    const { client, jid } = await login(target(port, join(dir, 'data')), { username: 'nina', password: 'secret', domain: 'new.test' });
    assert.match(jid, /^nina@new\.test\//);
    client.clear();
    client.send("<iq type='get' to='new.test' id='v1'><query xmlns='jabber:iq:version'/></iq>");
    assert.match(await client.waitFor('</iq>'), /<name>Trellis<\/name>/);
    client.close();
  });

  test('changed host settings take effect for sessions already open', async () => {
    const { client } = await login(target(port, join(dir, 'data')), { username: 'alice', password: 'secret' });
    await writeFile(configFile, configText('  localhost: { version: { hidden: true } }\n  old.test: {}\n  new.test: {}\n'));
    const outcome = await server.reload();
    assert.ok(outcome.ok && outcome.changed.join() === 'localhost', JSON.stringify(outcome));
    client.send("<iq type='get' to='localhost' id='v2'><query xmlns='jabber:iq:version'/></iq>");
    assert.match(await client.waitFor('</iq>'), /<service-unavailable xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/);
    client.close();
  });

  test('a configuration error is logged with its key and changes nothing', async () => {
    await writeFile(configFile, configText('  localhost: { roster: { max_items: lots } }\n'));
    const outcome = await server.reload();
    assert.equal(outcome.ok, false);
    assert.match(outcome.ok ? '' : outcome.error, /hosts\["localhost"\]\.roster\.max_items: expected an integer/);
    assert.ok(lines.some((line) => line.includes('configuration reload failed') && line.includes('max_items')));
    // Each host with its group-chat and publish-subscribe services (src/services).
    assert.deepEqual([...server.router.hosts.keys()].sort(), ['conference.localhost', 'conference.new.test', 'conference.old.test', 'localhost', 'new.test', 'old.test', 'pubsub.localhost', 'pubsub.new.test', 'pubsub.old.test', 'upload.localhost', 'upload.new.test', 'upload.old.test']);
    assert.equal(server.config.hosts.length, 3);
  });

  test("a host removed from the file ends its sessions with host-gone and refuses new streams", async () => {
    const { client } = await login(target(port, join(dir, 'data')), { username: 'olga', password: 'secret', domain: 'old.test' });
    const { client: other } = await login(target(port, join(dir, 'data')), { username: 'alice', password: 'secret' });
    await writeFile(configFile, configText('  localhost: { version: { hidden: true } }\n  new.test: {}\n'));
    const outcome = await server.reload();
    assert.ok(outcome.ok && outcome.removed.join() === 'old.test', JSON.stringify(outcome));
    await expectStreamError(client, 'host-gone');
    const refused = await RawClient.connect(port);
    refused.send(streamHeader('old.test'));
    await expectStreamError(refused, 'host-unknown');
    assert.ok(!other.socket.destroyed, 'sessions of other hosts stay');
    other.close();
  });

  test('a changed listener is reported as needing a restart', async () => {
    await writeFile(configFile, configText('  localhost: { version: { hidden: true } }\n  new.test: {}\n').replace('auth_failure_delay: 10', 'auth_failure_delay: 20'));
    const outcome = await server.reload();
    assert.deepEqual(outcome.ok && outcome.needRestart, ['c2s']);
    assert.deepEqual(outcome.ok && outcome.restartPending, [{ key: 'c2s.auth_failure_delay', running: 10, file: 20 }]);
  });

  test('security labels and peering groups are policy: a reload puts them in force, with no restart pending', async () => {
    const labels = 's2s:\n  peering_groups:\n    staff: { members: [alice@localhost] }\n  security_labels:\n    policy: p\n    policies:\n      p: { classifications: [low, high], default_label: low }\n    clearances:\n      "group:staff": { clearance: high }\n';
    await writeFile(configFile, configText('  localhost: { version: { hidden: true } }\n  new.test: {}\n') + labels);
    const outcome = await server.reload();
    assert.deepEqual(outcome.ok && outcome.needRestart, []);
    assert.deepEqual(server.router.policy.current.labels?.governing.name, 'p');
  });
});

describe('trellis reload and SIGHUP to a server started by trellis start', () => {
  let dir: string;
  let configFile: string;
  let child: ChildProcess | undefined;
  let output = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trellis-reload-cli-'));
    configFile = join(dir, 'trellis.yaml');
  });
  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((resolve) => child!.once('exit', resolve));
    }
    await rm(dir, { recursive: true, force: true });
  });

  async function waitForOutput(pattern: RegExp): Promise<RegExpExecArray> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const match = pattern.exec(output);
      if (match) return match;
      if (Date.now() > deadline) throw new Error(`no ${pattern} in the server output:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  test('no running server: a clear message', async () => {
    await writeFile(configFile, configText('  localhost: {}\n'));
    const run = await trellis(['reload', '--config', configFile]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /no running server found/);
  });

  test('a host added to the file serves logins after trellis reload; the pid file goes away on stop', async () => {
    await writeFile(configFile, configText('  localhost: {}\n'));
    child = spawn(TRELLIS, ['start', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const port = Number((await waitForOutput(/listening for clients \(STARTTLS\) address=127\.0\.0\.1:(\d+)/))[1]);
    await waitForOutput(/ready/);
    const pidFile = join(dir, 'data', 'trellis.pid');
    assert.ok(existsSync(pidFile));

    await writeFile(configFile, configText('  localhost: {}\n  added.test: {}\n'));
    await addUser(configFile, 'ada', 'added.test');
    const run = await trellis(['reload', '--config', configFile]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'configuration reloaded\n  hosts added: added.test\n');
    await waitForOutput(/configuration reloaded added=added\.test/);
    const { client, jid } = await login(target(port, join(dir, 'data')), { username: 'ada', password: 'secret', domain: 'added.test' });
    assert.match(jid, /^ada@added\.test\//);
    client.close();

    // SIGHUP does the same; the log tells the outcome.
    await writeFile(configFile, configText('  localhost: {}\n  added.test: {}\n  signalled.test: {}\n'));
    child.kill('SIGHUP');
    await waitForOutput(/configuration reloaded added=signalled\.test/);

    child.kill('SIGTERM');
    await new Promise((resolve) => child!.once('exit', resolve));
    assert.ok(!existsSync(pidFile), 'the pid file is removed on stop');
  });
});

function trellis(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(TRELLIS, args, { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Creates an account directly in the configured storage (the running server shares it). */
async function addUser(configFile: string, username: string, domain: string): Promise<void> {
  const config = await loadConfig(configFile);
  const storage = await openStorage(config.storage, config.data_dir);
  try {
    await storage.accounts.create(domain, username, makeStoredCredentials('secret', 4096));
  } finally {
    await storage.close();
  }
}
