/**
 * Personal eventing (XEP-0163) and the PubSub service (XEP-0060) with a real client: slixmpp
 * (Debian python3-slixmpp, with its xep_0115, xep_0163, xep_0060, xep_0084, xep_0172 and
 * xep_0048 plugins) through test/clients/pep_driver.py, each client in its own process, over
 * STARTTLS with SCRAM. Notifications filtered by entity capabilities, the last item on coming
 * online, access models, publish options as OMEMO (XEP-0384) and Bookmarks 2 (XEP-0402) use them,
 * bookmarks converted from private XML storage (XEP-0411), avatars converted between PEP and the
 * vCard-temp PHOTO with their hash in presence (XEP-0398, XEP-0153), limits, and a PubSub service
 * host.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { ClientDriver, DriverEvent } from './support/client-driver.ts';
import { startTestServer, type TestServer } from './support/server.ts';
import { startSlixmppPep } from './support/slixmpp.ts';

const PASSWORD = 'correct horse';
const USERS = ['juliet', 'romeo', 'nurse', 'benvolio', 'tybalt', 'mercutio', 'paris', 'rosaline', 'balthasar', 'friar', 'abram'];
const NICK = 'http://jabber.org/protocol/nick';
const AVATAR_METADATA = 'urn:xmpp:avatar:metadata';
const AVATAR_DATA = 'urn:xmpp:avatar:data';
const PEP_VCARD_CONVERSION = 'urn:xmpp:pep-vcard-conversion:0';
const BOOKMARKS = 'urn:xmpp:bookmarks:1';
const OMEMO_DEVICES = 'urn:xmpp:omemo:2:devices';
const OMEMO_BUNDLES = 'urn:xmpp:omemo:2:bundles';

const CONFIG = `
pep: { max_nodes: 12, max_item_bytes: 4096 }
pubsub: { max_nodes: 50 }
hosts:
  localhost: {}
`;

const isEvent = (node: string, fragment: string) => (event: DriverEvent) =>
  event.event === 'pubsub_event' && String(event.xml).includes(`node="${node}"`) && String(event.xml).includes(fragment);
const avatarEvent = (fragment: string) => isEvent(AVATAR_METADATA, fragment);
const sha1 = (text: string) => createHash('sha1').update(Buffer.from(text, 'latin1')).digest('hex');
const presenceFrom = (jid: string, photo?: string) => (event: DriverEvent) => event.event === 'presence' && event.from === jid && event.type === 'available' && (photo === undefined || event.photo === photo);

describe('personal eventing and pubsub with real clients', () => {
  let server: TestServer;
  const clients: ClientDriver[] = [];

  before(async () => {
    server = await startTestServer(CONFIG);
    for (const user of USERS) await server.addUser(user, 'localhost', PASSWORD);
    const item = (jid: string, subscription: 'both' | 'from' | 'to') => ({ jid, subscription, askOut: false, askIn: false, approved: false, groups: [] });
    // juliet and romeo share presence both ways; benvolio sees juliet's presence but asks for no notifications.
    await server.server.storage.rosters.setItem('localhost', 'juliet', item('romeo@localhost', 'both'));
    await server.server.storage.rosters.setItem('localhost', 'romeo', item('juliet@localhost', 'both'));
    await server.server.storage.rosters.setItem('localhost', 'juliet', item('benvolio@localhost', 'from'));
    await server.server.storage.rosters.setItem('localhost', 'benvolio', item('juliet@localhost', 'to'));
    // rosaline and balthasar share presence both ways, for the avatar conversion.
    await server.server.storage.rosters.setItem('localhost', 'rosaline', item('balthasar@localhost', 'both'));
    await server.server.storage.rosters.setItem('localhost', 'balthasar', item('rosaline@localhost', 'both'));
  });
  after(async () => {
    for (const client of clients) client.stop();
    await server.stop();
  });

  async function pep(jid: string, interests: readonly string[] = []): Promise<ClientDriver> {
    const client = await startSlixmppPep(server, jid, PASSWORD, interests);
    clients.push(client);
    return client;
  }

  test('the account and its server advertise personal eventing: the pubsub/pep identity and publish options in their disco#info', async () => {
    const juliet = await pep('juliet@localhost/info');
    const info = await juliet.ok({ op: 'disco_info', jid: 'juliet@localhost' });
    assert.deepEqual((info.identities as string[][]).filter(([category]) => category === 'pubsub'), [['pubsub', 'pep', '']]);
    for (const feature of ['publish', 'publish-options', 'auto-create', 'access-presence', 'access-open', 'access-whitelist', 'filtered-notifications', 'config-node-max']) {
      assert.ok((info.features as string[]).includes(`http://jabber.org/protocol/pubsub#${feature}`), feature);
    }
    assert.ok((info.features as string[]).includes('urn:xmpp:bookmarks:1#compat'));
    // As ejabberd's: the server's own disco#info names them too, where some clients look (Profanity, for publish-options).
    const server = await juliet.ok({ op: 'disco_info', jid: 'localhost' });
    assert.deepEqual((server.identities as string[][]).filter(([category]) => category === 'pubsub'), [['pubsub', 'pep', '']]);
    for (const feature of ['publish', 'publish-options', 'access-open']) assert.ok((server.features as string[]).includes(`http://jabber.org/protocol/pubsub#${feature}`), feature);
    await juliet.disconnect();
  });

  test('a nickname reaches a contact with +notify, as the last item when online and as a notification after; not a stranger, nor a contact without +notify', async () => {
    const juliet = await pep('juliet@localhost/balcony');
    await juliet.ok({ op: 'presence' });
    await juliet.ok({ op: 'nick', nick: 'Jules' });

    const romeo = await pep('romeo@localhost/garden', [NICK]);
    const nurse = await pep('nurse@localhost/kitchen', [NICK]);
    const benvolio = await pep('benvolio@localhost/street');
    await romeo.ok({ op: 'presence' });
    await benvolio.ok({ op: 'presence' });
    await nurse.ok({ op: 'presence' });
    // The nurse even tells juliet her capabilities: she is still no contact.
    await nurse.ok({ op: 'presence', to: 'juliet@localhost' });
    // XEP-0163 section 4.3.2: the server asked romeo's client for its caps, then sent the last item.
    await romeo.waitEvent(isEvent(NICK, '>Jules<'), 10_000);

    await juliet.ok({ op: 'nick', nick: 'Juliet Capulet' });
    const event = await romeo.waitEvent(isEvent(NICK, '>Juliet Capulet<'));
    assert.equal(event.from, 'juliet@localhost');
    await nurse.expectNoEvent((e) => e.event === 'pubsub_event', 500);
    await benvolio.expectNoEvent((e) => e.event === 'pubsub_event', 100);

    // Presence access (XEP-0060 section 6.5.9.3): a contact reads the items, a stranger may not.
    const items = await romeo.ok({ op: 'items', jid: 'juliet@localhost', node: NICK });
    assert.match(JSON.stringify(items.items), /Juliet Capulet/);
    const refused = await nurse.command({ op: 'items', jid: 'juliet@localhost', node: NICK });
    assert.equal(refused.error?.condition, 'not-authorized');
    await Promise.all([juliet, romeo, nurse, benvolio].map((client) => client.disconnect()));
  });

  test("an avatar's metadata notifies a contact, who then fetches the data (XEP-0084)", async () => {
    const romeo = await pep('romeo@localhost/avatar', [AVATAR_METADATA]);
    await romeo.ok({ op: 'presence' });
    const juliet = await pep('juliet@localhost/avatar');
    await juliet.ok({ op: 'presence' });
    await romeo.waitEvent((event) => event.event === 'presence' && event.from === 'juliet@localhost/avatar');
    // Wait for the server to have learnt romeo's caps: publish until the notification arrives.
    const published = await juliet.ok({ op: 'avatar', data: 'PNG-bytes-of-a-rose' });
    const metadata = await romeo.waitEvent(isEvent(AVATAR_METADATA, String(published.avatar_id)), 10_000);
    assert.equal(metadata.from, 'juliet@localhost');
    const data = await romeo.ok({ op: 'items', jid: 'juliet@localhost', node: 'urn:xmpp:avatar:data', ids: [published.avatar_id] });
    assert.match(JSON.stringify(data.items), new RegExp(Buffer.from('PNG-bytes-of-a-rose').toString('base64')));
    await Promise.all([juliet, romeo].map((client) => client.disconnect()));
  });

  test('OMEMO: the device list and bundles with the publish options XEP-0384 sets; other options are precondition-not-met', async () => {
    const tybalt = await pep('tybalt@localhost/phone');
    const open = { 'pubsub#access_model': 'open', 'pubsub#max_items': 'max' };
    await tybalt.ok({ op: 'publish', node: OMEMO_DEVICES, item: 'current', payload: "<devices xmlns='urn:xmpp:omemo:2'><device id='12345'/></devices>", options: open });
    for (const device of ['12345', '67890']) {
      await tybalt.ok({ op: 'publish', node: OMEMO_BUNDLES, item: device, payload: `<bundle xmlns='urn:xmpp:omemo:2'><spk id='${device}'>key</spk></bundle>`, options: open });
    }
    const config = await tybalt.ok({ op: 'configure_get', node: OMEMO_BUNDLES });
    assert.equal((config.config as Record<string, unknown>)['pubsub#access_model'], 'open');
    assert.equal((config.config as Record<string, unknown>)['pubsub#max_items'], '1000');
    // Open access: a stranger without a subscription fetches both bundles to start a session.
    const mercutio = await pep('mercutio@localhost/street');
    const bundles = await mercutio.ok({ op: 'items', jid: 'tybalt@localhost', node: OMEMO_BUNDLES });
    assert.deepEqual((bundles.items as { id: string }[]).map((item) => item.id).sort(), ['12345', '67890']);
    // XEP-0060 section 7.1.5: options that differ from the node's configuration are a precondition failure.
    const refused = await tybalt.command({ op: 'raw_iq', xml: `<iq type='set'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='${OMEMO_DEVICES}'><item id='current'><devices xmlns='urn:xmpp:omemo:2'/></item></publish><publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='pubsub#access_model'><value>presence</value></field></x></publish-options></pubsub></iq>` });
    assert.equal(refused.error?.condition, 'conflict');
    const raw = await tybalt.command({ op: 'items', node: OMEMO_DEVICES });
    assert.match(JSON.stringify(raw.items), /12345/, 'the refused publish changed nothing');
    await Promise.all([tybalt, mercutio].map((client) => client.disconnect()));
  });

  test('bookmarks stored in private XML storage appear in the Bookmarks 2 node and back (XEP-0411); the node is whitelist only', async () => {
    const paris = await pep('paris@localhost/desk', [BOOKMARKS]);
    await paris.ok({ op: 'presence' });
    await paris.ok({ op: 'bookmarks_set', conferences: [{ jid: 'chapel@conference.localhost', name: 'The chapel', nick: 'Paris', autojoin: true }] });
    const items = await paris.ok({ op: 'items', node: BOOKMARKS });
    assert.equal((items.items as { id: string }[])[0]!.id, 'chapel@conference.localhost');
    assert.match(String((items.items as { xml: string }[])[0]!.xml), /autojoin="true"/);
    // A Bookmarks 2 client publishes with the options of XEP-0402 section 3.1; the old client sees it.
    await paris.ok({
      op: 'publish',
      node: BOOKMARKS,
      item: 'tomb@conference.localhost',
      payload: "<conference xmlns='urn:xmpp:bookmarks:1' name='The tomb'><nick>County Paris</nick></conference>",
      options: { 'pubsub#persist_items': 'true', 'pubsub#max_items': 'max', 'pubsub#send_last_published_item': 'never', 'pubsub#access_model': 'whitelist' },
    });
    await paris.waitEvent(isEvent(BOOKMARKS, 'tomb@conference.localhost'), 10_000);
    const legacy = await paris.ok({ op: 'bookmarks_get' });
    assert.deepEqual(legacy.conferences, [
      { jid: 'chapel@conference.localhost', name: 'The chapel', nick: 'Paris', autojoin: true },
      { jid: 'tomb@conference.localhost', name: 'The tomb', nick: 'County Paris', autojoin: false },
    ]);
    // Setting the private document without the chapel retracts it from the node.
    await paris.ok({ op: 'bookmarks_set', conferences: [{ jid: 'tomb@conference.localhost', name: 'The tomb', nick: 'County Paris' }] });
    await paris.waitEvent((event) => event.event === 'pubsub_event' && event.kind === 'retract' && String(event.xml).includes('chapel@conference.localhost'));
    assert.deepEqual(((await paris.ok({ op: 'items', node: BOOKMARKS })).items as { id: string }[]).map((item) => item.id), ['tomb@conference.localhost']);
    const nurse = await pep('nurse@localhost/snoop');
    const refused = await nurse.command({ op: 'items', jid: 'paris@localhost', node: BOOKMARKS });
    assert.equal(refused.error?.condition, 'not-allowed');
    await Promise.all([paris, nurse].map((client) => client.disconnect()));
  });

  test('limits: an item over max_item_bytes is not-acceptable, a node over max_nodes not-allowed', async () => {
    const mercutio = await pep('mercutio@localhost/limits');
    const big = await mercutio.command({ op: 'publish', node: 'urn:example:big', payload: `<big xmlns='urn:example'>${'x'.repeat(5000)}</big>` });
    assert.equal(big.error?.condition, 'not-acceptable');
    for (let n = 0; n < 12; n++) await mercutio.ok({ op: 'publish', node: `urn:example:node${n}`, payload: "<p xmlns='urn:example'/>" });
    const over = await mercutio.command({ op: 'publish', node: 'urn:example:one-more', payload: "<p xmlns='urn:example'/>" });
    assert.equal(over.error?.condition, 'not-allowed');
    await mercutio.disconnect();
  });

  test('the PubSub service: create with a configuration, subscribe, publish, notify, list, refuse a stranger\'s publish, delete', async () => {
    const romeo = await pep('romeo@localhost/feeds');
    const nurse = await pep('nurse@localhost/feeds');
    // RFC 6121 section 8.5.2.1.1: a headline to a bare JID reaches the available resources.
    await nurse.ok({ op: 'presence' });
    const services = await romeo.ok({ op: 'disco_items', jid: 'localhost' });
    assert.ok((services.items as string[][]).some(([jid]) => jid === 'pubsub.localhost'));
    await romeo.ok({ op: 'create', jid: 'pubsub.localhost', node: 'verona-news', config: { 'pubsub#title': 'News from Verona', 'pubsub#max_items': '5' } });
    const duplicate = await romeo.command({ op: 'create', jid: 'pubsub.localhost', node: 'verona-news' });
    assert.equal(duplicate.error?.condition, 'conflict');
    assert.equal((await nurse.ok({ op: 'subscribe', jid: 'pubsub.localhost', node: 'verona-news' })).subscription, 'subscribed');
    await romeo.ok({ op: 'publish', jid: 'pubsub.localhost', node: 'verona-news', item: 'first', payload: "<entry xmlns='http://www.w3.org/2005/Atom'><title>A plague</title></entry>" });
    const event = await nurse.waitEvent(isEvent('verona-news', 'A plague'));
    assert.equal(event.from, 'pubsub.localhost');
    const listed = await nurse.ok({ op: 'nodes', jid: 'pubsub.localhost' });
    assert.deepEqual(listed.items, [['pubsub.localhost', 'verona-news', 'News from Verona']]);
    const forbidden = await nurse.command({ op: 'publish', jid: 'pubsub.localhost', node: 'verona-news', payload: "<entry xmlns='http://www.w3.org/2005/Atom'/>" });
    assert.equal(forbidden.error?.condition, 'forbidden');
    const affiliations = await romeo.ok({ op: 'raw_iq', xml: "<iq type='get' to='pubsub.localhost'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations node='verona-news'/></pubsub></iq>" });
    assert.match(String(affiliations.xml), /<affiliation jid="romeo@localhost" affiliation="owner" \/>|<affiliation jid="romeo@localhost" affiliation="owner"\/>/);
    await romeo.ok({ op: 'delete_node', jid: 'pubsub.localhost', node: 'verona-news' });
    await nurse.waitEvent((e) => e.event === 'pubsub_event' && e.kind === 'delete');
    const gone = await nurse.command({ op: 'items', jid: 'pubsub.localhost', node: 'verona-news' });
    assert.equal(gone.error?.condition, 'item-not-found');
    await Promise.all([romeo, nurse].map((client) => client.disconnect()));
  });

  test('the account advertises the conversion in its disco#info (XEP-0398 section 2)', async () => {
    const friar = await pep('friar@localhost/info');
    const info = await friar.ok({ op: 'disco_info', jid: 'friar@localhost' });
    assert.ok((info.features as string[]).includes(PEP_VCARD_CONVERSION));
    await friar.disconnect();
  });

  test('an avatar published in PEP is the vCard PHOTO anyone reads, and its hash is in presence', async () => {
    const balthasar = await pep('balthasar@localhost/garden');
    await balthasar.ok({ op: 'presence' });
    const rosaline = await pep('rosaline@localhost/balcony');
    const published = await rosaline.ok({ op: 'avatar', data: 'PNG-bytes-of-a-rose' });
    assert.equal(published.avatar_id, sha1('PNG-bytes-of-a-rose'));
    // The friar is no contact: the vCard is public (XEP-0398 section 6).
    const friar = await pep('friar@localhost/kitchen');
    const vcard = await friar.ok({ op: 'vcard_photo_get', jid: 'rosaline@localhost' });
    assert.equal(vcard.photo, 'PNG-bytes-of-a-rose');
    assert.equal(vcard.type, 'image/png');
    // Section 4: slixmpp sends no vcard-temp:x:update itself; the server adds the hash.
    await rosaline.ok({ op: 'presence' });
    await balthasar.waitEvent(presenceFrom('rosaline@localhost/balcony', String(published.avatar_id)));
    // Directed presence (a room join, or to a stranger) carries it too.
    await rosaline.ok({ op: 'presence', to: 'friar@localhost/kitchen' });
    await friar.waitEvent(presenceFrom('rosaline@localhost/balcony', String(published.avatar_id)));
    await Promise.all([balthasar, rosaline, friar].map((client) => client.disconnect()));
  });

  test("a client's own <photo/> stays as it sent it; an empty <x/> gets the hash", async () => {
    const balthasar = await pep('balthasar@localhost/orchard');
    await balthasar.ok({ op: 'presence' });
    const rosaline = await pep('rosaline@localhost/window');
    const hash = sha1('PNG-bytes-of-a-rose');
    await rosaline.ok({ op: 'presence_photo', photo: '' });
    await balthasar.waitEvent(presenceFrom('rosaline@localhost/window', ''));
    await rosaline.ok({ op: 'presence_photo' });
    await balthasar.waitEvent(presenceFrom('rosaline@localhost/window', hash));
    await Promise.all([balthasar, rosaline].map((client) => client.disconnect()));
  });

  test('a vCard PHOTO from a legacy client is published to PEP with a notification, and taken away with the PHOTO', async () => {
    const rosaline = await pep('rosaline@localhost/phone', [AVATAR_METADATA]);
    await rosaline.ok({ op: 'presence' });
    const balthasar = await pep('balthasar@localhost/legacy');
    await balthasar.ok({ op: 'presence' });
    await rosaline.waitEvent(presenceFrom('balthasar@localhost/legacy'));
    const hash = sha1('GIF-bytes-of-a-dagger');
    await balthasar.ok({ op: 'vcard_photo_set', fn: 'Balthasar', photo: 'GIF-bytes-of-a-dagger', type: 'image/gif' });
    // Section 3.2: data first, then metadata with one info of the vCard's type; contacts are notified.
    const notified = await rosaline.waitEvent(avatarEvent(hash), 10_000);
    assert.match(String(notified.xml), /type="image\/gif"/);
    assert.match(String(notified.xml), new RegExp(`bytes="${'GIF-bytes-of-a-dagger'.length}"`));
    const data = await rosaline.ok({ op: 'items', jid: 'balthasar@localhost', node: AVATAR_DATA, ids: [hash] });
    assert.match(JSON.stringify(data.items), new RegExp(Buffer.from('GIF-bytes-of-a-dagger').toString('base64')));
    await balthasar.ok({ op: 'presence' });
    await rosaline.waitEvent(presenceFrom('balthasar@localhost/legacy', hash));

    // A vCard without a PHOTO: no avatar in PEP either (empty metadata, XEP-0084 section 4.2), an empty <photo/> in presence.
    await balthasar.ok({ op: 'vcard_photo_set', fn: 'Balthasar' });
    await rosaline.waitEvent((event) => avatarEvent('')(event) && /<(\w+:)?metadata\s*\/>/.test(String(event.xml)), 10_000);
    await balthasar.ok({ op: 'presence' });
    await rosaline.waitEvent(presenceFrom('balthasar@localhost/legacy', ''));
    assert.equal((await rosaline.ok({ op: 'vcard_photo_get', jid: 'balthasar@localhost' })).fn, 'Balthasar');
    await Promise.all([rosaline, balthasar].map((client) => client.disconnect()));
  });

  test('limits: a PHOTO larger than pep.max_item_bytes is refused and the vCard stays; metadata whose data does not hash to its id changes no vCard', async () => {
    const abram = await pep('abram@localhost/limits');
    await abram.ok({ op: 'vcard_photo_set', fn: 'Abram', photo: 'small' });
    const big = await abram.command({ op: 'vcard_photo_set', fn: 'Sampson', photo: 'x'.repeat(5000) });
    assert.equal(big.error?.condition, 'not-acceptable');
    assert.match(big.error?.text ?? '', /pep\.max_item_bytes/);
    const kept = await abram.ok({ op: 'vcard_photo_get', jid: 'abram@localhost' });
    assert.deepEqual([kept.fn, kept.photo], ['Abram', 'small']);

    // Data published under an id that is not its hash: XEP-0398 section 3.1, the service verifies.
    const forged = sha1('something else');
    await abram.ok({ op: 'publish', node: AVATAR_DATA, item: forged, payload: `<data xmlns='${AVATAR_DATA}'>${Buffer.from('plague').toString('base64')}</data>` });
    await abram.ok({ op: 'publish', node: AVATAR_METADATA, item: forged, payload: `<metadata xmlns='${AVATAR_METADATA}'><info id='${forged}' bytes='6' type='image/png'/></metadata>` });
    assert.equal((await abram.ok({ op: 'vcard_photo_get', jid: 'abram@localhost' })).photo, 'small');
    // An info pointing to a URL is skipped for the one this server holds.
    const real = sha1('plague');
    await abram.ok({ op: 'publish', node: AVATAR_DATA, item: real, payload: `<data xmlns='${AVATAR_DATA}'>${Buffer.from('plague').toString('base64')}</data>` });
    const both = `<metadata xmlns='${AVATAR_METADATA}'><info id='${sha1('elsewhere')}' url='https://example.com/a.png' bytes='9' type='image/png'/><info id='${real}' bytes='6' type='image/webp'/></metadata>`;
    await abram.ok({ op: 'publish', node: AVATAR_METADATA, item: real, payload: both });
    const converted = await abram.ok({ op: 'vcard_photo_get', jid: 'abram@localhost' });
    assert.deepEqual([converted.photo, converted.type, converted.fn], ['plague', 'image/webp', 'Abram']);
    await abram.disconnect();
  });
});
