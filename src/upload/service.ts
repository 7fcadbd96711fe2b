/**
 * One HTTP upload service (XEP-0363): slots for the users of its parent host within the size
 * limit and their quota, and the PUT and GET of the files over the HTTP listener. Files live in
 * an UploadFileStore; a PUT is accepted only on the signed URL of its slot (slot-signature.ts).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { UploadSettings } from '../config/types.ts';
import { sendText } from '../net/http-listener.ts';
import type { Logger } from '../util/log.ts';
import { el } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { UploadConflict, UploadFileStore, UploadSizeMismatch, type StoredFile } from './file-store.ts';
import { signSlot, slotSignatureValid } from './slot-signature.ts';

export const NS_UPLOAD = 'urn:xmpp:http:upload:0';
/** The first path segment of upload URLs: /upload/<service>/<id>/<name> */
export const UPLOAD_PATH = '/upload/';

/** What a client asked for (XEP-0363 section 4). */
export interface SlotRequest {
  owner: string;
  filename: string;
  size: number;
  type: string;
}

export interface Slot {
  put: string;
  get: string;
}

/** MIME types shown inline (XEP-0363 section 11 asks servers not to let uploads run as pages): images, audio and video, but not SVG, which can carry scripts. */
const INLINE = /^(image\/(png|jpeg|gif|webp|avif|heic|heif|bmp)|audio\/[\w.+-]+|video\/[\w.+-]+)$/;
const MIME_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/i;

export interface UploadServiceOptions {
  domain: string;
  parent: string;
  settings: UploadSettings;
  store: UploadFileStore;
  secret: Buffer;
  /** the URL of the HTTP listener for the parent domain, such as https://example.com:5443 */
  baseUrl: () => string;
  logger: Logger;
}

export class UploadService {
  readonly domain: string;
  readonly store: UploadFileStore;
  settings: UploadSettings;
  readonly #options: UploadServiceOptions;

  constructor(options: UploadServiceOptions) {
    this.#options = options;
    this.domain = options.domain;
    this.settings = options.settings;
    this.store = options.store;
  }

