/** Publish-subscribe nodes and items in SQLite (the PubsubStore of src/storage/types.ts). */
import type { DatabaseSync } from 'node:sqlite';
import type { SqliteWrite } from './sqlite-write.ts';
import type { PubsubStore, StoredPubsubItem, StoredPubsubNode } from './types.ts';

type Row = Record<string, unknown>;

export function sqlitePubsubStore(db: DatabaseSync, write: SqliteWrite): PubsubStore {
  const nodes = db.prepare('SELECT name, state FROM pubsub_nodes WHERE service = ? ORDER BY name');
  const node = db.prepare('SELECT name, state FROM pubsub_nodes WHERE service = ? AND name = ?');
  const upsertNode = db.prepare('INSERT INTO pubsub_nodes (service, name, state) VALUES (?, ?, ?) ON CONFLICT (service, name) DO UPDATE SET state = excluded.state');
  const deleteNode = db.prepare('DELETE FROM pubsub_nodes WHERE service = ? AND name = ?');
  const allItems = db.prepare('SELECT id, xml, publisher FROM pubsub_items WHERE service = ? AND node = ? ORDER BY seq DESC');
  const newestItems = db.prepare('SELECT id, xml, publisher FROM pubsub_items WHERE service = ? AND node = ? ORDER BY seq DESC LIMIT ?');
  const item = db.prepare('SELECT id, xml, publisher FROM pubsub_items WHERE service = ? AND node = ? AND id = ?');
  const nextSeq = db.prepare('SELECT coalesce(max(seq), 0) + 1 AS seq FROM pubsub_items WHERE service = ? AND node = ?');
  const upsertItem = db.prepare(
    'INSERT INTO pubsub_items (service, node, id, seq, xml, publisher) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (service, node, id) DO UPDATE SET seq = excluded.seq, xml = excluded.xml, publisher = excluded.publisher',
  );
  const trim = db.prepare(
    'DELETE FROM pubsub_items WHERE service = ? AND node = ? AND seq <= (SELECT seq FROM pubsub_items WHERE service = ? AND node = ? ORDER BY seq DESC LIMIT 1 OFFSET ?) RETURNING id',
  );
  const deleteItem = db.prepare('DELETE FROM pubsub_items WHERE service = ? AND node = ? AND id = ?');
  const purge = db.prepare('DELETE FROM pubsub_items WHERE service = ? AND node = ?');
  return {
    async nodes(service) {
      return nodes.all(service).map(toNode);
    },
    async node(service, name) {
      const row = node.get(service, name);
      return row === undefined ? undefined : toNode(row);
    },
    async putNode(service, stored) {
      upsertNode.run(service, stored.name, stored.state);
    },
    async deleteNode(service, name) {
      return write(() => {
        purge.run(service, name);
        return deleteNode.run(service, name).changes > 0;
      });
    },
    async items(service, name, max) {
      return (max === undefined ? allItems.all(service, name) : newestItems.all(service, name, max)).map(toItem);
    },
    async item(service, name, id) {
      const row = item.get(service, name, id);
      return row === undefined ? undefined : toItem(row);
    },
    async putItem(service, name, stored, maxItems) {
      return write(() => {
        const seq = Number(nextSeq.get(service, name)!.seq);
        upsertItem.run(service, name, stored.id, seq, stored.xml, stored.publisher);
        return trim.all(service, name, service, name, maxItems).map((row) => String(row.id));
      });
    },
    async deleteItem(service, name, id) {
      return deleteItem.run(service, name, id).changes > 0;
    },
    async purge(service, name) {
      return Number(purge.run(service, name).changes);
    },
  };
}

function toNode(row: Row): StoredPubsubNode {
  return { name: String(row.name), state: String(row.state) };
}

function toItem(row: Row): StoredPubsubItem {
  return { id: String(row.id), xml: String(row.xml), publisher: String(row.publisher) };
}
