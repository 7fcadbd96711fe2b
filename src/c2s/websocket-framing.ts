/**
 * The XMPP framing of RFC 7395 translated to and from the XML stream of RFC 6120, so that a
 * WebSocket client is served by the same stream code as a TCP one: the client's <open/> and
 * <close/> become the stream header and its end tag, and what the server writes on its stream
 * is cut into one frame per top-level element (section 3.3.3), each a complete document with
 * its namespaces declared.
 */
import { NS_CLIENT, NS_STREAMS } from '../xml/element.ts';

export const NS_FRAMING = 'urn:ietf:params:xml:ns:xmpp-framing';

/** What one text frame from a client carries. */
export type InboundFrame =
  | { kind: 'open'; attrs: Record<string, string> }
  | { kind: 'close' }
  | { kind: 'element' }
  | { kind: 'whitespace' }
  | { kind: 'invalid'; reason: string };

/** A tag of XML as our scanner sees it: where it ends, and what kind of markup it is. */
interface Tag {
  end: number;
  kind: 'start' | 'empty' | 'end' | 'other';
}

/** The tag that begins at `start` (a '<'); undefined when the text ends inside it. Quoted attribute values may hold '>'. */
function readTag(text: string, start: number): Tag | undefined {
  const next = text[start + 1];
  if (next === undefined) return undefined;
  if (next === '?') {
    const end = text.indexOf('?>', start + 2);
    return end < 0 ? undefined : { end: end + 2, kind: 'other' };
  }
  if (next === '!') {
    const end = text.indexOf('>', start + 2);
    return end < 0 ? undefined : { end: end + 1, kind: 'other' };
  }
  let quote = '';
  for (let index = start + 1; index < text.length; index++) {
    const char = text[index]!;
    if (quote !== '') {
      if (char === quote) quote = '';
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '>') {
      const kind = next === '/' ? 'end' : text[index - 1] === '/' ? 'empty' : 'start';
      return { end: index + 1, kind };
    }
  }
  return undefined;
}

const NAME = /^<([^\s/>]+)/;
const ATTRIBUTE = /([^\s=/<>]+)\s*=\s*(?:'([^']*)'|"([^"]*)")/g;

/** The attributes of a start tag, values as written (still escaped). */
export function tagAttributes(tag: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  const body = tag.replace(NAME, '');
  for (const match of body.matchAll(ATTRIBUTE)) attrs[match[1]!] = match[2] ?? match[3] ?? '';
  return attrs;
}

/**
 * Section 3.3.3: each message is one complete element (a leading XML declaration is allowed and
 * dropped); <open/> and <close/> in the framing namespace stand for the stream's start and end.
 */
export function classifyFrame(text: string): InboundFrame {
  let position = skipSpace(text, 0);
  if (position === text.length) return { kind: 'whitespace' };
  if (text.startsWith('<?xml', position)) {
    const declaration = readTag(text, position);
    if (!declaration) return { kind: 'invalid', reason: 'the XML declaration is not closed' };
    position = skipSpace(text, declaration.end);
  }
  if (text[position] !== '<') return { kind: 'invalid', reason: 'a message must be one XML element, not text' };
  const first = readTag(text, position);
  if (!first || (first.kind !== 'start' && first.kind !== 'empty')) return { kind: 'invalid', reason: 'a message must begin with an element\'s start tag' };
  const startTag = text.slice(position, first.end);
  let end = first.end;
  if (first.kind === 'start') {
    const closed = elementEnd(text, first.end);
    if (closed === undefined) return { kind: 'invalid', reason: 'a message must carry one complete XML element (RFC 7395 section 3.3.3); this one ends inside it' };
    end = closed;
  }
  if (skipSpace(text, end) !== text.length) return { kind: 'invalid', reason: 'a message must carry exactly one XML element (RFC 7395 section 3.3.3); this one carries more' };
  const name = NAME.exec(startTag)?.[1];
  const attrs = tagAttributes(startTag);
  if ((name === 'open' || name === 'close') && attrs.xmlns === NS_FRAMING) return name === 'open' ? { kind: 'open', attrs } : { kind: 'close' };
  if (name === 'stream:stream' || name?.endsWith(':stream')) return { kind: 'invalid', reason: 'over WebSocket a stream starts with <open xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>, not <stream:stream> (RFC 7395 section 3.4)' };
  return { kind: 'element' };
}

/** Where the element whose start tag ended at `from` ends, or undefined when the text ends first. */
function elementEnd(text: string, from: number): number | undefined {
  let depth = 1;
  let position = from;
  while (depth > 0) {
    const open = text.indexOf('<', position);
    if (open < 0) return undefined;
    const tag = readTag(text, open);
    if (!tag) return undefined;
    if (tag.kind === 'start') depth++;
    else if (tag.kind === 'end') depth--;
    position = tag.end;
  }
  return position;
}

