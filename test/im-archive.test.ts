/**
 * Message archives (XEP-0313) over raw client streams: what is archived and the stanza IDs
 * clients see (XEP-0359, with carbons), queries with every filter and RSM paging, archive
 * metadata, preferences, and who may read an archive. Every wait is on the wire.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { iqReply, type RawClient } from './support/raw-client.ts';
import { login } from './support/login.ts';
import { startTestServer, type TestServer } from './support/server.ts';

const CONFIG = `
mam: { page_size: 5, max_page_size: 20 }
hosts:
  localhost: {}
  quiet.test:
    modules_disabled: [mam]
`;

let nextId = 0;

const iq = iqReply;

function q(pattern: string): RegExp {
  return new RegExp(pattern.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&').replace(/'/g, `["']`));
}

function assertError(reply: string, condition: string): void {
  assert.match(reply, /type=["']error["']/, reply);
  assert.match(reply, new RegExp(`<${condition} xmlns=["']urn:ietf:params:xml:ns:xmpp-stanzas["']/>`), reply);
}

interface Page {
  bodies: string[];
  ids: string[];
  fin: string;
  first?: string;
  last?: string;
  count?: number;
  complete: boolean;
}

/** Runs a query and collects its results (everything the client got for this queryid before the IQ result). */
async function archiveQuery(client: RawClient, inner: string, to = ''): Promise<Page> {
  const queryId = `query${++nextId}`;
  client.clear();
  const fin = await iq(client, `<iq type='set' id='ID'${to}><query xmlns='urn:xmpp:mam:2' queryid='${queryId}'>${inner}</query></iq>`);
  const results = [...client.received.matchAll(new RegExp(`<result xmlns=["']urn:xmpp:mam:2["'] queryid=["']${queryId}["'] id=["']([^"']+)["'][\\s\\S]*?<body>([^<]*)</body>`, 'g'))];
  return {
    ids: results.map((match) => match[1]!),
    bodies: results.map((match) => match[2]!),
    fin,
    first: /<first>([^<]+)<\/first>/.exec(fin)?.[1],
    last: /<last>([^<]+)<\/last>/.exec(fin)?.[1],
    count: Number(/<count>(\d+)<\/count>/.exec(fin)?.[1] ?? Number.NaN),
    complete: /complete=["']true["']/.test(fin),
  };
}

function form(fields: Record<string, string | string[]>): string {
  const rendered = Object.entries(fields)
    .map(([name, value]) => `<field var='${name}'>${(Array.isArray(value) ? value : [value]).map((item) => `<value>${item}</value>`).join('')}</field>`)
    .join('');
  return `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>${rendered}</x>`;
}

const rsm = (inner: string): string => `<set xmlns='http://jabber.org/protocol/rsm'>${inner}</set>`;

describe('message archives', () => {
  let server: TestServer;
  const clients: RawClient[] = [];
  before(async () => {
    server = await startTestServer(CONFIG);
    for (const user of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'gina', 'hank']) await server.addUser(user, 'localhost', 'secret');
    await server.addUser('quinn', 'quiet.test', 'secret');
  });
  after(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });

  async function connect(username: string, resource: string, domain = 'localhost'): Promise<RawClient> {
    const { client } = await login(server, { username, password: 'secret', resource, domain });
    clients.push(client);
    client.send('<presence/>');
    return client;
  }

  test('the account advertises the archive and its extended features; the server stanza IDs', async () => {
    const alice = await connect('alice', 'disco');
    const account = await iq(alice, `<iq type='get' to='alice@localhost' id='ID'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.match(account, q("<feature var='urn:xmpp:mam:2'/>"));
    assert.match(account, q("<feature var='urn:xmpp:mam:2#extended'/>"));
    const host = await iq(alice, `<iq type='get' to='localhost' id='ID'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.match(host, q("<feature var='urn:xmpp:sid:0'/>"));
    const quinn = await connect('quinn', 'disco', 'quiet.test');
    const off = await iq(quinn, `<iq type='get' to='quinn@quiet.test' id='ID'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`);
    assert.doesNotMatch(off, /urn:xmpp:mam:2/);
    assertError(await iq(quinn, `<iq type='set' id='ID'><query xmlns='urn:xmpp:mam:2'/></iq>`), 'service-unavailable');
  });

  test('both archives keep a chat message once; the recipient and the carbon copies carry the stanza IDs of their archives', async () => {
    const bob = await connect('bob', 'phone');
    const bobDesk = await connect('bob', 'desk');
    const carolPhone = await connect('carol', 'phone');
    const carolDesk = await connect('carol', 'desk');
    for (const client of [bobDesk, carolDesk, carolPhone]) await iq(client, `<iq type='set' id='ID'><enable xmlns='urn:xmpp:carbons:2'/></iq>`);
    // A forged ID claiming to come from bob's archive is removed; the client's origin-id stays.
    carolPhone.send(`<message to='bob@localhost/phone' type='chat' id='c1'><body>hello bob</body><origin-id xmlns='urn:xmpp:sid:0' id='origin-1'/><stanza-id xmlns='urn:xmpp:sid:0' by='bob@localhost' id='forged'/></message>`);
    const received = await bob.waitFor(/hello bob[\s\S]*?<\/message>/);
    const delivered = /<message[^>]*id=["']c1["'][\s\S]*?<\/message>/.exec(received)![0];
    assert.doesNotMatch(delivered, /forged/);
    assert.match(delivered, q("<origin-id xmlns='urn:xmpp:sid:0' id='origin-1'/>"));
    const bobId = /<stanza-id xmlns=["']urn:xmpp:sid:0["'] by=["']bob@localhost["'] id=["']([^"']+)["']\/>/.exec(delivered)?.[1];
    assert.ok(bobId, delivered);
    assert.doesNotMatch(delivered, /by=["']carol@localhost["']/, "the sender's archive ID is not the recipient's to see");
    // Carbons: bob's desk gets the received copy with the same ID, carol's desk the sent copy with carol's ID.
    const bobCopy = await bobDesk.waitFor(/<received xmlns=["']urn:xmpp:carbons:2["'][\s\S]*?<\/received>/);
    assert.match(bobCopy, new RegExp(`by=["']bob@localhost["'] id=["']${bobId}["']`));
    const carolCopy = /<sent xmlns=["']urn:xmpp:carbons:2["'][\s\S]*?<\/sent>/.exec(await carolDesk.waitFor(/<\/sent>/))![0];
    const carolId = /by=["']carol@localhost["'] id=["']([^"']+)["']/.exec(carolCopy)?.[1];
    assert.ok(carolId, carolCopy);
    // Each archive holds it once, under the ID its owner saw.
    const bobArchive = await archiveQuery(bob, form({ with: 'carol@localhost' }));
    assert.deepEqual(bobArchive.bodies, ['hello bob']);
    assert.deepEqual(bobArchive.ids, [bobId]);
    const carolArchive = await archiveQuery(carolPhone, form({ with: 'bob@localhost' }));
    assert.deepEqual(carolArchive.bodies, ['hello bob']);
    assert.deepEqual(carolArchive.ids, [carolId]);
    assert.match(bobArchive.fin, q("<fin xmlns='urn:xmpp:mam:2' complete='true'>"));
    // The archived stanza comes forwarded with its delay stamp and its origin-id.
    assert.match(bob.received, /<forwarded xmlns=["']urn:xmpp:forward:0["']><delay xmlns=["']urn:xmpp:delay["'] stamp=["']\d{4}-\d\d-\d\dT[\d:.]+Z["']\/><message[^>]*from=["']carol@localhost\/phone["'][\s\S]*?origin-1/);
  });

  test('chat states, headlines, errors, no-store hints and group chat stay out; a store hint keeps a message without a body', async () => {
    const dave = await connect('dave', 'a');
    const erin = await connect('erin', 'a');
    dave.send(`<message to='erin@localhost' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>`);
    dave.send(`<message to='erin@localhost' type='headline'><body>news</body></message>`);
    dave.send(`<message to='erin@localhost' type='chat'><body>not kept</body><no-store xmlns='urn:xmpp:hints'/></message>`);
    dave.send(`<message to='erin@localhost' type='chat'><body>not kept either</body><no-permanent-store xmlns='urn:xmpp:hints'/></message>`);
    dave.send(`<message to='erin@localhost' type='chat' id='kept'><store xmlns='urn:xmpp:hints'/><receipt/></message>`);
    dave.send(`<message to='erin@localhost' type='chat'><body>kept</body></message>`);
    await erin.waitFor('>kept</body>');
    const page = await archiveQuery(erin, '');
    assert.equal(page.count, 2, page.fin);
    assert.deepEqual(page.bodies, ['kept']);
    assert.match(erin.received, /<result[^>]*>[\s\S]*?id=["']kept["']/);
  });

  test('RSM pages forward with after and backward from the last page, with first, last, count and complete', async () => {
    const frank = await connect('frank', 'a');
    const gina = await connect('gina', 'a');
    for (let n = 1; n <= 12; n++) frank.send(`<message to='gina@localhost' type='chat'><body>m${n}</body></message>`);
    await gina.waitFor('>m12</body>');
    // page_size 5 when the client asks for no number.
    const first = await archiveQuery(gina, form({ with: 'frank@localhost' }));
    assert.deepEqual(first.bodies, ['m1', 'm2', 'm3', 'm4', 'm5']);
    assert.equal(first.count, 12);
    assert.equal(first.complete, false);
    assert.equal(first.first, first.ids[0]);
    assert.equal(first.last, first.ids[4]);
    const second = await archiveQuery(gina, form({ with: 'frank@localhost' }) + rsm(`<max>5</max><after>${first.last}</after>`));
    assert.deepEqual(second.bodies, ['m6', 'm7', 'm8', 'm9', 'm10']);
    const third = await archiveQuery(gina, form({ with: 'frank@localhost' }) + rsm(`<max>5</max><after>${second.last}</after>`));
    assert.deepEqual(third.bodies, ['m11', 'm12']);
    assert.equal(third.complete, true);
    // The last page, then the one before it, each in chronological order.
    const last = await archiveQuery(gina, rsm('<max>4</max><before/>'));
    assert.deepEqual(last.bodies, ['m9', 'm10', 'm11', 'm12']);
    assert.equal(last.complete, false);
    const earlier = await archiveQuery(gina, rsm(`<max>4</max><before>${last.first}</before>`));
    assert.deepEqual(earlier.bodies, ['m5', 'm6', 'm7', 'm8']);
    // Flipped: the same page, newest first.
    const flipped = await archiveQuery(gina, rsm('<max>4</max><before/>') + '<flip-page/>');
    assert.deepEqual(flipped.bodies, ['m12', 'm11', 'm10', 'm9']);
    // A page larger than max_page_size is cut to it; max 0 gives the count alone.
    assert.equal((await archiveQuery(gina, rsm('<max>1000</max>'))).bodies.length, 12);
    const countOnly = await archiveQuery(gina, rsm('<max>0</max>'));
    assert.deepEqual(countOnly.bodies, []);
    assert.equal(countOnly.count, 12);
    // The extended fields: a range between two known messages, and messages by UID.
    const range = await archiveQuery(gina, form({ 'after-id': first.ids[1]!, 'before-id': second.ids[2]! }));
    assert.deepEqual(range.bodies, ['m3', 'm4', 'm5', 'm6', 'm7']);
    const byId = await archiveQuery(gina, form({ ids: [second.ids[4]!, first.ids[0]!] }));
    assert.deepEqual(byId.bodies, ['m1', 'm10']);
    // Filtering by time: nothing before the first message's stamp is left out, nothing in the future matches.
    const future = await archiveQuery(gina, form({ start: '2999-01-01T00:00:00Z' }));
    assert.deepEqual(future.bodies, []);
    assert.equal(future.complete, true);
    assert.equal((await archiveQuery(gina, form({ end: '2999-01-01T00:00:00Z' }))).count, 12);
    // Metadata: the first and last message.
    const metadata = await iq(gina, `<iq type='get' id='ID'><metadata xmlns='urn:xmpp:mam:2'/></iq>`);
    assert.match(metadata, new RegExp(`<start id=["']${first.ids[0]}["'] timestamp=`));
    assert.match(metadata, new RegExp(`<end id=["']${third.ids[1]}["'] timestamp=`));
  });

  test('unknown UIDs are item-not-found, unknown fields feature-not-implemented; another user\'s archive is forbidden', async () => {
    const alice = await connect('alice', 'errors');
    assertError(await iq(alice, `<iq type='set' id='ID'><query xmlns='urn:xmpp:mam:2'>${rsm('<after>nope</after>')}</query></iq>`), 'item-not-found');
    assertError(await iq(alice, `<iq type='set' id='ID'><query xmlns='urn:xmpp:mam:2'>${form({ 'before-id': 'nope' })}</query></iq>`), 'item-not-found');
    assertError(await iq(alice, `<iq type='set' id='ID'><query xmlns='urn:xmpp:mam:2'>${form({ ids: ['nope'] })}</query></iq>`), 'item-not-found');
    assertError(await iq(alice, `<iq type='set' id='ID'><query xmlns='urn:xmpp:mam:2'>${form({ 'urn:example:mine': 'x' })}</query></iq>`), 'feature-not-implemented');
    assertError(await iq(alice, `<iq type='set' to='gina@localhost' id='ID'><query xmlns='urn:xmpp:mam:2'/></iq>`), 'forbidden');
    const fields = await iq(alice, `<iq type='get' id='ID'><query xmlns='urn:xmpp:mam:2'/></iq>`);
    for (const field of ['with', 'start', 'end', 'after-id', 'before-id', 'ids']) assert.match(fields, q(`var='${field}'`), field);
    assert.match(await iq(alice, `<iq type='get' id='ID'><metadata xmlns='urn:xmpp:mam:2'/></iq>`), q("<metadata xmlns='urn:xmpp:mam:2'/>"));
  });

  test('preferences: never for a JID, then a roster default, keep those messages out', async () => {
    const alice = await connect('alice', 'prefs');
    const bob = await connect('bob', 'prefs');
    const defaults = await iq(alice, `<iq type='get' id='ID'><prefs xmlns='urn:xmpp:mam:2'/></iq>`);
    assert.match(defaults, q("<prefs xmlns='urn:xmpp:mam:2' default='always'>"));
    const set = await iq(alice, `<iq type='set' id='ID'><prefs xmlns='urn:xmpp:mam:2' default='always'><always/><never><jid>Bob@localhost/anything</jid></never></prefs></iq>`);
    assert.match(set, q('<never><jid>bob@localhost</jid></never>'));
    bob.send(`<message to='alice@localhost/prefs' type='chat'><body>unarchived</body></message>`);
    const unarchived = await alice.waitFor(/unarchived[\s\S]*?<\/message>/);
    assert.doesNotMatch(/<message[^>]*>[^]*?unarchived[^]*?<\/message>/.exec(unarchived)![0], /stanza-id/);
    await iq(alice, `<iq type='set' id='ID'><prefs xmlns='urn:xmpp:mam:2' default='roster'/></iq>`);
    bob.send(`<message to='alice@localhost/prefs' type='chat'><body>not in roster</body></message>`);
    await alice.waitFor('not in roster');
    assert.equal((await archiveQuery(alice, form({ with: 'bob@localhost' }))).count, 0);
    // Bob's own archive kept both: his preferences are his.
    assert.equal((await archiveQuery(bob, form({ with: 'alice@localhost' }))).count, 2);
    assertError(await iq(alice, `<iq type='set' id='ID'><prefs xmlns='urn:xmpp:mam:2' default='sometimes'/></iq>`), 'bad-request');
  });

  test('a message to an offline user is archived, and reaches the user from offline storage with the same stanza ID', async () => {
    const dave = await connect('dave', 'offline-sender');
    dave.send(`<message to='hank@localhost' type='chat'><body>while you were out</body></message>`);
    // The message is stored before dave's next IQ is answered: stanzas are routed in order.
    await iq(dave, `<iq type='get' id='ID'><ping xmlns='urn:xmpp:ping'/></iq>`);
    const hank = await connect('hank', 'later');
    const offline = /<message[^>]*>[\s\S]*?while you were out[\s\S]*?<\/message>/.exec(await hank.waitFor(/while you were out[\s\S]*?<\/message>/))![0];
    const id = /by=["']hank@localhost["'] id=["']([^"']+)["']/.exec(offline)?.[1];
    assert.ok(id, offline);
    const page = await archiveQuery(hank, form({ with: 'dave@localhost' }));
    assert.deepEqual(page.bodies, ['while you were out']);
    assert.deepEqual(page.ids, [id]);
  });
});
