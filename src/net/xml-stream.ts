/**
 * An XML stream over a socket (RFC 6120 section 4): the parser with hard limits on the way in,
 * serialization with a bounded send buffer on the way out, stream headers, stream errors,
 * stream restarts and the STARTTLS upgrade. It knows nothing of c2s or s2s negotiation.
 */
import { pooledRandomBytes } from '../util/random-pool.ts';
import { Socket } from 'node:net';
import { connect as tlsConnect, TLSSocket, type ConnectionOptions, type TlsOptions } from 'node:tls';
import type { ParserLimits } from '../config/types.ts';
import { Element, NS_CLIENT, NS_STREAMS } from '../xml/element.ts';
import { XmlStreamParser, type NamespaceDeclarations, type ParkedParser, type StreamParserHandlers, type XmlStreamError } from '../xml/parser.ts';
import { escapeAttr, serialize } from '../xml/serialize.ts';
import { ReadThrottle, type ReadRate } from './read-throttle.ts';
import { NS_STREAM_ERRORS, type StreamErrorCondition } from './stream-errors.ts';

export interface XmlStreamHandlers {
  /** the peer's stream header (also after every restart) and the namespaces declared on it ('' = default) */
  streamOpen(root: Element, declarations: NamespaceDeclarations): void;
  stanza(element: Element): void;
  /** the peer closed its stream with </stream:stream> */
  streamClose(): void;
  /** the parser rejected the input; the stream has already been ended with the matching stream error */
  parseError(error: XmlStreamError): void;
  /** whitespace between stanzas (keepalive) */
  whitespace(): void;
  /** the socket is gone; `error` is set when it failed rather than closed */
  socketClosed(error?: Error): void;
  /** the socket took everything written up to `offset` (see XmlStream.queuedChars) */
  written?(offset: number): void;
}

export interface XmlStreamOptions {
  limits: ParserLimits;
  /** jabber:client or jabber:server: the default namespace of this stream's stanzas */
  contentNamespace: string;
  /** bytes queued for a peer that is not reading before the stream is closed */
  maxOutboundBuffer?: number;
  /** milliseconds to wait for the peer's </stream:stream> after ours before dropping the socket */
  closeTimeout?: number;
  /** how fast the peer may send; reading pauses while it is over (none: unlimited) */
  readRate?: ReadRate;
}

/** Why reading is paused: each reason is held and released on its own. */
export type ReadHold = 'backlog' | 'rate' | 'stanza-rate';

/** A parser event held back while the peer is over its stanza rate or its share of a turn. */
interface HeldEvent {
  run(): void;
  /** a top-level element, which counts against the stanza rate */
  stanza: boolean;
}

export interface StreamHeader {
  from?: string;
  to?: string;
  id?: string;
  /** '1.0' unless given; '' leaves the attribute out (XEP-0114 component streams predate it) */
  version?: string;
  lang?: string;
  /** extra namespace declarations, e.g. { db: 'jabber:server:dialback' } */
  prefixes?: Record<string, string>;
}

/**
 * Stanzas of one stream run in one turn of the event loop before the others get theirs: a turn
 * of 16 routed stanzas takes about a millisecond, so a flooding peer adds about that much to
 * everyone else's latency (docs/performance.md, "Flooding client and remote domain").
 */
const STANZAS_PER_TURN = 16;
/**
 * A peer over its stanza rate waits at least this long: then the stanzas its rate allowed
 * meanwhile run together and leave in one write, instead of one timer and one write each.
 */
const MIN_RATE_WAIT_MS = 10;
const DEFAULT_MAX_OUTBOUND_BUFFER = 16 * 1024 * 1024;
const DEFAULT_CLOSE_TIMEOUT = 5000;

export function newStreamId(): string {
  // RFC 6120 section 4.7.3: unique and unpredictable, at least 128 bits of randomness.
  return pooledRandomBytes(16).toString('base64url');
}

/** The stream a socket is read by, set while it is attached. */
const STREAM_OF = Symbol('trellis.xmlStream');
type StreamSocket = Socket & { [STREAM_OF]?: XmlStream };

/** how long a stream reads nothing before its parser is parked (`parkParserIfIdle`) */
const PARK_PARSER_AFTER_MS = 1000;

