/**
 * State every node of a three-node cluster must see alike (docs/cluster.md, "State every node
 * sees"): a block list changed on one node applies at once to a stanza entering another (XEP-0191);
 * a contact's entity capabilities (XEP-0115) learnt on one node decide the personal eventing
 * notifications (XEP-0163) of an account publishing on another; a message for a user whose only
 * session waits for resumption (XEP-0198) on another node is pushed (XEP-0357) exactly once; and
 * the operator's blocks and bans act on every node, whose count /metrics gives.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { adminRequest } from '../src/admin/client.ts';
import { capsHash } from '../src/modules/disco/caps.ts';
import { runningCluster, waitPresence } from './support/cluster.ts';
import { iqReply, type RawClient } from './support/raw-client.ts';
import { sleep } from './support/server-process.ts';

const TIMINGS = { heartbeat_interval_ms: 250, lease_ms: 1500 };
const CAPS_NODE = 'https://client.example/caps';
const TUNE = 'http://jabber.org/protocol/tune';

/** How many times `pattern` occurs in what `client` received. */
const count = (client: RawClient, pattern: RegExp): number => (client.received.match(new RegExp(pattern.source, 'g')) ?? []).length;

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Sends available presence with entity capabilities for `features`, and answers the server's disco#info query about them. */
async function announceCaps(client: RawClient, features: string[]): Promise<void> {
  const identities = [{ category: 'client', type: 'pc', name: 'test client' }];
  const ver = capsHash({ identities, features });
  const node = `${CAPS_NODE}#${ver}`;
  client.send(`<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='${CAPS_NODE}' ver='${ver}'/></presence>`);
  // XEP-0115 section 6.3: the server asks once per hash.
  const query = new RegExp(`<iq\\b([^>]*)>\\s*<query xmlns=["']http://jabber.org/protocol/disco#info["'] node=["']${escape(node)}["']`);
  const attributes = query.exec(await client.waitFor(query))![1]!;
  const id = /\bid=["']([^"']+)["']/.exec(attributes)![1]!;
  const from = /\bfrom=["']([^"']+)["']/.exec(attributes)![1]!;
  client.send(
    `<iq type='result' id='${id}' to='${from}'><query xmlns='http://jabber.org/protocol/disco#info' node='${node}'>` +
      identities.map((identity) => `<identity category='${identity.category}' type='${identity.type}' name='${identity.name}'/>`).join('') +
      features.map((feature) => `<feature var='${feature}'/>`).join('') +
      `</query></iq>`,
  );
}

