/**
 * Archive appends to PostgreSQL gathered for a short window and inserted by one statement: one
 * round trip, one plan and one commit for the window's messages instead of one each (the message
 * archive's writes, docs/performance.md). The rows go as arrays (`unnest`), so a batch of any
 * size is seven parameters, far from the protocol's 65,535. An append whose position another
 * took (two messages of one archive in the same microsecond, or another server on the same
 * database) is retried alone at the next positions; a batch that fails is retried row by row,
 * so one bad row costs only itself.
 */
import type { Pool } from 'pg';
import { ARCHIVE_COLUMNS } from './archive-sql.ts';
import type { ArchivedMessage, ArchiveOwner } from './archive-types.ts';

/** Appends in one statement at most. */
export const ARCHIVE_BATCH_MAX = 500;

interface QueuedAppend {
  owner: ArchiveOwner;
  message: ArchivedMessage;
  resolve: (position: number) => void;
  reject: (error: unknown) => void;
}

/** Inserts one message at `message.position + firstAttempt` or the next free position after it; the position taken. */
export type AppendOneByOne = (owner: ArchiveOwner, message: ArchivedMessage, firstAttempt: number) => Promise<number>;

const INSERT_BATCH = `INSERT INTO archive_messages (domain, username, ${ARCHIVE_COLUMNS})
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[])
  ON CONFLICT (domain, username, position) DO NOTHING
  RETURNING id`;

export class PostgresArchiveBatch {
  readonly #pool: Pool;
  readonly #windowMs: number;
  readonly #oneByOne: AppendOneByOne;
  #queued: QueuedAppend[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** the batches sent, one after another: each waits for the one before */
  #sending: Promise<void> = Promise.resolve();

  constructor(pool: Pool, windowMs: number, oneByOne: AppendOneByOne) {
    this.#pool = pool;
    this.#windowMs = windowMs;
    this.#oneByOne = oneByOne;
  }

  append(owner: ArchiveOwner, message: ArchivedMessage): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.#queued.push({ owner, message, resolve, reject });
      if (this.#queued.length >= ARCHIVE_BATCH_MAX) this.#send();
      else this.#timer ??= setTimeout(() => this.#send(), this.#windowMs);
    });
  }

  /** Sends what is queued now and resolves once every batch sent so far is written: what reads and deletes wait for. */
  drain(): Promise<void> {
    this.#send();
    return this.#sending;
  }

  #send(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#queued;
    if (batch.length === 0) return;
    this.#queued = [];
    this.#sending = this.#sending.then(() => this.#insert(batch));
  }

  async #insert(batch: QueuedAppend[]): Promise<void> {
    let inserted: Set<string>;
    try {
      const columns = [batch.map((a) => a.owner.domain), batch.map((a) => a.owner.name), batch.map((a) => a.message.id), batch.map((a) => a.message.position), batch.map((a) => a.message.withBare), batch.map((a) => a.message.withResource ?? null), batch.map((a) => a.message.stanza)];
      const { rows } = await this.#pool.query<{ id: string }>(INSERT_BATCH, columns);
      inserted = new Set(rows.map((row) => row.id));
    } catch {
      inserted = new Set();
    }
    // IDs are unique per archive (archive_messages_by_id), so a returned ID names its append.
    await Promise.all(
      batch.map(async (append) => {
        if (inserted.has(append.message.id)) return append.resolve(append.message.position);
        try {
          append.resolve(await this.#oneByOne(append.owner, append.message, 0));
        } catch (error) {
          append.reject(error);
        }
      }),
    );
  }
}
