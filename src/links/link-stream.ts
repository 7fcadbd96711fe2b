/**
 * One connection of a link (XEP-0361 section 4.1): no stream header either way. The parser is
 * primed with the implicit root, which is never written, so the first bytes on the socket are
 * stanzas. Output is one top-level element at a time, each followed by a line end in guard
 * mode (docs/links.md), with whitespace keepalives when the link allows them.
 */
import type { Socket } from 'node:net';
import type { LinkConfig, ParserLimits } from '../config/types.ts';
import type { Element } from '../xml/element.ts';
import { NS_CLIENT, NS_SERVER } from '../xml/element.ts';
import { XmlStreamParser, type XmlStreamError } from '../xml/parser.ts';
import { serialize } from '../xml/serialize.ts';
import { NS_STREAM_ERRORS, type StreamErrorCondition } from '../net/stream-errors.ts';

/**
 * XEP-0361 section 4.1: the receiver treats the bytes as the children of this root. It declares
 * `stream`; every other namespace a payload uses it declares itself.
 */
export const IMPLICIT_ROOT = `<stream:stream xmlns='${NS_SERVER}' xmlns:stream='http://etherx.jabber.org/streams'>`;

/** Stanzas received and not yet processed at which reading pauses. */
const MAX_PENDING_IN = 256;
/** Bytes written and not yet taken by the socket at which the stream counts as backlogged. */
const MAX_BACKLOG_BYTES = 1024 * 1024;

export interface LinkStreamHandlers {
  /** A received top-level element; reading pauses while the promises of 256 are unsettled. */
  stanza(element: Element): Promise<void>;
  /** The connection ended, for whatever reason (given for logs). */
  closed(reason: string): void;
  /** Bytes of XML read and written, added to as they pass (the link's totals); absent in unit tests. */
  traffic?: { bytesIn: number; bytesOut: number };
}

/** Why an element could not be written. */
export type WriteRefusal = 'too-large' | 'prefixed';

/**
 * The XML of an element as a link writes it, or why it may not be written: larger than
 * max_stanza_bytes, or (guard mode) needing a namespace prefix the implicit root does not declare.
 */
export function renderForLink(element: Element, config: Pick<LinkConfig, 'guard' | 'max_stanza_bytes'>): string | WriteRefusal {
  let xml = serialize(element, NS_CLIENT);
  if (config.guard.enabled) {
    // The serializer writes prefixes only for prefixed attributes (xmlns:nsN); a guard sees defaults only.
    if (xml.includes(' xmlns:')) return 'prefixed';
    // Line ends occur only in character data (attribute values escape them): one element per line.
    xml = xml.replaceAll('\n', '&#10;') + '\n';
  }
  if (Buffer.byteLength(xml) > config.max_stanza_bytes) return 'too-large';
  return xml;
}

export class LinkStream {
  readonly socket: Socket;
  /** "address:port" of the peer */
  readonly peer: string;
  readonly #config: LinkConfig;
  readonly #handlers: LinkStreamHandlers;
  readonly #parser: XmlStreamParser;
  #pending = 0;
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  #keepalive: NodeJS.Timeout | undefined;
  #lastWrite = Date.now();

  constructor(socket: Socket, config: LinkConfig, handlers: LinkStreamHandlers) {
    this.socket = socket;
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
    this.#config = config;
    this.#handlers = handlers;
    const limits: ParserLimits = { max_stanza_bytes: config.max_stanza_bytes, max_depth: 64, max_attributes: 64, max_attribute_bytes: config.max_stanza_bytes, max_text_bytes: config.max_stanza_bytes };
    this.#parser = new XmlStreamParser(
      {
        streamOpen: () => {},
        stanza: (element) => this.#received(element),
        // XEP-0361 section 4.3: the side that opened the connection closes it; either way it is over.
        streamClose: () => this.close('the peer closed the stream'),
        error: (error) => this.#failed(error),
      },
      { limits, contentNamespace: NS_SERVER },
    );
    this.#parser.write(Buffer.from(IMPLICIT_ROOT));
    socket.setNoDelay(true);
    socket.setKeepAlive(true, Math.max(config.keepalive, 10) * 1000);
    socket.on('data', (chunk: Buffer) => {
      if (handlers.traffic) handlers.traffic.bytesIn += chunk.length;
      this.#parser.write(chunk);
    });
    socket.on('error', (error) => this.#ended(error.message));
    socket.on('close', () => this.#ended('the connection closed'));
    if (config.keepalive > 0 && !(config.guard.enabled && !config.guard.whitespace_keepalives)) {
      this.#keepalive = setInterval(() => this.#keepAlive(), Math.max(1, config.keepalive / 2) * 1000);
      this.#keepalive.unref();
    }
  }

  get open(): boolean {
    return !this.#closed;
  }

  /** More written than the socket took: new messages should wait in the queue instead. */
  get backlogged(): boolean {
    return this.socket.writableLength > MAX_BACKLOG_BYTES;
  }

  render(element: Element): string | WriteRefusal {
    return renderForLink(element, this.#config);
  }

  /** Writes what `render` produced; false when the connection is gone. */
  write(xml: string): boolean {
    if (this.#closed) return false;
    this.#lastWrite = Date.now();
    if (this.#handlers.traffic) this.#handlers.traffic.bytesOut += Buffer.byteLength(xml);
    this.socket.write(xml);
    return true;
  }

  /** Ends the connection, with a stream error first when one is given (RFC 6120 section 4.9). */
  close(reason: string, condition?: StreamErrorCondition): void {
    if (this.#closed) return;
    const error = condition === undefined ? '' : `<stream:error><${condition} xmlns='${NS_STREAM_ERRORS}'/></stream:error>`;
    // XEP-0361 section 4.1: a stream close SHOULD be exchanged when closing.
    this.socket.end(`${error}</stream:stream>`);
    this.socket.setTimeout(5000, () => this.socket.destroy());
    this.#ended(reason);
  }

  #received(element: Element): void {
    this.#pending++;
    if (this.#pending >= MAX_PENDING_IN) this.socket.pause();
    this.#chain = this.#chain
      .then(() => this.#handlers.stanza(element))
      .finally(() => {
        this.#pending--;
        if (this.#pending < MAX_PENDING_IN / 2 && !this.#closed) this.socket.resume();
      });
  }

  #failed(error: XmlStreamError): void {
    this.close(`stream error: ${error.message}`, error.condition);
  }

  #keepAlive(): void {
    if (this.#closed || Date.now() - this.#lastWrite < this.#config.keepalive * 1000) return;
    // RFC 6120 section 4.6.1; in guard mode an empty line, so that lines still hold whole elements.
    this.write(this.#config.guard.enabled ? '\n' : ' ');
  }

  #ended(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#keepalive);
    this.#handlers.closed(reason);
  }
}
