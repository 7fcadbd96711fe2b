/**
 * A contact invitation (XEP-0379) redeemed from another server: bob, on a second Trellis server,
 * sends alice's token with his subscription request over the server link; alice's server
 * approves it and asks back, and a token that is not alice's leaves the request for her clients.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loginFederated, startFederatedServer, type FederatedServer } from './support/federation.ts';
import { iqReply, type RawClient } from './support/raw-client.ts';

let x: FederatedServer;
let y: FederatedServer;
before(async () => {
  const quick = 's2s: { retry_initial_delay: 1, connect_timeout: 2 }';
  [x, y] = await Promise.all([startFederatedServer('127.0.0.111', quick), startFederatedServer('127.0.0.112', quick)]);
  await Promise.all([x.addUser('alice', x.domain, 'secret'), y.addUser('bob', y.domain, 'secret'), y.addUser('carl', y.domain, 'secret')]);
});
after(() => Promise.all([x.stop(), y.stop()]));

const presenceFrom = (from: string, type: string): RegExp => new RegExp(`<presence(?=[^>]*from=["']${from}["'])(?=[^>]*type=["']${type}["'])[^>]*>`);

async function online(server: FederatedServer, username: string): Promise<RawClient> {
  const client = await loginFederated(server, username);
  await iqReply(client, "<iq type='get' id='ID'><query xmlns='jabber:iq:roster'/></iq>");
  client.send('<presence/>');
  return client;
}

test("a user of another server presents alice's token: approved and asked back over the server link; a wrong token waits for alice", async () => {
  const alice = await online(x, 'alice');
  const answer = await iqReply(alice, `<iq type='set' id='ID' to='${x.domain}'><command xmlns='http://jabber.org/protocol/commands' node='urn:xmpp:invite#invite' action='execute'/></iq>`);
  const token = /preauth=([A-Za-z0-9_-]+)/.exec(answer)![1]!;
  const alicesJid = `alice@${x.domain}`;

  const bob = await online(y, 'bob');
  bob.send(`<presence to='${alicesJid}' type='subscribe'><preauth xmlns='urn:xmpp:pars:0' token='${token}'/></presence>`);
  await bob.waitFor(presenceFrom(alicesJid, 'subscribed'), 10_000);
  await bob.waitFor(presenceFrom(alicesJid, 'subscribe'), 10_000);
  const item = await x.server.storage.rosters.getItem(x.domain, 'alice', `bob@${y.domain}`);
  assert.deepEqual([item?.subscription, item?.askOut], ['from', true]);

  const carl = await online(y, 'carl');
  alice.clear();
  carl.send(`<presence to='${alicesJid}' type='subscribe'><preauth xmlns='urn:xmpp:pars:0' token='${token}'/></presence>`);
  await alice.waitFor(presenceFrom(`carl@${y.domain}`, 'subscribe'), 10_000);
  assert.equal((await x.server.storage.rosters.getItem(x.domain, 'alice', `carl@${y.domain}`))?.subscription ?? 'none', 'none', 'the used token approves nothing');
  for (const client of [alice, bob, carl]) client.close();
});
