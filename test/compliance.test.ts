/**
 * The XEP-0479 Advanced Server probe against a running server configured as docs/compliance.md
 * says (direct TLS on, one component): every requirement the document marks as met must pass,
 * every one it marks as not met must fail, so the document stays true and the test fails when
 * the server stops advertising something. `trellis compliance` is run too, as an operator would.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { probe } from '../src/cli/compliance-probe.ts';
import { parseConfig } from '../src/config/load.ts';
import { judge, type RequirementResult } from '../src/cli/compliance-suite.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const ROOT = join(import.meta.dirname, '..');
const TRELLIS = join(ROOT, 'bin', 'trellis');
/** The configuration docs/compliance.md describes, on ports the system picks. */
const SERVER_CONFIG = `
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  c2s_direct_tls: { enabled: true, addresses: ["127.0.0.1"], port: 0 }
  s2s: { addresses: ["127.0.0.1"], port: 0 }
  component: { addresses: ["127.0.0.1"], port: 0 }
components:
  gateway.localhost: { secret: "compliance" }
`;

/** The rows of docs/compliance.md's result table: "Category|Feature" to pass or not. */
async function documentedResults(): Promise<Map<string, boolean>> {
  const text = await readFile(join(ROOT, 'docs', 'compliance.md'), 'utf8');
  const rows = new Map<string, boolean>();
  for (const match of text.matchAll(/^\| (Core|IM|Mobile) \| ([^|]+) \| [^|]+ \| (pass|FAIL) \|/gm)) rows.set(`${match[1]}|${match[2]!.trim()}`, match[3] === 'pass');
  return rows;
}

describe('XEP-0479 Advanced Server compliance', () => {
  let server: TestServer;
  let results: RequirementResult[];
  before(async () => {
    server = await startTestServer(SERVER_CONFIG);
    await server.addUser('alice', 'localhost', 'secret');
    const listening = server.server.listening;
    const facts = await probe({
      jid: { local: 'alice', domain: 'localhost' },
      password: 'secret',
      c2s: { host: '127.0.0.1', port: server.port },
      directTls: { host: '127.0.0.1', port: listening.c2sDirectTls[0]!.port },
      component: { host: '127.0.0.1', port: listening.component[0]!.port },
      ca: await readFile(server.certificateFile('localhost'), 'utf8'),
    });
    results = judge(facts);
  });
  after(async () => {
    await server.stop();
  });

  test('every requirement is judged as docs/compliance.md says', async () => {
    const documented = await documentedResults();
    assert.equal(documented.size, results.length, 'docs/compliance.md has one row per requirement');
    for (const { requirement, ok, evidence } of results) {
      const key = `${requirement.category}|${requirement.feature}`;
      assert.equal(ok, documented.get(key), `${key}: the probe says ${ok ? 'pass' : 'FAIL'} (${evidence}), docs/compliance.md says otherwise`);
    }
  });

  test("the document's example configuration loads and turns on what the probe was given", async () => {
    const text = await readFile(join(ROOT, 'docs', 'compliance.md'), 'utf8');
    const example = /```yaml\n# example: compliance\n([\s\S]*?)```/.exec(text)![1]!;
    const config = parseConfig(example, { baseDir: server.dataDir });
    assert.equal(config.listeners.c2s_direct_tls.enabled, true);
    assert.deepEqual(config.components.map((component) => component.domain), ['gateway.example.com']);
    assert.equal(config.http.enabled, true);
  });

  test('the group chat, upload and PEP requirements are met with the default services', () => {
    for (const feature of ['Group chat', 'Advanced group chat', 'File upload', 'Event publishing', 'History storage / retrieval', 'Third party push notifications']) {
      const result = results.find((candidate) => candidate.requirement.feature === feature);
      assert.equal(result?.ok, true, `${feature}: ${result?.evidence}`);
    }
  });

  test('trellis compliance prints the table and exits 0 when every requirement is met', async () => {
    const run = await runCompliance(server);
    const expectedCode = results.every((result) => result.ok) ? 0 : 1;
    assert.equal(run.code, expectedCode, run.stderr);
    assert.match(run.stdout, /\| Mobile \| Client state indication \| XEP-0352 \| pass \|/);
    assert.match(run.stdout, /\| Core \| Direct TLS \| XEP-0368 \| pass \| direct TLS port: answered \|/);
    assert.match(run.stdout, /\| IM \| User avatar compatibility \| XEP-0398, XEP-0153 \| pass \| urn:xmpp:pep-vcard-conversion:0 in account disco#info \|/);
  });
});

describe('XEP-0479 compliance with vCard-temp turned off', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(`modules_disabled: [vcard]\n${SERVER_CONFIG}`);
    await server.addUser('alice', 'localhost', 'secret');
  });
  after(async () => {
    await server.stop();
  });

  test('the avatar conversion goes with the vCard: both rows fail and trellis compliance exits 1', async () => {
    const run = await runCompliance(server);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /\| IM \| User avatar compatibility \| XEP-0398, XEP-0153 \| FAIL \|/);
    assert.match(run.stdout, /\| IM \| vcard-temp \| XEP-0054 \| FAIL \|/);
    assert.match(run.stdout, /\| IM \| Core features \| RFC 6121 \| pass \|/);
  });
});

/** `trellis compliance` run as an operator would, against the test server's listeners. */
async function runCompliance(server: TestServer): Promise<{ code: number; stdout: string; stderr: string }> {
  const configFile = join(server.dataDir, 'compliance.yaml');
  const listening = server.server.listening;
  await writeFile(
    configFile,
    `data_dir: ${server.dataDir}
listeners:
  c2s: { addresses: ["127.0.0.1"], port: ${server.port} }
  c2s_direct_tls: { enabled: true, addresses: ["127.0.0.1"], port: ${listening.c2sDirectTls[0]!.port} }
  component: { addresses: ["127.0.0.1"], port: ${listening.component[0]!.port} }
components:
  gateway.localhost: { secret: "compliance" }
hosts:
  localhost: {}
`,
  );
  return new Promise((resolve) => {
    execFile(TRELLIS, ['compliance', 'alice@localhost', '--password', 'secret', '--config', configFile], { timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}
