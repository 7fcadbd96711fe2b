/**
 * The web console on the HTTP listener at /admin/ (docs/console.md). Only the login page and
 * the two files it loads are served without a login; everything else needs the session cookie
 * (`Secure`, `HttpOnly`, `SameSite=Strict`, `__Host-` prefixed so that no other origin can set
 * it). A request that changes anything (any method but GET and HEAD) must carry the login's CSRF
 * token in `X-CSRF-Token`, send JSON, and come from this origin when it says where it comes from
 * (`Origin`); the login itself carries the token of the login page (double submit, as the OWASP
 * CSRF cheat sheet describes it). Every answer forbids framing, caching and sniffing, and the
 * pages may load scripts and styles from here only.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AdminResponse } from '../admin/routes.ts';
import { statusReport } from '../admin/sources.ts';
import type { ConsoleConfig } from '../config/types.ts';
import type { HttpClient, HttpRoute } from '../net/http-listener.ts';
import type { Logger } from '../util/log.ts';
import { handleConsoleApi, type ApiSources } from './api.ts';
import { CONSOLE_PATH, CONSOLE_ROUTE_PATHS } from './paths.ts';
import { EventStreams } from './events.ts';
import { federationMap } from './federation-map.ts';
import { checkAdminLogin, type LoginChecks } from './login.ts';
import { ConsoleSessions, newToken, sameToken, type ConsoleLogin } from './sessions.ts';
import { fillPage, readStaticFiles, type StaticFile } from './static-files.ts';

export { CONSOLE_PATH };

export const SESSION_COOKIE = '__Host-trellis-console';
export const LOGIN_COOKIE = '__Host-trellis-console-login';
/** served without a login: the login page's own files */
const PUBLIC_FILES = new Set(['login.js', 'console.css']);
const PAGES = new Set(['', 'index.html']);
const MAX_BODY_BYTES = 16 * 1024;

const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

export interface ConsoleOptions {
  settings(): ConsoleConfig;
  api: Omit<ApiSources, 'closeAdmin'>;
  login: Omit<LoginChecks, 'admins'>;
  logger: Logger;
  /** the directory of its files (tests use the repository's) */
  filesDir?: string;
}

export interface WebConsole {
  /** /admin/ and everything under it, and /admin itself (a redirect) */
  routes: HttpRoute[];
  close(): void;
}

export function webConsole(options: ConsoleOptions): WebConsole {
  const files = readStaticFiles(options.filesDir);
  const sessions = new ConsoleSessions(options.settings);
  const streams = new EventStreams(() => options.settings().max_event_streams);
  const api: ApiSources = { ...options.api, closeAdmin: (admin) => sessions.closeAdmin(admin) };
  const loginChecks: LoginChecks = { ...options.login, admins: () => options.settings().admins };

  async function serve(request: IncomingMessage, response: ServerResponse, client: HttpClient): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://console.invalid');
    const path = url.pathname.slice(CONSOLE_PATH.length);
    const method = request.method ?? 'GET';
    const cookies = parseCookies(request.headers.cookie);
    const reading = method === 'GET' || method === 'HEAD';
    if (!reading && !sameOrigin(request)) return send(response, errorBody(403, 'the request comes from another origin'));

    if (path === 'login') {
      if (reading) return sendLoginPage(response, files.get('login.html')!);
      if (method !== 'POST') return send(response, errorBody(405, 'use GET or POST'), { Allow: 'GET, HEAD, POST' });
      const token = cookies.get(LOGIN_COOKIE);
      if (token === undefined || !sameToken(token, headerOf(request, 'x-csrf-token'))) return send(response, errorBody(403, 'the login form has expired; load the page again'));
      const body = await readJson(request);
      if (typeof body === 'string') return send(response, errorBody(400, body));
      const fields = body as { account?: unknown; password?: unknown };
      const result = await checkAdminLogin(loginChecks, client.address, String(fields.account ?? ''), String(fields.password ?? ''));
      if (!result.ok) return send(response, errorBody(result.status, result.error), result.retryAfterSeconds ? { 'Retry-After': String(result.retryAfterSeconds) } : {});
      const { token: sessionToken } = sessions.open(result.admin);
      return send(response, json(200, { admin: result.admin }), {}, [cookie(SESSION_COOKIE, sessionToken, options.settings().session_lifetime), cookie(LOGIN_COOKIE, '', 0)]);
    }
    if (path.startsWith('static/') && PUBLIC_FILES.has(path.slice('static/'.length)) && reading) return sendFile(response, files.get(path.slice('static/'.length)));

    const sessionToken = cookies.get(SESSION_COOKIE);
    const login = sessions.find(sessionToken);
    if (!login) {
      if (reading && !path.startsWith('api/') && !path.startsWith('static/')) return redirect(response, `${CONSOLE_PATH}login`);
      return send(response, errorBody(401, 'log in first'));
    }
    if (!reading && !sameToken(login.csrf, headerOf(request, 'x-csrf-token'))) {
      options.logger.warn('console request refused: bad CSRF token', { admin: login.admin, address: client.address, method, path });
      return send(response, errorBody(403, 'missing or wrong CSRF token'));
    }
    if (path === 'logout') {
      if (method !== 'POST') return send(response, errorBody(405, 'use POST'), { Allow: 'POST' });
      sessions.close(sessionToken!);
      return send(response, json(200, { loggedOut: login.admin }), {}, [cookie(SESSION_COOKIE, '', 0)]);
    }
    if (PAGES.has(path) && reading) return sendHtml(response, fillPage(files.get('index.html')!, { csrf: login.csrf, admin: login.admin }));
    if (path.startsWith('static/') && reading) return sendFile(response, files.get(path.slice('static/'.length)));
    if (path === 'api/events' && method === 'GET') return openEvents(response, login, sessionToken!);
    if (path.startsWith('api/')) {
      let body: unknown;
      if (!reading && method !== 'DELETE') {
        body = await readJson(request);
        if (typeof body === 'string') return send(response, errorBody(400, body));
      }
      return send(response, await handleConsoleApi(method === 'HEAD' ? 'GET' : method, path.slice('api/'.length), url.searchParams, body, api));
    }
    return send(response, errorBody(404, `nothing at ${CONSOLE_PATH}${path}`));
  }

  function openEvents(response: ServerResponse, login: ConsoleLogin, token: string): void {
    const opened = streams.open(response, {
      alive: () => sessions.find(token, false) === login,
      failed: (error) => options.logger.error('console live update failed', { error: error instanceof Error ? error.stack : String(error) }),
      snapshot: () => {
        const status = statusReport(api.admin);
        return [
          { event: 'counts', data: { c2s: status.c2s, s2s: status.s2s } },
          { event: 'federation', data: federationMap(api.admin, api.config()) },
        ];
      },
    });
    if (!opened) send(response, errorBody(503, 'too many live update streams are open; close another console tab'), { 'Retry-After': '10' });
  }

  function sendLoginPage(response: ServerResponse, page: StaticFile): void {
    const token = newToken();
    sendHtml(response, fillPage(page, { csrf: token }), [cookie(LOGIN_COOKIE, token, 3600)]);
  }

  return {
    routes: [
      { path: CONSOLE_ROUTE_PATHS[0], request: (request, response, client) => serve(request, response, client) },
      { path: CONSOLE_ROUTE_PATHS[1], request: (_request, response) => redirect(response, CONSOLE_PATH) },
    ],
    close: () => streams.closeAll(),
  };
}

