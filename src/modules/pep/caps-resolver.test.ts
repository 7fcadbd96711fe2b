import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJid } from '../../jid/jid.ts';
import { el, type Element } from '../../xml/element.ts';
import { parseElement } from '../../xml/parse-element.ts';
import { capsHash, NS_CAPS } from '../disco/caps.ts';
import { CapsResolver, capsInputOf } from './caps-resolver.ts';

const INFO = `<query xmlns='http://jabber.org/protocol/disco#info'><identity category='client' type='pc' name='Exodus 0.9.1'/><feature var='http://jabber.org/protocol/caps'/><feature var='http://jabber.org/protocol/disco#info'/><feature var='http://jabber.org/protocol/disco#items'/><feature var='http://jabber.org/protocol/muc'/></query>`;
const VER = 'QgayPKawpkPSDYmwT/WM94uAlu0='; // XEP-0115 section 5.2

function resolver(maxPending = 4, timeoutMs = 1000) {
  const sent: Element[] = [];
  const caps = new CapsResolver({ from: 'example.com', send: (stanza) => void sent.push(stanza), maxEntries: 2, maxPending, timeoutMs });
  return { caps, sent };
}
const c = (ver: string, hash = 'sha-1') => el('c', NS_CAPS, { hash, node: 'http://code.google.com/p/exodus', ver });
const answer = (query: Element, xml = INFO) => parseElement(`<iq xmlns='jabber:client' type='result' id='${query.attrs.id}' from='${query.attrs.to}' to='example.com'>${xml}</iq>`);

test('an unknown hash is asked of the entity once (node#ver), checked, cached for everyone sending it', async () => {
  const { caps, sent } = resolver();
  const first = caps.features(parseJid('romeo@example.net/a'), c(VER));
  const second = caps.features(parseJid('benvolio@example.org/b'), c(VER));
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.attrs.to, 'romeo@example.net/a');
  assert.equal(sent[0]!.getChild('query', 'http://jabber.org/protocol/disco#info')!.attrs.node, `http://code.google.com/p/exodus#${VER}`);
  assert.equal(caps.answer(answer(sent[0]!)), true);
  assert.ok((await first)!.has('http://jabber.org/protocol/muc'));
  assert.equal(await second, await first);
  await caps.features(parseJid('nurse@example.com/c'), c(VER));
  assert.equal(sent.length, 1, 'cached');
  assert.equal(capsHash(capsInputOf(parseElement(INFO))), VER);
});

test('known: the features of a hash learnt already, and nothing else, without a query', async () => {
  const { caps, sent } = resolver();
  assert.equal(caps.known(c(VER)), undefined);
  const learnt = caps.features(parseJid('romeo@example.net/a'), c(VER));
  assert.equal(caps.known(c(VER)), undefined, 'not while the query waits');
  caps.answer(answer(sent[0]!));
  assert.equal(caps.known(c(VER)), await learnt);
  assert.equal(caps.known(c(VER, 'md5')), undefined);
  assert.equal(caps.known(c('bm90IHRoZSBoYXNoIG9mIGFueXRoaW5n')), undefined);
  assert.equal(sent.length, 1);
});

test('an answer whose hash does not match is used for that resource only; unknown hashes and foreign ids are ignored', async () => {
  const { caps, sent } = resolver();
  const forged = caps.features(parseJid('eve@example.net/x'), c('bm90IHRoZSBoYXNoIG9mIGFueXRoaW5n'));
  caps.answer(answer(sent[0]!));
  assert.ok((await forged)!.has('http://jabber.org/protocol/muc'));
  assert.equal(caps.cached, 0);
  assert.equal(await caps.features(parseJid('eve@example.net/x'), c(VER, 'md5')), undefined);
  assert.equal(sent.length, 1, 'hashes other than SHA-1 are not asked about');
  assert.equal(caps.answer(parseElement("<iq xmlns='jabber:client' type='result' id='other'/>")), false);
});

test('bounded: at most maxPending questions wait; an error or no answer in time gives no features', async () => {
  const { caps, sent } = resolver(1, 50);
  const waiting = caps.features(parseJid('a@example.net/1'), c('dmVyMQ=='));
  assert.equal(await caps.features(parseJid('b@example.net/1'), c('dmVyMg==')), undefined);
  assert.equal(sent.length, 1);
  assert.equal(await waiting, undefined, 'timed out');
  const refused = caps.features(parseJid('a@example.net/1'), c('dmVyMQ=='));
  caps.answer(parseElement(`<iq xmlns='jabber:client' type='error' id='${sent[1]!.attrs.id}'/>`));
  assert.equal(await refused, undefined);
});

test('the cache keeps the most recently used hashes', async () => {
  const { caps, sent } = resolver();
  const infos = ['a', 'b', 'c'].map((name) => `<query xmlns='http://jabber.org/protocol/disco#info'><feature var='urn:${name}'/></query>`);
  const vers = infos.map((xml) => capsHash(capsInputOf(parseElement(xml))));
  for (const [index, ver] of vers.entries()) {
    const learnt = caps.features(parseJid('a@example.net/1'), c(ver));
    caps.answer(answer(sent.at(-1)!, infos[index]));
    assert.ok((await learnt)!.has(`urn:${'abc'[index]}`));
  }
  assert.equal(caps.cached, 2);
  await caps.features(parseJid('a@example.net/1'), c(vers[2]!));
  assert.equal(sent.length, 3, 'the newest is kept');
  void caps.features(parseJid('a@example.net/1'), c(vers[0]!));
  assert.equal(sent.length, 4, 'the oldest was dropped and is asked again');
  caps.answer(answer(sent[3]!, infos[0]));
});
