/** FAST tokens (XEP-0484) in PostgreSQL (the FastTokenStore of src/storage/types.ts). */
import type { Pool } from 'pg';
import { fastTokenOf } from './codec.ts';
import { inTransaction } from './postgres-transaction.ts';
import type { FastTokenStore } from './types.ts';

export function postgresFastTokenStore(pool: Pool): FastTokenStore {
  return {
    async issue(domain, username, token, maxPerAccount, now) {
      await inTransaction(pool, async (client) => {
        // The account's row lock orders concurrent issues for one account.
        await client.query('SELECT 1 FROM accounts WHERE domain = $1 AND username = $2 FOR UPDATE', [domain, username]);
        await client.query('DELETE FROM fast_tokens WHERE domain = $1 AND username = $2 AND (expires_at <= $3 OR (client_id = $4 AND used_at IS NULL))', [domain, username, now, token.clientId]);
        await client.query(
          `INSERT INTO fast_tokens (domain, username, hash, client_id, mechanism, expires_at) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (domain, username, hash) DO UPDATE SET client_id = $4, mechanism = $5, expires_at = $6, used_at = NULL`,
          [domain, username, token.hash, token.clientId, token.mechanism, token.expiresAt],
        );
        await client.query(
          `DELETE FROM fast_tokens WHERE domain = $1 AND username = $2 AND hash IN
           (SELECT hash FROM fast_tokens WHERE domain = $1 AND username = $2 ORDER BY expires_at DESC OFFSET $3)`,
          [domain, username, maxPerAccount],
        );
      });
    },
    async forClient(domain, username, clientId, now) {
      const { rows } = await pool.query(
        'SELECT * FROM fast_tokens WHERE domain = $1 AND username = $2 AND client_id = $3 AND expires_at > $4 ORDER BY expires_at DESC',
        [domain, username, clientId, now],
      );
      return rows.map(fastTokenOf);
    },
    async used(domain, username, clientId, hash, now) {
      await inTransaction(pool, async (client) => {
        const { rows } = await client.query<{ expires_at: string }>(
          'UPDATE fast_tokens SET used_at = coalesce(used_at, $5) WHERE domain = $1 AND username = $2 AND client_id = $3 AND hash = $4 RETURNING expires_at',
          [domain, username, clientId, hash, now],
        );
        if (rows[0] === undefined) return;
        await client.query('DELETE FROM fast_tokens WHERE domain = $1 AND username = $2 AND client_id = $3 AND expires_at < $4', [domain, username, clientId, rows[0].expires_at]);
      });
    },
    async remove(domain, username, hash) {
      const { rowCount } = await pool.query('DELETE FROM fast_tokens WHERE domain = $1 AND username = $2 AND hash = $3', [domain, username, hash]);
      return rowCount !== 0;
    },
    async count(domain, username, now) {
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM fast_tokens WHERE domain = $1 AND username = $2 AND expires_at > $3', [domain, username, now]);
      return Number(rows[0]?.n ?? 0);
    },
  };
}
