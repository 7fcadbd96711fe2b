/**
 * WebSocket client connections (RFC 7395) on the HTTP listener: the upgrade with the "xmpp"
 * subprotocol, then a C2sConnection over a WebSocketTransport, the same session logic as a
 * TCP client's (SASL, binding, stream management, limits). With `see_other_uri` every client is
 * sent elsewhere (section 3.6.1).
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { HttpConfig } from '../config/types.ts';
import { refuseUpgrade, type HttpClient, type HttpRoute } from '../net/http-listener.ts';
import type { Logger } from '../util/log.ts';
import { classifyFrame, closeFrame, NS_FRAMING } from './websocket-framing.ts';
import type { C2sService } from './listener.ts';
import { WebSocketTransport } from './websocket-transport.ts';

/** Section 3.1: the subprotocol a client must ask for. */
const SUBPROTOCOL = 'xmpp';
/** Bytes a message may have beyond the largest stanza (the frame's own namespace declarations). */
const FRAME_SLACK = 4096;

export interface WebSocketEndpointOptions {
  config: HttpConfig;
  c2s: C2sService;
  /** the largest stanza an authenticated client may send (c2s.limits.max_stanza_bytes) */
  maxStanzaBytes: number;
  logger: Logger;
}

export function webSocketRoute({ config, c2s, maxStanzaBytes, logger }: WebSocketEndpointOptions): HttpRoute {
  const server = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    perMessageDeflate: false,
    maxPayload: maxStanzaBytes + FRAME_SLACK,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  const seeOther = config.websocket.see_other_uri;
  return {
    path: config.websocket.path,
    upgrade(request: IncomingMessage, socket: Duplex, head: Buffer, client: HttpClient) {
      if (!offersXmpp(request)) {
        logger.debug('websocket upgrade refused: no xmpp subprotocol', { address: client.address });
        return refuseUpgrade(socket, 400, 'ask for the WebSocket subprotocol "xmpp" (RFC 7395 section 3.1)');
      }
      server.handleUpgrade(request, socket, head, (webSocket) => {
        (socket as Socket).setNoDelay?.(true);
        if (seeOther !== undefined) return redirect(webSocket, seeOther);
        const transport = new WebSocketTransport(webSocket, client);
        const connection = c2s.adopt(transport as unknown as Socket);
        if (!connection) return;
        transport.onFramingError = (text) => {
          logger.info('websocket framing error', { peer: connection.peer, error: text });
          connection.stream.streamError('bad-format', text);
        };
      });
    },
  };
}

function offersXmpp(request: IncomingMessage): boolean {
  const header = request.headers['sec-websocket-protocol'];
  return typeof header === 'string' && header.split(',').some((protocol) => protocol.trim() === SUBPROTOCOL);
}

/**
 * Section 3.6.1: the client's <open/> is answered with ours and a <close/> naming where to
 * connect instead; then the WebSocket closes.
 */
function redirect(webSocket: WebSocket, uri: string): void {
  const timer = setTimeout(() => webSocket.terminate(), 10_000);
  timer.unref();
  webSocket.once('message', (data, isBinary) => {
    const frame = isBinary ? undefined : classifyFrame(String(data));
    if (frame?.kind === 'open') webSocket.send(`<open xmlns='${NS_FRAMING}' version='1.0'/>`);
    webSocket.send(closeFrame(uri));
    webSocket.close(1000);
  });
  webSocket.on('close', () => clearTimeout(timer));
  webSocket.on('error', () => webSocket.terminate());
}
