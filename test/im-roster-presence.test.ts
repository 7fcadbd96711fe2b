/**
 * Rosters and presence over raw client streams (RFC 6121 sections 2, 3 and 4): roster get, set,
 * remove, versioning and pushes; subscription handshakes on one domain and across two domains
 * of the server; presence broadcast, probes, directed presence, pre-approval, and requests
 * that wait for an offline user.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { RawClient } from './support/raw-client.ts';
import { login } from './support/login.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const CONFIG = `
hosts:
  localhost: {}
  example.test: {}
  small.test:
    roster: { max_items: 2 }
`;

const USERS: [string, string][] = [
  ['alice', 'localhost'],
  ['bob', 'localhost'],
  ['carol', 'localhost'],
  ['frank', 'localhost'],
  ['grace', 'localhost'],
  ['henry', 'localhost'],
  ['ivan', 'localhost'],
  ['judy', 'localhost'],
  ['dave', 'example.test'],
  ['erin', 'small.test'],
];

let nextId = 0;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A start tag with these attributes in any order (the serializer's quotes either way); an
 * attribute given as null must be absent.
 */
function tag(name: string, attrs: Record<string, string | null> = {}): RegExp {
  let pattern = `<${name}`;
  for (const [key, value] of Object.entries(attrs)) {
    pattern += value === null ? `(?![^>]*\\s${key}=)` : `(?=[^>]*\\s${key}=["']${escapeRegExp(value)}["'])`;
  }
  return new RegExp(pattern + '[^>]*>');
}

/** The parts in this order, anything between them. */
function re(...parts: (RegExp | string)[]): RegExp {
  return new RegExp(parts.map((part) => (typeof part === 'string' ? part : part.source)).join('[\\s\\S]*?'));
}

/** A roster push carrying one item with these attributes. */
function push(item: Record<string, string | null>): RegExp {
  return re(tag('iq', { type: 'set' }), tag('query', { xmlns: 'jabber:iq:roster' }), tag('item', item));
}

/** Sends an IQ (the `ID` placeholder becomes a fresh id) and resolves with the reply. */
async function iq(client: RawClient, xml: string): Promise<string> {
  const id = `q${++nextId}`;
  client.send(xml.replace('ID', id));
  const reply = new RegExp(`<iq[^>]*id=["']${id}["'][^>]*?(/>|>[\\s\\S]*?</iq>)`);
  return reply.exec(await client.waitFor(reply))![0];
}

/** Waits until everything the server sends this client because of earlier stanzas has arrived. */
async function flush(client: RawClient): Promise<void> {
  await iq(client, "<iq type='get' id='ID' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>");
}

