/** Shared helpers for the parser tests: feed input, collect what the handlers saw. */

import type { ParserLimits } from '../config/types.ts';
import type { Element } from './element.ts';
import { XmlStreamParser, type NamespaceDeclarations, type StreamParserHandlers, type XmlStreamError } from './parser.ts';

export const LIMITS: ParserLimits = {
  max_stanza_bytes: 262144,
  max_depth: 16,
  max_attributes: 32,
  max_attribute_bytes: 4096,
  max_text_bytes: 65536,
};

export const HEADER =
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>";

export interface Outcome {
  roots: Element[];
  declarations: NamespaceDeclarations[];
  stanzas: Element[];
  closes: number;
  whitespace: number;
  errors: XmlStreamError[];
  parser: XmlStreamParser;
  /** what the parser reports to, for a parser that goes on with its stream (XmlStreamParser.resume) */
  handlers: StreamParserHandlers;
}

export interface RunOptions {
  limits?: Partial<ParserLimits>;
  contentNamespace?: string;
  /** split the input into pieces of this many bytes */
  chunkSize?: number;
}

export function newParser(options: RunOptions = {}): Outcome {
  const outcome: Omit<Outcome, 'parser' | 'handlers'> = { roots: [], declarations: [], stanzas: [], closes: 0, whitespace: 0, errors: [] };
  const handlers: StreamParserHandlers = {
    streamOpen: (root, declarations) => {
      outcome.roots.push(root);
      outcome.declarations.push(declarations);
    },
    stanza: (element) => outcome.stanzas.push(element),
    streamClose: () => outcome.closes++,
    whitespace: () => outcome.whitespace++,
    error: (error) => outcome.errors.push(error),
  };
  const parser = new XmlStreamParser(handlers, { limits: { ...LIMITS, ...options.limits }, contentNamespace: options.contentNamespace });
  return Object.assign(outcome, { parser, handlers });
}

export function feed(parser: XmlStreamParser, input: string | Uint8Array, chunkSize = Number.POSITIVE_INFINITY): void {
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  if (chunkSize >= bytes.length) parser.write(bytes);
  else for (let at = 0; at < bytes.length; at += chunkSize) parser.write(bytes.subarray(at, at + chunkSize));
}

export function run(input: string | Uint8Array, options: RunOptions = {}): Outcome {
  const outcome = newParser(options);
  feed(outcome.parser, input, options.chunkSize);
  return outcome;
}

/** The error condition for `body` sent after a stream header, or undefined when accepted. */
export function conditionOf(body: string | Uint8Array, options: RunOptions = {}): string | undefined {
  const bytes = typeof body === 'string' ? Buffer.from(HEADER + body) : Buffer.concat([Buffer.from(HEADER), body]);
  const outcome = run(bytes, options);
  if (outcome.errors.length > 1) throw new Error('error reported more than once');
  return outcome.errors[0]?.condition;
}
