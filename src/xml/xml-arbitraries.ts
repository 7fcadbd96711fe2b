/**
 * fast-check generators for the property-based tests of the XML layer: element trees the
 * parser must read back exactly as they were serialized, and hostile byte streams.
 */
import fc from 'fast-check';
import { Element, NS_CLIENT, NS_STREAMS, NS_XML } from './element.ts';

/** Characters XML allows (XML 1.0 section 2.2), weighted towards the ones that need escaping. */
export const xmlChar: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('<', '>', '&', "'", '"', '\t', '\n', '\r', ']', ' ', ';', '#', '}', '{', ':', '=') },
  { weight: 4, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)) },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xd7ff }).map((code) => String.fromCodePoint(code)) },
  { weight: 1, arbitrary: fc.integer({ min: 0xe000, max: 0xfffd }).map((code) => String.fromCodePoint(code)) },
  { weight: 1, arbitrary: fc.integer({ min: 0x10000, max: 0x10ffff }).map((code) => String.fromCodePoint(code)) },
);

export const xmlText = (maxLength = 16): fc.Arbitrary<string> => fc.string({ unit: xmlChar, minLength: 1, maxLength });

/** NCNames (no colon), mostly ASCII, some with non-ASCII name characters. */
export const xmlName: fc.Arbitrary<string> = fc.oneof(
  fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9._-]{0,7}$/),
  fc.constantFrom('message', 'presence', 'iq', 'body', 'query', 'x', '\u00e9t\u00e9', '\u4e2d\u6587', 'a\u00b7b', '_', '__proto__', 'constructor', 'toString'),
);

/** Namespace names as a hostile peer might declare them: any characters at all. */
const reservedNamespaces = new Set([NS_XML, 'http://www.w3.org/2000/xmlns/', NS_STREAMS]);
export const xmlNamespace: fc.Arbitrary<string> = fc
  .oneof(fc.constantFrom(NS_CLIENT, 'urn:a', 'urn:b', 'jabber:iq:roster', 'urn:xmpp:ping'), xmlText(12))
  .filter((ns) => !reservedNamespaces.has(ns));

const attributeKey: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: xmlName },
  { weight: 1, arbitrary: fc.constant('xml:lang') },
  { weight: 1, arbitrary: fc.tuple(xmlNamespace, xmlName).map(([ns, local]) => `{${ns}}${local}`) },
);

const attributes: fc.Arbitrary<Record<string, string>> = fc
  .dictionary(attributeKey, fc.oneof(fc.constant(''), xmlText(12)), { maxKeys: 4 })
  .map((attrs) => Object.fromEntries(Object.entries(attrs)));

/**
 * Elements as the parser builds them: text children are never empty and never adjacent (the
 * parser joins adjacent text), attributes are plain names, xml:lang or `{namespace}local`.
 */
export const xmlElement: fc.Arbitrary<Element> = elementOfDepth(4);

function elementOfDepth(depth: number): fc.Arbitrary<Element> {
  const parts =
    depth === 0
      ? fc.constant([] as [string | undefined, Element][])
      : fc.array(fc.tuple(fc.option(xmlText(), { nil: undefined }), elementOfDepth(depth - 1)), { maxLength: 3 });
  return fc.tuple(xmlName, xmlNamespace, attributes, parts, fc.option(xmlText(), { nil: undefined })).map(([name, xmlns, attrs, parts, tail]) => {
    const children: (Element | string)[] = [];
    for (const [text, child] of parts) {
      if (text !== undefined) children.push(text);
      children.push(child);
    }
    if (tail !== undefined) children.push(tail);
    return new Element(name, xmlns, attrs, children);
  });
}

/** Splits bytes at the given offsets (taken modulo the length), in order, for chunked writes. */
export function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  if (bytes.length === 0) return [bytes];
  const offsets = [...new Set(cuts.map((cut) => cut % bytes.length))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const offset of offsets) {
    chunks.push(bytes.subarray(from, offset));
    from = offset;
  }
  chunks.push(bytes.subarray(from));
  return chunks;
}

/** Random edits (insert, delete, overwrite bytes) of a valid input: near-misses a parser must reject cleanly. */
export function mutated(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  const edit = fc.tuple(fc.constantFrom('insert', 'delete', 'overwrite'), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 4 }));
  return fc.tuple(valid, fc.array(edit, { minLength: 1, maxLength: 4 })).map(([bytes, edits]) => {
    let out = Buffer.from(bytes);
    for (const [kind, position, data] of edits) {
      const at = out.length === 0 ? 0 : position % out.length;
      if (kind === 'insert') out = Buffer.concat([out.subarray(0, at), data, out.subarray(at)]);
      else if (kind === 'delete') out = Buffer.concat([out.subarray(0, at), out.subarray(at + data.length)]);
      else out = Buffer.concat([out.subarray(0, at), data, out.subarray(at + data.length)]);
    }
    return out;
  });
}
