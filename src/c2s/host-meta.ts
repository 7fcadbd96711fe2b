/**
 * Discovery of the WebSocket endpoint (XEP-0156 section 3): /.well-known/host-meta (XRD, RFC
 * 6415) and /.well-known/host-meta.json (JRD), for the hosted domain named in the Host header.
 * Browsers fetch them from other origins, so they are served with CORS allowed (section 3.2).
 */
import type { ServerResponse } from 'node:http';
import { sendText, type HttpClient, type HttpRoute } from '../net/http-listener.ts';
import { escapeAttr } from '../xml/serialize.ts';

/** XEP-0156 section 3: the link relation of a WebSocket endpoint. */
export const REL_WEBSOCKET = 'urn:xmpp:alt-connections:websocket';

export interface HostMetaOptions {
  /** whether a domain is one this server hosts accounts for */
  hosted(domain: string): boolean;
  /** the WebSocket URL of a domain, or undefined when WebSocket is off */
  webSocketUrl(domain: string): string | undefined;
}

export function hostMetaRoutes(options: HostMetaOptions): HttpRoute[] {
  const serve = (format: 'xrd' | 'jrd') => (request: { method?: string }, response: ServerResponse, client: HttpClient) => {
    if (request.method === 'OPTIONS') return preflight(response);
    if (request.method !== 'GET' && request.method !== 'HEAD') return sendText(response, 405, 'use GET', { Allow: 'GET, HEAD, OPTIONS' });
    if (!options.hosted(client.host)) return sendText(response, 404, `this server does not host ${client.host || 'that domain'}`);
    const url = options.webSocketUrl(client.host);
    const body = format === 'xrd' ? xrd(url) : jrd(url);
    response.writeHead(200, {
      'Content-Type': format === 'xrd' ? 'application/xrd+xml; charset=utf-8' : 'application/jrd+json; charset=utf-8',
      'Content-Length': Buffer.byteLength(body),
      'Access-Control-Allow-Origin': '*',
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'max-age=3600',
    });
    response.end(request.method === 'HEAD' ? undefined : body);
  };
  return [
    { path: '/.well-known/host-meta', request: serve('xrd') },
    { path: '/.well-known/host-meta.json', request: serve('jrd') },
  ];
}

function xrd(url: string | undefined): string {
  const link = url === undefined ? '' : `\n  <Link rel='${REL_WEBSOCKET}' href='${escapeAttr(url)}'/>`;
  return `<?xml version='1.0' encoding='utf-8'?>\n<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>${link}\n</XRD>\n`;
}

function jrd(url: string | undefined): string {
  return JSON.stringify({ links: url === undefined ? [] : [{ rel: REL_WEBSOCKET, href: url }] }) + '\n';
}

function preflight(response: ServerResponse): void {
  response.writeHead(204, { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS', 'Access-Control-Max-Age': '86400' });
  response.end();
}
