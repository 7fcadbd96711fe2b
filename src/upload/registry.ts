/**
 * The upload services this server runs, by domain, and the one HTTP route that serves their
 * files: /upload/<service>/<id>/<name>, PUT on a signed slot URL, GET and HEAD for anyone with
 * the URL, OPTIONS for browsers' CORS preflight.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendText, type HttpRoute } from '../net/http-listener.ts';
import type { Storage } from '../storage/types.ts';
import { UPLOAD_PATH, type UploadService } from './service.ts';

export class UploadRegistry {
  readonly secret: Buffer;
  readonly #services = new Map<string, UploadService>();
  /** the HTTP listener's URL for a domain */
  readonly baseUrl: (domain: string) => string;

  constructor(secret: Buffer, baseUrl: (domain: string) => string) {
    this.secret = secret;
    this.baseUrl = baseUrl;
  }

  add(service: UploadService): void {
    this.#services.set(service.domain, service);
  }

  remove(domain: string): void {
    const service = this.#services.get(domain);
    service?.store.close();
    this.#services.delete(domain);
  }

  get(domain: string): UploadService | undefined {
    return this.#services.get(domain);
  }

  close(): void {
    for (const domain of [...this.#services.keys()]) this.remove(domain);
  }

  route(): HttpRoute {
    return { path: UPLOAD_PATH, request: (request, response) => this.#serve(request, response) };
  }

  async #serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const target = parseTarget(request.url ?? '');
    const service = target && this.#services.get(target.domain);
    if (!target || !service) return sendText(response, 404, 'no such file');
    switch (request.method) {
      case 'PUT':
        return service.put(request, response, `${UPLOAD_PATH}${target.domain}/${target.id}/${encodeURIComponent(target.name)}`, target.id, target.name);
      case 'GET':
      case 'HEAD':
        return service.get(request, response, target.id, target.name);
      case 'OPTIONS':
        response.writeHead(204, {
          'Access-Control-Allow-Origin': '*',
          'Access-Control-Allow-Methods': 'GET, HEAD, PUT, OPTIONS',
          'Access-Control-Allow-Headers': 'Content-Type',
          'Access-Control-Max-Age': '86400',
        });
        return void response.end();
      default:
        return sendText(response, 405, 'use PUT to upload, GET to download', { Allow: 'GET, HEAD, PUT, OPTIONS' });
    }
  }
}

/** /upload/<domain>/<id>/<name>, with the name percent-decoded; undefined for anything else. */
function parseTarget(url: string): { domain: string; id: string; name: string } | undefined {
  const path = url.split(/[?#]/)[0]!;
  if (!path.startsWith(UPLOAD_PATH)) return undefined;
  const parts = path.slice(UPLOAD_PATH.length).split('/');
  if (parts.length !== 3 || !/^[A-Za-z0-9_-]{16,64}$/.test(parts[1]!)) return undefined;
  try {
    return { domain: parts[0]!.toLowerCase(), id: parts[1]!, name: decodeURIComponent(parts[2]!) };
  } catch {
    return undefined;
  }
}

/** The key of slot signatures: from storage, else made once and kept there, so URLs handed out survive a restart. */
export async function uploadSecret(storage: Storage): Promise<Buffer> {
  return Buffer.from(await storage.serverData.setIfAbsent('upload_secret', randomBytes(32).toString('hex')), 'hex');
}