function assertError(reply: string, condition: string, text?: RegExp): void {
  assert.match(reply, /type=["']error["']/, reply);
  assert.match(reply, new RegExp(`<${condition} xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']/>`), reply);
  if (text) assert.match(reply, text, reply);
}

describe('rosters and presence', () => {
  let server: TestServer;
  const open: RawClient[] = [];

  before(async () => {
    server = await startTestServer(CONFIG);
    for (const [username, domain] of USERS) await server.addUser(username, domain, 'secret');
  });
  after(async () => {
    for (const client of open) client.close();
    await server.stop();
  });

  /** Logs in; `interested` asks for the roster, `available` sends initial presence. */
  async function connect(username: string, options: { domain?: string; resource?: string; interested?: boolean; available?: boolean } = {}): Promise<RawClient> {
    const { client } = await login(server, { username, password: 'secret', domain: options.domain, resource: options.resource ?? 'r1' });
    open.push(client);
    if (options.interested ?? true) await iq(client, "<iq type='get' id='ID'><query xmlns='jabber:iq:roster'/></iq>");
    if (options.available ?? true) {
      client.send('<presence/>');
      await client.waitFor(tag('presence', { from: `${username}@${options.domain ?? 'localhost'}/${options.resource ?? 'r1'}` }));
    }
    client.clear();
    return client;
  }

  async function rosterItem(user: string, domain: string, contact: string) {
    return server.server.storage.rosters.getItem(domain, user, contact);
  }

  test('stream features and disco advertise roster versioning, pre-approval and jabber:iq:roster', () => {
    const host = server.server.router.hosts.get('localhost')!;
    const features = host.streamFeatures.postAuth.map((feature) => `${feature.name} ${feature.xmlns}`);
    assert.ok(features.includes('ver urn:xmpp:features:rosterver'));
    assert.ok(features.includes('sub urn:xmpp:features:pre-approval'));
    assert.ok(host.discoFeatures.has('jabber:iq:roster'));
  });

  test('roster get, set, versioning, pushes to every interested resource, and remove', async () => {
    const laptop = await connect('alice', { resource: 'laptop', available: false });
    const phone = await connect('alice', { resource: 'phone', available: false });
    const quiet = await connect('alice', { resource: 'quiet', interested: false, available: false });

    const empty = await iq(laptop, "<iq type='get' id='ID'><query xmlns='jabber:iq:roster'/></iq>");
    const version = /ver=["'](\d+)["']/.exec(empty)![1]!;

    const result = await iq(laptop, "<iq type='set' id='ID'><query xmlns='jabber:iq:roster'><item jid='Carol@LOCALHOST' name='Carol' subscription='both'><group>Friends</group><group>Work</group></item></query></iq>");
    assert.match(result, /type=["']result["']/);
    const expected = push({ jid: 'carol@localhost', name: 'Carol', subscription: 'none', ask: null });
    const pushed = await laptop.waitFor(expected);
    assert.match(pushed, /<group>Friends<\/group><group>Work<\/group>/);
    await phone.waitFor(expected);
    const newVersion = /<query[^>]*ver=["'](\d+)["']/.exec(phone.received)![1]!;
    assert.notEqual(newVersion, version);
    await flush(quiet);
    assert.doesNotMatch(quiet.received, /jabber:iq:roster/, 'a resource that never asked for the roster gets no pushes');

    // RFC 6121 section 2.6.3: the current version gets an empty result, an old one the roster.
    const unchanged = await iq(laptop, `<iq type='get' id='ID'><query xmlns='jabber:iq:roster' ver='${newVersion}'/></iq>`);
    assert.match(unchanged, /^<iq[^>]*type=["']result["'][^>]*\/>$/);
    const changed = await iq(laptop, `<iq type='get' id='ID'><query xmlns='jabber:iq:roster' ver='${version}'/></iq>`);
    assert.match(changed, re(tag('query', { ver: newVersion }), tag('item', { jid: 'carol@localhost', name: 'Carol' })));

    // Editing keeps the server's subscription state and replaces name and groups.
    await iq(phone, "<iq type='set' id='ID'><query xmlns='jabber:iq:roster'><item jid='carol@localhost'><group>Family</group></item></query></iq>");
    await laptop.waitFor(re(tag('item', { jid: 'carol@localhost', name: null }), '<group>Family</group>'));
    assert.deepEqual((await rosterItem('alice', 'localhost', 'carol@localhost'))?.groups, ['Family']);

    laptop.clear();
    phone.clear();
    assert.match(await iq(phone, "<iq type='set' id='ID'><query xmlns='jabber:iq:roster'><item jid='carol@localhost' subscription='remove'/></query></iq>"), /type=["']result["']/);
    await laptop.waitFor(push({ jid: 'carol@localhost', subscription: 'remove' }));
    await phone.waitFor(push({ jid: 'carol@localhost', subscription: 'remove' }));
    assert.equal(await rosterItem('alice', 'localhost', 'carol@localhost'), undefined);
    assertError(await iq(phone, "<iq type='set' id='ID'><query xmlns='jabber:iq:roster'><item jid='carol@localhost' subscription='remove'/></query></iq>"), 'item-not-found');
  });

  test('invalid roster sets get the error RFC 6121 section 2.3.3 names, and the stream lives', async () => {
    const client = await connect('judy', { available: false });
    const set = (item: string) => iq(client, `<iq type='set' id='ID'><query xmlns='jabber:iq:roster'>${item}</query></iq>`);
    assertError(await set("<item jid='a@localhost'/><item jid='b@localhost'/>"), 'bad-request', /exactly one/);
    assertError(await set("<item name='nobody'/>"), 'bad-request', /jid/);
    assertError(await set("<item jid='a@b@localhost'/>"), 'jid-malformed');
    assertError(await set("<item jid='a@localhost/res'/>"), 'bad-request', /bare/);
    assertError(await set("<item jid='judy@localhost'/>"), 'not-allowed', /own address/);
    assertError(await set("<item jid='a@localhost'><group>x</group><group>x</group></item>"), 'bad-request', /twice/);
    assertError(await set("<item jid='a@localhost'><group/></item>"), 'not-acceptable');
    assertError(await set(`<item jid='a@localhost' name='${'n'.repeat(1024)}'/>`), 'not-acceptable');
    assert.deepEqual((await server.server.storage.rosters.get('localhost', 'judy')).items, []);
    assert.match(await set("<item jid='a@localhost'/>"), /type=["']result["']/);
  });

  test('a roster at max_items refuses new items with not-allowed and still allows edits', async () => {
    const client = await connect('erin', { domain: 'small.test', available: false });
    const set = (jid: string, name: string) => iq(client, `<iq type='set' id='ID'><query xmlns='jabber:iq:roster'><item jid='${jid}' name='${name}'/></query></iq>`);
    assert.match(await set('one@small.test', 'One'), /type=["']result["']/);
    assert.match(await set('two@small.test', 'Two'), /type=["']result["']/);
    assertError(await set('three@small.test', 'Three'), 'not-allowed', /limited to 2 items/);
    assert.match(await set('two@small.test', 'Second'), /type=["']result["']/);
    // A subscription request that would add a third item is refused the same way.
    client.clear();
    client.send("<presence to='three@small.test' type='subscribe' id='s1'/>");
    await client.waitFor(re(tag('presence', { type: 'error', id: 's1' }), '<not-allowed'));
    assert.equal((await server.server.storage.rosters.get('small.test', 'erin')).items.length, 2);
  });

  /**
   * The full handshake of RFC 6121 section 3: each asks, the other approves, and both end
   * with 'both' and each other's presence.
   */
  async function handshake(a: RawClient, aJid: string, b: RawClient, bJid: string): Promise<void> {
    a.send(`<presence to='${bJid}' type='subscribe'><status>hi</status></presence>`);
    await a.waitFor(push({ jid: bJid, subscription: 'none', ask: 'subscribe' }));
    await b.waitFor(re(tag('presence', { from: aJid, to: bJid, type: 'subscribe' }), '<status>hi</status>'));

    b.send(`<presence to='${aJid}' type='subscribed'/>`);
    await b.waitFor(push({ jid: aJid, subscription: 'from' }));
    await a.waitFor(push({ jid: bJid, subscription: 'to', ask: null }));
    await a.waitFor(tag('presence', { from: bJid, type: 'subscribed' }));
    await a.waitFor(tag('presence', { from: `${bJid}/r1`, type: null }));

    b.send(`<presence to='${aJid}' type='subscribe'/>`);
    await b.waitFor(push({ jid: aJid, subscription: 'from', ask: 'subscribe' }));
    await a.waitFor(tag('presence', { from: bJid, type: 'subscribe' }));

    a.send(`<presence to='${bJid}' type='subscribed'/>`);
    await a.waitFor(push({ jid: bJid, subscription: 'both' }));
    await b.waitFor(push({ jid: aJid, subscription: 'both', ask: null }));
    await b.waitFor(tag('presence', { from: `${aJid}/r1`, type: null }));
  }

  test('a subscription handshake between two users of one domain ends in both', async () => {
    const alice = await connect('alice');
    const bob = await connect('bob');
    await handshake(alice, 'alice@localhost', bob, 'bob@localhost');
    assert.equal((await rosterItem('alice', 'localhost', 'bob@localhost'))?.subscription, 'both');
    assert.equal((await rosterItem('bob', 'localhost', 'alice@localhost'))?.subscription, 'both');
    alice.close();
    bob.close();
  });

  test('a subscription handshake between users of two hosted domains ends in both', async () => {
    const alice = await connect('alice');
    const dave = await connect('dave', { domain: 'example.test' });
    await handshake(alice, 'alice@localhost', dave, 'dave@example.test');
    assert.equal((await rosterItem('alice', 'localhost', 'dave@example.test'))?.subscription, 'both');
    assert.equal((await rosterItem('dave', 'example.test', 'alice@localhost'))?.subscription, 'both');
    alice.close();
    dave.close();
  });

  test('presence is broadcast to subscribers and own resources, probed at login, and unavailable follows logout', async () => {
    // alice and bob are subscribed both ways (previous test) when this runs after it; make sure.
    const bob = await connect('bob', { resource: 'r1' });
    const alice = await connect('alice', { resource: 'r1' });
    if ((await rosterItem('alice', 'localhost', 'bob@localhost'))?.subscription !== 'both') await handshake(alice, 'alice@localhost', bob, 'bob@localhost');
    bob.clear();
    alice.clear();

    // A second resource of alice: its initial presence probes bob, and it learns about alice/r1.
    const second = await login(server, { username: 'alice', password: 'secret', resource: 'r2' });
    open.push(second.client);
    second.client.send('<presence><show>away</show><priority>5</priority></presence>');
    await second.client.waitFor(tag('presence', { from: 'bob@localhost/r1' }));
    await second.client.waitFor(tag('presence', { from: 'alice@localhost/r1' }));
    await second.client.waitFor(tag('presence', { from: 'alice@localhost/r2' }));
    await bob.waitFor(re(tag('presence', { from: 'alice@localhost/r2', to: 'bob@localhost' }), '<show>away</show>'));
    await alice.waitFor(tag('presence', { from: 'alice@localhost/r2', to: 'alice@localhost/r1' }));

    // A priority out of range is refused.
    second.client.send("<presence id='p1'><priority>300</priority></presence>");
    await second.client.waitFor(re(tag('presence', { type: 'error', id: 'p1' }), '<bad-request'));

    bob.clear();
    second.client.send("<presence type='unavailable'><status>bye</status></presence>");
    await bob.waitFor(re(tag('presence', { from: 'alice@localhost/r2', type: 'unavailable' }), '<status>bye</status>'));

    bob.clear();
    alice.close();
    await bob.waitFor(tag('presence', { from: 'alice@localhost/r1', type: 'unavailable' }));
    second.client.close();
    bob.close();
  });

  test('presence goes to each contact with subscription from or both, addressed to it, and to no other', async () => {
    // RFC 6121 sections 4.2.2, 4.4.2 and 4.5.2: the roster is read once per broadcast, the stanza
    // serialized once; every subscriber must still get its own copy with its own `to`.
    const subscriptions = { none: 'none', pending: 'none', to: 'to', from: 'from', both: 'both' } as const;
    await server.addUser('fanout', 'localhost', 'secret');
    const contacts: Record<string, RawClient> = {};
    for (const [name, subscription] of Object.entries(subscriptions)) {
      await server.addUser(`fan-${name}`, 'localhost', 'secret');
      const item = { jid: `fan-${name}@localhost`, subscription, askOut: name === 'pending', askIn: false, approved: false, groups: [] };
      await server.server.storage.rosters.setItem('localhost', 'fanout', item);
      // The contact's side of the same state, so the contact's server takes any presence from fanout.
      const reverse = { none: 'none', to: 'from', from: 'to', both: 'both' } as const;
      const back = { jid: 'fanout@localhost', subscription: reverse[subscription], askOut: false, askIn: name === 'pending', approved: false, groups: [] };
      await server.server.storage.rosters.setItem('localhost', `fan-${name}`, back);
      contacts[name] = await connect(`fan-${name}`, { interested: false });
    }
    const owner = await connect('fanout', { interested: false });
    for (const client of Object.values(contacts)) client.clear();

    owner.send('<presence><status>fan-out</status></presence>');
    for (const name of ['from', 'both']) {
      await contacts[name]!.waitFor(re(tag('presence', { from: 'fanout@localhost/r1', to: `fan-${name}@localhost` }), '<status>fan-out</status>'));
    }
    owner.send("<presence type='unavailable'><status>gone</status></presence>");
    for (const name of ['from', 'both']) {
      await contacts[name]!.waitFor(re(tag('presence', { from: 'fanout@localhost/r1', type: 'unavailable', to: `fan-${name}@localhost` }), '<status>gone</status>'));
    }
    for (const [name, client] of Object.entries(contacts)) {
      await flush(client);
      const presences = client.received.match(/<presence\b[^>]*>/g) ?? [];
      const expected = name === 'from' || name === 'both' ? 2 : 0;
      assert.equal(presences.length, expected, `fan-${name}: ${presences.join(' ')}`);
      for (const presence of presences) assert.match(presence, new RegExp(`to=["']fan-${name}@localhost["']`), presence);
    }
    owner.close();
    for (const client of Object.values(contacts)) client.close();
  });

  test('a probe is answered only when the prober is subscribed', async () => {
    const bob = await connect('bob');
    const carol = await connect('carol');
    const alice = await connect('alice');
    if ((await rosterItem('alice', 'localhost', 'bob@localhost'))?.subscription !== 'both') await handshake(alice, 'alice@localhost', bob, 'bob@localhost');
    bob.clear();
    carol.clear();

    carol.send("<presence to='alice@localhost' type='probe'/>");
    await flush(carol);
    await flush(alice);
    await flush(carol);
    assert.doesNotMatch(carol.received, /from=["']alice@localhost/, 'no presence of alice for someone not subscribed');

    bob.send("<presence to='alice@localhost' type='probe'/>");
    await bob.waitFor(tag('presence', { from: 'alice@localhost/r1', to: 'bob@localhost', type: null }));

    // With alice offline, a subscriber's probe gets unavailable.
    alice.close();
    await bob.waitFor(tag('presence', { from: 'alice@localhost/r1', type: 'unavailable' }));
    bob.clear();
    bob.send("<presence to='alice@localhost' type='probe'/>");
    await bob.waitFor(tag('presence', { from: 'alice@localhost', type: 'unavailable' }));
    bob.close();
    carol.close();
  });

  test('a subscription request for an offline user waits for their next login, until answered', async () => {
    const carol = await connect('carol');
    carol.send("<presence to='frank@localhost' type='subscribe'><status>remember me?</status></presence>");
    await carol.waitFor(push({ jid: 'frank@localhost', ask: 'subscribe' }));

    // Logged in but not yet available: the request is not delivered.
    const quiet = await connect('frank', { available: false });
    await flush(quiet);
    assert.doesNotMatch(quiet.received, /type=["']subscribe["']/);
    quiet.close();

    for (const resource of ['first', 'second']) {
      const frank = await login(server, { username: 'frank', password: 'secret', resource });
      open.push(frank.client);
      frank.client.send('<presence/>');
      await frank.client.waitFor(re(tag('presence', { from: 'carol@localhost', to: 'frank@localhost', type: 'subscribe' }), '<status>remember me\\?</status>'));
      assert.equal(await rosterItem('frank', 'localhost', 'carol@localhost'), undefined, 'a request alone adds nothing to the roster');
      if (resource === 'first') {
        frank.client.close();
        continue;
      }
      frank.client.send("<presence to='carol@localhost' type='subscribed'/>");
      await carol.waitFor(push({ jid: 'frank@localhost', subscription: 'to', ask: null }));
      await carol.waitFor(tag('presence', { from: 'frank@localhost/second', type: null }));
      frank.client.close();
    }

    const frank = await login(server, { username: 'frank', password: 'secret', resource: 'third' });
    open.push(frank.client);
    frank.client.send('<presence/>');
    await frank.client.waitFor(tag('presence', { from: 'frank@localhost/third' }));
    await flush(frank.client);
    assert.doesNotMatch(frank.client.received, /type=["']subscribe["']/, 'an answered request is not delivered again');
    assert.equal((await rosterItem('frank', 'localhost', 'carol@localhost'))?.subscription, 'from');
    frank.client.close();
    carol.close();
  });

  test('a pre-approved subscription request is approved by the server (RFC 6121 section 3.4)', async () => {
    const grace = await connect('grace');
    const ivan = await connect('ivan');
    grace.send("<presence to='ivan@localhost' type='subscribed'/>");
    await grace.waitFor(push({ jid: 'ivan@localhost', subscription: 'none', approved: 'true' }));
    await flush(grace);
    await flush(ivan);
    assert.doesNotMatch(ivan.received, /type=["']subscribed["']/, 'a pre-approval is not sent to the contact');

    grace.clear();
    ivan.send("<presence to='grace@localhost' type='subscribe'/>");
    await ivan.waitFor(tag('presence', { from: 'grace@localhost', type: 'subscribed' }));
    await ivan.waitFor(push({ jid: 'grace@localhost', subscription: 'to' }));
    await ivan.waitFor(tag('presence', { from: 'grace@localhost/r1', type: null }));
    await grace.waitFor(push({ jid: 'ivan@localhost', subscription: 'from', approved: null }));
    await flush(grace);
    assert.doesNotMatch(grace.received, /type=["']subscribe["']/, 'the pre-approved request is not shown to the user');
    grace.close();
    ivan.close();
  });

  test('a subscription request to an account that does not exist is declined', async () => {
    const carol = await connect('carol');
    carol.send("<presence to='nobody@localhost' type='subscribe'/>");
    await carol.waitFor(tag('presence', { from: 'nobody@localhost', type: 'unsubscribed' }));
    await carol.waitFor(push({ jid: 'nobody@localhost', subscription: 'none', ask: null }));
    carol.close();
  });

  test('entities that got directed presence get unavailable when the stream ends', async () => {
    const henry = await connect('henry');
    const carol = await connect('carol', { resource: 'desk' });
    henry.send("<presence to='carol@localhost/desk'><status>here</status></presence>");
    await carol.waitFor(re(tag('presence', { from: 'henry@localhost/r1', to: 'carol@localhost/desk' }), '<status>here</status>'));
    carol.clear();
    henry.close();
    await carol.waitFor(tag('presence', { from: 'henry@localhost/r1', type: 'unavailable' }));
    carol.close();
  });

  test('subscription stanzas without a contact are refused and the stream lives', async () => {
    const judy = await connect('judy');
    judy.send("<presence type='subscribe' id='x1'/>");
    await judy.waitFor(re(tag('presence', { type: 'error', id: 'x1' }), '<bad-request'));
    judy.send("<presence to='judy@localhost' type='subscribe' id='x2'/>");
    await judy.waitFor(re(tag('presence', { type: 'error', id: 'x2' }), '<bad-request'));
    await flush(judy);
    judy.close();
  });

  test('no handler failed along the way', () => {
    assert.deepEqual(server.logLines.filter((line) => /failed/.test(line)), []);
  });
});
