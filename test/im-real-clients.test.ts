/**
 * Instant messaging with real clients: slixmpp (Debian python3-slixmpp) through
 * test/clients/im_driver.py and @xmpp/client through test/clients/xmppjs-driver.ts, each in its
 * own process, over STARTTLS with SCRAM, verifying the server's generated certificates. One
 * server hosts two domains; every test uses accounts of its own.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ClientDriver, DriverEvent } from './support/client-driver.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { startSlixmpp } from './support/slixmpp.ts';
import { startXmppjs } from './support/xmppjs.ts';

const PASSWORD = 'correct horse';
const OTHER = 'example.test';

/** Polls a condition every 20 ms for up to 5 s. */
async function until(condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`still false after 5 s: ${condition.toString()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const bare = (jid: string) => jid.replace(/\/.*$/, '');
const isMessage = (from: string, body: string) => (event: DriverEvent) => event.event === 'message' && event.from === from && event.body === body;
const isPresence = (fromBare: string, type: string) => (event: DriverEvent) =>
  event.event === 'presence' && bare(String(event.from)) === fromBare && event.type === type;
const isRosterPush = (contact: string, subscription: string) => (event: DriverEvent) =>
  event.event === 'roster_push' && (event.items as Record<string, { subscription: string }>)[contact]?.subscription === subscription;

describe('instant messaging with real clients', () => {
  let server: TestServer;
  const clients: ClientDriver[] = [];

  before(async () => {
    server = await startTestServer(`
admins: [abuse-desk@localhost]
hosts:
  localhost:
    disco: { items: ["${OTHER}"] }
  ${OTHER}: {}
`);
  });
  after(async () => {
    for (const client of clients) client.stop();
    await server.stop();
  });

  /** Creates the account and logs it in with slixmpp; `jid` is user@domain/resource. */
  async function slix(jid: string, { create = true } = {}): Promise<ClientDriver> {
    const [local, domain] = bare(jid).split('@') as [string, string];
    if (create) await server.addUser(local, domain, PASSWORD);
    const client = await startSlixmpp(server, jid, PASSWORD);
    clients.push(client);
    return client;
  }

  async function xmppjs(username: string, domain: string, resource = 'xmppjs'): Promise<ClientDriver> {
    await server.addUser(username, domain, PASSWORD);
    const client = await startXmppjs(server, username, domain, PASSWORD, resource);
    clients.push(client);
    return client;
  }

  /** RFC 6121 sections 2.2 and 4.2: the roster, then the initial presence, as real clients do. */
  async function goOnline(client: ClientDriver, presence: Record<string, unknown> = {}): Promise<void> {
    await client.ok({ op: 'get_roster' });
    await client.ok({ op: 'presence', ...presence });
    await client.waitEvent((event) => event.event === 'presence' && event.from === client.jid && event.type === 'available');
  }

  async function chat(a: ClientDriver, b: ClientDriver): Promise<void> {
    await a.ok({ op: 'message', to: bare(b.jid), body: `hello from ${a.jid}` });
    const received = await b.waitEvent(isMessage(a.jid, `hello from ${a.jid}`));
    assert.equal(received.type, 'chat');
    assert.equal(received.delay, null);
    await b.ok({ op: 'message', to: a.jid, body: 'hello back' });
    await a.waitEvent(isMessage(b.jid, 'hello back'));
  }

  /** RFC 6121 section 3.1: `from` subscribes to `to`'s presence and `to` approves. */
  async function subscribe(from: ClientDriver, to: ClientDriver, endsAs: string): Promise<void> {
    await from.ok({ op: 'subscribe', to: bare(to.jid) });
    await to.waitEvent((event) => event.event === 'subscription_request' && event.from === bare(from.jid));
    await to.ok({ op: 'approve', to: bare(from.jid) });
    await from.waitEvent(isPresence(bare(to.jid), 'subscribed'));
    await from.waitEvent(isRosterPush(bare(to.jid), endsAs));
  }

  async function rosterOf(client: ClientDriver): Promise<Record<string, { subscription: string; ask: string }>> {
    return (await client.ok({ op: 'get_roster', full: true })).items as Record<string, { subscription: string; ask: string }>;
  }

  async function befriend(a: ClientDriver, b: ClientDriver): Promise<void> {
    await subscribe(a, b, 'to');
    await subscribe(b, a, 'both');
    assert.equal((await rosterOf(a))[bare(b.jid)]?.subscription, 'both', JSON.stringify(await rosterOf(a)));
    assert.equal((await rosterOf(b))[bare(a.jid)]?.subscription, 'both', JSON.stringify(await rosterOf(b)));
  }

  test('two slixmpp users of one domain chat', async () => {
    const [alice, bob] = await Promise.all([slix('alice@localhost/laptop'), slix('bob@localhost/phone')]);
    await Promise.all([goOnline(alice), goOnline(bob)]);
    await chat(alice, bob);
  });

  test('two slixmpp users of two domains of the server chat', async () => {
    const [carol, dave] = await Promise.all([slix('carol@localhost/desk'), slix(`dave@${OTHER}/desk`)]);
    await Promise.all([goOnline(carol), goOnline(dave)]);
    await chat(carol, dave);
    await chat(dave, carol);
  });

  test('slixmpp and @xmpp/client chat across domains', async () => {
    const [erin, frank] = await Promise.all([xmppjs('erin', 'localhost'), slix(`frank@${OTHER}/slix`)]);
    // Bind 2 (XEP-0386 section 2.2.1): the client's tag, then a part the server makes.
    assert.match(erin.jid, /^erin@localhost\/xmppjs\/[\w-]{8}$/);
    await Promise.all([goOnline(erin), goOnline(frank)]);
    await chat(erin, frank);
    await chat(frank, erin);
  });

  test('a subscription handshake ends in both on each side', async () => {
    const [grace, heidi] = await Promise.all([slix('grace@localhost/a'), slix(`heidi@${OTHER}/b`)]);
    await Promise.all([goOnline(grace), goOnline(heidi)]);
    await grace.ok({ op: 'subscribe', to: bare(heidi.jid) });
    // RFC 6121 section 3.1.2: the pending request shows in the user's roster as ask='subscribe'.
    const pending = await grace.waitEvent((event) => event.event === 'roster_push' && (event.items as Record<string, { ask: string }>)[bare(heidi.jid)]?.ask === 'subscribe');
    assert.equal((pending.items as Record<string, { subscription: string }>)[bare(heidi.jid)]!.subscription, 'none');
    await heidi.waitEvent((event) => event.event === 'subscription_request' && event.from === bare(grace.jid));
    await heidi.ok({ op: 'approve', to: bare(grace.jid) });
    await grace.waitEvent(isRosterPush(bare(heidi.jid), 'to'));
    // RFC 6121 section 3.1.5: once subscribed, the user learns the contact's current presence.
    await grace.waitEvent((event) => event.event === 'presence' && event.from === heidi.jid && event.type === 'available');
    await subscribe(heidi, grace, 'both');
    await heidi.waitEvent((event) => event.event === 'presence' && event.from === grace.jid && event.type === 'available');
    const [graceRoster, heidiRoster] = await Promise.all([rosterOf(grace), rosterOf(heidi)]);
    assert.equal(graceRoster[bare(heidi.jid)]?.subscription, 'both');
    assert.equal(graceRoster[bare(heidi.jid)]?.ask, '');
    assert.equal(heidiRoster[bare(grace.jid)]?.subscription, 'both');
    assert.equal(heidiRoster[bare(grace.jid)]?.ask, '');
  });

  test('@xmpp/client and slixmpp subscribe to each other', async () => {
    const [ivan, judy] = await Promise.all([xmppjs('ivan', 'localhost'), slix(`judy@${OTHER}/slix`)]);
    await Promise.all([goOnline(ivan), goOnline(judy)]);
    await befriend(ivan, judy);
    const ivanOnline = (event: DriverEvent) => event.event === 'presence' && event.from === ivan.jid && event.type === 'available';
    await judy.waitEvent(ivanOnline);
    // RFC 6121 section 3.1.3: a request the contact already approved is answered by the contact's
    // server with "subscribed" and the contact's presence; only the presence reaches a user who is
    // already subscribed (Appendix A.3.3), and the contact is not asked again.
    await judy.ok({ op: 'subscribe', to: bare(ivan.jid) });
    await judy.waitEvent(ivanOnline);
    await ivan.expectNoEvent((event) => event.event === 'subscription_request', 300);
    assert.equal((await rosterOf(judy))[bare(ivan.jid)]?.subscription, 'both');
  });

  test('a declined request and a cancelled subscription leave the rosters as RFC 6121 says', async () => {
    const [walt, xena] = await Promise.all([slix('walt@localhost/w'), slix(`xena@${OTHER}/x`)]);
    await Promise.all([goOnline(walt), goOnline(xena)]);
    // RFC 6121 section 3.2: declining with "unsubscribed" clears the pending request.
    await walt.ok({ op: 'subscribe', to: bare(xena.jid) });
    await xena.waitEvent((event) => event.event === 'subscription_request' && event.from === bare(walt.jid));
    await xena.ok({ op: 'deny', to: bare(walt.jid) });
    await walt.waitEvent(isPresence(bare(xena.jid), 'unsubscribed'));
    await walt.waitEvent((event) => isRosterPush(bare(xena.jid), 'none')(event) && (event.items as Record<string, { ask: string }>)[bare(xena.jid)]!.ask === '');
    assert.equal((await rosterOf(xena))[bare(walt.jid)], undefined);

    await befriend(walt, xena);
    await walt.waitEvent((event) => event.event === 'presence' && event.from === xena.jid && event.type === 'available');
    // RFC 6121 section 3.3: unsubscribing ends the user's half; the contact's server then sends
    // the contact's unavailable presence (section 3.3.3).
    await walt.ok({ op: 'unsubscribe', to: bare(xena.jid) });
    await walt.waitEvent(isRosterPush(bare(xena.jid), 'from'));
    await walt.waitEvent((event) => event.event === 'presence' && event.from === xena.jid && event.type === 'unavailable');
    await xena.waitEvent(isRosterPush(bare(walt.jid), 'to'));
    assert.equal((await rosterOf(walt))[bare(xena.jid)]?.subscription, 'from');
    assert.equal((await rosterOf(xena))[bare(walt.jid)]?.subscription, 'to');
  });

  test('@xmpp/client, which sends no SNI with STARTTLS, gets the certificate of the domain it named', async () => {
    const victor = await xmppjs('victor', OTHER);
    assert.ok(victor.jid.startsWith(`victor@${OTHER}/xmppjs/`), victor.jid);
  });

  test('presence goes to subscribers: available with show and priority, then unavailable at logout', async () => {
    const [ken, lena] = await Promise.all([slix('ken@localhost/home'), slix(`lena@${OTHER}/home`)]);
    await Promise.all([goOnline(ken), goOnline(lena)]);
    await befriend(ken, lena);
    // RFC 6121 section 4.2.2: a new resource's initial presence goes to the user's subscribers.
    const lenaAgain = await slix(`lena@${OTHER}/work`, { create: false });
    await goOnline(lenaAgain, { show: 'away', status: 'at work', priority: 5 });
    const seen = await ken.waitEvent((event) => event.event === 'presence' && event.from === lenaAgain.jid && event.type === 'available');
    assert.equal(seen.show, 'away');
    assert.equal(seen.priority, 5);
    assert.equal(seen.status, 'at work');
    // RFC 6121 section 4.5.2: closing the stream broadcasts unavailable presence for that resource.
    await lenaAgain.disconnect();
    await ken.waitEvent((event) => event.event === 'presence' && event.from === lenaAgain.jid && event.type === 'unavailable');
    await lena.disconnect();
    await ken.waitEvent((event) => event.event === 'presence' && event.from === lena.jid && event.type === 'unavailable');
  });

  test('a message to an offline user arrives at the next login with its delay stamp', async () => {
    const mallory = await slix('mallory@localhost/m');
    await server.addUser('niaj', OTHER, PASSWORD);
    await goOnline(mallory);
    const sentAt = Date.now();
    // XEP-0160: a chat message to an account with no available resource is stored.
    await mallory.ok({ op: 'message', to: `niaj@${OTHER}`, body: 'while you were away' });
    await until(async () => (await server.server.storage.offline.count(OTHER, 'niaj')) === 1);
    // XEP-0160 and XEP-0203: the initial presence brings it, stamped with when it was sent.
    const niaj = await slix(`niaj@${OTHER}/back`, { create: false });
    await goOnline(niaj);
    const stored = await niaj.waitEvent(isMessage(mallory.jid, 'while you were away'));
    assert.equal(stored.type, 'chat');
    assert.ok(typeof stored.delay === 'string', `a XEP-0203 delay stamp: ${JSON.stringify(stored)}`);
    const stamp = Date.parse(stored.delay);
    assert.ok(Math.abs(stamp - sentAt) < 5000, `stamp ${stored.delay} is when the message was sent`);
  });

  test('a roster change is pushed to every resource that asked for the roster', async () => {
    const olivia1 = await slix('olivia@localhost/one');
    const [olivia2, olivia3] = await Promise.all([slix('olivia@localhost/two', { create: false }), slix('olivia@localhost/three', { create: false })]);
    await Promise.all([goOnline(olivia1), goOnline(olivia2)]);
    // RFC 6121 section 2.1.6: pushes go to the interested resources, those that requested the roster.
    await olivia1.ok({ op: 'update_roster', jid: `peggy@${OTHER}`, name: 'Peggy', groups: ['Friends'] });
    for (const resource of [olivia1, olivia2]) {
      const push = await resource.waitEvent((event) => event.event === 'roster_push' && `peggy@${OTHER}` in (event.items as object));
      assert.deepEqual((push.items as Record<string, unknown>)[`peggy@${OTHER}`], { name: 'Peggy', subscription: 'none', ask: '', approved: '', groups: ['Friends'] });
    }
    await olivia2.ok({ op: 'remove_roster', jid: `peggy@${OTHER}` });
    await olivia1.waitEvent(isRosterPush(`peggy@${OTHER}`, 'remove'));
    assert.deepEqual(await rosterOf(olivia1), {});
    await olivia3.expectNoEvent((event) => event.event === 'roster_push', 0);
  });

  test('disco#info and disco#items of the server', async () => {
    const quentin = await slix('quentin@localhost/q');
    await quentin.ok({ op: 'ping', jid: 'localhost' });
    // XEP-0030 section 3.1, RFC 6121, XEP-0199, XEP-0191, XEP-0092, XEP-0054 and XEP-0160.
    const info = await quentin.ok({ op: 'disco_info', jid: 'localhost' });
    assert.ok((info.identities as string[][]).some(([category, type]) => category === 'server' && type === 'im'), JSON.stringify(info.identities));
    const features = info.features as string[];
    for (const feature of [
      'http://jabber.org/protocol/disco#info',
      'http://jabber.org/protocol/disco#items',
      'urn:xmpp:ping',
      'urn:xmpp:blocking',
      'jabber:iq:version',
      'vcard-temp',
      'msgoffline',
    ]) {
      assert.ok(features.includes(feature), `${feature} in ${JSON.stringify(features)}`);
    }
    // XEP-0030 section 4.1: the host's group-chat, publish-subscribe and upload services and the items its configuration lists (disco.items).
    const items = await quentin.ok({ op: 'disco_items', jid: 'localhost' });
    assert.deepEqual(items.items, [['conference.localhost', '', ''], [OTHER, '', ''], ['pubsub.localhost', '', ''], ['upload.localhost', '', '']]);
    const otherItems = await quentin.ok({ op: 'disco_items', jid: OTHER });
    assert.deepEqual(otherItems.items, [[`conference.${OTHER}`, '', ''], [`pubsub.${OTHER}`, '', ''], [`upload.${OTHER}`, '', '']]);
  });

  test('blocking a JID stops its messages; unblocking lets them through again', async () => {
    const [rupert, sybil] = await Promise.all([slix('rupert@localhost/r'), slix(`sybil@${OTHER}/s`)]);
    await Promise.all([goOnline(rupert), goOnline(sybil)]);
    // XEP-0191 "User Retrieves Block List": clients fetch it first, and only such resources get pushes.
    assert.deepEqual((await rupert.ok({ op: 'get_blocked' })).jids, []);
    await rupert.ok({ op: 'block', jids: [bare(sybil.jid)] });
    // XEP-0191 "User Blocks Contact": the block is pushed to the resources that asked for the list.
    await rupert.waitEvent((event) => event.event === 'blocked' && (event.jids as string[]).includes(bare(sybil.jid)));
    assert.deepEqual((await rupert.ok({ op: 'get_blocked' })).jids, [bare(sybil.jid)]);

    await sybil.ok({ op: 'message', to: bare(rupert.jid), body: 'can you hear me?' });
    // XEP-0191 "User Blocks Contact": a blocked contact's message is not delivered and comes back
    // as service-unavailable; the user's own message to the contact is refused with not-acceptable.
    const bounced = await sybil.waitEvent((event) => event.event === 'message_error');
    assert.equal(bounced.condition, 'service-unavailable');
    await rupert.ok({ op: 'message', to: bare(sybil.jid), body: 'not for you' });
    const refused = await rupert.waitEvent((event) => event.event === 'message_error');
    assert.equal(refused.condition, 'not-acceptable');
    await rupert.expectNoEvent(isMessage(sybil.jid, 'can you hear me?'), 300);
    await sybil.expectNoEvent(isMessage(rupert.jid, 'not for you'), 0);

    // XEP-0191 "User Unblocks Contact".
    await rupert.ok({ op: 'unblock', jids: [bare(sybil.jid)] });
    await rupert.waitEvent((event) => event.event === 'unblocked' && (event.jids as string[]).includes(bare(sybil.jid)));
    assert.deepEqual((await rupert.ok({ op: 'get_blocked' })).jids, []);
    await sybil.ok({ op: 'message', to: bare(rupert.jid), body: 'and now?' });
    await rupert.waitEvent(isMessage(sybil.jid, 'and now?'));
  });

  test("a block with slixmpp's spam report (XEP-0377) reaches the administrators", async () => {
    const [reporter, desk] = await Promise.all([slix('reporter@localhost/r'), slix('abuse-desk@localhost/desk')]);
    await Promise.all([goOnline(reporter), goOnline(desk)]);
    assert.ok(((await reporter.ok({ op: 'disco_info', jid: 'localhost' })).features as string[]).includes('urn:xmpp:reporting:0'));
    await reporter.ok({ op: 'block_report', jids: [`spammer@${OTHER}`], reason: 'spam', text: 'cheap watches' });
    const report = await desk.waitEvent((event) => event.event === 'message' && event.from === 'localhost');
    assert.equal(report.body, `reporter@localhost reported spammer@${OTHER} for spam: cheap watches`);
    assert.deepEqual((await reporter.ok({ op: 'get_blocked' })).jids, [`spammer@${OTHER}`]);
  });

  test('a vCard published by one user is read by another; the server tells its version', async () => {
    const [trent, ursula] = await Promise.all([slix('trent@localhost/t'), slix(`ursula@${OTHER}/u`)]);
    await trent.ok({ op: 'vcard_set', fn: 'Trent Tester', nickname: 'trent' });
    assert.deepEqual((await ursula.ok({ op: 'vcard_get', jid: bare(trent.jid) })).fn, 'Trent Tester');
    const own = await trent.ok({ op: 'vcard_get' });
    assert.deepEqual(own.nicknames, ['trent']);
    const version = await ursula.ok({ op: 'version', jid: OTHER });
    assert.equal(version.name, 'Trellis');
  });
});