  /** Section 4: a slot, or the error the request earns (too large, over quota, malformed). */
  requestSlot(request: SlotRequest): Slot {
    const { max_file_size: maxSize, quota, slot_lifetime: lifetime } = this.settings;
    if (!Number.isSafeInteger(request.size) || request.size < 1) throw new StanzaError('bad-request', 'the size must be a positive number of bytes');
    if (request.type !== '' && !MIME_TYPE.test(request.type)) throw new StanzaError('bad-request', 'the content-type is not a MIME type');
    if (request.size > maxSize) {
      // Section 5: file-too-large tells the client the largest size allowed.
      const tooLarge = el('file-too-large', NS_UPLOAD, {}, el('max-file-size', NS_UPLOAD, {}, String(maxSize)));
      const error = new StanzaError('not-acceptable', `the file is too large: the largest allowed is ${maxSize} bytes`, 'modify');
      error.appCondition = tooLarge;
      throw error;
    }
    const used = this.store.usage(request.owner);
    if (quota > 0 && used + request.size > quota) {
      throw new StanzaError('resource-constraint', `the upload quota is used up: ${used} of ${quota} bytes held, and this file has ${request.size}`, 'wait');
    }
    const id = randomBytes(18).toString('base64url');
    const name = sanitizeFilename(request.filename);
    const path = `${UPLOAD_PATH}${this.domain}/${id}/${encodeURIComponent(name)}`;
    const expires = Math.floor(Date.now() / 1000) + lifetime;
    const signature = signSlot(this.#options.secret, { path, size: request.size, type: request.type, expires, owner: request.owner });
    const query = new URLSearchParams({ e: String(expires), u: request.owner, t: request.type, s: signature });
    // With external_url another web server serves the folder: <external_url>/<service>/<id>/<name>.
    const getBase = `${this.settings.external_url ?? this.#options.baseUrl() + UPLOAD_PATH.slice(0, -1)}/${this.domain}`;
    return { put: `${this.#options.baseUrl()}${path}?${query}`, get: `${getBase}/${id}/${encodeURIComponent(name)}` };
  }

  /** PUT of a slot's file: the signature must cover this path, size and type and still be valid. */
  async put(request: IncomingMessage, response: ServerResponse, path: string, id: string, name: string): Promise<void> {
    const query = new URL(request.url ?? '/', 'http://x').searchParams;
    const expires = Number(query.get('e'));
    const owner = query.get('u') ?? '';
    const type = query.get('t') ?? '';
    const size = Number(request.headers['content-length']);
    const declaredType = (request.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (!Number.isSafeInteger(size)) return sendText(response, 411, 'a PUT needs a Content-Length');
    const valid = slotSignatureValid(this.#options.secret, { path, size, type, expires, owner }, query.get('s') ?? '');
    if (!valid) return this.#refusePut(response, 403, 'this URL does not grant this upload: its signature does not match the path, size or type', owner);
    // Section 4: the client sends the Content-Type it gave in the request.
    if (type !== '' && declaredType.toLowerCase() !== type.toLowerCase()) return this.#refusePut(response, 403, `the Content-Type must be ${type}, as in the slot request`, owner);
    if (expires * 1000 < Date.now()) return this.#refusePut(response, 403, 'this upload URL has expired; request a new slot', owner);
    const quota = this.settings.quota;
    if (quota > 0 && this.store.usage(owner) + size > quota) return this.#refusePut(response, 413, 'the upload quota is used up', owner);
    if (this.store.exists(id)) return sendText(response, 409, 'this slot was used already');
    const now = Date.now();
    const record: StoredFile = { id, owner, size, type: type || declaredType || 'application/octet-stream', name, created: now, expires: now + this.settings.expire_after * 1000 };
    if (!MIME_TYPE.test(record.type)) record.type = 'application/octet-stream';
    try {
      await this.store.write(record, request);
    } catch (error) {
      if (error instanceof UploadConflict) return sendText(response, 409, error.message);
      if (error instanceof UploadSizeMismatch) return sendText(response, 400, `the body had ${error.message}`, { Connection: 'close' });
      throw error;
    }
    this.#options.logger.info('upload stored', { service: this.domain, owner, bytes: size, type: record.type });
    sendText(response, 201, 'created', corsHeaders());
  }

  #refusePut(response: ServerResponse, status: number, text: string, owner: string): void {
    this.#options.logger.info('upload refused', { service: this.domain, owner: owner || undefined, status, reason: text });
    // The body is not read: the connection closes after the answer.
    sendText(response, status, text, { Connection: 'close', ...corsHeaders() });
  }

  /** GET (or HEAD) of a file, with headers that keep a browser from running it (section 11). */
  get(request: IncomingMessage, response: ServerResponse, id: string, name: string): void {
    const file = this.store.get(id);
    if (!file || file.name !== name) return sendText(response, 404, 'no such file (it may have expired)', corsHeaders());
    const inline = INLINE.test(file.type);
    response.writeHead(200, {
      'Content-Type': file.type,
      'Content-Length': file.size,
      'Content-Disposition': `${inline ? 'inline' : 'attachment'}; filename*=UTF-8''${encodeURIComponent(file.name)}`,
      'X-Content-Type-Options': 'nosniff',
      'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'; sandbox",
      'Referrer-Policy': 'no-referrer',
      'Cache-Control': `public, max-age=${Math.max(0, Math.floor((file.expires - Date.now()) / 1000))}, immutable`,
      ...corsHeaders(),
    });
    if (request.method === 'HEAD') return void response.end();
    const stream = createReadStream(this.store.path(file));
    stream.on('error', () => response.destroy());
    stream.pipe(response);
  }
}

/** Web clients upload and fetch from other origins (section 11 of XEP-0363 on CORS). */
export function corsHeaders(): Record<string, string> {
  return { 'Access-Control-Allow-Origin': '*' };
}

/** Bytes of a file name at most, well under the 255 of common file systems. */
const MAX_NAME_BYTES = 200;

/** A file name as one URL segment and one file name on disk: no path separators, control characters or leading dots. */
export function sanitizeFilename(filename: string): string {
  const characters = [...filename.replace(/[\u0000-\u001f\u007f/\\]/g, '_').replace(/^[.\s]+/, '').trim()].slice(0, MAX_NAME_BYTES);
  while (Buffer.byteLength(characters.join('')) > MAX_NAME_BYTES) characters.pop();
  const cleaned = characters.join('').trim();
  return cleaned === '' ? 'file' : cleaned;
}
