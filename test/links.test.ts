/**
 * Zero-handshake links (XEP-0361, docs/links.md) between two Trellis servers in one process:
 *
 *   A hosts air.example and crew.example; its link "sat" connects out to B
 *   B hosts ground.example and base.example; its link "sat" listens on 127.0.22.2
 *
 * Messages travel both ways for both domain pairs over the one connection; a stanza outside
 * the link's domains is refused either way; a link whose peer never answers keeps messages
 * until its queue is full or they expire, and their senders are told which.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { adminRequest } from '../src/admin/client.ts';
import { loginFederated, type FederatedServer } from './support/federation.ts';
import type { RawClient } from './support/raw-client.ts';
import { startTestServer } from './support/server.ts';

async function startEdge(domains: string[], yaml: string): Promise<FederatedServer> {
  const server = await startTestServer(`
http: { addresses: ["127.0.0.1"], port: 0 }
listeners:
  c2s: { addresses: ["127.0.0.1"], port: 0 }
  s2s: { enabled: false }
hosts:
${domains.map((domain) => `  ${domain}: {}`).join('\n')}
${yaml}`);
  return Object.assign(server, { domain: domains[0]! });
}

async function loginAt(server: FederatedServer, domain: string, username: string): Promise<RawClient> {
  await server.addUser(username, domain, 'secret');
  const client = await loginFederated(Object.assign(Object.create(server) as FederatedServer, { domain }), username);
  client.send('<presence/>');
  return client;
}

const message = (id: string, to: string, body: string) => `<message id='${id}' to='${to}' type='chat'><body>${body}</body></message>`;
const errorOf = (id: string, condition: string) => new RegExp(`<message[^>]*id=["']${id}["'][^>]*type=["']error["'][\\s\\S]*?<${condition} xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']/>`);

describe('a zero-handshake link between two servers', () => {
  let a: FederatedServer;
  let b: FederatedServer;
  let clients: RawClient[] = [];
  before(async () => {
    b = await startEdge(
      ['ground.example', 'base.example'],
      `links:
  sat:
    connect: in
    address: "127.0.22.2:0"
    peer_addresses: ["127.0.0.0/8"]
    local_domains: [ground.example, base.example]
    remote_domains: [air.example, crew.example]
  probe:
    connect: in
    address: "127.0.22.3:0"
    peer_addresses: ["127.0.0.0/8"]
    local_domains: [ground.example]
    remote_domains: [probe.example]
s2s:
  enabled: false
  peering:
    air.example: { link: sat }
    crew.example: { link: sat }
    probe.example: { link: probe }
`,
    );
    const address = b.server.links.links.get('sat')!.listening!;
    a = await startEdge(
      ['air.example', 'crew.example'],
      `links:
  sat:
    connect: out
    address: "${address}"
    local_domains: [air.example, crew.example]
    remote_domains: [ground.example, base.example]
    reconnect_initial_delay: 1
  void:
    connect: out
    address: "127.0.22.4:9"
    local_domains: [air.example]
    remote_domains: [void.example]
    reconnect_initial_delay: 60
    queue_max_messages: 2
    expiry: 3
s2s:
  enabled: false
  peering:
    ground.example: { link: sat }
    base.example: { link: sat }
    "*.elsewhere.example": { link: sat }
    void.example: { link: void }
`,
    );
  });
  after(async () => {
    for (const client of clients) client.close();
    await Promise.all([a, b].map((server) => server?.stop()));
  });

  test('messages travel both ways for several domains over the one link', async () => {
    const [alice, carol, bob, dave] = await Promise.all([loginAt(a, 'air.example', 'alice'), loginAt(a, 'crew.example', 'carol'), loginAt(b, 'ground.example', 'bob'), loginAt(b, 'base.example', 'dave')]);
    clients.push(alice, carol, bob, dave);
    const link = a.server.links.links.get('sat')!;
    for (let i = 0; i < 100 && !link.up; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.ok(link.up, 'the link came up');
    alice.send(message('m1', 'bob@ground.example', 'ETA 1420'));
    carol.send(message('m2', 'dave@base.example', 'fuel 40%'));
    await bob.waitFor(/from=["']alice@air\.example\/r["'][\s\S]*ETA 1420/);
    await dave.waitFor(/from=["']carol@crew\.example\/r["'][\s\S]*fuel 40%/);
    bob.send(message('m3', 'alice@air.example/r', 'copy'));
    dave.send(message('m4', 'carol@crew.example', 'ack'));
    await alice.waitFor(/from=["']bob@ground\.example\/r["'][\s\S]*copy/);
    await carol.waitFor(/from=["']dave@base\.example\/r["'][\s\S]*ack/);
    assert.equal(b.server.links.links.get('sat')!.counters.received, a.server.links.links.get('sat')!.counters.sent);
  });

  test('a stanza for a domain outside the link is refused before it leaves', async () => {
    const alice = clients[0]!;
    alice.send(message('out1', 'someone@far.elsewhere.example', 'hello'));
    await alice.waitFor(errorOf('out1', 'not-allowed'));
    assert.equal(a.server.links.links.get('sat')!.counters.refusedOut, 1);
  });

  test('stanzas arriving with addresses outside the link are refused, counted and logged', async () => {
    const bob = clients[2]!;
    const probe = b.server.links.links.get('probe')!;
    const [host, port] = probe.listening!.split(':');
    const socket = connect({ host, port: Number(port) });
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString()));
    await new Promise((resolve) => socket.once('connect', resolve));
    // No stream header: the first bytes are stanzas (XEP-0361 section 4.1).
    socket.write(message('in1', 'bob@elsewhere.example', 'to a domain the link does not serve').replace('<message ', "<message from='p@probe.example' "));
    socket.write(message('in2', 'bob@ground.example', 'forged').replace('<message ', "<message from='mallory@evil.example' "));
    socket.write(message('in3', 'bob@ground.example', 'fine').replace('<message ', "<message from='p@probe.example' "));
    await bob.waitFor(/fine/);
    for (let i = 0; i < 40 && !/not-allowed/.test(received); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.match(received, /^<message [^>]*type="error"[^>]*>[\s\S]*<not-allowed xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"\/>/);
    assert.doesNotMatch(received, /<stream:stream/, 'no stream header is written');
    assert.doesNotMatch(bob.received, /forged/);
    assert.equal(probe.counters.refusedIn, 2);
    await b.waitForLog("stanza outside the link's domains refused", 'mallory@evil.example');
    // Recorded in the peering audit trail, as alerts naming the key that excludes them.
    const { body } = await adminRequest(b.server.adminSocket!, 'GET', '/v1/alerts');
    assert.match(body, /"rule": "links\[\\"probe\\"\]\.remote_domains"[\s\S]*"from": "mallory@evil\.example"/);
    assert.match(body, /"rule": "links\[\\"probe\\"\]\.local_domains"[\s\S]*"to": "bob@elsewhere\.example"/);
    socket.destroy();
  });

  test('presence is not queued while a link is down: the current presence goes out when it comes back', async () => {
    const bob = clients[2]!;
    const probe = b.server.links.links.get('probe')!;
    await b.server.storage.rosters.setItem('ground.example', 'bob', { jid: 'p@probe.example', subscription: 'from', askOut: false, askIn: false, approved: false, groups: [] });
    const [host, port] = probe.listening!.split(':');
    const connectPeer = async () => {
      const socket = connect({ host, port: Number(port) });
      const peer = { socket, received: '' };
      socket.on('data', (chunk) => (peer.received += chunk.toString()));
      await new Promise((resolve) => socket.once('connect', resolve));
      for (let i = 0; i < 100 && !/<presence/.test(peer.received); i++) await new Promise((resolve) => setTimeout(resolve, 20));
      return peer;
    };
    const first = await connectPeer();
    // XEP-0398 section 4: the server adds the avatar hash (an empty <photo/>: bob has no avatar).
    assert.match(first.received, /<presence from="bob@ground\.example\/r" to="p@probe\.example"><x xmlns="vcard-temp:x:update"><photo\/><\/x><\/presence>/);
    first.socket.destroy();
    for (let i = 0; i < 50 && probe.up; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    bob.send('<presence><show>away</show></presence>');
    for (let i = 0; i < 50 && probe.counters.presenceDropped === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(probe.counters.presenceDropped, 1);
    const second = await connectPeer();
    assert.match(second.received, /<presence from="bob@ground\.example\/r" to="p@probe\.example"><show>away<\/show><x xmlns="vcard-temp:x:update"><photo\/><\/x><\/presence>/);
    assert.equal(second.received.match(/<presence/g)?.length, 1, 'only the current presence');
    second.socket.destroy();
  });

  test('a link that is down keeps messages until its queue is full or they expire, and says which', async () => {
    const alice = clients[0]!;
    for (const id of ['q1', 'q2', 'q3']) alice.send(message(id, 'x@void.example', id));
    await alice.waitFor(errorOf('q3', 'remote-server-timeout'));
    assert.match(alice.received, /id=["']q3["'][\s\S]*?queue is full/);
    assert.doesNotMatch(alice.received, /id=["']q1["'][^>]*type=["']error/);
    await alice.waitFor(errorOf('q1', 'remote-server-timeout'), 10_000);
    await alice.waitFor(errorOf('q2', 'remote-server-timeout'), 10_000);
    assert.match(alice.received, /id=["']q1["'][\s\S]*?waited longer than the expiry of the link void/);
    assert.equal(await a.server.storage.linkQueues.count('void'), 0);
  });

  test('the admin API\'s metrics show each link\'s state and counters', async () => {
    const { body } = await adminRequest(a.server.adminSocket!, 'GET', '/metrics');
    assert.match(body, /^trellis_link_up\{link="sat"\} 1$/m);
    assert.match(body, /^trellis_link_up\{link="void"\} 0$/m);
    assert.match(body, /^trellis_link_refused_total\{link="sat",direction="out"\} 1$/m);
    assert.match(body, /^trellis_link_bounced_total\{link="void",reason="queue-full"\} 1$/m);
    assert.match(body, /^trellis_link_bounced_total\{link="void",reason="expired"\} 2$/m);
    assert.match(body, /^trellis_link_queued_total\{link="void"\} 2$/m);
    const received = /^trellis_link_stanzas_total\{link="sat",direction="in"\} (\d+)$/m.exec(body)?.[1];
    assert.ok(Number(received) >= 2, body);
  });
});
