import assert from 'node:assert/strict';
import { test } from 'node:test';
import { flatString } from './flat-string.ts';
import { el } from './element.ts';
import { serialize } from './serialize.ts';

test('flatString leaves the text as it was, whatever its characters', () => {
  const stanza = el('message', 'jabber:client', { to: 'b@example.test/r', id: 'x1' }, el('body', 'jabber:client', {}, 'naïve 𝄞 <&> text'));
  const xml = serialize(stanza, 'jabber:client');
  assert.equal(flatString(xml), xml);
  assert.equal(flatString(''), '');
  assert.equal(flatString('\n'), '\n');
});
