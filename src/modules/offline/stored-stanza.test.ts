import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { el, NS_CLIENT } from '../../xml/element.ts';
import { NS_DELAY, parseStoredStanza, storedForm, withDelay } from './stored-stanza.ts';

const message = () => el('message', NS_CLIENT, { from: 'a@example.com/r', to: 'b@example.com', type: 'chat', id: 'm1' }, el('body', NS_CLIENT, {}, 'x < y & "z"'), el('x', 'urn:other', { v: '1' }));

describe('stored offline stanzas', () => {
  test('a stamped stanza survives the round trip through its stored form', () => {
    const original = message();
    const stamped = withDelay(original, 'example.com', new Date('2024-05-06T07:08:09.010Z'));
    const reread = parseStoredStanza(storedForm(stamped));
    assert.deepEqual(reread, stamped);
    const delay = reread.getChild('delay', NS_DELAY);
    assert.deepEqual(delay?.attrs, { from: 'example.com', stamp: '2024-05-06T07:08:09.010Z' });
    assert.equal(original.getChild('delay', NS_DELAY), undefined, 'the original is left untouched');
  });

  test('restamping replaces this server\'s stamp and keeps another server\'s', () => {
    const once = withDelay(message(), 'remote.example', new Date(0));
    const twice = withDelay(withDelay(once, 'example.com', new Date(1000)), 'example.com', new Date(2000));
    assert.deepEqual(twice.getChildren('delay', NS_DELAY).map((delay) => delay.attrs.from), ['remote.example', 'example.com']);
    assert.equal(twice.getChildren('delay', NS_DELAY)[1]?.attrs.stamp, '1970-01-01T00:00:02.000Z');
  });

  test('damaged stored text is refused', () => {
    assert.throws(() => parseStoredStanza('<message><body>'));
    assert.throws(() => parseStoredStanza('<message/><message/>'));
    assert.throws(() => parseStoredStanza('<x xmlns="urn:other"/>'));
  });
});
