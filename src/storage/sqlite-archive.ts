/** The message archive in SQLite (the ArchiveStore of src/storage/archive-types.ts). */
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { APPEND_ATTEMPTS, ARCHIVE_COLUMNS, archiveWhere, archivedMessageOf, pageOf, pageSql, type Dialect } from './archive-sql.ts';
import type { ArchiveStore } from './archive-types.ts';
import type { SqliteGroupCommit } from './sqlite-group-commit.ts';

type Row = Record<string, unknown>;

const SQLITE: Dialect = {
  placeholder: () => '?',
  idIn: (placeholder) => `id IN (SELECT value FROM json_each(${placeholder}))`,
  idList: (ids) => JSON.stringify(ids),
};

/** Statements by their text: the filters make a few dozen shapes at most. */
function statementCache(db: DatabaseSync): (sql: string) => StatementSync {
  const statements = new Map<string, StatementSync>();
  return (sql) => {
    let statement = statements.get(sql);
    if (statement === undefined) {
      statement = db.prepare(sql);
      statements.set(sql, statement);
    }
    return statement;
  };
}

/** Appends are committed in groups (`groupCommit`); every other call commits the queued appends first. */
export function sqliteArchiveStore(db: DatabaseSync, groupCommit: SqliteGroupCommit): ArchiveStore {
  const prepared = statementCache(db);
  const insert = db.prepare(
    `INSERT INTO archive_messages (domain, username, ${ARCHIVE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (domain, username, position) DO NOTHING`,
  );
  const position = db.prepare('SELECT position FROM archive_messages WHERE domain = ? AND username = ? AND id = ?');
  const first = db.prepare(`SELECT ${ARCHIVE_COLUMNS} FROM archive_messages WHERE domain = ? AND username = ? ORDER BY position ASC LIMIT 1`);
  const last = db.prepare(`SELECT ${ARCHIVE_COLUMNS} FROM archive_messages WHERE domain = ? AND username = ? ORDER BY position DESC LIMIT 1`);
  const expire = db.prepare('DELETE FROM archive_messages WHERE rowid IN (SELECT rowid FROM archive_messages WHERE domain = ? AND position < ? ORDER BY position LIMIT ?)');
  const trim = db.prepare(
    'DELETE FROM archive_messages WHERE domain = ? AND username = ? AND position <= (SELECT position FROM archive_messages WHERE domain = ? AND username = ? ORDER BY position DESC LIMIT 1 OFFSET ?)',
  );
  const clear = db.prepare('DELETE FROM archive_messages WHERE domain = ? AND username = ?');
  const replace = db.prepare('UPDATE archive_messages SET stanza = ? WHERE domain = ? AND username = ? AND id = ?');
  return {
    append(owner, message) {
      return groupCommit.write(() => {
        for (let attempt = 0; attempt < APPEND_ATTEMPTS; attempt++) {
          const at = message.position + attempt;
          const { changes } = insert.run(owner.domain, owner.name, message.id, at, message.withBare, message.withResource ?? null, message.stanza);
          if (changes > 0) return at;
        }
        throw new Error(`no free archive position near ${message.position} in ${owner.name}@${owner.domain}`);
      });
    },
    async positionOf(owner, id) {
      groupCommit.flush();
      const row = position.get(owner.domain, owner.name, id);
      return row === undefined ? undefined : Number(row.position);
    },
    async query(owner, filter, page) {
      groupCommit.flush();
      const { sql, params } = pageSql(archiveWhere(SQLITE, owner, filter), SQLITE, page.max, page.backward);
      return pageOf(prepared(sql).all(...(params as never[])) as Row[], page.max, page.backward);
    },
    async count(owner, filter) {
      groupCommit.flush();
      const where = archiveWhere(SQLITE, owner, filter);
      const row = prepared(`SELECT count(*) AS n FROM archive_messages WHERE ${where.sql}`).get(...(where.params as never[]));
      return Number(row?.n ?? 0);
    },
    async bounds(owner) {
      groupCommit.flush();
      const oldest = first.get(owner.domain, owner.name);
      const newest = last.get(owner.domain, owner.name);
      if (oldest === undefined || newest === undefined) return undefined;
      return { first: archivedMessageOf(oldest), last: archivedMessageOf(newest) };
    },
    async expire(domain, before, limit) {
      groupCommit.flush();
      return Number(expire.run(domain, before, limit).changes);
    },
    async trim(owner, keep) {
      groupCommit.flush();
      return Number(trim.run(owner.domain, owner.name, owner.domain, owner.name, keep).changes);
    },
    async replace(owner, id, stanza) {
      groupCommit.flush();
      return Number(replace.run(stanza, owner.domain, owner.name, id).changes) > 0;
    },
    async clear(owner) {
      groupCommit.flush();
      return Number(clear.run(owner.domain, owner.name).changes);
    },
  };
}
