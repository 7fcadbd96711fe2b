import { test } from 'node:test';
import assert from 'node:assert/strict';
import { el, NS_CLIENT } from '../xml/element.ts';
import { serialize } from '../xml/serialize.ts';
import { MAX_HISTORY_CHARS, RoomHistory, readHistoryRequest } from './history.ts';

const message = (body: string) => el('message', NS_CLIENT, { type: 'groupchat', from: 'r@muc.example/n', to: 'someone@example.com/x' }, el('body', NS_CLIENT, {}, body));
const bodies = (stanzas: { getChildText(name: string): string | undefined }[]) => stanzas.map((stanza) => stanza.getChildText('body'));

test('the history keeps the newest messages up to its length, stamped by the room, without their addressee', () => {
  const history = new RoomHistory(3);
  for (let index = 1; index <= 5; index++) history.push(message(`m${index}`), 'r@muc.example', index * 1000);
  const all = history.select({}, 10_000);
  assert.deepEqual(bodies(all), ['m3', 'm4', 'm5']);
  assert.equal(all[0]!.attrs.to, undefined);
  assert.deepEqual(all[0]!.getChild('delay', 'urn:xmpp:delay')?.attrs, { from: 'r@muc.example', stamp: new Date(3000).toISOString() });
  history.setLimit(1);
  assert.deepEqual(bodies(history.select({}, 10_000)), ['m5']);
  history.setLimit(0);
  history.push(message('never'), 'r@muc.example', 1);
  assert.equal(history.length, 0);
});

test('XEP-0045 section 7.2.16: maxstanzas, maxchars, seconds and since all limit what a newcomer gets', () => {
  const history = new RoomHistory(10);
  for (let index = 1; index <= 4; index++) history.push(message(`m${index}`), 'r@muc.example', index * 1000);
  assert.deepEqual(bodies(history.select({ maxstanzas: 2 }, 5000)), ['m3', 'm4']);
  assert.deepEqual(bodies(history.select({ maxstanzas: 0 }, 5000)), []);
  assert.deepEqual(bodies(history.select({ seconds: 2 }, 5000)), ['m3', 'm4']);
  assert.deepEqual(bodies(history.select({ since: 2000 }, 5000)), ['m2', 'm3', 'm4']);
  const oneSize = serialize(history.select({ maxstanzas: 1 }, 5000)[0]!).length;
  assert.equal(history.select({ maxchars: 0 }, 5000).length, 0);
  assert.equal(history.select({ maxchars: oneSize }, 5000).length, 1);
  assert.equal(history.select({ maxchars: 2 * oneSize }, 5000).length, 2);
});

test('a room keeps at most MAX_HISTORY_CHARS of stanzas, dropping the oldest', () => {
  const history = new RoomHistory(100);
  const big = 'x'.repeat(300 * 1024);
  for (let index = 1; index <= 5; index++) history.push(message(`${index}${big}`), 'r@muc.example', index);
  const kept = history.select({}, 10);
  assert.equal(kept.length, 3);
  assert.equal(kept[0]!.getChildText('body')?.[0], '3');
  assert.ok(kept.reduce((sum, stanza) => sum + serialize(stanza).length, 0) <= MAX_HISTORY_CHARS);
});

test('a join request\'s <history/> attributes are read; nonsense is ignored', () => {
  const request = readHistoryRequest(el('history', 'http://jabber.org/protocol/muc', { maxchars: '100', maxstanzas: 'x', seconds: '60', since: '1970-01-01T00:00:02Z' }));
  assert.deepEqual(request, { maxchars: 100, seconds: 60, since: 2000 });
  assert.deepEqual(readHistoryRequest(undefined), {});
});
