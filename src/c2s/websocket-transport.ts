/**
 * A WebSocket client connection (RFC 7395) presented as the byte stream a TCP client's socket
 * is, so that one C2sConnection serves both: the client's frames are translated into the XML
 * stream the parser reads (src/c2s/websocket-framing.ts), and what the stream writes is cut
 * into frames. TLS is the HTTP listener's (or its reverse proxy's), so the stream counts as
 * encrypted and STARTTLS is never offered (section 3.5).
 */
import { Duplex } from 'node:stream';
import type { WebSocket, RawData } from 'ws';
import { classifyFrame, closeFrame, OutboundFramer, STREAM_END, streamHeaderFor } from './websocket-framing.ts';

/** What the transport reports that the stream code must answer with a stream error. */
export type FramingErrorHandler = (text: string) => void;

/** WebSocket close codes (RFC 6455 section 7.4.1). */
const CLOSE_NORMAL = 1000;

export class WebSocketTransport extends Duplex {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** read by XmlStream.secure: the WebSocket runs over TLS, or over loopback or a TLS-terminating proxy (docs/web.md) */
  readonly encrypted = true;
  #socket: WebSocket;
  #framer = new OutboundFramer();
  #onFramingError: FramingErrorHandler | undefined;
  /** the client sent its <close/>, or broke the framing: the WebSocket closes once our <close/> is out */
  #closeWithStream = false;

  constructor(socket: WebSocket, client: { address: string; port: number }) {
    super({ decodeStrings: false, allowHalfOpen: true });
    this.#socket = socket;
    this.remoteAddress = client.address;
    this.remotePort = client.port;
    socket.on('message', (data, isBinary) => this.#received(data, isBinary));
    // A ping shows the client is there, as whitespace does on a TCP stream (section 3.5 forbids whitespace keepalives over WebSocket).
    socket.on('ping', () => this.#feed(' '));
    socket.on('close', () => {
      this.push(null);
      this.destroy();
    });
    socket.on('error', (error) => this.destroy(error));
  }

  /** Where a frame that breaks the framing rules is reported (the stream ends with a stream error). */
  set onFramingError(handler: FramingErrorHandler) {
    this.#onFramingError = handler;
  }

  setNoDelay(): this {
    return this;
  }

  #received(data: RawData, isBinary: boolean): void {
    if (isBinary) return this.#framingError('XMPP over WebSocket is sent in text messages, not binary ones (RFC 7395 section 3.2)');
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    const frame = classifyFrame(text);
    switch (frame.kind) {
      case 'open':
        return this.#feed(streamHeaderFor(frame.attrs));
      case 'close':
        this.#closeWithStream = true;
        return this.#feed(STREAM_END);
      case 'element':
        return this.#feed(text);
      case 'whitespace':
        return this.#feed(' ');
      case 'invalid':
        return this.#framingError(frame.reason);
    }
  }

  #framingError(text: string): void {
    this.#closeWithStream = true;
    if (this.#onFramingError) this.#onFramingError(text);
    else this.destroy(new Error(text));
  }

  /** Hands XML to the stream's reader; the WebSocket stops being read while the reader is paused. */
  #feed(xml: string): void {
    if (!this.push(Buffer.from(xml, 'utf8'))) this.#socket.pause();
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: string | Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const frames = this.#framer.push(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
    if (frames.length === 0 || this.#socket.readyState !== this.#socket.OPEN) return callback();
    let waiting = frames.length;
    let failed: Error | undefined;
    for (const frame of frames) {
      this.#socket.send(frame, (error) => {
        failed ??= error ?? undefined;
        if (--waiting === 0) callback(failed);
      });
    }
    // Section 3.6: once both streams are closed, the server closes the WebSocket.
    if (this.#closeWithStream && !this.#framer.open) this.#socket.close(CLOSE_NORMAL);
  }

  override _final(callback: (error?: Error | null) => void): void {
    callback();
  }

  /**
   * Section 3.6: the server closes the WebSocket once the streams are closed; a stream dropped
   * without its <close/> gets one first.
   */
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const socket = this.#socket;
    if (socket.readyState === socket.OPEN) {
      if (this.#framer.open) socket.send(closeFrame());
      socket.close(CLOSE_NORMAL);
    } else if (socket.readyState === socket.CONNECTING) {
      socket.terminate();
    }
    callback(error);
  }
}
