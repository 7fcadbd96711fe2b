/**
 * Trellis federating with Trellis on loopback: messages and IQs both ways over TLS with
 * dialback on bidirectional connections (XEP-0288), the connection table, and bounces for a
 * domain that has no server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loginFederated, startFederatedServer, type FederatedServer } from './support/federation.ts';


describe('Trellis to Trellis federation', () => {
  let a: FederatedServer;
  let b: FederatedServer;
  before(async () => {
    a = await startFederatedServer('127.0.0.41', 's2s: { min_level: encrypted, retry_initial_delay: 1, connect_timeout: 2 }');
    b = await startFederatedServer('127.0.0.42', 's2s: { min_level: encrypted }');
    await a.addUser('alice', a.domain, 'secret');
    await b.addUser('bob', b.domain, 'secret');
  });
  after(async () => {
    await a.stop();
    await b.stop();
  });

  test('a message crosses in each direction over TLS with dialback', async () => {
    const alice = await loginFederated(a, 'alice');
    const bob = await loginFederated(b, 'bob');
    alice.send(`<message to='bob@${b.domain}/r' id='m1' type='chat'><body>hello bob</body></message>`);
    assert.match(await bob.waitFor('hello bob'), new RegExp(`from=["']alice@${a.domain}/r["']`));
    bob.send(`<message to='alice@${a.domain}/r' id='m2' type='chat'><body>hello alice</body></message>`);
    assert.match(await alice.waitFor('hello alice'), new RegExp(`from=["']bob@${b.domain}/r["']`));
    const rows = a.server.s2s.connections();
    const outgoing = rows.find((row) => row.direction === 'out' && row.remoteDomain === b.domain);
    assert.ok(outgoing, JSON.stringify(rows));
    assert.equal(outgoing.authentication, 'dialback');
    assert.equal(outgoing.level, 'encrypted');
    assert.match(outgoing.tls?.protocol ?? '', /TLSv1\.[23]/);
    // XEP-0288: each side's connection carries the reverse of the pair proven on it too. Dialback
    // still makes a second connection: each side calls the other back to check its key.
    assert.equal(outgoing.bidi, true);
    assert.deepEqual(outgoing.domains, [`${a.domain} -> ${b.domain}`, `${a.domain} <- ${b.domain}`]);
    const incoming = rows.find((row) => row.direction === 'in' && row.remoteDomain === b.domain);
    assert.equal(incoming?.authentication, 'dialback');
    alice.close();
    bob.close();
  });

  test('an IQ to the remote server comes back with its result', async () => {
    const alice = await loginFederated(a, 'alice');
    alice.send(`<iq type='get' id='ping1' to='${b.domain}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const received = await alice.waitFor(/id=["']ping1["']/);
    assert.match(received, /type=["']result["']/);
    assert.match(received, new RegExp(`from=["']${b.domain.replace(/\./g, '\\.')}["']`));
    alice.close();
  });

  test('a message to a domain with no server bounces to its sender, and retries wait for the backoff', async () => {
    const alice = await loginFederated(a, 'alice');
    const started = Date.now();
    alice.send("<message to='nobody@127.0.0.49' id='lost1'><body>anyone?</body></message>");
    const bounce = await alice.waitFor(/id=["']lost1["'][^>]*type=["']error["']|type=["']error["'][^>]*id=["']lost1["']/, 10_000);
    assert.match(bounce, /<remote-server-timeout xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']\/>/);
    assert.ok(Date.now() - started < 5000, 'the bounce comes within the connect timeout');
    alice.clear();
    alice.send("<message to='nobody@127.0.0.49' id='lost2'><body>again?</body></message>");
    assert.match(await alice.waitFor(/next attempt in \d+ s/), /remote-server-timeout/);
    alice.close();
  });
});
