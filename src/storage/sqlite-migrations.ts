/**
 * Schema of the SQLite driver. Each migration moves the schema from `version - 1` to `version`;
 * a change to the schema is a new entry at the end, never an edit of an applied one.
 *
 * Text columns use SQLite's default BINARY collation, so users are compared and sorted byte for
 * byte as the storage contract requires.
 */
import type { DatabaseSync } from 'node:sqlite';

interface Migration {
  version: number;
  sql: string;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE accounts (
        domain TEXT NOT NULL,
        username TEXT NOT NULL,
        credentials TEXT NOT NULL,
        PRIMARY KEY (domain, username)
      ) WITHOUT ROWID;

      CREATE TABLE roster_versions (
        domain TEXT NOT NULL,
        username TEXT NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (domain, username)
      ) WITHOUT ROWID;

      CREATE TABLE roster_items (
        domain TEXT NOT NULL,
        username TEXT NOT NULL,
        jid TEXT NOT NULL,
        name TEXT,
        subscription TEXT NOT NULL,
        ask_out INTEGER NOT NULL,
        ask_in INTEGER NOT NULL,
        approved INTEGER NOT NULL,
        groups TEXT NOT NULL,
        PRIMARY KEY (domain, username, jid)
      ) WITHOUT ROWID;

      CREATE TABLE offline_messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        domain TEXT NOT NULL,
        username TEXT NOT NULL,
        stanza TEXT NOT NULL,
        stored_at INTEGER NOT NULL
      );
      CREATE INDEX offline_messages_by_user ON offline_messages (domain, username, id);

      CREATE TABLE user_data (
        domain TEXT NOT NULL,
        username TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (domain, username, key)
      ) WITHOUT ROWID;

      CREATE TABLE server_data (
        key TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 2,
    // Offline quotas in bytes and per sender, and delivery in arrival order: each stored message
    // records its sender, its size and where it arrived (microseconds, src/router/arrival.ts).
    sql: `
      ALTER TABLE offline_messages ADD COLUMN sender TEXT NOT NULL DEFAULT '';
      ALTER TABLE offline_messages ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE offline_messages ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
      UPDATE offline_messages SET bytes = length(CAST(stanza AS BLOB)), position = stored_at * 1000;
      CREATE INDEX offline_messages_in_order ON offline_messages (domain, username, position, id);
    `,
  },
  {
    version: 3,
    // Banned addresses and blocked domains (trellis ban, trellis s2s block).
    sql: `
      CREATE TABLE abuse_rules (
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        reason TEXT,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (kind, value)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 4,
    // Persistent group-chat rooms (XEP-0045) and their affiliations, per service domain.
    sql: `
      CREATE TABLE muc_rooms (
        service TEXT NOT NULL,
        name TEXT NOT NULL,
        config TEXT NOT NULL,
        PRIMARY KEY (service, name)
      ) WITHOUT ROWID;

      CREATE TABLE muc_affiliations (
        service TEXT NOT NULL,
        room TEXT NOT NULL,
        jid TEXT NOT NULL,
        affiliation TEXT NOT NULL,
        nick TEXT,
        reason TEXT,
        PRIMARY KEY (service, room, jid)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 5,
    // Publish-subscribe nodes and items (XEP-0060), per service: a PubSub domain or an account's
    // bare JID (XEP-0163). seq orders a node's items, newest highest.
    sql: `
      CREATE TABLE pubsub_nodes (
        service TEXT NOT NULL,
        name TEXT NOT NULL,
        state TEXT NOT NULL,
        PRIMARY KEY (service, name)
      ) WITHOUT ROWID;

      CREATE TABLE pubsub_items (
        service TEXT NOT NULL,
        node TEXT NOT NULL,
        id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        xml TEXT NOT NULL,
        publisher TEXT NOT NULL,
        PRIMARY KEY (service, node, id)
      ) WITHOUT ROWID;
      CREATE INDEX pubsub_items_by_seq ON pubsub_items (service, node, seq);
    `,
  },
  {
    version: 6,
    // Store and forward on links (docs/links.md): messages waiting for a link, in queue order.
    sql: `
      CREATE TABLE link_queue (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        link TEXT NOT NULL,
        stanza TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        queued_at INTEGER NOT NULL
      );
      CREATE INDEX link_queue_by_link ON link_queue (link, id);
    `,
  },
  {
    version: 7,
    // The message archive (XEP-0313) of users and group-chat rooms. `position` is the archive's
    // order and time (microseconds); the indexes serve a page by position, a page with one
    // correspondent, a UID looked up for paging, and expiry by age across the archives of a domain.
    sql: `
      CREATE TABLE archive_messages (
        domain TEXT NOT NULL,
        username TEXT NOT NULL,
        position INTEGER NOT NULL,
        id TEXT NOT NULL,
        with_bare TEXT NOT NULL,
        with_resource TEXT,
        stanza TEXT NOT NULL
      );
      CREATE UNIQUE INDEX archive_messages_in_order ON archive_messages (domain, username, position);
      CREATE UNIQUE INDEX archive_messages_by_id ON archive_messages (domain, username, id);
      CREATE INDEX archive_messages_with ON archive_messages (domain, username, with_bare, position);
      CREATE INDEX archive_messages_by_age ON archive_messages (domain, position);
    `,
  },
  {
    version: 8,
    // The audit trail of peering rules (docs/peering.md, "Audit and alerts"): appended, pruned from the oldest.
    sql: `
      CREATE TABLE policy_audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time INTEGER NOT NULL,
        rule TEXT NOT NULL,
        verdict TEXT NOT NULL,
        direction TEXT NOT NULL,
        from_jid TEXT NOT NULL,
        to_jid TEXT NOT NULL,
        kind TEXT NOT NULL,
        label TEXT,
        text TEXT NOT NULL
      );
      CREATE INDEX policy_audit_time ON policy_audit (time);
    `,
  },
  {
    version: 9,
    // FAST tokens (XEP-0484), kept as hashes, per account and client (docs/clients.md, "Fast logins").
    sql: `
      CREATE TABLE fast_tokens (
        domain TEXT NOT NULL,
        username TEXT NOT NULL,
        hash TEXT NOT NULL,
        client_id TEXT NOT NULL,
        mechanism TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER,
        PRIMARY KEY (domain, username, hash)
      );
      CREATE INDEX fast_tokens_by_client ON fast_tokens (domain, username, client_id);
    `,
  },
];

export const LATEST_SQLITE_SCHEMA = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/**
 * Brings the schema up to date inside one write transaction, so a second process opening the
 * same file waits instead of applying the same migration twice.
 */
export function migrateSqlite(db: DatabaseSync): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      applied_at INTEGER NOT NULL
    )`);
    const row = db.prepare('SELECT max(version) AS version FROM schema_migrations').get();
    const current = Number(row?.version ?? 0);
    if (current > LATEST_SQLITE_SCHEMA) {
      throw new Error(
        `database schema version ${current} is newer than this server supports (${LATEST_SQLITE_SCHEMA})`,
      );
    }
    const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      record.run(migration.version, Date.now());
    }
    db.exec('COMMIT');
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}
