import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NotifyInterests } from './interests.ts';

const features = (...names: string[]) => new Set(names);

test('recipients are the resources whose features ask for <node>+notify; a change is reported once', () => {
  const interests = new NotifyInterests(10, 100);
  assert.equal(interests.set('juliet@x', 'romeo@x/a', features('urn:xmpp:nick+notify')), true);
  assert.equal(interests.set('juliet@x', 'romeo@x/a', features('urn:xmpp:nick+notify')), false);
  interests.set('juliet@x', 'nurse@x/b', features('urn:xmpp:avatar:metadata+notify'));
  interests.set('paris@x', 'romeo@x/a', features('urn:xmpp:nick+notify'));
  assert.deepEqual(interests.recipients('juliet@x', 'urn:xmpp:nick'), ['romeo@x/a']);
  assert.deepEqual(interests.recipients('juliet@x', 'urn:xmpp:nick+notify'), []);
  interests.delete('juliet@x', 'romeo@x/a');
  assert.deepEqual(interests.recipients('juliet@x', 'urn:xmpp:nick'), []);
  assert.equal(interests.size, 2);
});

test('has: whether set would change nothing for that resource', () => {
  const interests = new NotifyInterests(10, 100);
  const nick = features('urn:xmpp:nick+notify');
  assert.equal(interests.has('juliet@x', 'romeo@x/a', nick), false);
  interests.set('juliet@x', 'romeo@x/a', nick);
  assert.equal(interests.has('juliet@x', 'romeo@x/a', nick), true);
  assert.equal(interests.has('juliet@x', 'romeo@x/a', features('urn:xmpp:nick+notify')), true, 'an equal set');
  assert.equal(interests.has('juliet@x', 'romeo@x/a', features('urn:xmpp:nick+notify', 'urn:xmpp:avatar:metadata+notify')), false);
  assert.equal(interests.has('juliet@x', 'romeo@x/b', nick), false, 'another resource');
  assert.equal(interests.has('paris@x', 'romeo@x/a', nick), false, 'another account');
  interests.delete('juliet@x', 'romeo@x/a');
  assert.equal(interests.has('juliet@x', 'romeo@x/a', nick), false);
});

test('bounded: the oldest resource of an account, then of the least recently changed account, makes room', () => {
  const interests = new NotifyInterests(2, 3);
  const nick = features('n+notify');
  interests.set('a@x', 'r@x/1', nick);
  interests.set('a@x', 'r@x/2', nick);
  interests.set('a@x', 'r@x/3', nick);
  assert.deepEqual(interests.recipients('a@x', 'n'), ['r@x/2', 'r@x/3']);
  interests.set('b@x', 'r@x/1', nick);
  interests.set('c@x', 'r@x/1', nick);
  assert.equal(interests.size, 3);
  assert.deepEqual(interests.recipients('a@x', 'n'), ['r@x/3']);
  assert.deepEqual([interests.recipients('b@x', 'n'), interests.recipients('c@x', 'n')], [['r@x/1'], ['r@x/1']]);
  // With one resource per account, the account's only entry is replaced.
  const single = new NotifyInterests(1, 10);
  single.set('a@x', 'r@x/1', nick);
  single.set('a@x', 'r@x/2', nick);
  assert.deepEqual(single.recipients('a@x', 'n'), ['r@x/2']);
  assert.equal(single.size, 1);
});
