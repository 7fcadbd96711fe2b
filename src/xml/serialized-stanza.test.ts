import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Element, NS_CLIENT, el } from './element.ts';
import { serialize } from './serialize.ts';
import { SerializedStanza } from './serialized-stanza.ts';

test('withAttrs equals serializing a copy with the attributes changed', () => {
  const presence = el('presence', NS_CLIENT, { from: 'a@b/c', id: '1' }, el('c', 'urn:caps', { ver: 'x&y' }), el('status', NS_CLIENT, {}, '<hi>'));
  const prepared = new SerializedStanza(presence, NS_CLIENT);
  const copy = new Element('presence', NS_CLIENT, { from: 'a@b/c', to: 'd@e' }, presence.children);
  assert.equal(prepared.withAttrs({ to: 'd@e', id: undefined }), serialize(copy, NS_CLIENT));
});

test('an element without children stays self-closing', () => {
  assert.equal(new SerializedStanza(el('presence', NS_CLIENT), NS_CLIENT).withAttrs({ to: 'x' }), '<presence to="x"/>');
});
