/** The node logic of a publish-subscribe service (XEP-0060) on real storage (SQLite in memory), requests as XML. */
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { parseJid } from '../jid/jid.ts';
import { openSqliteStorage } from '../storage/sqlite.ts';
import type { Element } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { serialize } from '../xml/serialize.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { KeyedLock } from './keyed-lock.ts';
import { pubsubRequest } from './requests.ts';
import { PubsubService, type PubsubServiceOptions } from './service.ts';

const PUBSUB = 'http://jabber.org/protocol/pubsub';
const OWNER = 'http://jabber.org/protocol/pubsub#owner';
const alice = parseJid('alice@example.com/desk');
const bob = parseJid('bob@example.com/phone');
const eve = parseJid('eve@example.net/x');

interface Harness {
  service: PubsubService;
  sent: Element[];
  request(from: typeof alice, type: 'get' | 'set', xml: string): Promise<Element | undefined>;
}

async function harness(t: TestContext, changes: Partial<PubsubServiceOptions> = {}): Promise<Harness> {
  const storage = await openSqliteStorage(':memory:');
  t.after(() => storage.close());
  const sent: Element[] = [];
  const service = new PubsubService({
    address: 'alice@example.com',
    kind: 'pep',
    store: storage.pubsub,
    lock: new KeyedLock(),
    limits: { maxNodes: 3, maxItems: 5, maxItemBytes: 300, maxSubscriptions: 2 },
    mayCreate: (from) => from.bare().equals(alice.bare()),
    sharesPresence: async (who) => who.bare().equals(bob.bare()),
    send: (stanza) => void sent.push(stanza),
    implicitRecipients: async () => ['bob@example.com/phone', 'eve@example.net/x', 'alice@example.com/desk'],
    ...changes,
  });
  return { service, sent, request: (from, type, xml) => pubsubRequest(service, type, parseElement(xml), from) };
}

const publish = (node: string, id: string, payload = `<p xmlns='urn:test'>${id}</p>`, options = '') =>
  `<pubsub xmlns='${PUBSUB}'><publish node='${node}'><item id='${id}'>${payload}</item></publish>${options}</pubsub>`;
const optionsForm = (fields: Record<string, string>) =>
  `<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>${PUBSUB}#publish-options</value></field>${Object.entries(fields).map(([name, value]) => `<field var='${name}'><value>${value}</value></field>`).join('')}</x></publish-options>`;
const items = (node: string, extra = '') => `<pubsub xmlns='${PUBSUB}'><items node='${node}'${extra}/></pubsub>`;

async function refusal(work: Promise<unknown>): Promise<string> {
  try {
    await work;
  } catch (error) {
    if (error instanceof StanzaError) return `${error.condition}${error.appCondition ? '/' + error.appCondition.name : ''}`;
    throw error;
  }
  assert.fail('expected a stanza error');
}

const idsOf = (result: Element | undefined) => result!.getChild('items', PUBSUB)!.getChildren('item', PUBSUB).map((item) => item.attrs.id);

test('publishing auto-creates the node for its owner; notifications go to the resources that may see it, each once', async (t) => {
  const { request, sent } = await harness(t);
  const result = await request(alice, 'set', publish('urn:xmpp:nick', 'current', "<nick xmlns='http://jabber.org/protocol/nick'>Alice</nick>"));
  assert.equal(result!.getChild('publish', PUBSUB)!.getChild('item', PUBSUB)!.attrs.id, 'current');
  // eve is in the implicit list (she sent presence with +notify) but is no contact: presence access keeps her out.
  assert.deepEqual(sent.map((stanza) => stanza.attrs.to).sort(), ['alice@example.com/desk', 'bob@example.com/phone']);
  const event = serialize(sent[0]!);
  assert.match(event, /^<message xmlns="jabber:client" from="alice@example.com" to="[^"]+" type="headline" id="[^"]+"><event xmlns="http:\/\/jabber.org\/protocol\/pubsub#event"><items node="urn:xmpp:nick"><item id="current" publisher="alice@example.com"><nick xmlns="http:\/\/jabber.org\/protocol\/nick">Alice<\/nick><\/item><\/items><\/event><\/message>$/);
  assert.deepEqual(idsOf(await request(bob, 'get', items('urn:xmpp:nick'))), ['current']);
  assert.equal(await refusal(request(eve, 'get', items('urn:xmpp:nick'))), 'not-authorized/presence-subscription-required');
});

test('only the owner publishes; someone else publishing to a missing node finds no node', async (t) => {
  const { request } = await harness(t);
  await request(alice, 'set', publish('n', '1'));
  assert.equal(await refusal(request(bob, 'set', publish('n', '2'))), 'forbidden');
  assert.equal(await refusal(request(bob, 'set', publish('other', '1'))), 'item-not-found');
});

