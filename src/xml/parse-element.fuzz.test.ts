import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fuzzParameters } from '../../test/support/fuzz.ts';
import { parseElement } from './parse-element.ts';
import { XmlStreamError } from './parser.ts';
import { serialize } from './serialize.ts';
import { mutated, xmlElement } from './xml-arbitraries.ts';

test('parseElement reads back exactly what serialize wrote', () => {
  fc.assert(
    fc.property(xmlElement, (element) => {
      assert.deepEqual(parseElement(serialize(element)), element);
    }),
    fuzzParameters(200),
  );
});

/** The two ways parseElement may refuse its input. */
function isRefusal(error: unknown): boolean {
  return error instanceof XmlStreamError || (error instanceof Error && /^expected one element, found \d+$/.test(error.message));
}

test('parseElement of any text returns one element or refuses it', () => {
  const text = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 64 }),
    mutated(xmlElement.map((element) => Buffer.from(serialize(element)))).map((bytes) => Buffer.from(bytes).toString('utf8')),
    fc.constantFrom('</root><root>', '<a/></root><root>', '<a/><b/>', '', '<a><![CDATA[', '</root>'),
  );
  fc.assert(
    fc.property(text, (xml) => {
      try {
        const element = parseElement(xml);
        // What was accepted is one element that serializes and parses to itself again.
        assert.deepEqual(parseElement(serialize(element)), element);
      } catch (error) {
        if (!isRefusal(error)) throw error;
      }
    }),
    fuzzParameters(300),
  );
});