export class XmlStream {
  socket: Socket;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly options: XmlStreamOptions;
  #handlers: XmlStreamHandlers;
  /** the parser, or what it needs to go on while the stream is idle (`parkParserIfIdle`) */
  #parser: XmlStreamParser | ParkedParser;
  #headerSent = false;
  /** XML written during this turn of the event loop, not yet handed to the socket */
  #pending = '';
  #flushScheduled = false;
  /** namespaces declared with a prefix on our stream header: their top-level elements are written prefixed (client streams declare none) */
  #declaredPrefixes: Map<string, string> | undefined;
  #closing = false;
  #closed = false;
  #closeTimer: NodeJS.Timeout | undefined;
  /** characters of XML queued since the stream began, and how many of them the socket has taken */
  #queuedChars = 0;
  #writtenChars = 0;
  /** made once the stream could be near its read rate (#throttleIfDue) */
  #throttle: ReadThrottle | undefined;
  /** stanzas read while there was no throttle */
  #stanzasIn = 0;
  /** reasons reading is paused for; made on the first hold (most streams never pause) */
  #holds: Set<ReadHold> | undefined;
  /** parser events held back, in order, while the peer is over its stanza rate or this turn's share (at most one chunk's worth: reading is paused meanwhile) */
  #held: HeldEvent[] | undefined;
  /** whether the first held event already took its stanza-rate token */
  #firstHeldPaid = false;
  /** stanzas run in this turn of the event loop */
  #turnStanzas = 0;
  bytesIn = 0;
  /** bytes written through sockets this stream no longer uses (the plain one before STARTTLS) */
  #bytesOutBefore = 0;
  /** bytes counted here, for a transport that keeps no count of its own (a WebSocket's) */
  #bytesCounted = 0;
  /** whether the socket counts what it writes (asked once: its count measures what is still queued) */
  #socketCounts: boolean;
  /** whether the socket is plain TCP, whose writes mostly complete within the call (see #flush) */
  #plainTcp: boolean;
  lastActivity = Date.now();

  constructor(socket: Socket, handlers: XmlStreamHandlers, options: XmlStreamOptions) {
    this.socket = socket;
    this.#socketCounts = socketCount(socket) !== undefined;
    this.#plainTcp = isPlainTcp(socket);
    this.remoteAddress = socket.remoteAddress ?? 'unknown';
    this.remotePort = socket.remotePort ?? 0;
    this.options = options;
    this.#handlers = handlers;
    this.#parser = new XmlStreamParser(new ParserEvents(this, handlers), { limits: options.limits, contentNamespace: options.contentNamespace });
    this.#attach(socket);
  }

