/**
 * The `trellis` command as an operator runs it: account management against the configured
 * storage, configuration checks with errors that name the key, and helpful usage.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStorage } from '../src/storage/open.ts';
import { loadConfig } from '../src/config/load.ts';

const TRELLIS = join(import.meta.dirname, '..', 'bin', 'trellis');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function trellis(args: string[], options: { cwd?: string; input?: string } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(TRELLIS, args, { cwd: options.cwd, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
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

  test('account commands refuse a domain that is not hosted and a malformed JID', async () => {
    const foreign = await trellis(['adduser', 'dave@elsewhere.test', '--password', 'x', '--config', configFile]);
    assert.equal(foreign.code, 1);
    assert.match(foreign.stderr, /elsewhere.test is not a hosted domain \(hosts: example.test\)/);
    const malformed = await trellis(['adduser', 'a@b@c', '--password', 'x', '--config', configFile]);
    assert.equal(malformed.code, 1);
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

  test('start with a bad config exits with the error and starts nothing', async () => {
    const bad = join(dir, 'bad-start.yaml');
    await writeFile(bad, 'listeners: { c2s: { port: 70000 } }\nhosts:\n  example.test: {}\n');
    const run = await trellis(['start', '--config', bad]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /listeners\.c2s\.port: expected an integer between 0 and 65535, got 70000/);
  });
});
