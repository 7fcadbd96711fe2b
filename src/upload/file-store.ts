/**
 * The files of one upload service on disk: `<directory>/<id>/<name>` holds a file's bytes (the
 * layout of its URL path, so that another web server can serve the folder) and `<id>.json`
 * what it is (owner, size, content type, name, expiry). An index in memory keeps
 * each user's files for the quota; expired files are deleted by a periodic sweep, and neither
 * served nor counted meanwhile.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from '../util/log.ts';

export interface StoredFile {
  id: string;
  owner: string;
  size: number;
  type: string;
  /** the file's name as given in the slot request, sanitized */
  name: string;
  /** milliseconds since the epoch */
  created: number;
  expires: number;
}

/** An id is random base64url; nothing else may name a file in the directory. */
const ID = /^[A-Za-z0-9_-]{16,64}$/;
const SWEEP_MAX_MS = 60_000;

export class UploadFileStore {
  readonly directory: string;
  #files = new Map<string, StoredFile>();
  #byOwner = new Map<string, Set<StoredFile>>();
  /** ids being written now: a second PUT of the same slot is refused */
  #writing = new Set<string>();
  #sweeper: NodeJS.Timeout | undefined;
  #logger: Logger;

  constructor(directory: string, logger: Logger) {
    this.directory = directory;
    this.#logger = logger;
  }

  /** Reads the index from disk, dropping what expired or is incomplete, and starts the sweep. */
  async open(expireAfterSeconds: number): Promise<void> {
    await mkdir(this.directory, { recursive: true, mode: 0o750 });
    const now = Date.now();
    const entries = await readdir(this.directory);
    for (const entry of entries) {
      // An upload cut short, or a file whose record was never written.
      if (entry.endsWith('.part') || (ID.test(entry) && !entries.includes(`${entry}.json`))) {
        await rm(join(this.directory, entry), { force: true, recursive: true });
        continue;
      }
      if (!entry.endsWith('.json') || !ID.test(entry.slice(0, -5))) continue;
      try {
        const file = JSON.parse(await readFile(join(this.directory, entry), 'utf8')) as StoredFile;
        if (file.expires <= now) await this.#delete(file);
        else this.#add(file);
      } catch (error) {
        this.#logger.warn('upload: unreadable file record skipped', { file: entry, error: error instanceof Error ? error.message : String(error) });
      }
    }
    const interval = Math.min(SWEEP_MAX_MS, expireAfterSeconds * 1000);
    this.#sweeper = setInterval(() => void this.sweep(), interval);
    this.#sweeper.unref();
  }

  close(): void {
    clearInterval(this.#sweeper);
  }

  /** bytes of unexpired files `owner` holds */
  usage(owner: string, now = Date.now()): number {
    let bytes = 0;
    for (const file of this.#byOwner.get(owner) ?? []) if (file.expires > now) bytes += file.size;
    return bytes;
  }

  get fileCount(): number {
    return this.#files.size;
  }

  /** The file with this id, unless it expired. */
  get(id: string): StoredFile | undefined {
    const file = this.#files.get(id);
    return file && file.expires > Date.now() ? file : undefined;
  }

  exists(id: string): boolean {
    return this.#files.has(id) || this.#writing.has(id);
  }

  /** where a file's bytes are: `<directory>/<id>/<name>` */
  path(file: StoredFile): string {
    if (!ID.test(file.id) || file.name.includes('/') || file.name.startsWith('.')) throw new Error('not an upload file');
    return join(this.directory, file.id, file.name);
  }

  /**
   * Writes `body` as the file `record.id`: exactly `record.size` bytes, else nothing is kept.
   * Throws when the id is taken or the body is not that size.
   */
  async write(record: StoredFile, body: Readable): Promise<void> {
    if (this.exists(record.id)) throw new UploadConflict();
    this.#writing.add(record.id);
    const final = this.path(record);
    const folder = join(this.directory, record.id);
    const partial = `${folder}.part`;
    try {
      let received = 0;
      body.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > record.size) body.destroy(new UploadSizeMismatch(`more than the ${record.size} bytes of the slot`));
      });
      await pipeline(body, createWriteStream(partial, { mode: 0o640, flags: 'wx' }));
      if (received !== record.size) throw new UploadSizeMismatch(`${received} bytes instead of the ${record.size} of the slot`);
      await writeFile(`${folder}.json`, JSON.stringify(record), { mode: 0o600 });
      await mkdir(folder, { mode: 0o750 });
      await rename(partial, final);
      this.#add(record);
    } catch (error) {
      await rm(partial, { force: true });
      await rm(folder, { force: true, recursive: true });
      await rm(`${folder}.json`, { force: true });
      throw error;
    } finally {
      this.#writing.delete(record.id);
    }
  }

  /** Deletes every expired file. */
  async sweep(now = Date.now()): Promise<number> {
    let deleted = 0;
    for (const file of [...this.#files.values()]) {
      if (file.expires > now) continue;
      await this.#delete(file);
      deleted++;
    }
    if (deleted > 0) this.#logger.info('upload: expired files deleted', { deleted, directory: this.directory });
    return deleted;
  }

  #add(file: StoredFile): void {
    this.#files.set(file.id, file);
    const owned = this.#byOwner.get(file.owner);
    if (owned) owned.add(file);
    else this.#byOwner.set(file.owner, new Set([file]));
  }

  async #delete(file: StoredFile): Promise<void> {
    this.#files.delete(file.id);
    const owned = this.#byOwner.get(file.owner);
    owned?.delete(file);
    if (owned?.size === 0) this.#byOwner.delete(file.owner);
    await rm(join(this.directory, file.id), { force: true, recursive: true });
    await rm(join(this.directory, `${file.id}.json`), { force: true });
  }
}

export class UploadConflict extends Error {
  constructor() {
    super('this slot was used already');
  }
}

export class UploadSizeMismatch extends Error {}