test('a node keeps max_items: the oldest go with retraction notifications; the same id again replaces and becomes newest', async (t) => {
  const { request, sent } = await harness(t);
  await request(alice, 'set', publish('feed', 'a', undefined, optionsForm({ 'pubsub#max_items': '2' })));
  await request(alice, 'set', publish('feed', 'b'));
  await request(alice, 'set', publish('feed', 'a', "<p xmlns='urn:test'>again</p>"));
  assert.deepEqual(idsOf(await request(alice, 'get', items('feed'))), ['b', 'a']);
  sent.length = 0;
  await request(alice, 'set', publish('feed', 'c'));
  assert.deepEqual(idsOf(await request(alice, 'get', items('feed'))), ['a', 'c']);
  assert.ok(sent.some((stanza) => serialize(stanza).includes('<retract id="b"/>')));
  assert.deepEqual(idsOf(await request(alice, 'get', items('feed', " max_items='1'"))), ['c']);
});

test('publish options: applied to a new node, compared with an existing one; a new node refused is not left behind', async (t) => {
  const { request, service } = await harness(t);
  await request(alice, 'set', publish('urn:xmpp:omemo:2:devices', 'current', undefined, optionsForm({ 'pubsub#access_model': 'open', 'pubsub#max_items': 'max' })));
  assert.deepEqual(idsOf(await request(eve, 'get', items('urn:xmpp:omemo:2:devices'))), ['current'], 'open access');
  assert.equal((await service.load('urn:xmpp:omemo:2:devices'))!.config.max_items, 5);
  assert.equal(await refusal(request(alice, 'set', publish('urn:xmpp:omemo:2:devices', 'current', undefined, optionsForm({ 'pubsub#access_model': 'presence' })))), 'conflict/precondition-not-met');
  assert.equal(await refusal(request(alice, 'set', publish('fresh', '1', undefined, optionsForm({ 'pubsub#access_model': 'roster' })))), 'conflict/precondition-not-met');
  assert.equal(await service.load('fresh'), undefined);
});

test('limits: nodes, item size (checked before anything is stored) and subscriptions', async (t) => {
  const { request, service } = await harness(t);
  assert.equal(await refusal(request(alice, 'set', publish('big', '1', `<p xmlns='urn:test'>${'x'.repeat(300)}</p>`))), 'not-acceptable/payload-too-big');
  assert.equal(await service.load('big'), undefined);
  for (const node of ['a', 'b', 'c']) await request(alice, 'set', publish(node, '1'));
  assert.equal(await refusal(request(alice, 'set', publish('d', '1'))), 'not-allowed');
  await request(alice, 'set', `<pubsub xmlns='${PUBSUB}'><subscribe node='a' jid='alice@example.com'/></pubsub>`);
  await request(bob, 'set', `<pubsub xmlns='${PUBSUB}'><subscribe node='a' jid='bob@example.com/phone'/></pubsub>`);
  assert.equal(await refusal(request(bob, 'set', `<pubsub xmlns='${PUBSUB}'><subscribe node='a' jid='bob@example.com'/></pubsub>`)), 'not-allowed');
});

test('subscribing: only your own JID, the last item follows; unsubscribing twice is not-subscribed', async (t) => {
  const { request, sent } = await harness(t, { implicitRecipients: undefined });
  await request(alice, 'set', publish('n', 'last'));
  assert.equal(await refusal(request(bob, 'set', `<pubsub xmlns='${PUBSUB}'><subscribe node='n' jid='carol@example.com'/></pubsub>`)), 'bad-request/invalid-jid');
  assert.equal(await refusal(request(eve, 'set', `<pubsub xmlns='${PUBSUB}'><subscribe node='n' jid='eve@example.net'/></pubsub>`)), 'not-authorized/presence-subscription-required');
  sent.length = 0;
  const result = await request(bob, 'set', `<pubsub xmlns='${PUBSUB}'><subscribe node='n' jid='bob@example.com'/></pubsub>`);
  assert.equal(result!.getChild('subscription', PUBSUB)!.attrs.subscription, 'subscribed');
  assert.deepEqual(sent.map((stanza) => stanza.attrs.to), ['bob@example.com']);
  assert.match(serialize(sent[0]!), /<item id="last"/);
  await request(bob, 'set', `<pubsub xmlns='${PUBSUB}'><unsubscribe node='n' jid='bob@example.com'/></pubsub>`);
  assert.equal(await refusal(request(bob, 'set', `<pubsub xmlns='${PUBSUB}'><unsubscribe node='n' jid='bob@example.com'/></pubsub>`)), 'unexpected-request/not-subscribed');
});

