/** The message archive in PostgreSQL (the ArchiveStore of src/storage/archive-types.ts). */
import type { Pool } from 'pg';
import { APPEND_ATTEMPTS, ARCHIVE_COLUMNS, archiveWhere, archivedMessageOf, pageOf, pageSql, type Dialect } from './archive-sql.ts';
import type { ArchiveStore } from './archive-types.ts';
import { PostgresArchiveBatch, type AppendOneByOne } from './postgres-archive-batch.ts';

const POSTGRES: Dialect = {
  placeholder: (index) => `$${index}`,
  idIn: (placeholder) => `id = ANY(${placeholder}::text[])`,
  idList: (ids) => [...ids],
};

/**
 * How long an archived message waits for others to be inserted with (postgres-archive-batch.ts):
 * a message waits for its archive write on PostgreSQL (src/modules/mam/user-archive.ts), so
 * only those of the same turns of the event loop; under load that is many.
 */
const ARCHIVE_BATCH_WINDOW_MS = 1;

/** The store, and `drain`: resolves once every append made so far is written. */
export function postgresArchiveStore(pool: Pool): ArchiveStore & { drain(): Promise<void> } {
  // Two servers sharing the database may archive into one archive in the same microsecond.
  const appendOneByOne: AppendOneByOne = async (owner, message, firstAttempt) => {
    for (let attempt = firstAttempt; attempt < APPEND_ATTEMPTS; attempt++) {
      const at = message.position + attempt;
      const { rowCount } = await pool.query(
        `INSERT INTO archive_messages (domain, username, ${ARCHIVE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (domain, username, position) DO NOTHING`,
        [owner.domain, owner.name, message.id, at, message.withBare, message.withResource ?? null, message.stanza],
      );
      if ((rowCount ?? 0) > 0) return at;
    }
    throw new Error(`no free archive position near ${message.position} in ${owner.name}@${owner.domain}`);
  };
  const batch = new PostgresArchiveBatch(pool, ARCHIVE_BATCH_WINDOW_MS, appendOneByOne);
  const one = async (owner: { domain: string; name: string }, order: 'ASC' | 'DESC') => {
    const { rows } = await pool.query(`SELECT ${ARCHIVE_COLUMNS} FROM archive_messages WHERE domain = $1 AND username = $2 ORDER BY position ${order} LIMIT 1`, [owner.domain, owner.name]);
    return rows[0] === undefined ? undefined : archivedMessageOf(rows[0]);
  };
  return {
    drain: () => batch.drain(),
    append(owner, message) {
      return batch.append(owner, message);
    },
    async positionOf(owner, id) {
      await batch.drain();
      const { rows } = await pool.query<{ position: string }>('SELECT position FROM archive_messages WHERE domain = $1 AND username = $2 AND id = $3', [owner.domain, owner.name, id]);
      return rows[0] === undefined ? undefined : Number(rows[0].position);
    },
    async query(owner, filter, page) {
      await batch.drain();
      const { sql, params } = pageSql(archiveWhere(POSTGRES, owner, filter), POSTGRES, page.max, page.backward);
      const { rows } = await pool.query(sql, params);
      return pageOf(rows, page.max, page.backward);
    },
    async count(owner, filter) {
      await batch.drain();
      const where = archiveWhere(POSTGRES, owner, filter);
      const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM archive_messages WHERE ${where.sql}`, where.params);
      return Number(rows[0]?.n ?? 0);
    },
    async bounds(owner) {
      await batch.drain();
      const [first, last] = await Promise.all([one(owner, 'ASC'), one(owner, 'DESC')]);
      return first === undefined || last === undefined ? undefined : { first, last };
    },
    async expire(domain, before, limit) {
      await batch.drain();
      const { rowCount } = await pool.query('DELETE FROM archive_messages WHERE ctid IN (SELECT ctid FROM archive_messages WHERE domain = $1 AND position < $2 ORDER BY position LIMIT $3)', [domain, before, limit]);
      return rowCount ?? 0;
    },
    async trim(owner, keep) {
      await batch.drain();
      const { rowCount } = await pool.query(
        'DELETE FROM archive_messages WHERE domain = $1 AND username = $2 AND position <= (SELECT position FROM archive_messages WHERE domain = $1 AND username = $2 ORDER BY position DESC LIMIT 1 OFFSET $3)',
        [owner.domain, owner.name, keep],
      );
      return rowCount ?? 0;
    },
    async replace(owner, id, stanza) {
      await batch.drain();
      const { rowCount } = await pool.query('UPDATE archive_messages SET stanza = $1 WHERE domain = $2 AND username = $3 AND id = $4', [stanza, owner.domain, owner.name, id]);
      return (rowCount ?? 0) > 0;
    },
    async clear(owner) {
      await batch.drain();
      const { rowCount } = await pool.query('DELETE FROM archive_messages WHERE domain = $1 AND username = $2', [owner.domain, owner.name]);
      return rowCount ?? 0;
    },
  };
}
