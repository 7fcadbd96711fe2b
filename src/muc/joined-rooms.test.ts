import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseElement } from '../xml/parse-element.ts';
import { serialize } from '../xml/serialize.ts';
import { JoinedRooms, shutdownPresence } from './joined-rooms.ts';

const isService = (domain: string) => domain === 'conference.example.com';
const self = (from: string, extra = '', type = '') =>
  parseElement(`<presence xmlns='jabber:client' from='${from}' to='alice@example.com/pc'${type ? ` type='${type}'` : ''}><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' role='participant'/><status code='110'/>${extra}</x></presence>`);

test('a self-presence from a room enters a membership; a nickname change keeps it; leaving ends it', () => {
  const joined = new JoinedRooms<string>(10);
  joined.saw('alice@example.com/pc', self('lobby@conference.example.com/alice'), 'node2', isService);
  assert.equal(joined.size, 1);
  // Status 303: the new nickname follows in the next self-presence.
  joined.saw('alice@example.com/pc', self('lobby@conference.example.com/alice', "<status code='303'/>", 'unavailable'), 'node2', isService);
  joined.saw('alice@example.com/pc', self('lobby@conference.example.com/ally'), 'node2', isService);
  assert.equal(joined.size, 1);
  const taken = joined.takeWhere((runner) => runner === 'node2');
  assert.equal(taken.length, 1);
  const [session, membership] = taken[0]!;
  assert.equal(session, 'alice@example.com/pc');
  assert.equal(membership.occupantJid, 'lobby@conference.example.com/ally');
  assert.equal(membership.affiliation, 'member');
  assert.equal(joined.size, 0);

  joined.saw('alice@example.com/pc', self('lobby@conference.example.com/alice'), 'node2', isService);
  joined.saw('alice@example.com/pc', self('lobby@conference.example.com/alice', '', 'unavailable'), 'node2', isService);
  assert.equal(joined.size, 0);
});

test('presence that is not a room speaking of the session itself is ignored; the count is bounded', () => {
  const joined = new JoinedRooms<string>(1);
  // Another occupant's presence (no 110), a user's presence, a domain that is no group-chat service.
  joined.saw('alice@example.com/pc', parseElement(`<presence xmlns='jabber:client' from='lobby@conference.example.com/bob'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='participant'/></x></presence>`), 'node2', isService);
  joined.saw('alice@example.com/pc', self('bob@example.com/phone'), 'node2', isService);
  assert.equal(joined.size, 0);
  joined.saw('alice@example.com/pc', self('one@conference.example.com/alice'), 'node2', isService);
  joined.saw('alice@example.com/pc', self('two@conference.example.com/alice'), 'node3', isService);
  assert.equal(joined.size, 1);
  assert.equal(joined.skipped, 1);
  joined.sessionGone('alice@example.com/pc');
  assert.equal(joined.size, 0);
  assert.deepEqual(joined.takeWhere(() => true), []);
});

test('the shutdown presence: unavailable, from the occupant JID, with status codes 110 and 332', () => {
  const presence = shutdownPresence('alice@example.com/pc', { occupantJid: 'lobby@conference.example.com/alice', affiliation: 'owner' }, 'join again');
  assert.equal(
    serialize(presence),
    `<presence xmlns="jabber:client" from="lobby@conference.example.com/alice" type="unavailable" to="alice@example.com/pc"><status>join again</status><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="owner" role="none"/><status code="110"/><status code="332"/></x></presence>`,
  );
});
