/**
 * An account's own invitations (XEP-0401 contact invitations, XEP-0379 pre-authenticated roster
 * subscription) at the byte level: the `urn:xmpp:invite#invite` command, a subscription request
 * carrying the token approved and answered with a request back, the same token used once only,
 * tokens that are not the account's own left to the account's clients, a registration with the
 * invitation making the two accounts contacts, the list and revocation of invitations, the
 * bound on unused invitations, and `registration.user_invites` (off, contact, account).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJid } from '../src/jid/jid.ts';
import { createAccountInvite, listInvites, MAX_INVITES_PER_ACCOUNT, revokeInvite, takeContactInvite } from '../src/modules/register/invites.ts';
import { iqReply, type RawClient } from './support/raw-client.ts';
import { connectTls, login } from './support/login.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const NS_COMMANDS = 'http://jabber.org/protocol/commands';

let server: TestServer;
let contactOnly: TestServer;
let off: TestServer;
before(async () => {
  [server, contactOnly, off] = await Promise.all([
    startTestServer('admins: [boss@localhost]\nregistration:\n  user_invites: account\n'),
    startTestServer(''),
    startTestServer('registration:\n  user_invites: off\n'),
  ]);
  for (const [name, password] of [['alice', 'alice-pw'], ['bob', 'bob-pw'], ['carol', 'carol-pw'], ['boss', 'boss-pw'], ['erin', 'erin-pw']]) await server.addUser(name!, 'localhost', password!);
  for (const target of [contactOnly, off]) for (const name of ['alice', 'bob']) await target.addUser(name, 'localhost', `${name}-pw`);
});
after(() => Promise.all([server.stop(), contactOnly.stop(), off.stop()]));

/** Logs in and sends initial presence, so that presence and roster pushes reach the client. */
async function online(target: TestServer, username: string): Promise<RawClient> {
  const { client } = await login(target, { username, password: `${username}-pw`, resource: 'phone' });
  await iqReply(client, "<iq type='get' id='ID'><query xmlns='jabber:iq:roster'/></iq>");
  client.send('<presence/>');
  return client;
}

