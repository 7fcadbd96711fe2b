/**
 * Schema of the PostgreSQL driver. Each migration moves the schema from `version - 1` to `version`;
 * a change to the schema is a new entry at the end, never an edit of an applied one.
 *
 * Text that identifies users uses the "C" collation, so it is compared and sorted byte for byte
 * whatever the database's default collation is, as the storage contract requires.
 */
import type { Pool } from 'pg';
import { inTransaction } from './postgres-transaction.ts';

interface Migration {
  version: number;
  sql: string;
}

const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE accounts (
        domain text COLLATE "C" NOT NULL,
        username text COLLATE "C" NOT NULL,
        credentials text NOT NULL,
        PRIMARY KEY (domain, username)
      );

      CREATE TABLE roster_versions (
        domain text COLLATE "C" NOT NULL,
        username text COLLATE "C" NOT NULL,
        version bigint NOT NULL,
        PRIMARY KEY (domain, username)
      );

      CREATE TABLE roster_items (
        domain text COLLATE "C" NOT NULL,
        username text COLLATE "C" NOT NULL,
        jid text COLLATE "C" NOT NULL,
        name text,
        subscription text NOT NULL,
        ask_out boolean NOT NULL,
        ask_in boolean NOT NULL,
        approved boolean NOT NULL,
        groups text NOT NULL,
        PRIMARY KEY (domain, username, jid)
      );

      CREATE TABLE offline_messages (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        domain text COLLATE "C" NOT NULL,
        username text COLLATE "C" NOT NULL,
        stanza text NOT NULL,
        stored_at bigint NOT NULL
      );
      CREATE INDEX offline_messages_by_user ON offline_messages (domain, username, id);

      CREATE TABLE user_data (
        domain text COLLATE "C" NOT NULL,
        username text COLLATE "C" NOT NULL,
        key text COLLATE "C" NOT NULL,
        value text NOT NULL,
        PRIMARY KEY (domain, username, key)
      );

      CREATE TABLE server_data (
        key text COLLATE "C" PRIMARY KEY,
        value text NOT NULL
      );
    `,
  },
  {
    version: 2,
    // Offline quotas in bytes and per sender, and delivery in arrival order: each stored message
    // records its sender, its size and where it arrived (microseconds, src/router/arrival.ts).
    sql: `
      ALTER TABLE offline_messages ADD COLUMN sender text COLLATE "C" NOT NULL DEFAULT '';
      ALTER TABLE offline_messages ADD COLUMN bytes integer NOT NULL DEFAULT 0;
      ALTER TABLE offline_messages ADD COLUMN position bigint NOT NULL DEFAULT 0;
      UPDATE offline_messages SET bytes = octet_length(stanza), position = stored_at * 1000;
      CREATE INDEX offline_messages_in_order ON offline_messages (domain, username, position, id);
    `,
  },
  {
    version: 3,
    // Banned addresses and blocked domains (trellis ban, trellis s2s block).
    sql: `
      CREATE TABLE abuse_rules (
        kind text COLLATE "C" NOT NULL,
        value text COLLATE "C" NOT NULL,
        reason text,
        created_at bigint NOT NULL,
        PRIMARY KEY (kind, value)
      );
    `,
  },
  {
    version: 4,
    // Persistent group-chat rooms (XEP-0045) and their affiliations, per service domain.
    sql: `
      CREATE TABLE muc_rooms (
        service text COLLATE "C" NOT NULL,
        name text COLLATE "C" NOT NULL,
        config text NOT NULL,
        PRIMARY KEY (service, name)
      );

      CREATE TABLE muc_affiliations (
        service text COLLATE "C" NOT NULL,
        room text COLLATE "C" NOT NULL,
        jid text COLLATE "C" NOT NULL,
        affiliation text NOT NULL,
        nick text,
        reason text,
        PRIMARY KEY (service, room, jid)
      );
    `,
  },
  {
    version: 5,
    // Publish-subscribe nodes and items (XEP-0060), per service: a PubSub domain or an account's
    // bare JID (XEP-0163). seq orders a node's items, newest highest.
    sql: `
      CREATE TABLE pubsub_nodes (
        service text COLLATE "C" NOT NULL,
        name text COLLATE "C" NOT NULL,
        state text NOT NULL,
        PRIMARY KEY (service, name)
      );

      CREATE SEQUENCE pubsub_item_seq;
      CREATE TABLE pubsub_items (
        service text COLLATE "C" NOT NULL,
        node text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        seq bigint NOT NULL DEFAULT nextval('pubsub_item_seq'),
        xml text NOT NULL,
        publisher text NOT NULL,
        PRIMARY KEY (service, node, id)
      );
      CREATE INDEX pubsub_items_by_seq ON pubsub_items (service, node, seq);
    `,
  },
  {
    version: 6,
    // Store and forward on links (docs/links.md): messages waiting for a link, in queue order.
    sql: `
      CREATE TABLE link_queue (
        id bigserial PRIMARY KEY,
        link text COLLATE "C" NOT NULL,
        stanza text NOT NULL,
        bytes integer NOT NULL,
        queued_at bigint NOT NULL
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
        domain text COLLATE "C" NOT NULL,
        username text COLLATE "C" NOT NULL,
        position bigint NOT NULL,
        id text COLLATE "C" NOT NULL,
        with_bare text COLLATE "C" NOT NULL,
        with_resource text COLLATE "C",
        stanza text NOT NULL
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
        id bigserial PRIMARY KEY,
        time bigint NOT NULL,
        rule text COLLATE "C" NOT NULL,
        verdict text NOT NULL,
        direction text NOT NULL,
        from_jid text NOT NULL,
        to_jid text NOT NULL,
        kind text NOT NULL,
        label text,
        text text NOT NULL
      );
      CREATE INDEX policy_audit_time ON policy_audit (time);
    `,
  },
  {
    version: 9,
    // FAST tokens (XEP-0484), kept as hashes, per account and client (docs/clients.md, "Fast logins").
    sql: `
      CREATE TABLE fast_tokens (
        domain text COLLATE "C" NOT NULL,
        username text COLLATE "C" NOT NULL,
        hash text COLLATE "C" NOT NULL,
        client_id text COLLATE "C" NOT NULL,
        mechanism text NOT NULL,
        expires_at bigint NOT NULL,
        used_at bigint,
        PRIMARY KEY (domain, username, hash)
      );
      CREATE INDEX fast_tokens_by_client ON fast_tokens (domain, username, client_id);
    `,
  },
];

export const LATEST_POSTGRES_SCHEMA = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Advisory lock key held while migrating ("trellis" in ASCII), shared by every server. */
const MIGRATION_LOCK = 0x7472656c6c6973n;

/**
 * Brings the schema up to date in one transaction. The transaction-scoped advisory lock makes a
 * second server starting at the same moment wait, then find the work done.
 */
export async function migratePostgres(pool: Pool): Promise<void> {
  await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK.toString()]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM schema_migrations',
    );
    const current = rows[0]?.version ?? 0;
    if (current > LATEST_POSTGRES_SCHEMA) {
      throw new Error(
        `database schema version ${current} is newer than this server supports (${LATEST_POSTGRES_SCHEMA})`,
      );
    }
    for (const migration of MIGRATIONS) {
      if (migration.version <= current) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [migration.version]);
    }
  });
}
