/**
 * The SQL both drivers run for the message archive: one WHERE clause per filter, written with the
 * driver's placeholders (`?` for SQLite, `$n` for PostgreSQL). Every query starts with the owner
 * and then the `with` JID or the position, so it walks one of the archive's indexes
 * (see the migrations) in order and stops after a page.
 */
import type { ArchiveFilter, ArchiveOwner, ArchivedMessage } from './archive-types.ts';

export const ARCHIVE_COLUMNS = 'id, position, with_bare, with_resource, stanza';

/** How a driver writes the n-th parameter, and a list of UIDs as one parameter. */
export interface Dialect {
  placeholder(index: number): string;
  /** a condition that `id` is one of the list bound to the placeholder */
  idIn(placeholder: string): string;
  /** the list of UIDs as the driver binds it */
  idList(ids: readonly string[]): unknown;
}

export interface Where {
  sql: string;
  params: unknown[];
}

export function archiveWhere(dialect: Dialect, owner: ArchiveOwner, filter: ArchiveFilter): Where {
  const params: unknown[] = [];
  const bind = (value: unknown): string => {
    params.push(value);
    return dialect.placeholder(params.length);
  };
  const conditions = [`domain = ${bind(owner.domain)}`, `username = ${bind(owner.name)}`];
  if (filter.with !== undefined) {
    conditions.push(`with_bare = ${bind(filter.with.bare)}`);
    if (filter.with.resource !== undefined) conditions.push(`with_resource = ${bind(filter.with.resource)}`);
  }
  if (filter.start !== undefined) conditions.push(`position >= ${bind(filter.start)}`);
  if (filter.end !== undefined) conditions.push(`position <= ${bind(filter.end)}`);
  if (filter.after !== undefined) conditions.push(`position > ${bind(filter.after)}`);
  if (filter.before !== undefined) conditions.push(`position < ${bind(filter.before)}`);
  if (filter.ids !== undefined) conditions.push(dialect.idIn(bind(dialect.idList(filter.ids))));
  return { sql: conditions.join(' AND '), params };
}

/** A page: one more row than asked, so the caller knows whether the page is the last. */
export function pageSql(where: Where, dialect: Dialect, max: number, backward: boolean): Where {
  const limit = dialect.placeholder(where.params.length + 1);
  return {
    sql: `SELECT ${ARCHIVE_COLUMNS} FROM archive_messages WHERE ${where.sql} ORDER BY position ${backward ? 'DESC' : 'ASC'} LIMIT ${limit}`,
    params: [...where.params, max + 1],
  };
}

export function archivedMessageOf(row: Record<string, unknown>): ArchivedMessage {
  return {
    id: String(row.id),
    position: Number(row.position),
    withBare: String(row.with_bare),
    withResource: row.with_resource === null || row.with_resource === undefined ? undefined : String(row.with_resource),
    stanza: String(row.stanza),
  };
}

/** Rows of a page (max + 1 at most) as the page: in archive order, and whether it is the last one in its direction. */
export function pageOf(rows: readonly Record<string, unknown>[], max: number, backward: boolean): { messages: ArchivedMessage[]; complete: boolean } {
  const messages = rows.slice(0, max).map(archivedMessageOf);
  if (backward) messages.reverse();
  return { messages, complete: rows.length <= max };
}

/** How many positions a driver tries when two servers archive into one archive in the same microsecond. */
export const APPEND_ATTEMPTS = 8;
