/**
 * Checks and actions of peering rules (docs/peering.md) between two Trellis servers on
 * loopback, applied on both sides of the hop:
 *
 *   A 127.0.21.11  hosts 127.0.21.11; partner.example is reached at 127.0.21.12:5269; its rule
 *                  strips XHTML-IM and chat states, limits messages to 600 bytes, and lets
 *                  only the group "staff" (alice) send there
 *   B 127.0.21.12  hosts partner.example; every other domain's rule blocks file transfer, folds
 *                  presence to away, and requires TLS
 *
 * What passes arrives with the right content; what a rule refuses bounces to its sender with
 * the error and a text naming the rule, on whichever side refused it. A's refusals are audited
 * (storage, trellis audit) and raise alerts: the admin API's list, the Prometheus counter, and a
 * webhook served by this test.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { adminJson, adminRequest } from '../src/admin/client.ts';
import { loginFederated, startServerAt, type FederatedServer } from './support/federation.ts';
import type { RawClient } from './support/raw-client.ts';

const condition = (name: string) => new RegExp(`<${name} xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']/>`);
const reply = (id: string) => new RegExp(`<(message|iq)[^>]*id=["']${id}["'][\\s\\S]*?</\\1>`);

/** The first stanza received that `pattern` matches, once it has arrived. */
async function stanzaMatching(client: RawClient, pattern: RegExp): Promise<string> {
  return pattern.exec(await client.waitFor(pattern, 10_000))![0];
}

