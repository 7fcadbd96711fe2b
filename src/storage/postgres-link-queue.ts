/** Link queues in PostgreSQL (the LinkQueueStore of src/storage/types.ts). */
import type { Pool } from 'pg';
import { inTransaction } from './postgres-transaction.ts';
import type { LinkQueuedMessage, LinkQueueStore } from './types.ts';

interface Row {
  id: string;
  stanza: string;
  queued_at: string;
}

const toMessage = (row: Row): LinkQueuedMessage => ({ id: Number(row.id), stanza: row.stanza, queuedAt: Number(row.queued_at) });

/** First key of the advisory locks that serialize pushes per link (two-key lock space). */
const LINK_QUEUE_LOCK = 0x6c696e6b;

export function postgresLinkQueueStore(pool: Pool): LinkQueueStore {
  return {
    async push(link, stanza, queuedAt, limits) {
      const bytes = Buffer.byteLength(stanza);
      return inTransaction(pool, async (client) => {
        // Two servers (or two pushes) on one link must not both pass the limit check.
        await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LINK_QUEUE_LOCK, link]);
        const { rows } = await client.query<{ n: string; bytes: string }>('SELECT count(*) AS n, coalesce(sum(bytes), 0) AS bytes FROM link_queue WHERE link = $1', [link]);
        const used = rows[0]!;
        if (Number(used.n) + 1 > limits.maxMessages || Number(used.bytes) + bytes > limits.maxBytes) return 'full' as const;
        await client.query('INSERT INTO link_queue (link, stanza, bytes, queued_at) VALUES ($1, $2, $3, $4)', [link, stanza, bytes, queuedAt]);
        return 'stored' as const;
      });
    },
    async peek(link, maxCount) {
      const { rows } = await pool.query<Row>('SELECT id, stanza, queued_at FROM link_queue WHERE link = $1 ORDER BY id LIMIT $2', [link, maxCount]);
      return rows.map(toMessage);
    },
    async remove(link, ids) {
      if (ids.length === 0) return 0;
      const { rowCount } = await pool.query('DELETE FROM link_queue WHERE link = $1 AND id = ANY($2::bigint[])', [link, ids]);
      return rowCount ?? 0;
    },
    async takeExpired(link, before) {
      const { rows } = await pool.query<Row>(
        'WITH gone AS (DELETE FROM link_queue WHERE link = $1 AND queued_at < $2 RETURNING id, stanza, queued_at) SELECT * FROM gone ORDER BY id',
        [link, before],
      );
      return rows.map(toMessage);
    },
    async count(link) {
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM link_queue WHERE link = $1', [link]);
      return Number(rows[0]!.n);
    },
    async links() {
      const { rows } = await pool.query<{ link: string }>('SELECT DISTINCT link FROM link_queue ORDER BY link');
      return rows.map((row) => row.link);
    },
  };
}