/** Runs the invitation command and returns the invitation's URI (or the whole answer when it has none). */
async function inviteCommand(client: RawClient): Promise<string> {
  const answer = await iqReply(client, `<iq type='set' id='ID' to='localhost'><command xmlns='${NS_COMMANDS}' node='urn:xmpp:invite#invite' action='execute'/></iq>`);
  return /<field var=["']uri["'][^>]*><value>([^<]+)<\/value>/.exec(answer)?.[1] ?? answer;
}

const tokenOf = (uri: string): string => /preauth=([A-Za-z0-9_-]+)/.exec(uri)![1]!;
const subscribeWith = (token: string, to = 'alice@localhost') => `<presence to='${to}' type='subscribe'><preauth xmlns='urn:xmpp:pars:0' token='${token}'/></presence>`;
/** A presence stanza from `from` of `type`, whatever the order of its attributes. */
const presenceFrom = (from: string, type: string): RegExp => new RegExp(`<presence(?=[^>]*from=["']${from}["'])(?=[^>]*type=["']${type}["'])[^>]*>`);
const item = (target: TestServer, owner: string, contact: string) => target.server.storage.rosters.getItem('localhost', owner, `${contact}@localhost`);

test('an account runs the invitation command: its address with the roster action, and a registration where allowed', async () => {
  const alice = await online(server, 'alice');
  const items = await iqReply(alice, `<iq type='get' id='ID' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items' node='${NS_COMMANDS}'/></iq>`);
  assert.match(items, /node=["']urn:xmpp:invite#invite["']/);
  assert.doesNotMatch(items, /admin#add-user/, 'the administration commands stay for the admins');
  const uri = await inviteCommand(alice);
  assert.match(uri, /^xmpp:alice@localhost\?roster;preauth=[A-Za-z0-9_-]{32};ibr=y$/);
  alice.close();

  const { client: other } = await login(contactOnly, { username: 'alice', password: 'alice-pw', resource: 'r' });
  assert.match(await inviteCommand(other), /^xmpp:alice@localhost\?roster;preauth=[A-Za-z0-9_-]{32}$/, 'by default an invitation makes a contact only');
  other.close();
});

test("a subscription request with the account's token is approved and answered with a request back; the token works once", async () => {
  const alice = await online(server, 'alice');
  const token = tokenOf(await inviteCommand(alice));
  const bob = await online(server, 'bob');
  bob.clear();
  alice.clear();
  bob.send(subscribeWith(token));
  await bob.waitFor(presenceFrom('alice@localhost', 'subscribed'));
  await bob.waitFor(presenceFrom('alice@localhost', 'subscribe'));
  // Alice's client learns of the new contact from roster pushes; no request waits for her.
  await alice.waitFor(/<item[^>]*jid=["']bob@localhost["'][^>]*subscription=["']from["']/);
  assert.doesNotMatch(alice.received, /<presence(?=[^>]*type=["']subscribe["'])[^>]*>/);
  assert.equal((await item(server, 'alice', 'bob'))?.subscription, 'from');
  assert.equal((await item(server, 'alice', 'bob'))?.askOut, true, 'alice asked back');
  bob.send("<presence to='alice@localhost' type='subscribed'/>");
  await alice.waitFor(/<item[^>]*jid=["']bob@localhost["'][^>]*subscription=["']both["']/);
  assert.equal((await item(server, 'bob', 'alice'))?.subscription, 'both');

  // Carol presents the same token: it is used, so her request waits for Alice like any other.
  const carol = await online(server, 'carol');
  alice.clear();
  carol.send(subscribeWith(token));
  await alice.waitFor(presenceFrom('carol@localhost', 'subscribe'));
  assert.match(alice.received, /<preauth xmlns=["']urn:xmpp:pars:0["']/, 'a token the server does not honour stays for the clients (XEP-0379 section 4.1)');
  assert.equal((await item(server, 'alice', 'carol'))?.subscription ?? 'none', 'none');
  for (const client of [alice, bob, carol]) client.close();
});

test("another account's token, a malformed one and an expired one leave the request to the account's clients", async () => {
  const storage = server.server.storage;
  const alice = await online(server, 'alice');
  const erinsToken = (await createAccountInvite(storage, parseJid('erin@localhost'), 7, true)).token;
  const expired = (await createAccountInvite(storage, parseJid('alice@localhost'), 7, true, Date.now() - 8 * 86_400_000)).token;
  const boss = await online(server, 'boss');
  for (const token of [erinsToken, 'not-a-token', expired]) {
    alice.clear();
    boss.send(subscribeWith(token));
    await alice.waitFor(presenceFrom('boss@localhost', 'subscribe'));
    assert.equal((await item(server, 'alice', 'boss'))?.subscription ?? 'none', 'none', `not approved with ${token}`);
    boss.send("<presence to='alice@localhost' type='unsubscribe'/>");
  }
  assert.equal(await storage.serverData.get(`invite:${expired}`), undefined, 'the expired invitation is gone');
  assert.notEqual(await storage.serverData.get(`invite:${erinsToken}`), undefined, "erin's invitation is still hers");
  alice.close();
  boss.close();
});

test('registering with an invitation makes the new account and the inviter contacts, both ways', async () => {
  const alice = await online(server, 'alice');
  const token = tokenOf(await inviteCommand(alice));
  alice.clear();
  const newcomer = await connectTls(server);
  assert.match(await iqReply(newcomer, `<iq type='set' id='ID' to='localhost'><preauth xmlns='urn:xmpp:pars:0' token='${token}'/></iq>`), /type=["']result["']/);
  assert.match(await iqReply(newcomer, "<iq type='set' id='ID' to='localhost'><query xmlns='jabber:iq:register'><username>dave</username><password>dave-pw</password></query></iq>"), /type=["']result["']/);
  newcomer.close();
  await alice.waitFor(/<item[^>]*jid=["']dave@localhost["'][^>]*subscription=["']both["']/);
  const { client: dave } = await login(server, { username: 'dave', password: 'dave-pw', resource: 'r' });
  assert.match(await iqReply(dave, "<iq type='get' id='ID'><query xmlns='jabber:iq:roster'/></iq>"), /<item[^>]*jid=["']alice@localhost["'][^>]*subscription=["']both["']/);
  dave.close();
  // The invitation is used: neither a registration nor a subscription takes it again.
  const again = await connectTls(server);
  assert.match(await iqReply(again, `<iq type='set' id='ID' to='localhost'><preauth xmlns='urn:xmpp:pars:0' token='${token}'/></iq>`), /<item-not-found/);
  again.close();
  alice.close();
});

test("the list of invitations drops expired ones and those of a deleted account; revoking one withdraws it from its inviter", async () => {
  const storage = server.server.storage;
  await server.addUser('frank', 'localhost', 'frank-pw');
  const franks = await createAccountInvite(storage, parseJid('frank@localhost'), 7, true);
  const expired = await createAccountInvite(storage, parseJid('erin@localhost'), 7, true, Date.now() - 8 * 86_400_000);
  const erins = await createAccountInvite(storage, parseJid('erin@localhost'), 7, false);
  assert.ok((await listInvites(storage)).some((invite) => invite.token === franks.token));
  await storage.accounts.delete('localhost', 'frank');
  const listed = (await listInvites(storage)).map((invite) => invite.token);
  assert.ok(!listed.includes(franks.token) && !listed.includes(expired.token) && listed.includes(erins.token), listed.join(' '));
  assert.equal(await storage.serverData.get(`invite:${franks.token}`), undefined, "the deleted account's invitation is gone");
  assert.equal((await revokeInvite(storage, erins.token))?.inviter, 'erin@localhost');
  assert.deepEqual(await storage.userData.keys('localhost', 'erin', `invite:${erins.token}`), [], 'erin no longer holds it');
  assert.equal(await takeContactInvite(storage, parseJid('erin@localhost'), erins.token), false);
});

test('an account holds a bounded number of unused invitations', async () => {
  const storage = server.server.storage;
  for (let index = 0; index < MAX_INVITES_PER_ACCOUNT; index++) await createAccountInvite(storage, parseJid('carol@localhost'), 7, true);
  const { client: carol } = await login(server, { username: 'carol', password: 'carol-pw', resource: 'r' });
  const answer = await inviteCommand(carol);
  assert.match(answer, /type=["']error["'][\s\S]*<resource-constraint/);
  carol.close();
});

test('a contact invitation registers no account; with user_invites off there is no command and tokens are not honoured', async () => {
  const { client: alice } = await login(contactOnly, { username: 'alice', password: 'alice-pw', resource: 'r' });
  const token = tokenOf(await inviteCommand(alice));
  alice.close();
  const newcomer = await connectTls(contactOnly);
  assert.match(await iqReply(newcomer, `<iq type='set' id='ID' to='localhost'><preauth xmlns='urn:xmpp:pars:0' token='${token}'/></iq>`), /<item-not-found/);
  newcomer.close();

  const offAlice = await online(off, 'alice');
  const items = await iqReply(offAlice, `<iq type='get' id='ID' to='localhost'><query xmlns='http://jabber.org/protocol/disco#items' node='${NS_COMMANDS}'/></iq>`);
  assert.doesNotMatch(items, /urn:xmpp:invite#invite/);
  assert.match(await inviteCommand(offAlice), /<forbidden/);
  const stored = (await createAccountInvite(off.server.storage, parseJid('alice@localhost'), 7, true)).token;
  const bob = await online(off, 'bob');
  offAlice.clear();
  bob.send(subscribeWith(stored));
  await offAlice.waitFor(presenceFrom('bob@localhost', 'subscribe'));
  assert.equal((await item(off, 'alice', 'bob'))?.subscription ?? 'none', 'none');
  offAlice.close();
  bob.close();
});
