import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { el, NS_CLIENT } from '../../xml/element.ts';
import { bareRecipients, messageType } from './recipients.ts';

const resource = (name: string, priority: number) => ({ name, im: { priority } });
const names = (sessions: { name: string }[]) => sessions.map((session) => session.name);

describe('message type', () => {
  test('absent or unknown types are normal (RFC 6121 section 5.2.2)', () => {
    assert.equal(messageType(el('message', NS_CLIENT)), 'normal');
    assert.equal(messageType(el('message', NS_CLIENT, { type: 'shout' })), 'normal');
    assert.equal(messageType(el('message', NS_CLIENT, { type: 'chat' })), 'chat');
    assert.equal(messageType(el('message', NS_CLIENT, { type: 'error' })), 'error');
  });
});

describe('recipients of a message to a bare JID', () => {
  const available = [resource('desk', 5), resource('phone', 5), resource('tablet', 1), resource('away', -1)];

  test('normal and chat go to every resource sharing the highest non-negative priority', () => {
    assert.deepEqual(names(bareRecipients('chat', available)), ['desk', 'phone']);
    assert.deepEqual(names(bareRecipients('normal', [resource('a', 0), resource('b', -5)])), ['a']);
  });

  test('headline goes to every resource with non-negative priority', () => {
    assert.deepEqual(names(bareRecipients('headline', available)), ['desk', 'phone', 'tablet']);
  });

  test('negative priority resources never take a message to the bare JID', () => {
    assert.deepEqual(bareRecipients('chat', [resource('away', -1)]), []);
    assert.deepEqual(bareRecipients('headline', [resource('away', -128)]), []);
    assert.deepEqual(bareRecipients('normal', []), []);
  });
});