function json(status: number, value: unknown): AdminResponse {
  return { status, contentType: 'application/json; charset=utf-8', body: JSON.stringify(value) + '\n' };
}

const errorBody = (status: number, error: string): AdminResponse => json(status, { error });

function send(response: ServerResponse, answer: AdminResponse, headers: Record<string, string> = {}, cookies: string[] = []): void {
  response.writeHead(answer.status, { ...SECURITY_HEADERS, 'Content-Type': answer.contentType, 'Content-Length': Buffer.byteLength(answer.body), ...answer.headers, ...headers, ...(cookies.length > 0 ? { 'Set-Cookie': cookies } : {}) });
  response.end(answer.body);
}

function sendHtml(response: ServerResponse, html: string, cookies: string[] = []): void {
  send(response, { status: 200, contentType: 'text/html; charset=utf-8', body: html }, {}, cookies);
}

function sendFile(response: ServerResponse, file: StaticFile | undefined): void {
  if (!file) return send(response, errorBody(404, 'no such file'));
  response.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': file.contentType, 'Content-Length': file.body.length });
  response.end(file.body);
}

function redirect(response: ServerResponse, location: string): void {
  response.writeHead(303, { ...SECURITY_HEADERS, Location: location, 'Content-Length': 0 });
  response.end();
}

/** RFC 6265bis: `__Host-` cookies are Secure, have Path=/ and no Domain. */
function cookie(name: string, value: string, maxAgeSeconds: number): string {
  return `${name}=${value}; Path=/; Max-Age=${maxAgeSeconds}; Secure; HttpOnly; SameSite=Strict`;
}

function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const equals = part.indexOf('=');
    if (equals > 0) cookies.set(part.slice(0, equals).trim(), part.slice(equals + 1).trim());
  }
  return cookies;
}

function headerOf(request: IncomingMessage, name: string): string {
  const value = request.headers[name];
  return typeof value === 'string' ? value : '';
}

/** A request that names its origin must name this one (the Host it was sent to). */
function sameOrigin(request: IncomingMessage): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

/** A JSON body of at most MAX_BODY_BYTES, or what is wrong with it. */
async function readJson(request: IncomingMessage): Promise<unknown> {
  if (!/^application\/json\b/.test(request.headers['content-type'] ?? '')) return 'send JSON (Content-Type: application/json)';
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return `the body is larger than ${MAX_BODY_BYTES} bytes`;
    chunks.push(chunk);
  }
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    return typeof value === 'object' && value !== null ? value : 'send a JSON object';
  } catch {
    return 'the body is not JSON';
  }
}
