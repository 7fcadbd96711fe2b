/**
 * The HTTPS GET behind POSH (RFC 7711 sections 3 and 10): the server's certificate must verify
 * for the URL's host (RFC 2818 section 3.1, through Node's checkServerIdentity) under the
 * configured trust anchors; redirects are followed only to https URLs, at most ten, each
 * treated as temporary; the response body and the whole exchange are bounded.
 */
import { request } from 'node:https';
import type { IncomingMessage } from 'node:http';

export interface HttpsFetchOptions {
  /** PEM CA certificates trusted for the HTTPS server; undefined: Node's bundled roots */
  ca?: readonly string[];
  /** milliseconds for the whole fetch, redirects included */
  timeoutMs: number;
  /** largest body accepted, in bytes */
  maxBytes: number;
  /** RFC 7711 section 10: "at most ten" is RECOMMENDED */
  maxRedirects: number;
  /**
   * Where to connect for a URL instead of its own host and port (tests); the certificate is
   * still checked against the URL's host.
   */
  connectTo?: (url: URL) => { host: string; port: number } | undefined;
}

export type HttpsFetchResult =
  | { kind: 'ok'; body: string; url: string }
  | { kind: 'not-found'; url: string }
  | { kind: 'error'; reason: string };

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export async function fetchHttps(url: string, options: HttpsFetchOptions): Promise<HttpsFetchResult> {
  const deadline = Date.now() + options.timeoutMs;
  let current = new URL(url);
  for (let redirects = 0; ; redirects++) {
    if (current.protocol !== 'https:') return { kind: 'error', reason: `refused to fetch ${current.href}: POSH uses https only` };
    const remaining = deadline - Date.now();
    if (remaining <= 0) return { kind: 'error', reason: `timed out fetching ${url}` };
    const response = await get(current, options, remaining);
    if ('reason' in response) return { kind: 'error', reason: `${current.href}: ${response.reason}` };
    if (REDIRECTS.has(response.status)) {
      if (response.location === undefined) return { kind: 'error', reason: `${current.href}: redirect without a Location` };
      if (redirects >= options.maxRedirects) return { kind: 'error', reason: `more than ${options.maxRedirects} redirects fetching ${url}` };
      const next = new URL(response.location, current);
      // RFC 7711 section 10: a redirect to anything but https is a failure
      if (next.protocol !== 'https:') return { kind: 'error', reason: `${current.href} redirects to ${next.href}, which is not https` };
      current = next;
      continue;
    }
    if (response.status === 404) return { kind: 'not-found', url: current.href };
    if (response.status !== 200) return { kind: 'error', reason: `${current.href}: HTTP status ${response.status}` };
    return { kind: 'ok', body: response.body, url: current.href };
  }
}

type Response = { status: number; location?: string; body: string } | { reason: string };

function get(url: URL, options: HttpsFetchOptions, timeoutMs: number): Promise<Response> {
  return new Promise((resolve) => {
    const target = options.connectTo?.(url);
    const req = request({
      host: target?.host ?? url.hostname,
      port: target?.port ?? (url.port === '' ? 443 : Number(url.port)),
      servername: url.hostname,
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      headers: { host: url.host, accept: 'application/json' },
      ...(options.ca ? { ca: [...options.ca] } : {}),
      rejectUnauthorized: true,
      agent: false,
    });
    const finish = (response: Response): void => {
      clearTimeout(timer);
      req.destroy();
      resolve(response);
    };
    const timer = setTimeout(() => finish({ reason: 'timed out' }), timeoutMs);
    req.on('error', (error) => finish({ reason: error.message }));
    req.on('response', (response: IncomingMessage) => {
      // destroying the request below may end the response with an error nobody needs
      response.on('error', (error) => finish({ reason: error.message }));
      const status = response.statusCode ?? 0;
      if (status !== 200) {
        response.resume();
        const location = response.headers.location;
        return finish(location === undefined ? { status, body: '' } : { status, location, body: '' });
      }
      const declared = Number(response.headers['content-length']);
      if (Number.isFinite(declared) && declared > options.maxBytes) return finish({ reason: `the document is larger than ${options.maxBytes} bytes` });
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) return finish({ reason: `the document is larger than ${options.maxBytes} bytes` });
        chunks.push(chunk);
      });
      response.on('end', () => finish({ status, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.end();
  });
}
