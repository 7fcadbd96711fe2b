/** FAST tokens (XEP-0484) in SQLite (the FastTokenStore of src/storage/types.ts). */
import type { DatabaseSync } from 'node:sqlite';
import type { SqliteWrite } from './sqlite-write.ts';
import { fastTokenOf } from './codec.ts';
import type { FastTokenStore } from './types.ts';

export function sqliteFastTokenStore(db: DatabaseSync, write: SqliteWrite): FastTokenStore {
  const insert = db.prepare('INSERT OR REPLACE INTO fast_tokens (domain, username, hash, client_id, mechanism, expires_at, used_at) VALUES (?, ?, ?, ?, ?, ?, NULL)');
  const dropUnused = db.prepare('DELETE FROM fast_tokens WHERE domain = ? AND username = ? AND client_id = ? AND used_at IS NULL');
  const dropExpired = db.prepare('DELETE FROM fast_tokens WHERE domain = ? AND username = ? AND expires_at <= ?');
  const dropBeyond = db.prepare(
    'DELETE FROM fast_tokens WHERE domain = ?1 AND username = ?2 AND hash IN (SELECT hash FROM fast_tokens WHERE domain = ?1 AND username = ?2 ORDER BY expires_at DESC LIMIT -1 OFFSET ?3)',
  );
  const select = db.prepare('SELECT * FROM fast_tokens WHERE domain = ? AND username = ? AND client_id = ? AND expires_at > ? ORDER BY expires_at DESC');
  const selectOne = db.prepare('SELECT expires_at FROM fast_tokens WHERE domain = ? AND username = ? AND client_id = ? AND hash = ?');
  const markUsed = db.prepare('UPDATE fast_tokens SET used_at = coalesce(used_at, ?) WHERE domain = ? AND username = ? AND hash = ?');
  const dropEarlier = db.prepare('DELETE FROM fast_tokens WHERE domain = ? AND username = ? AND client_id = ? AND expires_at < ?');
  const remove = db.prepare('DELETE FROM fast_tokens WHERE domain = ? AND username = ? AND hash = ?');
  const count = db.prepare('SELECT count(*) AS n FROM fast_tokens WHERE domain = ? AND username = ? AND expires_at > ?');
  return {
    async issue(domain, username, token, maxPerAccount, now) {
      write(() => {
        dropUnused.run(domain, username, token.clientId);
        dropExpired.run(domain, username, now);
        insert.run(domain, username, token.hash, token.clientId, token.mechanism, token.expiresAt);
        dropBeyond.run(domain, username, maxPerAccount);
      });
    },
    async forClient(domain, username, clientId, now) {
      return select.all(domain, username, clientId, now).map(fastTokenOf);
    },
    async used(domain, username, clientId, hash, now) {
      write(() => {
        const row = selectOne.get(domain, username, clientId, hash);
        if (row === undefined) return;
        markUsed.run(now, domain, username, hash);
        dropEarlier.run(domain, username, clientId, Number(row.expires_at));
      });
    },
    async remove(domain, username, hash) {
      return remove.run(domain, username, hash).changes > 0;
    },
    async count(domain, username, now) {
      return Number(count.get(domain, username, now)?.n ?? 0);
    },
  };
}
