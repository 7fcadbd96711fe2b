/**
 * The HTTP listener (docs/web.md): HTTPS with each host's certificate chosen by SNI, or plain
 * HTTP where the configuration allows it (loopback, or behind a trusted reverse proxy). It is
 * bounded: connections open at once, the size of a request head, and the time to send headers,
 * a whole request, and the next request on a kept-alive connection. What it serves is given as
 * routes by path: WebSocket clients, host-meta, file upload.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HttpConfig } from '../config/types.ts';
import { isLoopbackAddress, parseIpAddress, parseIpRange, rangeContains, type IpRange } from '../util/ip-range.ts';
import { everyRefusal, type Logger, type RefusalLog } from '../util/log.ts';
import { http } from './http-module.ts';
import { listen, type BoundAddress, type Listener } from './listener.ts';
import type { TlsContextStore } from './tls-contexts.ts';

/** Who sent a request, as far as the listener can tell. */
export interface HttpClient {
  /** the client's address: the peer's, or from X-Forwarded-For when the peer is a trusted proxy */
  address: string;
  port: number;
  /** the name the client asked for (Host header without the port), lower case; '' when absent */
  host: string;
}

export interface HttpRoute {
  /** the path this route serves, or the start of the paths it serves when it ends with "/" */
  path: string;
  request?(request: IncomingMessage, response: ServerResponse, client: HttpClient): void | Promise<void>;
  /** a request to switch protocols (WebSocket) on this path */
  upgrade?(request: IncomingMessage, socket: Duplex, head: Buffer, client: HttpClient): void;
}

/**
 * The URL clients reach an HTTP listener with `config` at for a domain: `public_url` when
 * configured, else the domain with the port (the bound one, or the configured one before it
 * listens), https unless plain HTTP is configured.
 */
export function httpBaseUrl(config: HttpConfig, domain: string, port = config.port): string {
  if (config.public_url !== undefined) return config.public_url;
  const scheme = config.tls ? 'https' : 'http';
  const defaultPort = config.tls ? 443 : 80;
  return `${scheme}://${domain}${port === defaultPort ? '' : `:${port}`}`;
}

export class HttpListener {
  readonly #config: HttpConfig;
  readonly #logger: Logger;
  readonly #refusals: RefusalLog;
  readonly #server: Server;
  readonly #proxies: IpRange[];
  readonly #sockets = new Set<Socket>();
  #routes: HttpRoute[] = [];
  #listener: Listener | undefined;

