/**
 * The `trellis` command as an operator runs it: account management against the configured
 * storage, configuration checks with errors that name the key, and helpful usage.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage } from '../src/storage/open.ts';
import { loadConfig } from '../src/config/load.ts';
import { createHash, X509Certificate } from 'node:crypto';
import { selfSigned, writeCertificateFiles } from './support/lab/ca.ts';

const TRELLIS = join(import.meta.dirname, '..', 'bin', 'trellis');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function trellis(args: string[], options: { cwd?: string; input?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(TRELLIS, args, { cwd: options.cwd, timeout: 30_000, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
}

interface Daemon {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** The first line of a pid file, or undefined while there is none (a server may be removing a stale one). */
function pidFileOwner(pidFile: string): string | undefined {
  try {
    return readFileSync(pidFile, 'utf8').split('\n')[0];
  } catch {
    return undefined;
  }
}

async function waitFor(what: string, done: () => boolean, shownOnTimeout: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what}:\n${shownOnTimeout()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * `trellis start` in the background, added to `started` at once so that the caller stops it
 * whatever fails; resolves once the server wrote its pid file and logged `expected`.
 */
async function startDaemon(configFile: string, pidFile: string, started: Daemon[], expected: RegExp): Promise<Daemon> {
  const child = spawn(TRELLIS, ['start', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const daemon = { child, output: () => output, exited };
  started.push(daemon);
  // bin/trellis execs node, so the server's pid is the child's. The log line may reach this
  // process after the pid file is written: wait for both.
  await waitFor(
    'no pid file and expected log line from trellis start',
    () => {
      if (child.exitCode !== null) throw new Error(`trellis start exited with ${child.exitCode}:\n${output}`);
      return pidFileOwner(pidFile) === String(child.pid) && expected.test(output);
    },
    () => output,
  );
  return daemon;
}

describe('trellis CLI', () => {
  let dir: string;
  let configFile: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trellis-cli-'));
    configFile = join(dir, 'trellis.yaml');
    await writeFile(configFile, 'c2s: { scram_iterations: 4096 }\nhosts:\n  example.test: {}\n');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('--help lists the commands', async () => {
    const run = await trellis(['--help']);
    assert.equal(run.code, 0);
    for (const command of ['start', 'adduser', 'passwd', 'deluser', 'check config']) assert.match(run.stdout, new RegExp(command));
  });

  test('no command is a usage error', async () => {
    const run = await trellis([]);
    assert.equal(run.code, 2);
  });

  test('an unknown command is a usage error, with or without --help; a known one with --help is not', async () => {
    for (const args of [['frobnicate'], ['frobnicate', '--help'], ['--help', 'frobnicate']]) {
      const run = await trellis(args);
      assert.equal(run.code, 2, `trellis ${args.join(' ')}`);
      assert.match(run.stderr, /unknown command "frobnicate"/);
    }
    for (const command of ['start', 'status', 's2s', 'posh', 'policy', 'users', 'sessions', 'import', 'export']) assert.equal((await trellis([command, '--help'])).code, 0, `trellis ${command} --help`);
  });

  test('import without a file and export without one directory are usage errors', async () => {
    const imported = await trellis(['import', '--config', configFile]);
    assert.equal(imported.code, 2);
    assert.match(imported.stderr, /import needs a file or directory/);
    const exported = await trellis(['export', 'a', 'b', '--config', configFile]);
    assert.equal(exported.code, 2);
    assert.match(exported.stderr, /export needs one directory to write into/);
    const missing = await trellis(['import', join(dir, 'no-such-export.xml'), '--config', configFile]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no-such-export\.xml: no such file or directory\nnothing was imported\n/);
  });

  test('adduser, passwd and deluser manage accounts, storing SCRAM verifiers only', async () => {
    const added = await trellis(['adduser', 'Carol@Example.test', '--password', 'first', '--config', configFile]);
    assert.deepEqual([added.code, added.stdout], [0, 'created carol@example.test\n']);
    const again = await trellis(['adduser', 'carol@example.test', '--password', 'x', '--config', configFile]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
    const changed = await trellis(['passwd', 'carol@example.test', '--config', configFile], { input: 'second\n' });
    assert.deepEqual([changed.code, changed.stdout], [0, 'password changed for carol@example.test\n']);

    const config = await loadConfig(configFile);
    const storage = await openStorage(config.storage, config.data_dir);
    try {
      const stored = JSON.stringify(await storage.accounts.get('example.test', 'carol'));
      assert.match(stored, /storedKey/);
      assert.doesNotMatch(stored, /second|first/, 'no plaintext password is stored');
    } finally {
      await storage.close();
    }

    const deleted = await trellis(['deluser', 'carol@example.test', '--config', configFile]);
    assert.deepEqual([deleted.code, deleted.stdout], [0, 'deleted carol@example.test\n']);
    const missing = await trellis(['deluser', 'carol@example.test', '--config', configFile]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no account carol@example.test/);
  });

  test('invite prints an invitation to register, for any username or one; a taken username, a bad --expires and a foreign domain are refused', async () => {
    const open = await trellis(['invite', 'example.test', '--config', configFile]);
    assert.equal(open.code, 0, open.stderr);
    assert.match(open.stdout, /^xmpp:example\.test\?register;preauth=[A-Za-z0-9_-]{32}\n$/);
    assert.match(open.stderr, /^good until \d{4}-\d\d-\d\dT[\d:.]+Z, for one registration\npage: https:\/\/example\.test:5443\/invite\/[A-Za-z0-9_-]{32}\n$/);
    assert.equal(/invite\/(\S+)\n$/.exec(open.stderr)![1], /preauth=(\S+)\n$/.exec(open.stdout)![1], 'the page is the same invitation');
    const named = await trellis(['invite', 'Erin@example.test', '--expires', '2', '--config', configFile]);
    assert.match(named.stdout, /^xmpp:erin@example\.test\?register;preauth=/);
    assert.match(named.stderr, /for one registration as erin@example\.test/);
    const expires = Date.parse(/good until (\S+),/.exec(named.stderr)![1]!);
    assert.ok(Math.abs(expires - (Date.now() + 2 * 86_400_000)) < 60_000);

    await trellis(['adduser', 'frank@example.test', '--password', 'x', '--config', configFile]);
    const taken = await trellis(['invite', 'frank@example.test', '--config', configFile]);
    assert.deepEqual([taken.code, taken.stderr], [1, 'trellis: frank@example.test already exists\n']);
    assert.equal((await trellis(['invite', 'example.test', '--expires', '0', '--config', configFile])).code, 1);
    assert.match((await trellis(['invite', 'elsewhere.test', '--config', configFile])).stderr, /elsewhere.test is not a hosted domain/);
    assert.equal((await trellis(['invite', '--config', configFile])).code, 2);
  });

  test('invites list shows the invitations still good and revoke withdraws one, by token, link or page', async () => {
    const before = (await trellis(['invites', 'list', '--config', configFile])).stdout.split('\n').filter(Boolean).length;
    const first = await trellis(['invite', 'grace@example.test', '--config', configFile]);
    const second = await trellis(['invite', 'example.test', '--expires', '3', '--config', configFile]);
    const third = await trellis(['invite', 'example.test', '--config', configFile]);
    const tokenOf = (run: { stdout: string }) => /preauth=(\S+)/.exec(run.stdout)![1]!;
    const listed = await trellis(['invites', 'list', 'example.test', '--config', configFile]);
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.split('\n').filter(Boolean);
    assert.equal(lines.length, before + 3);
    assert.ok(lines.includes(`${tokenOf(first)}\texample.test\tregister grace@example.test\t${/good until (\S+),/.exec(first.stderr)![1]}`), listed.stdout);
    assert.ok(lines.indexOf(lines.find((line) => line.startsWith(tokenOf(second)))!) < lines.indexOf(lines.find((line) => line.startsWith(tokenOf(first)))!), 'soonest to expire first');

    const byLink = await trellis(['invites', 'revoke', first.stdout.trim(), '--config', configFile]);
    assert.deepEqual([byLink.code, byLink.stdout], [0, `revoked the invitation ${tokenOf(first)} (example.test)\n`]);
    const page = /page: (\S+)/.exec(second.stderr)![1]!;
    assert.equal((await trellis(['invites', 'revoke', page, '--config', configFile])).code, 0);
    assert.equal((await trellis(['invites', 'revoke', tokenOf(third), '--config', configFile])).code, 0);
    const again = await trellis(['invites', 'revoke', tokenOf(third), '--config', configFile]);
    assert.deepEqual([again.code, again.stderr], [1, `trellis: no invitation ${tokenOf(third)}\n`]);
    assert.equal((await trellis(['invites', 'list', '--config', configFile])).stdout.split('\n').filter(Boolean).length, before);
    assert.equal((await trellis(['invites', '--config', configFile])).code, 2);
  });

  test('account commands refuse a domain that is not hosted and a malformed JID', async () => {
    const foreign = await trellis(['adduser', 'dave@elsewhere.test', '--password', 'x', '--config', configFile]);
    assert.equal(foreign.code, 1);
    assert.match(foreign.stderr, /elsewhere.test is not a hosted domain \(hosts: example.test\)/);
    const malformed = await trellis(['adduser', 'a@b@c', '--password', 'x', '--config', configFile]);
    assert.equal(malformed.code, 1);
  });

  test('posh prints the fingerprints document of a configured certificate, and refuses expires 0', async () => {
    const pair = await selfSigned('posh.test');
    const { certFile, keyFile } = writeCertificateFiles(dir, 'posh.test', pair);
    const config = join(dir, 'posh.yaml');
    await writeFile(config, `data_dir: ${join(dir, 'posh-data')}\nhosts:\n  posh.test: {tls: {certificate: ${certFile}, key: ${keyFile}}}\n  example.test: {}\n`);
    const run = await trellis(['posh', 'posh.test', '--expires', '3600', '--config', config]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /# publish at https:\/\/posh\.test\/\.well-known\/posh\/xmpp-server\.json/);
    const document = JSON.parse(run.stdout.split('\n').find((line) => line.startsWith('{'))!) as { fingerprints: { 'sha-256': string }[]; expires: number };
    const der = new X509Certificate(pair.certPem).raw;
    assert.deepEqual(document, { fingerprints: [{ 'sha-256': createHash('sha256').update(der).digest('base64'), 'sha-512': createHash('sha512').update(der).digest('base64') }], expires: 3600 });
    const noCertificate = await trellis(['posh', 'example.test', '--config', config]);
    assert.equal(noCertificate.code, 1);
    assert.match(noCertificate.stderr, /cannot read the certificate of example\.test .*start the server once/);
    const zero = await trellis(['posh', '--expires', '0', '--config', config]);
    assert.equal(zero.code, 1);
    assert.match(zero.stderr, /--expires must be a positive number of seconds/);
  });

  test('check config accepts a valid file and names the key of every problem', async () => {
    const ok = await trellis(['check', 'config', '--config', configFile]);
    assert.equal(ok.code, 0);
    assert.match(ok.stdout, /configuration is valid \(1 host: example.test\)/);
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'c2s:\n  requre_tls: false\n  limits: { max_stanza_bytes: big }\nhosts:\n  example.test: {}\n');
    const run = await trellis(['check', 'config', '--config', bad]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /c2s\.requre_tls: unknown key "requre_tls"; did you mean "require_tls"\?/);
    assert.match(run.stderr, /c2s\.limits\.max_stanza_bytes: expected an integer/);
  });

  test('a stale pid file does not block start; a running server does', async () => {
    const dataDir = join(dir, 'pid-data');
    const pidFile = join(dataDir, 'trellis.pid');
    const config = join(dir, 'pid.yaml');
    await writeFile(
      config,
      `data_dir: ${dataDir}\nhttp: { addresses: ["127.0.0.1"], port: 0 }\nlisteners:\n  c2s: { addresses: ["127.0.0.1"], port: 0 }\n  s2s: { addresses: ["127.0.0.1"], port: 0 }\nhosts:\n  example.test: {}\n`,
    );
    // The pid file names a live process that is not Trellis, as after a kill -9 and pid reuse.
    const sleeper = spawn('sleep', ['60'], { stdio: 'ignore' });
    await mkdir(dataDir, { recursive: true });
    await writeFile(pidFile, `${sleeper.pid}\nstart_time=1\n`);
    const daemons: Daemon[] = [];
    try {
      const first = await startDaemon(config, pidFile, daemons, /removing a stale pid file/);
      assert.equal(sleeper.exitCode, null, 'the process the stale file named is left alone');

      const second = await trellis(['start', '--config', config]);
      assert.equal(second.code, 1);
      assert.match(second.stderr, new RegExp(`a server already runs with data_dir .* \\(pid ${first.child.pid}\\)`));

      // kill -9 leaves the pid file behind, naming a pid no process has.
      first.child.kill('SIGKILL');
      await first.exited;
      assert.equal(pidFileOwner(pidFile), String(first.child.pid));
      const restarted = await startDaemon(config, pidFile, daemons, /removing a stale pid file.*no process has pid/);
      restarted.child.kill('SIGTERM');
      assert.equal(await restarted.exited, 0);
      assert.ok(!existsSync(pidFile), 'a clean shutdown removes the pid file');
    } finally {
      sleeper.kill();
      for (const daemon of daemons) {
        if (daemon.child.exitCode === null && daemon.child.signalCode === null) daemon.child.kill('SIGKILL');
        await daemon.exited;
      }
    }
  });

  test('start with a bad config exits with the error and starts nothing', async () => {
    const bad = join(dir, 'bad-start.yaml');
    await writeFile(bad, 'listeners: { c2s: { port: 70000 } }\nhosts:\n  example.test: {}\n');
    const run = await trellis(['start', '--config', bad]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /listeners\.c2s\.port: expected an integer between 0 and 65535, got 70000/);
  });
});