function skipSpace(text: string, from: number): number {
  let position = from;
  while (position < text.length && /\s/.test(text[position]!)) position++;
  return position;
}

/** The stream header a client's <open/> stands for (section 3.4), for the stream parser. */
export function streamHeaderFor(attrs: Record<string, string>): string {
  let header = `<stream:stream xmlns='${NS_CLIENT}' xmlns:stream='${NS_STREAMS}'`;
  for (const name of ['to', 'from', 'id', 'version', 'xml:lang']) {
    const value = attrs[name];
    if (value !== undefined) header += ` ${name}='${value.replace(/'/g, '&apos;')}'`;
  }
  return header + '>';
}

export const STREAM_END = '</stream:stream>';

export function closeFrame(seeOtherUri?: string): string {
  return seeOtherUri === undefined ? `<close xmlns='${NS_FRAMING}'/>` : `<close xmlns='${NS_FRAMING}' see-other-uri='${seeOtherUri.replace(/&/g, '&amp;').replace(/'/g, '&apos;')}'/>`;
}

/**
 * Cuts the server's side of an XML stream into frames. The input is what the stream code
 * writes (our own serializer's output: no comments, no CDATA); it may arrive in any pieces.
 */
export class OutboundFramer {
  #buffer = '';
  /** 0: outside the stream root, 1: between top-level elements, more: inside one */
  #depth = 0;

  /** The frames completed by `text`. */
  push(text: string): string[] {
    this.#buffer += text;
    const frames: string[] = [];
    let position = 0;
    let elementStart = 0;
    const buffer = this.#buffer;
    for (;;) {
      const open = buffer.indexOf('<', position);
      if (open < 0) {
        position = this.#depth >= 2 ? this.#rescanFrom(elementStart) : buffer.length;
        break;
      }
      if (this.#depth <= 1) elementStart = open;
      const tag = readTag(buffer, open);
      if (!tag) {
        position = this.#depth >= 2 ? this.#rescanFrom(elementStart) : open;
        break;
      }
      position = tag.end;
      if (tag.kind === 'other') continue;
      // Section 3.4: the server's stream header becomes <open/> with the same attributes; after
      // a stream restart (RFC 6120 section 4.3.3) a new header follows the old one's children.
      if (this.#depth <= 1 && tag.kind === 'start' && buffer.startsWith('<stream:stream', open)) {
        frames.push(openFrame(buffer.slice(open, tag.end)));
        this.#depth = 1;
        continue;
      }
      if (this.#depth === 0) continue;
      if (tag.kind === 'end') {
        this.#depth--;
        if (this.#depth === 0) frames.push(closeFrame());
        else if (this.#depth === 1) frames.push(qualify(buffer.slice(elementStart, tag.end)));
      } else if (tag.kind === 'empty') {
        if (this.#depth === 1) frames.push(qualify(buffer.slice(open, tag.end)));
      } else {
        this.#depth++;
      }
      if (this.#depth <= 1) elementStart = position;
    }
    this.#buffer = buffer.slice(position);
    return frames;
  }

  /** An element not complete yet is kept from its start tag and scanned again with what follows. */
  #rescanFrom(elementStart: number): number {
    this.#depth = 1;
    return elementStart;
  }

  /** whether the server's stream is open: its header framed, its end not yet */
  get open(): boolean {
    return this.#depth >= 1;
  }

  /** characters held for an element not yet complete */
  get pending(): number {
    return this.#buffer.length;
  }
}

function openFrame(streamTag: string): string {
  const attrs = tagAttributes(streamTag);
  let frame = `<open xmlns='${NS_FRAMING}'`;
  for (const name of ['from', 'to', 'id', 'version', 'xml:lang']) {
    if (attrs[name] !== undefined) frame += ` ${name}='${attrs[name]}'`;
  }
  return frame + '/>';
}

/**
 * Section 3.3.3: a frame is a document of its own, so its element declares the namespaces the
 * stream header declared: the streams prefix, or jabber:client as the default namespace.
 */
function qualify(element: string): string {
  const name = NAME.exec(element)?.[1] ?? '';
  const insertAt = 1 + name.length;
  if (name.startsWith('stream:')) return `${element.slice(0, insertAt)} xmlns:stream='${NS_STREAMS}'${element.slice(insertAt)}`;
  const tagEnd = readTag(element, 0)?.end ?? element.length;
  if (/\sxmlns\s*=/.test(element.slice(0, tagEnd))) return element;
  return `${element.slice(0, insertAt)} xmlns='${NS_CLIENT}'${element.slice(insertAt)}`;
}
