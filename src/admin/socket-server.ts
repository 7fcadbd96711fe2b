/**
 * The admin API's transport: HTTP/1.1 over a unix domain socket that only the server's user
 * may open (mode 0600), so the file system is the access control and no password is needed.
 * A socket left behind by a crashed server is replaced; one that a live server answers on is
 * not. A bad request gets a JSON error and the server keeps serving.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { http } from '../net/http-module.ts';
import type { Logger } from '../util/log.ts';
import { handleAbuseRequest } from './abuse-routes.ts';
import { handleOperatorRequest } from './operator-routes.ts';
import { handleAuditRequest } from './audit-routes.ts';
import { handleClusterRequest } from './cluster-routes.ts';
import { errorResponse, handleAdminRequest, type AdminResponse } from './routes.ts';
import type { AdminSources } from './sources.ts';

/** No endpoint takes a body; a small one is read and ignored, a larger one refused. */
export const MAX_BODY_BYTES = 4096;
const MAX_HEADER_BYTES = 8192;
/** Linux keeps unix socket paths in 108 bytes, the last one a NUL (unix(7)). */
const MAX_SOCKET_PATH_BYTES = 107;

export class AdminServer {
  readonly socketPath: string;
  #server: Server;
  #inode: number;

  private constructor(socketPath: string, server: Server, inode: number) {
    this.socketPath = socketPath;
    this.#server = server;
    this.#inode = inode;
  }

  static async start(socketPath: string, sources: AdminSources, logger: Logger): Promise<AdminServer> {
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH_BYTES) {
      throw new Error(`admin.socket ${socketPath} is longer than the ${MAX_SOCKET_PATH_BYTES} bytes a unix socket path may have; set a shorter admin.socket`);
    }
    await mkdir(dirname(socketPath), { recursive: true });
    await removeStaleSocket(socketPath, logger);
    const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 }, (request, response) =>
      serve(request, response, sources, logger),
    );
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => answerClientError(error, socket, logger));
    await listenPrivately(server, socketPath);
    await chmod(socketPath, 0o600);
    logger.info('admin API listening', { socket: socketPath });
    return new AdminServer(socketPath, server, (await lstat(socketPath)).ino);
  }

  /** Stops answering and removes the socket file, unless another server has replaced it meanwhile. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeAllConnections();
    await closed;
    try {
      const stat = await lstat(this.socketPath);
      if (stat.isSocket() && stat.ino === this.#inode) await unlink(this.socketPath);
    } catch {
      // already gone
    }
  }
}

/**
 * Binds with a umask that leaves the socket readable and writable by the owner only, so there
 * is no moment in which others could connect; bind happens synchronously inside listen().
 */
function listenPrivately(server: Server, socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const previous = process.umask(0o177);
    try {
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(previous);
    }
  });
}

/**
 * A socket file nobody answers on is what a crashed server leaves; it is removed. A live one
 * means another server uses this path, and anything that is not a socket is left alone.
 */
async function removeStaleSocket(socketPath: string, logger: Logger): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(socketPath)).isSocket();
  } catch {
    return;
  }
  if (!isSocket) throw new Error(`admin.socket ${socketPath} exists and is not a socket; move it away or set another admin.socket`);
  if (await answers(socketPath)) throw new Error(`another server answers on the admin socket ${socketPath} (is a Trellis server running with this data_dir?)`);
  await unlink(socketPath);
  logger.warn('replaced a stale admin socket left by a server that did not stop cleanly', { socket: socketPath });
}

function answers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

function serve(request: IncomingMessage, response: ServerResponse, sources: AdminSources, logger: Logger): void {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > MAX_BODY_BYTES) return refuseBody(request, response);
  let received = 0;
  request.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (received > MAX_BODY_BYTES && !response.headersSent) refuseBody(request, response);
  });
  request.on('end', async () => {
    if (response.headersSent) return;
    let answer: AdminResponse;
    try {
      const method = request.method ?? 'GET';
      const target = request.url ?? '/';
      // The metrics are rendered at once; what storage must be asked for is asked first.
      const scraping = method === 'GET' && target.split('?')[0] === '/metrics' && sources.offlineMessages !== undefined;
      const scope = scraping ? { ...sources, offlineMessagesNow: await sources.offlineMessages!() } : sources;
      answer =
        (await handleAbuseRequest(method, target, scope)) ?? (await handleOperatorRequest(method, target, scope)) ?? (await handleAuditRequest(method, target, scope)) ?? (await handleClusterRequest(method, target, scope)) ?? handleAdminRequest(method, target, scope);
    } catch (error) {
      logger.error('admin request failed', { method: request.method, path: request.url, error: error instanceof Error ? error.message : String(error) });
      answer = errorResponse(500, `internal error: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (request.method !== 'GET' && request.method !== 'HEAD' && answer.status < 300) logger.info('admin request', { method: request.method, path: request.url });
    if (!response.headersSent) send(response, answer);
  });
}

function send(response: ServerResponse, answer: AdminResponse, onSent?: () => void): void {
  response.writeHead(answer.status, { 'Content-Type': answer.contentType, 'Cache-Control': 'no-store', ...answer.headers });
  response.end(answer.body, onSent);
}

/** RFC 9110 section 15.5.14: 413, and the connection closes since the body is not read. */
function refuseBody(request: IncomingMessage, response: ServerResponse): void {
  send(response, errorResponse(413, `request bodies are limited to ${MAX_BODY_BYTES} bytes; no endpoint takes one`, { Connection: 'close' }), () => request.socket.destroy());
}

/** Requests node's parser rejects: answered with JSON, then the connection closes. */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket, logger: Logger): void {
  logger.debug('admin request rejected', { error: error.message, code: error.code });
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, reason, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', `request headers are limited to ${MAX_HEADER_BYTES} bytes`]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'the request did not arrive in time']
        : [400, 'Bad Request', `malformed HTTP request: ${error.message}`];
  const body = JSON.stringify({ error: message }) + '\n';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
