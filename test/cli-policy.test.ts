/** `trellis policy explain` as an operator runs it, on the example of docs/peering.md. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TRELLIS = join(import.meta.dirname, '..', 'bin', 'trellis');
const DOC = readFileSync(join(import.meta.dirname, '..', 'docs', 'peering.md'), 'utf8');

function trellis(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(TRELLIS, args, { timeout: 30_000 }, (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }));
  });
}

let dir: string;
let configFile: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trellis-policy-'));
  configFile = join(dir, 'trellis.yaml');
  await writeFile(configFile, `data_dir: ${join(dir, 'data')}\n${/```yaml\n# example: edge\n([\s\S]*?)```/.exec(DOC)![1]}`);
});
after(() => rm(dir, { recursive: true, force: true }));

test('policy explain prints each answer with the key of its rule', async () => {
  const run = await trellis(['policy', 'explain', '--from', 'alice@example.com', '--to', 'x@a.closed.example', '--config', configFile]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /^example\.com -> a\.closed\.example: outgoing/);
  assert.match(run.stdout, /route\s+reject \(not-allowed\)\s+s2s\.peering\["closed\.example"\]\.route \(reject\) refuses stanzas for a\.closed\.example\s+\[s2s\.peering\["closed\.example"\]\.route\]/);
});

test('policy explain without --to, or between two remote domains, is an error', async () => {
  assert.equal((await trellis(['policy', 'explain', '--from', 'example.com', '--config', configFile])).code, 2);
  const remote = await trellis(['policy', 'explain', '--from', 'a.example', '--to', 'b.example', '--config', configFile]);
  assert.equal(remote.code, 1);
  assert.match(remote.stdout, /neither a\.example nor b\.example is hosted here/);
});

test('policy explain --stanza judges the stanza in a file by the checks of the rule', async () => {
  const checksFile = join(dir, 'checks.yaml');
  await writeFile(checksFile, `data_dir: ${join(dir, 'data')}\n${/```yaml\n# example: checks\n([\s\S]*?)```/.exec(DOC)![1]}`);
  const stanzaFile = join(dir, 'offer.xml');
  await writeFile(stanzaFile, "<iq type='set' id='1'><open xmlns='http://jabber.org/protocol/ibb' sid='s' block-size='4096'/></iq>");
  const run = await trellis(['policy', 'explain', '--from', 'alice@example.com', '--to', 'bob@other.example', '--stanza', stanzaFile, '--config', checksFile]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /block\s+refuse\s+file transfer may not cross to or from other\.example/);
  assert.match(run.stdout, /refused; the sender gets policy-violation: /);
  // The checks a stanza passes are explained too, though a stanza on its way does not note them.
  await writeFile(stanzaFile, "<message type='chat'><body>hi</body></message>");
  const passing = await trellis(['policy', 'explain', '--from', 'alice@example.com', '--to', 'bob@other.example', '--stanza', stanzaFile, '--config', checksFile]);
  assert.equal(passing.code, 0, passing.stderr);
  assert.match(passing.stdout, /block\s+pass\s+none of file-transfer, encrypted found\s+\[s2s\.peering\["\*"\]\.block\]/);
  assert.match(passing.stdout, /max_message_bytes\s+pass\s+116 bytes, at most 10240/);
  assert.match(passing.stdout, /crosses as:/);
  await writeFile(stanzaFile, '<message><body>unclosed</message>');
  const broken = await trellis(['policy', 'explain', '--from', 'alice@example.com', '--to', 'bob@other.example', '--stanza', stanzaFile, '--config', checksFile]);
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /offer\.xml: /);
});
