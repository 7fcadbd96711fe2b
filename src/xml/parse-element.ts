/**
 * Parses one serialized element (as `serialize` wrote it) back into an Element: for documents
 * the server stored itself, such as a vCard or private XML. The text goes through the stream
 * parser inside a throwaway root, so the same well-formedness rules and limits apply.
 */
import type { ParserLimits } from '../config/types.ts';
import type { Element } from './element.ts';
import { XmlStreamParser } from './parser.ts';
import { escapeAttr } from './serialize.ts';

export const STORED_LIMITS: ParserLimits = {
  max_stanza_bytes: 16 * 1024 * 1024,
  max_depth: 256,
  max_attributes: 1024,
  max_attribute_bytes: 1024 * 1024,
  max_text_bytes: 16 * 1024 * 1024,
};

/**
 * Throws when the text is not exactly one well-formed element. `defaultNamespace` is the one the
 * text was serialized against (elements in it carry no xmlns).
 */
export function parseElement(xml: string, limits: ParserLimits = STORED_LIMITS, defaultNamespace?: string): Element {
  const found: Element[] = [];
  let failure: Error | undefined;
  const parser = new XmlStreamParser(
    {
      streamOpen() {},
      stanza: (element) => found.push(element),
      streamClose() {},
      error: (error) => (failure = error),
    },
    { limits },
  );
  const root = defaultNamespace === undefined ? '<root>' : `<root xmlns='${escapeAttr(defaultNamespace)}'>`;
  parser.write(Buffer.from(`${root}${xml}</root>`, 'utf8'));
  if (failure) throw failure;
  if (found.length !== 1) throw new Error(`expected one element, found ${found.length}`);
  return found[0]!;
}
