/**
 * Refusing a connection at accept, before any XML is parsed: our stream header, the stream error
 * and the closing tag in one write (RFC 6120 section 4.9.1.1: an error before the peer's header
 * still comes after an opening stream header of ours), then the socket is closed. Nothing more
 * is read, and a peer that does not read what we wrote cannot keep the socket open.
 */
import type { Socket } from 'node:net';
import { NS_STREAM_ERRORS } from '../net/stream-errors.ts';
import { NS_STREAMS } from '../xml/element.ts';

const GRACE_MS = 2000;

export type ContentNamespace = 'jabber:client' | 'jabber:server' | 'jabber:component:accept';

export function refuseConnection(socket: Socket, contentNamespace: ContentNamespace, condition: 'policy-violation' | 'resource-constraint' | 'system-shutdown', text: string): void {
  socket.on('error', () => {});
  socket.pause();
  const xml =
    `<?xml version='1.0'?><stream:stream xmlns='${contentNamespace}' xmlns:stream='${NS_STREAMS}' version='1.0'>` +
    `<stream:error><${condition} xmlns='${NS_STREAM_ERRORS}'/><text xmlns='${NS_STREAM_ERRORS}' xml:lang='en'>${escapeText(text)}</text></stream:error></stream:stream>`;
  const timer = setTimeout(() => socket.destroy(), GRACE_MS);
  timer.unref();
  socket.end(xml, () => {
    clearTimeout(timer);
    socket.destroy();
  });
}

function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