  /** `refusals`: where refused connections are logged (by default each on a line of its own) */
  constructor(config: HttpConfig, logger: Logger, refusals: RefusalLog = everyRefusal(logger)) {
    this.#config = config;
    this.#logger = logger;
    this.#refusals = refusals;
    this.#proxies = config.trusted_proxies.map((entry) => parseIpRange(entry));
    this.#server = http.createServer({
      maxHeaderSize: config.max_header_bytes,
      headersTimeout: Math.min(config.header_timeout, config.request_timeout) * 1000,
      requestTimeout: config.request_timeout * 1000,
      keepAliveTimeout: config.idle_timeout * 1000,
      connectionsCheckingInterval: 1000,
    });
    this.#server.on('request', (request: IncomingMessage, response: ServerResponse) => this.#request(request, response));
    this.#server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => this.#upgrade(request, socket, head));
    this.#server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => this.#clientError(error, socket));
  }

  route(route: HttpRoute): void {
    this.#routes.push(route);
  }

  async listen(tls: TlsContextStore | undefined): Promise<BoundAddress[]> {
    const config = this.#config;
    if (config.tls && !tls) throw new Error('http.tls needs a TLS certificate');
    const options = config.tls ? tls!.serverOptions({ ALPNProtocols: ['http/1.1'], handshakeTimeout: config.header_timeout * 1000 }) : undefined;
    this.#listener = await listen(config.addresses, config.port, (socket) => this.#accept(socket), options, {
      acceptError: (error) => this.#logger.warn('http accept failed', { error: error.message }),
      screen: (socket) => this.#admits(socket),
    });
    return this.#listener.addresses;
  }

  get addresses(): BoundAddress[] {
    return this.#listener?.addresses ?? [];
  }

  /**
   * The URL clients reach this listener at for a domain: `public_url` when configured (behind a
   * reverse proxy), else the domain with the bound port, https unless plain HTTP is configured.
   */
  baseUrl(domain: string): string {
    return httpBaseUrl(this.#config, domain, this.addresses[0]?.port);
  }

  get connections(): number {
    return this.#sockets.size;
  }

  /**
   * A connection is refused at once when the listener holds max_connections, or when it comes
   * over plain HTTP from an address that is neither loopback nor a trusted proxy.
   */
  #admits(socket: Socket): boolean {
    if (this.#sockets.size >= this.#config.max_connections) {
      this.#refusals.warn('http max_connections', 'http connection refused: max_connections reached', { address: socket.remoteAddress, max_connections: this.#config.max_connections }, this.#logger);
      return false;
    }
    if (this.#config.tls) return true;
    const address = socket.remoteAddress ?? '';
    if (isLoopbackAddress(address) || this.#fromProxy(address)) return true;
    this.#refusals.warn(`http plain ${address}`, 'http connection refused: plain HTTP is served only to loopback and trusted proxies', { address }, this.#logger);
    return false;
  }

  #accept(socket: Socket): void {
    if (!this.#config.tls && !this.#admits(socket)) return void socket.destroy();
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    this.#server.emit('connection', socket);
  }

  #fromProxy(address: string): boolean {
    const parsed = parseIpAddress(address);
    return parsed !== undefined && this.#proxies.some((range) => rangeContains(range, parsed));
  }

  /** The client behind the request: X-Forwarded-For's last entry is what a trusted proxy saw. */
  #client(request: IncomingMessage): HttpClient {
    const socket = request.socket;
    let address = socket.remoteAddress ?? '';
    const forwarded = request.headers['x-forwarded-for'];
    if (typeof forwarded === 'string' && this.#fromProxy(address)) {
      const last = forwarded.split(',').pop()?.trim();
      if (last && parseIpAddress(last)) address = last;
    }
    return { address, port: socket.remotePort ?? 0, host: hostName(request.headers.host) };
  }

  #find(path: string, want: 'request' | 'upgrade'): HttpRoute | undefined {
    return this.#routes.find((route) => route[want] !== undefined && (route.path === path || (route.path.endsWith('/') && path.startsWith(route.path))));
  }

  #request(request: IncomingMessage, response: ServerResponse): void {
    const path = pathOf(request.url);
    const route = path === undefined ? undefined : this.#find(path, 'request');
    if (!route) return void sendText(response, 404, 'not found');
    Promise.resolve(route.request!(request, response, this.#client(request))).catch((error: unknown) => {
      this.#logger.error('http request failed', { path, error: error instanceof Error ? error.stack : String(error) });
      if (!response.headersSent) sendText(response, 500, 'internal server error');
      else response.destroy();
    });
  }

  #upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // The connection now belongs to whoever takes the upgrade (its session closes it).
    this.#sockets.delete(request.socket);
    const path = pathOf(request.url);
    const route = path === undefined ? undefined : this.#find(path, 'upgrade');
    if (!route) return refuseUpgrade(socket, 404, 'nothing to upgrade to here');
    route.upgrade!(request, socket, head, this.#client(request));
  }

  #clientError(error: NodeJS.ErrnoException, socket: Duplex): void {
    this.#logger.debug('http client error', { error: error.message, code: error.code });
    if (!socket.writable) return void socket.destroy();
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'Request Timeout' : 'Bad Request'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }

  /** Stops listening and drops the connections it still holds (upgraded ones belong to their sessions). */
  async close(): Promise<void> {
    await this.#listener?.close();
    this.#listener = undefined;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }
}

function hostName(header: string | undefined): string {
  if (!header) return '';
  try {
    return new URL(`http://${header}`).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  } catch {
    return '';
  }
}

function pathOf(url: string | undefined): string | undefined {
  if (url === undefined || !url.startsWith('/')) return undefined;
  const end = url.search(/[?#]/);
  return end < 0 ? url : url.slice(0, end);
}

/** A short plain-text answer that is never sniffed as anything else. */
export function sendText(response: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) + 1, 'X-Content-Type-Options': 'nosniff', ...headers });
  response.end(text + '\n');
}

/** An HTTP answer on a socket whose upgrade is refused, then the socket is closed. */
export function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  const reason = status === 400 ? 'Bad Request' : status === 404 ? 'Not Found' : status === 503 ? 'Service Unavailable' : 'Error';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text) + 1}\r\n\r\n${text}\n`);
}
