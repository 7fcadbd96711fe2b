/** Link queues in SQLite (the LinkQueueStore of src/storage/types.ts). */
import type { DatabaseSync } from 'node:sqlite';
import type { SqliteWrite } from './sqlite-write.ts';
import type { LinkQueuedMessage, LinkQueueStore } from './types.ts';

interface Row {
  id: number | bigint;
  stanza: string;
  queued_at: number | bigint;
}

const toMessage = (row: Row): LinkQueuedMessage => ({ id: Number(row.id), stanza: row.stanza, queuedAt: Number(row.queued_at) });

export function sqliteLinkQueueStore(db: DatabaseSync, write: SqliteWrite): LinkQueueStore {
  const usage = db.prepare('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS bytes FROM link_queue WHERE link = ?');
  const insert = db.prepare('INSERT INTO link_queue (link, stanza, bytes, queued_at) VALUES (?, ?, ?, ?)');
  const first = db.prepare('SELECT id, stanza, queued_at FROM link_queue WHERE link = ? ORDER BY id LIMIT ?');
  const removeOne = db.prepare('DELETE FROM link_queue WHERE link = ? AND id = ?');
  const expired = db.prepare('SELECT id, stanza, queued_at FROM link_queue WHERE link = ? AND queued_at < ? ORDER BY id');
  const removeExpired = db.prepare('DELETE FROM link_queue WHERE link = ? AND queued_at < ?');
  const names = db.prepare('SELECT DISTINCT link FROM link_queue ORDER BY link');
  return {
    async push(link, stanza, queuedAt, limits) {
      const bytes = Buffer.byteLength(stanza);
      return write(() => {
        const used = usage.get(link) as { n: number; bytes: number };
        if (Number(used.n) + 1 > limits.maxMessages || Number(used.bytes) + bytes > limits.maxBytes) return 'full';
        insert.run(link, stanza, bytes, queuedAt);
        return 'stored';
      });
    },
    async peek(link, maxCount) {
      return (first.all(link, maxCount) as unknown as Row[]).map(toMessage);
    },
    async remove(link, ids) {
      return write(() => ids.reduce((removed, id) => removed + Number(removeOne.run(link, id).changes), 0));
    },
    async takeExpired(link, before) {
      return write(() => {
        const rows = (expired.all(link, before) as unknown as Row[]).map(toMessage);
        removeExpired.run(link, before);
        return rows;
      });
    },
    async count(link) {
      return Number((usage.get(link) as { n: number }).n);
    },
    async links() {
      return (names.all() as unknown as { link: string }[]).map((row) => row.link);
    },
  };
}