describe('peering checks and actions between Trellis servers', () => {
  let a: FederatedServer;
  let b: FederatedServer;
  let webhook: Server;
  const posted: unknown[] = [];
  before(async () => {
    webhook = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        posted.push({ path: request.url, type: request.headers['content-type'], alert: JSON.parse(body) });
        response.end();
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    const webhookPort = (webhook.address() as { port: number }).port;
    [a, b] = await Promise.all([
      startServerAt(
        '127.0.21.11',
        '127.0.21.11',
        `s2s:
  retry_initial_delay: 1
  connect_timeout: 2
  peering_groups:
    staff: { members: [alice@127.0.21.11] }
  peering_audit: { write_interval: 1, record_actions: true, webhook: "http://127.0.0.1:${webhookPort}/alerts" }
  peering:
    partner.example:
      via: "127.0.21.12:5269"
      strip_elements: ["http://jabber.org/protocol/xhtml-im"]
      drop_chat_states: true
      max_message_bytes: 600
      senders: ["group:staff"]
`,
      ),
      startServerAt(
        '127.0.21.12',
        'partner.example',
        `s2s:
  peering:
    "*": { require_tls: true, block: [file-transfer], fold_presence: away }
`,
      ),
    ]);
    await Promise.all([a.addUser('alice', a.domain, 'secret'), a.addUser('mallory', a.domain, 'secret'), b.addUser('bob', b.domain, 'secret')]);
  });
  after(async () => {
    await Promise.all([a, b].map((server) => server?.stop()));
    await new Promise((resolve) => webhook?.close(resolve));
  });

  test('a message is folded on the way out: the body arrives without XHTML-IM or chat states', async () => {
    const alice = await loginFederated(a, 'alice');
    const bob = await loginFederated(b, 'bob');
    alice.send(
      "<message to='bob@partner.example/r' id='folded' type='chat'><body>plain words</body><html xmlns='http://jabber.org/protocol/xhtml-im'><body xmlns='http://www.w3.org/1999/xhtml'><b>rich</b></body></html><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
    );
    const arrived = await stanzaMatching(bob, reply('folded'));
    assert.match(arrived, /<body>plain words<\/body>/);
    assert.doesNotMatch(arrived, /xhtml-im|chatstates|rich/);
    // A message that is only a chat state has nothing left: dropped, without an error.
    alice.send("<message to='bob@partner.example/r' id='typing' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>");
    alice.send("<message to='bob@partner.example/r' id='after' type='chat'><body>after typing</body></message>");
    await bob.waitFor('after typing', 10_000);
    assert.doesNotMatch(bob.received, /id=["']typing["']/);
    assert.doesNotMatch(alice.received, /id=["']typing["'][^>]*type=["']error/);
    alice.close();
    bob.close();
  });

  test('a message over the size limit bounces with policy-violation naming the rule', async () => {
    const alice = await loginFederated(a, 'alice');
    alice.send(`<message to='bob@partner.example/r' id='big' type='chat'><body>${'x'.repeat(700)}</body></message>`);
    const bounce = await stanzaMatching(alice, reply('big'));
    assert.match(bounce, /type=["']error["']/);
    assert.match(bounce, condition('policy-violation'));
    assert.match(bounce, /where at most 600 cross to or from partner\.example \(s2s\.peering\[(?:"|&quot;)partner\.example(?:"|&quot;)\]\.max_message_bytes\)/);
    alice.close();
  });

  test('a sender outside the group is refused with forbidden', async () => {
    const mallory = await loginFederated(a, 'mallory');
    mallory.send("<message to='bob@partner.example/r' id='outsider' type='chat'><body>let me in</body></message>");
    const bounce = await stanzaMatching(mallory, reply('outsider'));
    assert.match(bounce, condition('forbidden'));
    assert.match(bounce, /is not among senders for partner\.example/);
    mallory.close();
  });

  test('the far side blocks file transfer coming in, and its error crosses back to the sender', async () => {
    const alice = await loginFederated(a, 'alice');
    const bob = await loginFederated(b, 'bob');
    alice.send(
      "<iq to='bob@partner.example/r' id='offer' type='set'><si xmlns='http://jabber.org/protocol/si' id='s1' profile='http://jabber.org/protocol/si/profile/file-transfer'><file xmlns='http://jabber.org/protocol/si/profile/file-transfer' name='a.txt' size='3'/></si></iq>",
    );
    const bounce = await stanzaMatching(alice, reply('offer'));
    assert.match(bounce, /type=["']error["']/);
    assert.match(bounce, condition('policy-violation'));
    assert.match(bounce, /file transfer may not cross to or from 127\.0\.21\.11/);
    assert.doesNotMatch(bob.received, /id=["']offer["']/);
    alice.close();
    bob.close();
  });

  test('the far side folds presence coming in: xa becomes away, status and caps are gone', async () => {
    const alice = await loginFederated(a, 'alice');
    const bob = await loginFederated(b, 'bob');
    // Directed presence (RFC 6121 section 4.6) goes to one full JID without a subscription.
    alice.send(
      "<presence to='bob@partner.example/r' id='folded-presence'><show>xa</show><status>at the dentist</status><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>",
    );
    const arrived = await stanzaMatching(bob, /<presence[^>]*id=["']folded-presence["'][\s\S]*?<\/presence>/);
    assert.match(arrived, /<show>away<\/show>/);
    assert.doesNotMatch(arrived, /dentist|caps/);
    alice.close();
    bob.close();
  });

  test('refusals are audited and raise alerts: trellis audit, the admin API, the counter, the webhook', async () => {
    const mallory = await loginFederated(a, 'mallory');
    mallory.send("<message to='bob@partner.example/r' id='audited' type='chat'><body>audit me</body></message>");
    await stanzaMatching(mallory, reply('audited'));
    mallory.close();
    const senders = 's2s.peering["partner.example"].senders';
    const socket = a.server.adminSocket!;
    // The alert is raised at once, and the webhook called.
    const { alerts } = await adminJson<{ alerts: { rule: string; from: string; verdict: string; sequence: number }[] }>(socket, 'GET', '/v1/alerts');
    assert.ok(alerts.some((alert) => alert.rule === senders && alert.from === 'mallory@127.0.21.11/r' && alert.verdict === 'refuse'), JSON.stringify(alerts));
    const deadline = Date.now() + 5000;
    while (!posted.some((entry) => JSON.stringify(entry).includes('mallory@127.0.21.11/r')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    const call = posted.find((entry) => JSON.stringify(entry).includes('mallory@127.0.21.11/r')) as { path: string; type: string; alert: { rule: string; to: string; kind: string } } | undefined;
    assert.ok(call, `the webhook was not called: ${JSON.stringify(posted)}`);
    assert.equal(call.path, '/alerts');
    assert.equal(call.type, 'application/json');
    assert.deepEqual([call.alert.rule, call.alert.to, call.alert.kind], [senders, 'bob@partner.example/r', 'message']);
    const metrics = (await adminRequest(socket, 'GET', '/metrics')).body;
    assert.match(metrics, /trellis_policy_violations_total\{rule="s2s\.peering\[\\"partner\.example\\"\]\.senders"\} [1-9]/);
    // Records are written within write_interval; trellis audit reads them through the admin API.
    const configFile = join(a.dataDir, 'cli.yaml');
    await writeFile(configFile, `data_dir: ${a.dataDir}\nadmin: { socket: ${JSON.stringify(socket)} }\nhosts: { 127.0.21.11: {} }\n`);
    let listed = '';
    for (const until = Date.now() + 5000; Date.now() < until && !listed.includes('mallory'); await new Promise((resolve) => setTimeout(resolve, 200))) {
      listed = await trellisCli(['audit', '--rule', senders, '--config', configFile]);
    }
    assert.match(listed, /^TIME\s+VERDICT\s+DIR\s+KIND\s+FROM\s+TO\s+RULE\s+LABEL/);
    assert.match(listed, /refuse\s+out\s+message\s+mallory@127\.0\.21\.11\/r\s+bob@partner\.example\/r\s+s2s\.peering\["partner\.example"\]\.senders/);
    // With record_actions, folding is in the trail too (the first test's message).
    const folded = JSON.parse(await trellisCli(['audit', '--verdict', 'transform', '--json', '--config', configFile])) as { rule: string }[];
    assert.ok(folded.some((record) => record.rule.includes('strip_elements')), JSON.stringify(folded));
  });
});

function trellisCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(join(import.meta.dirname, '..', 'bin', 'trellis'), args, { timeout: 30_000 }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)));
  });
}