  /** a TLS socket, or a transport that runs over one (a WebSocket client's, src/c2s/websocket-transport.ts) */
  get secure(): boolean {
    return (this.socket as { encrypted?: boolean }).encrypted === true;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** "address:port" of the peer, for logs */
  get peer(): string {
    return this.remoteAddress.includes(':') ? `[${this.remoteAddress}]:${this.remotePort}` : `${this.remoteAddress}:${this.remotePort}`;
  }

  #onData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    this.lastActivity = Date.now();
    if (this.#closed) return;
    this.#activeParser().write(chunk);
    const throttle = this.#throttle ?? this.#throttleIfDue(chunk.length, 0);
    if (throttle) this.#pauseFor(throttle.bytes.take(chunk.length, this.lastActivity));
  }

  /**
   * The read throttle, made once the stream has read half a burst of bytes or stanzas: before,
   * it cannot be over its rate (every bucket starts full), so most idle streams never need one.
   * What was read before is taken from the new buckets in full, with no refill for the time it
   * took: the peer gets no more than with a throttle from the start. `bytes` and `stanzas` are
   * what the caller is about to take itself; `now` makes it whatever was read.
   */
  #throttleIfDue(bytes: number, stanzas: number, now = false): ReadThrottle | undefined {
    const rate = this.options.readRate;
    if (rate === undefined || (!now && this.bytesIn * 2 <= rate.burstBytes && this.#stanzasIn * 2 <= rate.burstStanzas)) return undefined;
    const throttle = (this.#throttle = new ReadThrottle(rate));
    throttle.bytes.take(this.bytesIn - bytes);
    throttle.stanzas.take(this.#stanzasIn - stanzas);
    return throttle;
  }

  /**
   * Whether a parser event may run now. Events are held back in order (`hold`) while the peer is
   * over its stanza rate, and once a turn of the event loop has run STANZAS_PER_TURN of its
   * stanzas: a chunk read at once may carry hundreds of stanzas, and routing them all in one turn
   * would keep every other connection waiting. A stanza that runs the rate dry starts the holding
   * (it has paid its token).
   */
  admits(stanza: boolean): boolean {
    if (this.#held) return false;
    if (!stanza) return true;
    const delay = this.#delayFor();
    if (delay === undefined) return true;
    this.#held = [];
    this.#firstHeldPaid = delay.paid;
    this.holdReading('stanza-rate');
    XmlStream.#scheduleReplay(this, delay.milliseconds);
    return false;
  }

  /** Holds back an event `admits` refused. */
  hold(event: HeldEvent): void {
    (this.#held ??= []).push(event);
  }

  /**
   * Holds back a stanza `admits` refused and stops parsing after it: what the peer sent after it
   * waits as the bytes read until the held events have run (#replayHeld), instead of being
   * parsed at once into element trees that would wait turns for their share (and outlive young
   * collections on a busy trunk).
   */
  holdAndPauseParsing(event: HeldEvent): void {
    this.hold(event);
    this.#activeParser().pause();
  }

  /** When the next stanza may run: undefined for now (it is counted), else after how long and whether it took its rate token. */
  #delayFor(): { milliseconds: number; paid: boolean } | undefined {
    if (this.#turnStanzas >= STANZAS_PER_TURN) return { milliseconds: 0, paid: false };
    if (this.#throttle === undefined) this.#stanzasIn++;
    const throttle = this.#throttle ?? this.#throttleIfDue(0, 1);
    const wait = throttle ? throttle.stanzas.take(1, Date.now()) : 0;
    if (wait > 0) return { milliseconds: Math.max(wait, throttle!.stanzas.refillMillis(MIN_RATE_WAIT_MS)), paid: true };
    this.#countTurnStanza();
    return undefined;
  }

  #countTurnStanza(): void {
    if (this.#turnStanzas++ === 0) setImmediate(XmlStream.#endTurn, this);
  }

  static #endTurn(stream: XmlStream): void {
    stream.#turnStanzas = 0;
  }

  /** Replays after `milliseconds`, or in the next turn of the event loop for 0 (after #endTurn, which was scheduled first). */
  static #scheduleReplay(stream: XmlStream, milliseconds: number): void {
    if (milliseconds > 0) setTimeout(XmlStream.#replayHeld, milliseconds, stream).unref();
    else setImmediate(XmlStream.#replayHeld, stream);
  }

  /** Runs the held events while the turn and the rate allow, and holds the rest again. */
  static #replayHeld(stream: XmlStream): void {
    const held = stream.#held ?? [];
    stream.#held = undefined;
    for (let index = 0; index < held.length; index++) {
      const event = held[index]!;
      if (event.stanza && !(index === 0 && stream.#firstHeldPaid)) {
        const delay = stream.#delayFor();
        if (delay !== undefined) {
          stream.#held = held.slice(index);
          stream.#firstHeldPaid = delay.paid;
          XmlStream.#scheduleReplay(stream, delay.milliseconds);
          return;
        }
      } else if (event.stanza) stream.#countTurnStanza();
      if (!stream.#closed) event.run();
    }
    stream.#firstHeldPaid = false;
    // What the pause left is parsed now, under the same share of the turn: it may hold again.
    if (!stream.#closed && stream.#parser instanceof XmlStreamParser) stream.#parser.resume();
    if (stream.#held === undefined) stream.releaseReading('stanza-rate');
  }

  #pauseFor(milliseconds: number): void {
    if (milliseconds <= 0 || this.#holds?.has('rate')) return;
    this.holdReading('rate');
    setTimeout(XmlStream.#endRatePause, milliseconds, this).unref();
  }

  static #endRatePause(stream: XmlStream): void {
    stream.releaseReading('rate');
  }

  /** Pauses reading from the peer until every reason held is released. */
  holdReading(reason: ReadHold): void {
    (this.#holds ??= new Set()).add(reason);
    this.socket.pause();
  }

  releaseReading(reason: ReadHold): void {
    if (!this.#holds?.delete(reason) || this.#holds.size > 0 || this.#closed) return;
    this.socket.resume();
  }

  /** the stanzas a second the peer may send, if its rate is limited */
  get readStanzasPerSecond(): number | undefined {
    return this.#throttle?.stanzas.perSecond ?? this.options.readRate?.stanzasPerSecond;
  }

  /** Gives the peer `shares` times its configured read rate (read-throttle.ts). */
  setReadShares(shares: number): void {
    if (shares === 1 && this.#throttle === undefined) return;
    (this.#throttle ?? this.#throttleIfDue(0, 0, true))?.setShares(shares);
  }

  /** times reading paused because the peer sent faster than its rate */
  get ratePauses(): number {
    return this.#throttle?.pauses ?? 0;
  }

  // The socket listeners every stream shares: each finds its stream on the socket (no closures per stream).
  static #socketData(this: StreamSocket, chunk: Buffer): void {
    const stream = this[STREAM_OF];
    if (stream !== undefined) stream.#onData(chunk);
  }

  static #socketClose(this: StreamSocket): void {
    const stream = this[STREAM_OF];
    if (stream !== undefined) stream.#finish();
  }

  static #socketError(this: StreamSocket, error: Error): void {
    const stream = this[STREAM_OF];
    if (stream !== undefined) stream.#finish(error);
  }

  #attach(socket: StreamSocket): void {
    socket[STREAM_OF] = this;
    socket.on('data', XmlStream.#socketData);
    socket.on('close', XmlStream.#socketClose);
    socket.on('error', XmlStream.#socketError);
  }

  #detach(socket: StreamSocket): void {
    socket[STREAM_OF] = undefined;
    socket.off('data', XmlStream.#socketData);
    socket.off('close', XmlStream.#socketClose);
    socket.off('error', XmlStream.#socketError);
  }

  #finish(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing = true;
    clearTimeout(this.#closeTimer);
    if (this.#parser instanceof XmlStreamParser) this.#parser.end();
    this.socket.destroy();
    this.#handlers.socketClosed(error);
  }

  /** Sends our stream header (RFC 6120 section 4.7) for a new stream or after a restart. */
  openStream(header: StreamHeader): void {
    const attrs: string[] = [`xmlns='${escapeAttr(this.options.contentNamespace)}'`, `xmlns:stream='${NS_STREAMS}'`];
    this.#declaredPrefixes = undefined;
    for (const [prefix, uri] of Object.entries(header.prefixes ?? {})) {
      attrs.push(`xmlns:${prefix}='${escapeAttr(uri)}'`);
      (this.#declaredPrefixes ??= new Map()).set(uri, prefix);
    }
    if (header.from !== undefined) attrs.push(`from='${escapeAttr(header.from)}'`);
    if (header.to !== undefined) attrs.push(`to='${escapeAttr(header.to)}'`);
    if (header.id !== undefined) attrs.push(`id='${escapeAttr(header.id)}'`);
    if (header.version !== '') attrs.push(`version='${escapeAttr(header.version ?? '1.0')}'`);
    attrs.push(`xml:lang='${escapeAttr(header.lang ?? 'en')}'`);
    this.#headerSent = true;
    this.#write(`<?xml version='1.0'?><stream:stream ${attrs.join(' ')}>`);
  }

  get headerSent(): boolean {
    return this.#headerSent;
  }

  /** Prepares for the peer's new stream header (RFC 6120 section 4.3.3), under new parser limits when given. */
  restart(limits?: ParserLimits): void {
    this.#headerSent = false;
    this.#activeParser().reset(limits);
  }

  /** Applies new parser limits from the next stanza on, without a stream restart. */
  setLimits(limits: ParserLimits): void {
    this.#activeParser().setLimits(limits);
  }

  /**
   * An idle stream between two stanzas keeps what its parser needs to go on (a few fields)
   * instead of the parser (about 400 bytes), and makes a new one when bytes arrive: most
   * client streams are idle most of the time. Called by the owner's periodic sweep.
   */
  parkParserIfIdle(now: number): void {
    if (!(this.#parser instanceof XmlStreamParser) || this.#closed || now - this.lastActivity < PARK_PARSER_AFTER_MS) return;
    this.#parser = this.#parser.park() ?? this.#parser;
  }

  /** the parser is parked (`parkParserIfIdle`) */
  get parserParked(): boolean {
    return !(this.#parser instanceof XmlStreamParser);
  }

  #activeParser(): XmlStreamParser {
    const parser = this.#parser;
    if (parser instanceof XmlStreamParser) return parser;
    return (this.#parser = XmlStreamParser.resume(new ParserEvents(this, this.#handlers), parser));
  }

  /**
   * Characters of XML queued on this stream so far: `sendRaw` returns the offset at the end of
   * what it queued, and once `writtenChars` reaches it the socket has taken those bytes.
   */
  get queuedChars(): number {
    return this.#queuedChars;
  }

  get writtenChars(): number {
    return this.#writtenChars;
  }

  /**
   * Bytes of XML written: the socket's own count where it keeps one (a TCP socket, and a TLS
   * socket counts the bytes before encryption), so that no write measures its text again.
   */
  get bytesOut(): number {
    return this.#bytesOutBefore + this.#bytesCounted + (this.#socketCounts ? (socketCount(this.socket) ?? 0) : 0);
  }

  send(element: Element): void {
    if (this.#closing) return;
    const prefix = element.xmlns === NS_STREAMS ? 'stream' : this.#declaredPrefixes?.get(element.xmlns);
    this.#write(prefix !== undefined ? serializePrefixed(element, prefix) : serialize(element, NS_CLIENT));
  }

  /** Writes pre-serialized XML; returns its end offset (see `queuedChars`), or 0 when the stream is closing and nothing was written. */
  sendRaw(xml: string): number {
    if (this.#closing) return 0;
    this.#write(xml);
    return this.#queuedChars;
  }

  #write(data: string): void {
    if (this.#closed) return;
    this.#queuedChars += data.length;
    this.#pending += data;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      process.nextTick(XmlStream.#flushStream, this);
    }
  }

  /** Hands what is queued to the socket now, so that slow work after it does not hold it back. */
  flush(): void {
    this.#flush();
  }

  /** The flush scheduled by #write (a static function: no closure per stream). */
  static #flushStream(stream: XmlStream): void {
    stream.#flush();
  }

  /**
   * Hands everything queued since the last flush to the socket in one write: under load many
   * stanzas for one peer leave in one system call instead of one each.
   */
  #flush(): void {
    this.#flushScheduled = false;
    const data = this.#pending;
    this.#pending = '';
    if (data === '' || this.#closed) return;
    if (!this.#socketCounts) this.#bytesCounted += Buffer.byteLength(data);
    const end = this.#queuedChars;
    const socket = this.socket;
    if (this.#plainTcp && socket.writableLength === 0 && socket.writable) {
      // Node's Writable defers a write's callback to a tick of its own (with an object for it);
      // without a callback a write that completes within the call costs neither. Most writes
      // to a TCP socket that has nothing queued do: the kernel takes them whole.
      socket.write(data);
      if (socket.writableLength === 0 && socket.writable) return this.#noteWritten(end);
      // Queued (the peer reads slowly) or failed: an empty write's callback comes once the
      // socket has taken everything before it, and with the error if that failed.
      if (socket.writable) socket.write('', this.#noteWrittenAfter(end));
    } else {
      socket.write(data, this.#noteWrittenAfter(end));
    }
    const limit = this.options.maxOutboundBuffer ?? DEFAULT_MAX_OUTBOUND_BUFFER;
    if (this.socket.writableLength > limit && !this.#closing) {
      // The peer does not read what we send: bounded buffers (RFC 6120 section 13.12 on resource exhaustion).
      this.#closing = true;
      this.socket.destroy(new Error(`peer is not reading: more than ${limit} bytes queued`));
    }
  }

  /** A write's callback: on success, the socket took every character up to `end`. */
  #noteWrittenAfter(end: number): (error?: Error | null) => void {
    return (error) => {
      if (!error) this.#noteWritten(end);
    };
  }

  /** The socket took every character up to `end`. */
  #noteWritten(end: number): void {
    if (end <= this.#writtenChars) return;
    this.#writtenChars = end;
    this.#handlers.written?.(end);
  }

  /**
   * Ends the stream with a stream error (RFC 6120 section 4.9): header first if we never sent
   * one, then the error (with an application-specific condition when given), then the close tag; the socket is dropped after the close timeout.
   */
  streamError(condition: StreamErrorCondition, text?: string, header: StreamHeader = {}, applicationXml = ''): void {
    if (this.#closing) return;
    if (!this.#headerSent) this.openStream({ ...header, id: header.id ?? newStreamId() });
    let xml = `<stream:error><${condition} xmlns='${NS_STREAM_ERRORS}'/>`;
    if (text) xml += `<text xmlns='${NS_STREAM_ERRORS}' xml:lang='en'>${escapeTextContent(text)}</text>`;
    // RFC 6120 section 4.9.4: an application-specific condition follows the defined one.
    xml += applicationXml + '</stream:error>';
    this.closeStream(xml);
  }

  /**
   * Closes our side of the stream (RFC 6120 section 4.4), after `finalXml` if given, in one
   * write, and waits briefly for the peer's close.
   */
  closeStream(finalXml = ''): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#write(finalXml + '</stream:stream>');
    this.#flush();
    this.socket.end();
    this.#closeTimer = setTimeout(() => this.#finish(), this.options.closeTimeout ?? DEFAULT_CLOSE_TIMEOUT);
    this.#closeTimer.unref();
  }

  /** Drops the connection at once, with no stream close (shutdown of a hostile peer). */
  destroy(): void {
    this.#finish();
  }

  /**
   * Upgrades the socket to TLS after <proceed/> (RFC 6120 section 5.4.3.3) as the receiving
   * side and restarts the stream. Resolves when the handshake is done; rejects when it fails.
   */
  startTls(options: TlsOptions): Promise<TLSSocket> {
    // <proceed/> must reach the peer in the clear before the handshake starts.
    this.#flush();
    return this.#upgrade(new TLSSocket(this.socket, { ...options, isServer: true }), 'secure');
  }

  /** The same upgrade as the initiating side, after we received <proceed/>. */
  startTlsClient(options: ConnectionOptions): Promise<TLSSocket> {
    this.#flush();
    return this.#upgrade(tlsConnect({ ...options, socket: this.socket }), 'secureConnect');
  }

  #upgrade(secure: TLSSocket, doneEvent: 'secure' | 'secureConnect'): Promise<TLSSocket> {
    if (this.#socketCounts) this.#bytesOutBefore += socketCount(this.socket) ?? 0;
    this.#detach(this.socket);
    this.socket = secure;
    this.#socketCounts = true;
    this.#plainTcp = false;
    this.#attach(secure);
    if (this.#holds !== undefined && this.#holds.size > 0) secure.pause();
    this.restart();
    return new Promise((resolve, reject) => {
      const onSecure = (): void => {
        secure.off('error', onFailure);
        resolve(secure);
      };
      const onFailure = (error: Error): void => {
        secure.off(doneEvent, onSecure);
        reject(error);
      };
      secure.once(doneEvent, onSecure);
      secure.once('error', onFailure);
    });
  }
}

/** Passes the parser's events on to the stream's handlers: one object per stream instead of a closure per event. */
class ParserEvents implements StreamParserHandlers {
  readonly #stream: XmlStream;
  readonly #handlers: XmlStreamHandlers;

  constructor(stream: XmlStream, handlers: XmlStreamHandlers) {
    this.#stream = stream;
    this.#handlers = handlers;
  }

  streamOpen(root: Element, declarations: NamespaceDeclarations): void {
    if (this.#stream.admits(false)) this.#handlers.streamOpen(root, declarations);
    else this.#stream.hold({ stanza: false, run: () => this.#handlers.streamOpen(root, declarations) });
  }

  stanza(element: Element): void {
    if (this.#stream.admits(true)) this.#handlers.stanza(element);
    else this.#stream.holdAndPauseParsing({ stanza: true, run: () => this.#handlers.stanza(element) });
  }

  whitespace(): void {
    this.#handlers.whitespace();
  }

  /** The peer closed its stream (RFC 6120 section 4.4): answer with ours, or finish when ours went first. */
  streamClose(): void {
    if (this.#stream.admits(false)) this.#closed();
    else this.#stream.hold({ stanza: false, run: () => this.#closed() });
  }

  #closed(): void {
    this.#handlers.streamClose();
    if (!this.#stream.closing) this.#stream.closeStream();
    else this.#stream.destroy();
  }

  error(error: XmlStreamError): void {
    this.#stream.streamError(error.condition, error.message);
    this.#handlers.parseError(error);
  }
}

function escapeTextContent(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * A top-level element written with the prefix our header declared for its namespace:
 * `stream:` for the streams namespace, `db:` for dialback (XEP-0220 section 2.4.1: many
 * servers only understand that prefix).
 */
function serializePrefixed(element: Element, prefix: string): string {
  let xml = `<${prefix}:${element.name}`;
  for (const [name, value] of Object.entries(element.attrs)) xml += ` ${name}='${escapeAttr(value)}'`;
  if (element.children.length === 0) return xml + '/>';
  xml += '>';
  for (const child of element.children) xml += typeof child === 'string' ? escapeTextContent(child) : serialize(child, element.xmlns);
  return xml + `</${prefix}:${element.name}>`;
}

/** A TCP socket without TLS: a WebSocket's or a test's duplex is not, nor a TLS socket (its writes complete after encryption). */
function isPlainTcp(socket: Socket): boolean {
  return socket instanceof Socket && !(socket instanceof TLSSocket);
}

/** What a socket says it has written (net.Socket's `bytesWritten`); undefined for a transport without it. */
function socketCount(socket: Socket): number | undefined {
  const count = (socket as { bytesWritten?: unknown }).bytesWritten;
  return typeof count === 'number' ? count : undefined;
}
