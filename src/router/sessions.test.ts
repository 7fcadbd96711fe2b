import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseJid } from '../jid/jid.ts';
import { newImState, SessionRegistry, type BoundSession } from './sessions.ts';

function session(jid: string): BoundSession {
  return { jid: parseJid(jid), peer: '127.0.0.1:1', im: newImState(), offlineBacklog: false, send() {}, sendTracked: async () => true, terminate() {} };
}

const names = (sessions: BoundSession[]) => sessions.map((s) => s.jid.toString());

test('an account with one resource, then several, then one again keeps bind order', () => {
  const registry = new SessionRegistry();
  const bare = parseJid('alice@example.com');
  const [a, b, c] = [session('alice@example.com/a'), session('alice@example.com/b'), session('alice@example.com/c')];
  registry.add(a);
  assert.deepEqual(names(registry.resourcesOf(bare)), ['alice@example.com/a']);
  assert.ok(registry.hasResource(bare, 'a'));
  assert.ok(!registry.hasResource(bare, 'b'));
  registry.add(b);
  registry.add(c);
  assert.deepEqual(names(registry.resourcesOf(bare)), ['alice@example.com/a', 'alice@example.com/b', 'alice@example.com/c']);
  assert.ok(registry.remove(a));
  assert.ok(registry.remove(c));
  assert.deepEqual(names(registry.resourcesOf(bare)), ['alice@example.com/b']);
  assert.ok(registry.hasResource(bare, 'b'));
  assert.ok(!registry.hasResource(bare, 'a'));
  registry.add(a);
  assert.deepEqual(names(registry.resourcesOf(bare)), ['alice@example.com/b', 'alice@example.com/a']);
  assert.ok(registry.remove(b));
  assert.ok(registry.remove(a));
  assert.deepEqual(registry.resourcesOf(bare), []);
  assert.equal(registry.size, 0);
});

test('a new session on the same full JID replaces the old one, which can no longer remove it', () => {
  const registry = new SessionRegistry();
  const bare = parseJid('bob@example.com');
  const first = session('bob@example.com/phone');
  const second = session('bob@example.com/phone');
  registry.add(first);
  assert.equal(registry.add(second), first);
  assert.ok(!registry.remove(first));
  assert.deepEqual(registry.resourcesOf(bare), [second]);
  const other = session('bob@example.com/laptop');
  registry.add(other);
  const third = session('bob@example.com/phone');
  assert.equal(registry.add(third), second);
  assert.deepEqual(registry.resourcesOf(bare), [third, other]);
  assert.ok(registry.remove(third));
  assert.deepEqual(registry.resourcesOf(bare), [other]);
});

test('the directed-presence set is made on first use and kept', () => {
  const im = newImState();
  im.directedPresence.add('carol@example.com');
  assert.deepEqual([...im.directedPresence], ['carol@example.com']);
});

test('an observer hears the sessions it does not own being added, replaced, changed and removed', () => {
  const registry = new SessionRegistry();
  const heard: string[] = [];
  const mirrored = new Set<BoundSession>();
  registry.observe({
    owns: (s) => mirrored.has(s),
    added: (s) => heard.push(`added ${s.jid}`),
    removed: (s) => heard.push(`removed ${s.jid}`),
    changed: (s) => heard.push(`changed ${s.jid}`),
  });
  const observed = (jid: string): BoundSession => {
    const s: BoundSession = { ...session(jid), im: newImState({ imChanged: () => registry.imChanged(s) }) };
    return s;
  };
  const a = observed('alice@example.com/a');
  a.im.priority = 1;
  assert.deepEqual(heard, [], 'a session not yet registered is not reported');
  registry.add(a);
  a.im.priority = 2;
  a.im.directedPresence.add('bob@example.com');
  a.im.directedPresence.add('bob@example.com');
  a.im.directedPresence.clear();
  const other = session('alice@example.com/a');
  mirrored.add(other);
  registry.add(other);
  a.im.carbons = true;
  registry.remove(other);
  assert.deepEqual(heard, [
    'added alice@example.com/a',
    'changed alice@example.com/a',
    'changed alice@example.com/a',
    'changed alice@example.com/a',
    'removed alice@example.com/a',
  ]);
});