test('whitelist: members read, others get closed-node; an outcast is forbidden', async (t) => {
  const { request } = await harness(t, { limits: { maxNodes: 3, maxItems: 5, maxItemBytes: 300, maxSubscriptions: 3 } });
  await request(alice, 'set', publish('urn:xmpp:bookmarks:1', 'room@muc.example', undefined, optionsForm({ 'pubsub#access_model': 'whitelist' })));
  assert.equal(await refusal(request(bob, 'get', items('urn:xmpp:bookmarks:1'))), 'not-allowed/closed-node');
  await request(alice, 'set', `<pubsub xmlns='${OWNER}'><affiliations node='urn:xmpp:bookmarks:1'><affiliation jid='eve@example.net' affiliation='member'/><affiliation jid='bob@example.com' affiliation='outcast'/></affiliations></pubsub>`);
  assert.deepEqual(idsOf(await request(eve, 'get', items('urn:xmpp:bookmarks:1'))), ['room@muc.example']);
  assert.equal(await refusal(request(bob, 'get', items('urn:xmpp:bookmarks:1'))), 'forbidden');
  assert.equal(await refusal(request(alice, 'set', `<pubsub xmlns='${OWNER}'><affiliations node='urn:xmpp:bookmarks:1'><affiliation jid='alice@example.com' affiliation='none'/></affiliations></pubsub>`)), 'not-acceptable');
});

test('retract notifies and removes; the owner configures (fewer items trims), purges and deletes with notifications; others may not', async (t) => {
  const { request, sent, service } = await harness(t, { implicitRecipients: undefined });
  for (const id of ['1', '2', '3']) await request(alice, 'set', publish('n', id, undefined, id === '1' ? optionsForm({ 'pubsub#max_items': '5' }) : ''));
  await request(bob, 'set', `<pubsub xmlns='${PUBSUB}'><subscribe node='n' jid='bob@example.com'/></pubsub>`);
  sent.length = 0;
  await request(alice, 'set', `<pubsub xmlns='${PUBSUB}'><retract node='n' notify='true'><item id='3'/></retract></pubsub>`);
  assert.match(serialize(sent[0]!), /<retract id="3"\/>/);
  assert.equal(await refusal(request(alice, 'set', `<pubsub xmlns='${PUBSUB}'><retract node='n'><item id='3'/></retract></pubsub>`)), 'item-not-found');
  assert.equal(await refusal(request(bob, 'get', `<pubsub xmlns='${OWNER}'><configure node='n'/></pubsub>`)), 'forbidden');
  await request(alice, 'set', `<pubsub xmlns='${OWNER}'><configure node='n'><x xmlns='jabber:x:data' type='submit'><field var='pubsub#max_items'><value>1</value></field></x></configure></pubsub>`);
  assert.deepEqual(idsOf(await request(alice, 'get', items('n'))), ['2']);
  sent.length = 0;
  await request(alice, 'set', `<pubsub xmlns='${OWNER}'><purge node='n'/></pubsub>`);
  assert.deepEqual(idsOf(await request(alice, 'get', items('n'))), []);
  await request(alice, 'set', `<pubsub xmlns='${OWNER}'><delete node='n'/></pubsub>`);
  assert.deepEqual(sent.map((stanza) => stanza.getChild('event', `${PUBSUB}#event`)!.elements()[0]!.name), ['purge', 'delete']);
  assert.equal(await service.load('n'), undefined);
  assert.equal(await refusal(request(alice, 'get', items('n'))), 'item-not-found');
});

test('a service: instant nodes, creation refused to whom may not, own subscriptions and affiliations listed', async (t) => {
  const { request } = await harness(t, { address: 'pubsub.example.com', kind: 'service', mayCreate: (from) => from.domain === 'example.com', implicitRecipients: undefined });
  const created = await request(bob, 'set', `<pubsub xmlns='${PUBSUB}'><create/></pubsub>`);
  const node = created!.getChild('create', PUBSUB)!.attrs.node!;
  assert.match(node, /^[0-9a-f-]{36}$/);
  assert.equal(await refusal(request(eve, 'set', `<pubsub xmlns='${PUBSUB}'><create node='mine'/></pubsub>`)), 'forbidden');
  assert.equal(await refusal(request(bob, 'set', `<pubsub xmlns='${PUBSUB}'><create node='${node}'/></pubsub>`)), 'conflict');
  await request(eve, 'set', `<pubsub xmlns='${PUBSUB}'><subscribe node='${node}' jid='eve@example.net/x'/></pubsub>`);
  const subscriptions = await request(eve, 'get', `<pubsub xmlns='${PUBSUB}'><subscriptions/></pubsub>`);
  assert.deepEqual(subscriptions!.getChild('subscriptions', PUBSUB)!.getChildren('subscription', PUBSUB).map((item) => item.attrs), [{ node, jid: 'eve@example.net/x', subscription: 'subscribed' }]);
  const affiliations = await request(bob, 'get', `<pubsub xmlns='${PUBSUB}'><affiliations/></pubsub>`);
  assert.deepEqual(affiliations!.getChild('affiliations', PUBSUB)!.getChildren('affiliation', PUBSUB).map((item) => item.attrs), [{ node, affiliation: 'owner' }]);
  assert.equal(await refusal(request(eve, 'set', publish(node, '1'))), 'forbidden');
});
