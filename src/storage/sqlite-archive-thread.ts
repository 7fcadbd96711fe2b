/**
 * The message archive of a SQLite database file, kept by a worker thread
 * (sqlite-archive-worker.ts) so that its inserts and commits do not hold up the event loop that
 * delivers messages. The worker starts with the first archive call, not with the server: a
 * server whose users archive nothing never pays for the thread.
 *
 * Appends made in one turn of the event loop go to the worker as one message; every other call
 * goes after them, so a query finds every message appended before it (the worker commits what is
 * queued before it reads, sqlite-archive.ts). The other stores of the file keep their own
 * connection on the main thread; SQLite's write lock (with the busy timeout) orders the two
 * connections' transactions.
 */
import { Worker } from 'node:worker_threads';
import type { ArchiveOwner, ArchivedMessage, ArchiveStore } from './archive-types.ts';

export interface ArchiveThreadOptions {
  file: string;
  busyTimeoutMs: number;
  /** how long the worker's first queued append waits for others to commit with */
  commitWindowMs: number;
  /** the most appends one of its transactions takes */
  commitMaxWrites: number;
  /** the page cache of the worker's connection */
  cacheKilobytes: number;
}

/** fields per append in an `appends` request: domain, name, id, position, withBare, withResource (or null), stanza */
export const APPEND_FIELDS = 7;

type CallMethod = Exclude<keyof ArchiveStore, 'append'> | 'flush' | 'close';

export type ArchiveThreadRequest =
  | { kind: 'appends'; batch: number; rows: (string | number | null)[] }
  | { kind: 'call'; call: number; method: CallMethod; args: unknown[] };

type Reply = { batch: number; results: (number | { error: string })[] } | { call: number; value?: unknown; error?: string };

interface Waiting {
  resolve: (value: never) => void;
  reject: (error: Error) => void;
}

export class SqliteArchiveThread implements ArchiveStore {
  readonly #options: ArchiveThreadOptions;
  #worker: Worker | undefined;
  #nextId = 1;
  /** calls answered by `{ call }`, and the appends of each batch by `{ batch }` */
  readonly #calls = new Map<number, Waiting>();
  readonly #batches = new Map<number, Waiting[]>();
  /** appends of this turn, not yet sent */
  #rows: (string | number | null)[] = [];
  #rowWaiters: Waiting[] = [];
  #sendScheduled = false;
  #closed = false;

  constructor(options: ArchiveThreadOptions) {
    this.#options = options;
  }

  append(owner: ArchiveOwner, message: ArchivedMessage): Promise<number> {
    if (this.#closed) return Promise.reject(new Error('the archive is closed'));
    return new Promise<number>((resolve, reject) => {
      this.#rows.push(owner.domain, owner.name, message.id, message.position, message.withBare, message.withResource ?? null, message.stanza);
      this.#rowWaiters.push({ resolve: resolve as (value: never) => void, reject });
      if (!this.#sendScheduled) {
        this.#sendScheduled = true;
        setImmediate(() => this.#sendAppends());
      }
    });
  }

  positionOf(owner: ArchiveOwner, id: string): Promise<number | undefined> {
    return this.#call('positionOf', [owner, id]);
  }

  query(...args: Parameters<ArchiveStore['query']>): ReturnType<ArchiveStore['query']> {
    return this.#call('query', args);
  }

  count(...args: Parameters<ArchiveStore['count']>): Promise<number> {
    return this.#call('count', args);
  }

  bounds(owner: ArchiveOwner): ReturnType<ArchiveStore['bounds']> {
    return this.#call('bounds', [owner]);
  }

  expire(domain: string, position: number, limit: number): Promise<number> {
    return this.#call('expire', [domain, position, limit]);
  }

  trim(owner: ArchiveOwner, keep: number): Promise<number> {
    return this.#call('trim', [owner, keep]);
  }

  replace(owner: ArchiveOwner, id: string, stanza: string): Promise<boolean> {
    return this.#call('replace', [owner, id, stanza]);
  }

  clear(owner: ArchiveOwner): Promise<number> {
    return this.#call('clear', [owner]);
  }

  /** Resolves once every append made before it is committed (an account removed goes after them). */
  async flush(): Promise<void> {
    if (this.#worker === undefined && this.#rows.length === 0) return;
    await this.#call('flush', []);
  }

  /** Commits what is queued and ends the thread; later calls are refused. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#worker !== undefined || this.#rows.length > 0) await this.#call('close', []);
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
    this.#failAll(new Error('the archive is closed'));
  }

  #call<T>(method: CallMethod, args: unknown[]): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('the archive is closed'));
    this.#sendAppends();
    const call = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#calls.set(call, { resolve: resolve as (value: never) => void, reject });
      this.#post({ kind: 'call', call, method, args });
    });
  }

  #sendAppends(): void {
    this.#sendScheduled = false;
    if (this.#rows.length === 0) return;
    const batch = this.#nextId++;
    this.#batches.set(batch, this.#rowWaiters);
    const rows = this.#rows;
    this.#rows = [];
    this.#rowWaiters = [];
    this.#post({ kind: 'appends', batch, rows });
  }

  #post(request: ArchiveThreadRequest): void {
    const worker = this.#worker ?? this.#start();
    // Held while answers are due, so the process does not exit with writes in flight; let go when idle.
    if (this.#calls.size + this.#batches.size === 1) worker.ref();
    worker.postMessage(request);
  }

  #start(): Worker {
    const worker = new Worker(new URL('./sqlite-archive-worker.ts', import.meta.url), { workerData: this.#options });
    worker.on('message', (reply: Reply) => this.#answer(reply));
    // A worker that fails takes its unanswered calls with it; the next call starts another.
    const fail = (error: Error): void => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#failAll(error);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the archive thread stopped (exit code ${code})`)));
    this.#worker = worker;
    return worker;
  }

  #answer(reply: Reply): void {
    if ('batch' in reply) {
      const waiting = this.#batches.get(reply.batch) ?? [];
      this.#batches.delete(reply.batch);
      reply.results.forEach((result, index) => {
        if (typeof result === 'number') waiting[index]?.resolve(result as never);
        else waiting[index]?.reject(new Error(result.error));
      });
    } else {
      const waiting = this.#calls.get(reply.call);
      this.#calls.delete(reply.call);
      if (reply.error !== undefined) waiting?.reject(new Error(reply.error));
      else waiting?.resolve(reply.value as never);
    }
    if (this.#calls.size + this.#batches.size === 0) this.#worker?.unref();
  }

  #failAll(error: Error): void {
    for (const waiting of this.#calls.values()) waiting.reject(error);
    for (const batch of this.#batches.values()) for (const waiting of batch) waiting.reject(error);
    this.#calls.clear();
    this.#batches.clear();
  }
}
