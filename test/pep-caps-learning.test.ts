/**
 * What the server learns from the entity capabilities (XEP-0115) in a contact's presence, for
 * personal eventing (XEP-0163 section 4.3): new capabilities that ask for a node's
 * notifications bring that node's last item; a presence whose capabilities were learnt already
 * (a status change, most presence a client sends) teaches nothing and costs no roster lookup
 * for the contacts it is broadcast to.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { capsHash, type CapsInput } from '../src/modules/disco/caps.ts';
import type { RawClient } from './support/raw-client.ts';
import { login } from './support/login.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const NODE = 'https://client.example/caps';
const TUNE = 'http://jabber.org/protocol/tune';
const MOOD = 'http://jabber.org/protocol/mood';

let server: TestServer;
let alice: RawClient;
let bob: RawClient;
/** roster items read from storage since the last reset */
let rosterReads = 0;

const both = (jid: string) => ({ jid, subscription: 'both' as const, askOut: false, askIn: false, approved: false, groups: [] });
const client = (features: string[]): CapsInput => ({ identities: [{ category: 'client', type: 'pc', name: 'test' }], features });

/** Sends an available presence with `status` and the caps of `info`, answering the server's disco#info query for them if it asks. */
async function presence(info: CapsInput, status: string, expectQuery: boolean): Promise<void> {
  const ver = capsHash(info);
  alice.clear();
  alice.send(`<presence><status>${status}</status><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='${NODE}' ver='${ver}'/></presence>`);
  if (!expectQuery) return;
  const received = await alice.waitFor(/<iq [^>]*type=["']get["'][^>]*>\s*<query xmlns=["']http:\/\/jabber.org\/protocol\/disco#info["'][^>]*\/>/);
  const query = /<iq ([^>]*)>\s*<query xmlns=["']http:\/\/jabber.org\/protocol\/disco#info["'] node=["']([^"']+)["']/.exec(received)!;
  assert.equal(query[2], `${NODE}#${ver}`);
  const id = /id=["']([^"']+)["']/.exec(query[1]!)![1];
  const identity = info.identities[0]!;
  const features = info.features.map((feature) => `<feature var='${feature}'/>`).join('');
  alice.send(`<iq type='result' id='${id}' to='localhost'><query xmlns='http://jabber.org/protocol/disco#info' node='${NODE}#${ver}'><identity category='${identity.category}' type='${identity.type}' name='${identity.name}'/>${features}</query></iq>`);
}

async function publish(node: string, payload: string): Promise<void> {
  bob.clear();
  bob.send(`<iq type='set' id='pub-${node}'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${node}'><item id='current'>${payload}</item></publish></pubsub></iq>`);
  await bob.waitFor(new RegExp(`<iq [^>]*id=["']pub-${node}["'][^>]*type=["']result["']|<iq [^>]*type=["']result["'][^>]*id=["']pub-${node}["']`));
}

before(async () => {
  server = await startTestServer();
  await server.addUser('alice', 'localhost', 'secret');
  await server.addUser('bob', 'localhost', 'secret');
  const rosters = server.server.storage.rosters;
  await rosters.setItem('localhost', 'alice', both('bob@localhost'));
  await rosters.setItem('localhost', 'bob', both('alice@localhost'));
  const getItem = rosters.getItem.bind(rosters);
  rosters.getItem = (...args) => {
    rosterReads++;
    return getItem(...args);
  };
  ({ client: bob } = await login(server, { username: 'bob', password: 'secret', resource: 'phone' }));
  await publish(TUNE, `<tune xmlns='${TUNE}'><title>Yellow Submarine</title></tune>`);
  await publish(MOOD, `<mood xmlns='${MOOD}'><happy/></mood>`);
  // Available, so that alice's presence reaches bob's client too.
  bob.send('<presence/>');
  ({ client: alice } = await login(server, { username: 'alice', password: 'secret', resource: 'desk' }));
});

after(async () => {
  alice?.close();
  bob?.close();
  await server?.stop();
});

test('capabilities asking for a node bring its last item; the same capabilities again cost no roster lookup and bring nothing', async () => {
  const tuneOnly = client(['http://jabber.org/protocol/caps', `${TUNE}+notify`]);
  await presence(tuneOnly, 'first', true);
  await alice.waitFor('Yellow Submarine');
  assert.doesNotMatch(alice.received, /<happy\/>/, 'no +notify for moods');

  rosterReads = 0;
  for (const status of ['away for lunch', 'back', 'in a meeting']) {
    await presence(tuneOnly, status, false);
    await bob.waitFor(status);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(rosterReads, 0, 'learnt capabilities: no roster lookup per contact reached');
  assert.doesNotMatch(alice.received, /Yellow Submarine/, 'nothing new to send');

  // New capabilities are learnt as before: a query, a roster lookup, and the newly wanted node's last item.
  await presence(client(['http://jabber.org/protocol/caps', `${TUNE}+notify`, `${MOOD}+notify`]), 'moody', true);
  await alice.waitFor('<happy/>');
  assert.ok(rosterReads > 0);
});