describe('state every node of a cluster sees', () => {
  const { cluster, connect } = runningCluster(3, TIMINGS, ['alice', 'bob', 'mallory', 'erin', 'pushsink'], [['alice', 'bob'], ['alice', 'mallory'], ['erin', 'mallory']], { admin: true });
  /** the clients later tests go on with */
  const kept: Record<string, RawClient> = {};

  test('a block list changed on node 1 applies at once to a message entering node 2, and so does lifting it', async () => {
    const alice = (kept.alice = await connect(0, 'alice', 'desk'));
    const mallory = (kept.mallory = await connect(1, 'mallory', 'pc'));
    await waitPresence(alice, 'mallory@localhost/pc', '');
    await waitPresence(mallory, 'alice@localhost/desk', '');
    // Node 2 reads alice's list (empty) and keeps it while she is online.
    mallory.send(`<message to='alice@localhost' type='chat' id='before'><body>hi</body></message>`);
    await alice.waitFor(/id=["']before["']/);

    assert.match(await iqReply(alice, `<iq type='set' id='ID'><block xmlns='urn:xmpp:blocking'><item jid='mallory@localhost'/></block></iq>`), /type=["']result["']/);
    mallory.send(`<message to='alice@localhost' type='chat' id='blocked'><body>still there?</body></message>`);
    // XEP-0191 section 3.5: the blocked sender gets service-unavailable; the user gets nothing.
    await mallory.waitFor(/<message\b(?=[^>]*\bid=["']blocked["'])(?=[^>]*\btype=["']error["'])[\s\S]*?<service-unavailable\b/);
    await sleep(300);
    assert.doesNotMatch(alice.received, /id=["']blocked["']/);

    assert.match(await iqReply(alice, `<iq type='set' id='ID'><unblock xmlns='urn:xmpp:blocking'><item jid='mallory@localhost'/></unblock></iq>`), /type=["']result["']/);
    mallory.send(`<message to='alice@localhost' type='chat' id='after'><body>and now?</body></message>`);
    await alice.waitFor(/id=["']after["']/);
    assert.doesNotMatch(mallory.received, /id=["']after["'][^>]*type=["']error["']|type=["']error["'][^>]*id=["']after["']/);
  });

  test('archive preferences changed on node 1 decide at once what node 2 archives for that account', async () => {
    const alice = kept.alice!;
    const mallory = kept.mallory!;
    // Alice's second resource is on node 2, which archives what it sends in her archive, reading
    // (and keeping) her preferences: the default, always.
    const phone = await connect(1, 'alice', 'phone');
    phone.send(`<message to='mallory@localhost' type='chat' id='arch-1'><body>kept</body></message>`);
    await mallory.waitFor(/id=["']arch-1["']/);
    // XEP-0441, from her resource on node 1: from now on nothing is archived for her.
    assert.match(await iqReply(alice, `<iq type='set' id='ID'><prefs xmlns='urn:xmpp:mam:2' default='never'/></iq>`), /type=["']result["']/);
    phone.send(`<message to='mallory@localhost' type='chat' id='arch-2'><body>not kept</body></message>`);
    await mallory.waitFor(/id=["']arch-2["']/);
    const fin = await iqReply(alice, `<iq type='set' id='ID'><query xmlns='urn:xmpp:mam:2' queryid='prefs-q'/></iq>`);
    assert.match(fin, /<fin\b/);
    const results = [...alice.received.matchAll(/<result xmlns=["']urn:xmpp:mam:2["'] queryid=["']prefs-q["'][\s\S]*?<\/result>/g)].map((match) => match[0]);
    assert.ok(results.some((result) => /id=["']arch-1["']/.test(result)), 'the message before the change is in her archive');
    assert.ok(!results.some((result) => /id=["']arch-2["']/.test(result)), 'the message after it is not: node 2 dropped its copy of her preferences');
    assert.match(await iqReply(alice, `<iq type='set' id='ID'><prefs xmlns='urn:xmpp:mam:2' default='always'/></iq>`), /type=["']result["']/);
    phone.send('</stream:stream>');
  });

  test('a contact on node 2 gets the events an account publishes on node 1 while its capabilities ask for them, and not after they stop', async () => {
    const alice = kept.alice!;
    const bob = await connect(1, 'bob', 'phone');
    await waitPresence(alice, 'bob@localhost/phone', '');
    await announceCaps(bob, ['http://jabber.org/protocol/disco#info', `${TUNE}+notify`]);
    await sleep(500);
    const publish = (n: number) =>
      iqReply(alice, `<iq type='set' id='ID'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${TUNE}'><item id='t${n}'><tune xmlns='${TUNE}'><title>song ${n}</title></tune></item></publish></pubsub></iq>`);
    assert.match(await publish(1), /type=["']result["']/);
    await bob.waitFor(/<items node=["']http:\/\/jabber.org\/protocol\/tune["']>[\s\S]*?song 1/);

    // Section 4.3: new capabilities without +notify: no more notifications.
    await announceCaps(bob, ['http://jabber.org/protocol/disco#info']);
    await sleep(500);
    assert.match(await publish(2), /type=["']result["']/);
    // A message to bob from node 1 after the publish arrives after any notification would have.
    alice.send(`<message to='bob@localhost/phone' type='chat' id='fence'><body>done</body></message>`);
    await bob.waitFor(/id=["']fence["']/);
    assert.doesNotMatch(bob.received, /song 2/);
  });

  test('a message entering node 2 for a session kept for resumption on node 1 is pushed exactly once', async () => {
    const sink = await connect(2, 'pushsink', 'app');
    const erin = await connect(0, 'erin', 'phone');
    const mallory = kept.mallory!;
    await waitPresence(mallory, 'erin@localhost/phone', '');
    assert.match(await iqReply(erin, `<iq type='set' id='ID'><enable xmlns='urn:xmpp:push:0' jid='pushsink@localhost/app' node='erin-phone'/></iq>`), /type=["']result["']/);
    erin.send(`<enable xmlns='urn:xmpp:sm:3' resume='true'/>`);
    await erin.waitFor(/<enabled /);
    // The connection drops without a stream close: node 1 keeps the session for resumption.
    erin.close();
    await sleep(800);
    mallory.send(`<message to='erin@localhost' type='chat' id='while-away'><body>wake up</body></message>`);
    const publish = /<publish\b[^>]*node=["']erin-phone["']/;
    await sink.waitFor(publish, 5000);
    await sleep(1000);
    assert.equal(count(sink, publish), 1, 'one notification for one message');
  });

  test('a block or ban made on one node acts on every node, and /metrics counts the nodes', async () => {
    const admin = (node: number, method: 'GET' | 'PUT' | 'DELETE', path: string) => adminRequest(cluster().adminSocket(node), method, path);
    const blocked = async (node: number): Promise<string[]> => (JSON.parse((await admin(node, 'GET', '/v1/blocked-domains')).body) as { domains: { domain: string }[] }).domains.map((row) => row.domain);
    const banned = async (node: number): Promise<string[]> => (JSON.parse((await admin(node, 'GET', '/v1/bans')).body) as { bans: { address: string }[] }).bans.map((row) => row.address);

    assert.equal((await admin(0, 'PUT', '/v1/blocked-domains/spam.example?reason=spam')).status, 201);
    assert.equal((await admin(1, 'PUT', '/v1/bans/192.0.2.0%2F24')).status, 201);
    for (const node of [0, 1, 2]) {
      assert.deepEqual(await blocked(node), ['spam.example'], `node ${node + 1} blocks the domain`);
      assert.deepEqual(await banned(node), ['192.0.2.0/24'], `node ${node + 1} bans the range`);
    }
    assert.equal((await admin(2, 'DELETE', '/v1/blocked-domains/spam.example')).status, 200);
    assert.equal((await admin(0, 'DELETE', '/v1/bans/192.0.2.0%2F24')).status, 200);
    for (const node of [0, 1, 2]) {
      assert.deepEqual(await blocked(node), [], `node ${node + 1} lifted the block`);
      assert.deepEqual(await banned(node), [], `node ${node + 1} lifted the ban`);
    }

    const metrics = (await admin(1, 'GET', '/metrics')).body;
    assert.match(metrics, /^trellis_cluster_nodes\{state="live"\} 3$/m);
    assert.match(metrics, /^trellis_cluster_nodes\{state="lapsed"\} 0$/m);
  });
});
