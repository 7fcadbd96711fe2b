/** Publish-subscribe nodes and items in PostgreSQL (the PubsubStore of src/storage/types.ts). */
import type { Pool } from 'pg';
import { inTransaction } from './postgres-transaction.ts';
import type { PubsubStore, StoredPubsubItem } from './types.ts';

const ITEM_COLUMNS = 'id, xml, publisher';

export function postgresPubsubStore(pool: Pool): PubsubStore {
  return {
    async nodes(service) {
      const { rows } = await pool.query<{ name: string; state: string }>('SELECT name, state FROM pubsub_nodes WHERE service = $1 ORDER BY name', [service]);
      return rows;
    },
    async node(service, name) {
      const { rows } = await pool.query<{ name: string; state: string }>('SELECT name, state FROM pubsub_nodes WHERE service = $1 AND name = $2', [service, name]);
      return rows[0];
    },
    async putNode(service, node) {
      await pool.query('INSERT INTO pubsub_nodes (service, name, state) VALUES ($1, $2, $3) ON CONFLICT (service, name) DO UPDATE SET state = excluded.state', [
        service,
        node.name,
        node.state,
      ]);
    },
    async deleteNode(service, name) {
      return inTransaction(pool, async (client) => {
        await client.query('DELETE FROM pubsub_items WHERE service = $1 AND node = $2', [service, name]);
        const { rowCount } = await client.query('DELETE FROM pubsub_nodes WHERE service = $1 AND name = $2', [service, name]);
        return (rowCount ?? 0) > 0;
      });
    },
    async items(service, node, max) {
      const { rows } = await pool.query<StoredPubsubItem>(`SELECT ${ITEM_COLUMNS} FROM pubsub_items WHERE service = $1 AND node = $2 ORDER BY seq DESC LIMIT $3`, [
        service,
        node,
        max ?? null,
      ]);
      return rows;
    },
    async item(service, node, id) {
      const { rows } = await pool.query<StoredPubsubItem>(`SELECT ${ITEM_COLUMNS} FROM pubsub_items WHERE service = $1 AND node = $2 AND id = $3`, [service, node, id]);
      return rows[0];
    },
    async putItem(service, node, item, maxItems) {
      return inTransaction(pool, async (client) => {
        // A new seq from the sequence makes the item the newest, whether it is new or replaces one.
        await client.query(
          `INSERT INTO pubsub_items (service, node, id, xml, publisher) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (service, node, id) DO UPDATE SET seq = nextval('pubsub_item_seq'), xml = excluded.xml, publisher = excluded.publisher`,
          [service, node, item.id, item.xml, item.publisher],
        );
        const { rows } = await client.query<{ id: string }>(
          `DELETE FROM pubsub_items WHERE service = $1 AND node = $2
             AND seq <= (SELECT seq FROM pubsub_items WHERE service = $1 AND node = $2 ORDER BY seq DESC LIMIT 1 OFFSET $3)
           RETURNING id`,
          [service, node, maxItems],
        );
        return rows.map((row) => row.id);
      });
    },
    async deleteItem(service, node, id) {
      const { rowCount } = await pool.query('DELETE FROM pubsub_items WHERE service = $1 AND node = $2 AND id = $3', [service, node, id]);
      return (rowCount ?? 0) > 0;
    },
    async purge(service, node) {
      const { rowCount } = await pool.query('DELETE FROM pubsub_items WHERE service = $1 AND node = $2', [service, node]);
      return rowCount ?? 0;
    },
  };
}
