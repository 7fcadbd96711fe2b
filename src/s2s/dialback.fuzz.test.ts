import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fuzzParameters } from '../../test/support/fuzz.ts';
import { Element, NS_SERVER } from '../xml/element.ts';
import { NS_DIALBACK } from '../xml/namespaces.ts';
import { parseElement } from '../xml/parse-element.ts';
import { serialize } from '../xml/serialize.ts';
import { NS_STANZA_ERRORS } from '../xml/stanza-error.ts';
import { xmlElement, xmlText } from '../xml/xml-arbitraries.ts';
import { dialbackKey, dialbackKeyMatches } from './dialback-key.ts';
import { dialbackAnswer, dialbackError, dialbackErrorCondition } from './dialback-elements.ts';

const anyText = fc.string({ unit: 'binary', maxLength: 40 });

test('dialback keys: 64 hex digits, deterministic, and only the key itself (trimmed) matches', () => {
  fc.assert(
    fc.property(anyText, anyText, anyText, anyText, anyText, fc.constantFrom('', ' ', '\n', '\t\r\n '), (secret, receiving, originating, streamId, received, space) => {
      const key = dialbackKey(secret, receiving, originating, streamId);
      assert.match(key, /^[0-9a-f]{64}$/);
      assert.equal(dialbackKey(secret, receiving, originating, streamId), key);
      assert.ok(dialbackKeyMatches(`${space}${key}${space}`, secret, receiving, originating, streamId));
      assert.equal(dialbackKeyMatches(received, secret, receiving, originating, streamId), received.trim() === key);
      assert.ok(!dialbackKeyMatches(key.slice(1), secret, receiving, originating, streamId));
    }),
    fuzzParameters(300),
  );
});

/** Dialback requests and answers as a peer might send them: any attributes, any children. */
const dialbackElement = fc
  .tuple(
    fc.constantFrom('result', 'verify'),
    fc.record({ from: xmlText(), to: xmlText(), id: xmlText(), type: fc.constantFrom('valid', 'invalid', 'error', 'x') }, { requiredKeys: [] }),
    fc.array(fc.oneof(xmlElement, xmlText(), xmlElement.map((element) => new Element('error', NS_SERVER, element.attrs, [element]))), { maxLength: 3 }),
  )
  .map(([name, attrs, children]) => new Element(name, NS_DIALBACK, { ...attrs }, children.filter((child, i) => typeof child !== 'string' || typeof children[i - 1] !== 'string')));

test('dialback elements: reading any answer never throws, answers swap the addresses', () => {
  fc.assert(
    fc.property(dialbackElement, fc.constantFrom('item-not-found', 'policy-violation', 'forbidden', 'remote-server-not-found'), (element, condition) => {
      // Through the parser, as elements arrive from a peer.
      const received = parseElement(serialize(element));
      const found = dialbackErrorCondition(received);
      assert.ok(found === undefined || typeof found === 'string');
      const answer = dialbackAnswer(received, 'valid');
      assert.equal(answer.attrs.from, received.attrs.to ?? '');
      assert.equal(answer.attrs.to, received.attrs.from ?? '');
      assert.equal(answer.attrs.id, received.name === 'verify' ? received.attrs.id : undefined);
      const error = dialbackError(received, condition, 'cancel', 'why');
      assert.equal(error.attrs.type, 'error');
      assert.equal(dialbackErrorCondition(parseElement(serialize(error))), condition);
      assert.equal(error.getChild('error', NS_SERVER)?.getChild('text', NS_STANZA_ERRORS)?.text(), 'why');
    }),
    fuzzParameters(200),
  );
});
