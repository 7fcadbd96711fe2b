/**
 * Peering policy between Trellis servers on loopback: domain and address deny lists in both
 * directions, allow-list mode, and foreign access rules that refuse features to remote users
 * while local users keep them.
 *
 *   A 127.0.0.51  denies the domain 127.0.0.59 and the address 127.0.0.58 (outbound checks)
 *   B 127.0.0.52  foreign_access denies file-transfer, ping and subscriptions from other servers
 *   C 127.0.0.54  denies the domain 127.0.0.51 (A's streams are refused)
 *   D 127.0.0.55  denies loopback addresses, written as an IPv4-mapped range
 *   E 127.0.0.56  admits only 127.0.0.52 (allow-list mode)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loginFederated, startFederatedServer, type FederatedServer } from './support/federation.ts';
import { RawClient } from './support/raw-client.ts';


/** The first stanza carrying id `id`, waiting for it. */
async function stanzaWithId(client: RawClient, id: string, timeoutMs = 10_000): Promise<string> {
  const pattern = new RegExp(`<(message|presence|iq)\\b[^>]*\\bid=["']${id}["'][^>]*?(/>|>[\\s\\S]*?</\\1>)`);
  return pattern.exec(await client.waitFor(pattern, timeoutMs))![0];
}

const condition = (name: string) => new RegExp(`<${name} xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']/>`);
const escaped = (text: string) => text.replace(/[.*[\]()/]/g, '\\$&');

