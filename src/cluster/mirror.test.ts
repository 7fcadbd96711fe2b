/**
 * The sessions of other nodes in this node's registry: added and updated from records with their
 * IM state, replaced by a newer login on the same resource wherever it is, removed one by one,
 * by node, or to match a snapshot; and what is sent to them handed to the courier.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseJid } from '../jid/jid.ts';
import { newImState, SessionRegistry, type BoundSession } from '../router/sessions.ts';
import { el, NS_CLIENT, type Element } from '../xml/element.ts';
import type { SessionRecord } from './engine.ts';
import { SessionMirror } from './mirror.ts';
import { recordOf, RemoteSession, type Courier } from './remote-session.ts';

const node1 = { name: 'node1', incarnation: 'a' };
const node2 = { name: 'node2', incarnation: 'b' };
const record = (jid: string, node = node1, extra: Partial<SessionRecord> = {}): SessionRecord => ({ jid, node: node.name, incarnation: node.incarnation, priority: 0, carbons: false, rosterRequested: false, directed: [], ...extra });

function setUp() {
  const registry = new SessionRegistry();
  const forwarded: [string, string][] = [];
  const terminated: string[] = [];
  const courier: Courier = {
    forward: async (session, stanza) => {
      forwarded.push([session.jid.toString(), stanza.name]);
      return true;
    },
    terminate: (session, condition) => void terminated.push(`${session.jid} ${condition}`),
  };
  return { registry, mirror: new SessionMirror(registry, courier), forwarded, terminated };
}

test('a record becomes a session in the registry with its IM state, and a newer record updates it in place', () => {
  const { registry, mirror, forwarded, terminated } = setUp();
  mirror.apply(record('bob@x/phone', node1, { presence: "<presence xmlns='jabber:client'><show>away</show></presence>", priority: 5, carbons: true, directed: ['room@muc.x/bob'] }));
  const session = registry.get(parseJid('bob@x/phone'));
  assert.ok(session instanceof RemoteSession);
  assert.equal(session.im.presence?.getChildText('show', NS_CLIENT), 'away');
  assert.deepEqual([session.im.priority, session.im.carbons, [...session.im.directedPresence]], [5, true, ['room@muc.x/bob']]);
  assert.deepEqual(registry.availableResourcesOf(parseJid('bob@x')), [session]);
  mirror.apply(record('bob@x/phone', node1, { priority: 1 }));
  assert.equal(registry.get(parseJid('bob@x/phone')), session, 'the same session, updated');
  assert.equal(session.im.presence, undefined);
  assert.deepEqual(registry.availableResourcesOf(parseJid('bob@x')), []);
  session.send(el('message', NS_CLIENT, { to: 'bob@x/phone' }));
  session.terminate('conflict');
  assert.deepEqual(forwarded, [['bob@x/phone', 'message']]);
  assert.deepEqual(terminated, ['bob@x/phone conflict']);
});

test('a login on the same resource elsewhere replaces the session; an end reported by the old node leaves the new one', () => {
  const { registry, mirror } = setUp();
  mirror.apply(record('bob@x/phone', node1));
  mirror.apply(record('bob@x/phone', node2));
  const current = registry.get(parseJid('bob@x/phone')) as RemoteSession;
  assert.deepEqual(current.node, node2);
  assert.equal(mirror.drop(node1, 'bob@x/phone'), undefined);
  assert.equal(registry.get(parseJid('bob@x/phone')), current);
  assert.equal(mirror.drop(node2, 'bob@x/phone'), current);
  assert.equal(registry.size, 0);
});

test('a node that is gone takes its sessions along; a snapshot leaves exactly its records', () => {
  const { registry, mirror } = setUp();
  mirror.apply(record('a@x/1', node1));
  mirror.apply(record('b@x/1', node1));
  mirror.apply(record('c@x/1', node2));
  assert.deepEqual(mirror.dropNode(node1).map((s) => s.jid.toString()).sort(), ['a@x/1', 'b@x/1']);
  assert.deepEqual([...registry.all()].map((s) => s.jid.toString()), ['c@x/1']);
  mirror.replaceAll([record('d@x/1', node1), record('c@x/1', node2, { priority: 3 })]);
  assert.deepEqual([...registry.all()].map((s) => s.jid.toString()).sort(), ['c@x/1', 'd@x/1']);
  assert.equal(registry.get(parseJid('c@x/1'))!.im.priority, 3);
  assert.equal(mirror.size, 2);
  mirror.clear();
  assert.equal(registry.size, 0);
});

test('a local session\'s record carries its IM state, and reads back the same', () => {
  const im = newImState();
  im.presence = el('presence', NS_CLIENT, { from: 'alice@x/desk' }, el('status', NS_CLIENT, {}, 'here & there'));
  im.priority = -1;
  im.rosterRequested = true;
  im.directedPresence.add('carol@y');
  const local: BoundSession = { jid: parseJid('alice@x/desk'), peer: '127.0.0.1:1', im, offlineBacklog: false, send() {}, sendTracked: async () => true, terminate() {} };
  const written = recordOf(local, node1);
  assert.deepEqual({ ...written, presence: undefined }, { jid: 'alice@x/desk', node: 'node1', incarnation: 'a', presence: undefined, priority: -1, carbons: false, rosterRequested: true, directed: ['carol@y'] });
  const { registry, mirror } = setUp();
  mirror.apply(JSON.parse(JSON.stringify(written)) as SessionRecord);
  const mirrored = registry.get(parseJid('alice@x/desk'))!;
  assert.equal((mirrored.im.presence as Element).getChildText('status', NS_CLIENT), 'here & there');
  assert.deepEqual(recordOf(mirrored, node1), written);
});