describe('peering policy between Trellis servers', () => {
  let a: FederatedServer;
  let b: FederatedServer;
  let c: FederatedServer;
  let d: FederatedServer;
  let e: FederatedServer;
  before(async () => {
    const quick = 'retry_initial_delay: 1, connect_timeout: 2';
    [a, b, c, d, e] = await Promise.all([
      startFederatedServer('127.0.0.51', `s2s: { ${quick}, access: { deny_domains: ["127.0.0.59"], deny_addresses: ["127.0.0.58"] } }\nlimits: { log_interval: 1 }`),
      startFederatedServer('127.0.0.52', `s2s: { ${quick} }\nforeign_access: { deny: [file-transfer, "urn:xmpp:ping", presence-subscription] }`),
      startFederatedServer('127.0.0.54', 's2s: { access: { deny_domains: ["127.0.0.51"] } }'),
      // Peers on loopback connect from 127.0.0.1; the listener sees IPv4, the rule is written mapped.
      startFederatedServer('127.0.0.55', 's2s: { access: { deny_addresses: ["::ffff:127.0.0.0/104"] } }'),
      startFederatedServer('127.0.0.56', `s2s: { ${quick}, access: { allow_domains: ["127.0.0.52"] } }`),
    ]);
    await Promise.all([
      a.addUser('alice', a.domain, 'secret'),
      b.addUser('bob', b.domain, 'secret'),
      b.addUser('bea', b.domain, 'secret'),
      e.addUser('erin', e.domain, 'secret'),
    ]);
  });
  after(async () => {
    await Promise.all([a, b, c, d, e].map((server) => server?.stop()));
  });

  test('a denied domain: stanzas to it bounce with not-allowed naming the rule, without connecting', async () => {
    const alice = await loginFederated(a, 'alice');
    alice.send("<message to='x@127.0.0.59' id='deny1' type='chat'><body>hello?</body></message>");
    const bounce = await stanzaWithId(alice, 'deny1');
    assert.match(bounce, /type=["']error["']/);
    assert.match(bounce, condition('not-allowed'));
    assert.match(bounce, /s2s\.access\.deny_domains\[0\] \(127\.0\.0\.59\) denies 127\.0\.0\.59/);
    await a.waitForLog('s2s outgoing stanza blocked by policy', '127.0.0.59');
    assert.ok(!a.server.s2s.connections().some((row) => row.remoteDomain === '127.0.0.59'));
    alice.close();
  });

  test('refusals by one rule toward one domain are logged once per limits.log_interval, the rest counted into the next line', async () => {
    const alice = await loginFederated(a, 'alice');
    const blocked = () => a.logLines.filter((line) => line.includes('s2s outgoing stanza blocked by policy') && line.includes('127.0.0.59'));
    const before = blocked().length;
    for (const id of ['burst1', 'burst2', 'burst3']) alice.send(`<message to='x@127.0.0.59' id='${id}' type='chat'><body>hello?</body></message>`);
    // Every one still bounces to its sender.
    for (const id of ['burst1', 'burst2', 'burst3']) assert.match(await stanzaWithId(alice, id), condition('not-allowed'));
    assert.ok(blocked().length <= before + 1, blocked().join('\n'));
    await new Promise((resolve) => setTimeout(resolve, 1100));
    alice.send("<message to='x@127.0.0.59' id='burst4' type='chat'><body>hello?</body></message>");
    assert.match(await stanzaWithId(alice, 'burst4'), condition('not-allowed'));
    const line = await a.waitForLog('s2s outgoing stanza blocked by policy', '127.0.0.59', 'not_logged_since_last');
    assert.match(line, /not_logged_since_last\W+[2-9]/);
    alice.close();
  });

  test('a denied address: the connection is not attempted and the stanza bounces', async () => {
    const alice = await loginFederated(a, 'alice');
    alice.send("<message to='x@127.0.0.58' id='deny2' type='chat'><body>hello?</body></message>");
    const bounce = await stanzaWithId(alice, 'deny2');
    assert.match(bounce, condition('remote-server-timeout'));
    assert.match(bounce, /s2s\.access\.deny_addresses\[0\] \(127\.0\.0\.58\) denies 127\.0\.0\.58/);
    alice.close();
  });

  test('a server denying our domain refuses the stream with policy-violation; the stanza bounces', async () => {
    const alice = await loginFederated(a, 'alice');
    alice.send(`<message to='carol@${c.domain}' id='deny3' type='chat'><body>hello carol</body></message>`);
    const line = await c.waitForLog('s2s incoming stream error', 'policy-violation');
    assert.match(line, /s2s\.access\.deny_domains\[0\] \(127\.0\.0\.51\) denies 127\.0\.0\.51/);
    const bounce = await stanzaWithId(alice, 'deny3');
    assert.match(bounce, /type=["']error["']/);
    assert.match(bounce, /policy-violation/);
    alice.close();
  });

  test('a server denying our address refuses the stream with policy-violation', async () => {
    const alice = await loginFederated(a, 'alice');
    alice.send(`<message to='dave@${d.domain}' id='deny4' type='chat'><body>hello dave</body></message>`);
    const line = await d.waitForLog('s2s incoming stream error', 'policy-violation');
    assert.match(line, new RegExp(escaped('s2s.access.deny_addresses[0] (::ffff:127.0.0.0/104) denies')));
    assert.match(await stanzaWithId(alice, 'deny4'), /type=["']error["']/);
    alice.close();
  });

  describe('foreign access rules on B', () => {
    test('a ping and a file transfer offer from another server get service-unavailable; chat still passes', async () => {
      const alice = await loginFederated(a, 'alice');
      const bob = await loginFederated(b, 'bob');
      alice.send(`<message to='bob@${b.domain}/r' id='chat1' type='chat'><body>hi bob</body></message>`);
      assert.match(await bob.waitFor('hi bob'), new RegExp(`from=["']alice@${escaped(a.domain)}/r["']`));

      alice.send(`<iq type='get' id='ping1' to='${b.domain}'><ping xmlns='urn:xmpp:ping'/></iq>`);
      const ping = await stanzaWithId(alice, 'ping1');
      assert.match(ping, /type=["']error["']/);
      assert.match(ping, condition('service-unavailable'));
      assert.match(ping, /not accepted from other servers here \(foreign_access\.deny\[1\] = "urn:xmpp:ping"\)/);

      alice.send(
        `<iq type='set' id='si1' to='bob@${b.domain}/r'><si xmlns='http://jabber.org/protocol/si' id='s1' profile='http://jabber.org/protocol/si/profile/file-transfer'>` +
          "<file xmlns='http://jabber.org/protocol/si/profile/file-transfer' name='plan.pdf' size='1024'/></si></iq>",
      );
      const offer = await stanzaWithId(alice, 'si1');
      assert.match(offer, condition('service-unavailable'));
      const line = await b.waitForLog('refused by foreign access rules', 'file-transfer');
      assert.match(line, new RegExp(`alice@${escaped(a.domain)}/r`));
      assert.doesNotMatch(bob.received, /plan\.pdf/);
      alice.close();
      bob.close();
    });

    test('a subscription request from another server is dropped without an error', async () => {
      const alice = await loginFederated(a, 'alice');
      alice.send(`<presence to='bob@${b.domain}' id='sub1' type='subscribe'/>`);
      await b.waitForLog('refused by foreign access rules', 'presence-subscription');
      // A stanza sent after it comes back first: nothing was bounced for the presence.
      alice.send(`<iq type='get' id='ping2' to='${b.domain}'><ping xmlns='urn:xmpp:ping'/></iq>`);
      await stanzaWithId(alice, 'ping2');
      assert.doesNotMatch(alice.received, /id=["']sub1["']/);
      alice.close();
    });

    test('local users still ping their server and offer files to each other', async () => {
      const bob = await loginFederated(b, 'bob');
      const bea = await loginFederated(b, 'bea');
      bob.send(`<iq type='get' id='ping3' to='${b.domain}'><ping xmlns='urn:xmpp:ping'/></iq>`);
      assert.match(await stanzaWithId(bob, 'ping3'), /type=["']result["']/);
      bea.send(
        `<iq type='set' id='si2' to='bob@${b.domain}/r'><si xmlns='http://jabber.org/protocol/si' id='s2' profile='http://jabber.org/protocol/si/profile/file-transfer'>` +
          "<file xmlns='http://jabber.org/protocol/si/profile/file-transfer' name='notes.txt' size='10'/></si></iq>",
      );
      assert.match(await bob.waitFor('notes.txt'), new RegExp(`from=["']bea@${escaped(b.domain)}/r["']`));
      bob.close();
      bea.close();
    });
  });

  describe('allow-list mode on E', () => {
    test('the listed domain federates both ways', async () => {
      const bob = await loginFederated(b, 'bob');
      const erin = await loginFederated(e, 'erin');
      bob.send(`<message to='erin@${e.domain}/r' id='al1' type='chat'><body>hi erin</body></message>`);
      assert.match(await erin.waitFor('hi erin'), new RegExp(`from=["']bob@${escaped(b.domain)}/r["']`));
      erin.send(`<message to='bob@${b.domain}/r' id='al2' type='chat'><body>hi bob from erin</body></message>`);
      await bob.waitFor('hi bob from erin');
      bob.close();
      erin.close();
    });

    test('another domain is refused inbound and outbound', async () => {
      const alice = await loginFederated(a, 'alice');
      const erin = await loginFederated(e, 'erin');
      erin.send(`<message to='alice@${a.domain}/r' id='al3' type='chat'><body>hi alice</body></message>`);
      const outbound = await stanzaWithId(erin, 'al3');
      assert.match(outbound, condition('not-allowed'));
      assert.match(outbound, /127\.0\.0\.51 is not in s2s\.access\.allow_domains/);
      alice.send(`<message to='erin@${e.domain}/r' id='al4' type='chat'><body>hi erin</body></message>`);
      const line = await e.waitForLog('s2s incoming stream error', 'policy-violation');
      assert.match(line, /127\.0\.0\.51 is not in s2s\.access\.allow_domains/);
      assert.match(await stanzaWithId(alice, 'al4'), /type=["']error["']/);
      assert.doesNotMatch(erin.received, /hi erin/);
      alice.close();
      erin.close();
    });
  });
});
