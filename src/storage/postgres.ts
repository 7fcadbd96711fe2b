/**
 * PostgreSQL storage driver on a `pg` pool. Every query is parameterized; changes that must be
 * atomic with a read run in a transaction on one connection.
 */
import { postgresAuditStore } from './postgres-audit.ts';
import { postgresFastTokenStore } from './postgres-fast-tokens.ts';
import pg from 'pg';
import type { Pool } from 'pg';
import {
  decodeCredentials,
  decodeGroups,
  decodeSubscription,
  encodeCredentials,
  encodeGroups,
} from './codec.ts';
import { overQuota, withinBytes } from './offline-quota.ts';
import { migratePostgres } from './postgres-migrations.ts';
import { inTransaction } from './postgres-transaction.ts';
import { AccountExistsError } from './types.ts';
import { postgresMucRoomStore } from './postgres-muc.ts';
import { postgresPubsubStore } from './postgres-pubsub.ts';
import { postgresLinkQueueStore } from './postgres-link-queue.ts';
import { postgresArchiveStore } from './postgres-archive.ts';
import type { ArchiveStore } from './archive-types.ts';
import type {
  AbuseRule,
  AbuseRuleStore,
  AccountStore,
  FastTokenStore,
  LinkQueueStore,
  MucRoomStore,
  PubsubStore,
  PolicyAuditStore,
  OfflineStore,
  Roster,
  RosterItem,
  RosterStore,
  ServerDataStore,
  Storage,
  UserDataStore,
} from './types.ts';

const POOL_SIZE = 10;
/** First key of the advisory locks that serialize offline pushes per user (two-key lock space). */
const OFFLINE_LOCK_CLASS = 0x6f66666c; // "offl"

export async function openPostgresStorage(url: string): Promise<Storage> {
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE });
  // An idle connection that fails is dropped by the pool and the next query opens a new one;
  // without a listener the 'error' event would end the process.
  pool.on('error', () => {});
  try {
    await migratePostgres(pool);
  } catch (error) {
    await pool.end();
    throw error;
  }
  return new PostgresStorage(pool);
}

class PostgresStorage implements Storage {
  readonly driver = 'postgres';
  readonly accounts: AccountStore;
  readonly rosters: RosterStore;
  readonly offline: OfflineStore;
  readonly userData: UserDataStore;
  readonly serverData: ServerDataStore;
  readonly abuseRules: AbuseRuleStore;
  readonly mucRooms: MucRoomStore;
  readonly pubsub: PubsubStore;
  readonly linkQueues: LinkQueueStore;
  readonly archive: ArchiveStore;
  readonly policyAudit: PolicyAuditStore;
  readonly fastTokens: FastTokenStore;
  readonly #pool: Pool;
  readonly #archiveWritten: () => Promise<void>;
  #closed = false;

  constructor(pool: Pool) {
    this.#pool = pool;
    const archive = postgresArchiveStore(pool);
    this.#archiveWritten = () => archive.drain();
    // Archive appends are inserted in batches: an account removed goes after those made before.
    this.accounts = accountStore(pool, this.#archiveWritten);
    this.rosters = rosterStore(pool);
    this.offline = offlineStore(pool);
    this.userData = userDataStore(pool);
    this.serverData = serverDataStore(pool);
    this.abuseRules = abuseRuleStore(pool);
    this.mucRooms = postgresMucRoomStore(pool);
    this.pubsub = postgresPubsubStore(pool);
    this.linkQueues = postgresLinkQueueStore(pool);
    this.archive = archive;
    this.policyAudit = postgresAuditStore(pool);
    this.fastTokens = postgresFastTokenStore(pool);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#archiveWritten();
    await this.#pool.end();
  }
}

function accountStore(pool: Pool, archiveWritten: () => Promise<void>): AccountStore {
  return {
    async create(domain, username, credentials) {
      const { rowCount } = await pool.query(
        `INSERT INTO accounts (domain, username, credentials) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING`,
        [domain, username, encodeCredentials(credentials)],
      );
      if (rowCount === 0) throw new AccountExistsError(domain, username);
    },
    async get(domain, username) {
      const { rows } = await pool.query<{ credentials: string }>(
        'SELECT credentials FROM accounts WHERE domain = $1 AND username = $2',
        [domain, username],
      );
      return rows[0] === undefined ? undefined : decodeCredentials(rows[0].credentials);
    },
    async setCredentials(domain, username, credentials) {
      // A new password ends every FAST token of the account (docs/clients.md, "Fast logins").
      return inTransaction(pool, async (client) => {
        const { rowCount } = await client.query(
          'UPDATE accounts SET credentials = $3 WHERE domain = $1 AND username = $2',
          [domain, username, encodeCredentials(credentials)],
        );
        await client.query('DELETE FROM fast_tokens WHERE domain = $1 AND username = $2', [domain, username]);
        return rowCount !== 0;
      });
    },
    async delete(domain, username) {
      await archiveWritten();
      return inTransaction(pool, async (client) => {
        const { rowCount } = await client.query(
          'DELETE FROM accounts WHERE domain = $1 AND username = $2',
          [domain, username],
        );
        // Everything stored for the user goes with the account. Roster items are removed before
        // the version row, the lock order roster changes use too.
        for (const table of ['roster_items', 'roster_versions', 'offline_messages', 'user_data', 'archive_messages', 'fast_tokens']) {
          await client.query(`DELETE FROM ${table} WHERE domain = $1 AND username = $2`, [domain, username]);
        }
        // The account's personal eventing nodes (XEP-0163) are kept under its bare JID.
        for (const table of ['pubsub_items', 'pubsub_nodes']) await client.query(`DELETE FROM ${table} WHERE service = $1`, [`${username}@${domain}`]);
        return rowCount !== 0;
      });
    },
    async list(domain) {
      const { rows } = await pool.query<{ username: string }>(
        'SELECT username FROM accounts WHERE domain = $1 ORDER BY username',
        [domain],
      );
      return rows.map((row) => row.username);
    },
  };
}

interface RosterRow {
  jid: string;
  name: string | null;
  subscription: string;
  ask_out: boolean;
  ask_in: boolean;
  approved: boolean;
  groups: string;
}

const ROSTER_COLUMNS = 'jid, name, subscription, ask_out, ask_in, approved, groups';

/**
 * Changes lock the item row first and the user's version row second (the version bump), so
 * concurrent changes of one roster never deadlock and versions follow commit order.
 */
function rosterStore(pool: Pool): RosterStore {
  const bumpVersion = async (client: pg.PoolClient, domain: string, username: string): Promise<number> => {
    const { rows } = await client.query<{ version: string }>(
      `INSERT INTO roster_versions (domain, username, version) VALUES ($1, $2, 1)
       ON CONFLICT (domain, username) DO UPDATE SET version = roster_versions.version + 1
       RETURNING version`,
      [domain, username],
    );
    return Number(rows[0]!.version);
  };

  return {
    async get(domain, username): Promise<Roster> {
      // One snapshot for both reads, so the version always describes the items returned.
      return inTransaction(
        pool,
        async (client) => {
          const versions = await client.query<{ version: string }>(
            'SELECT version FROM roster_versions WHERE domain = $1 AND username = $2',
            [domain, username],
          );
          const items = await client.query<RosterRow>(
            `SELECT ${ROSTER_COLUMNS} FROM roster_items WHERE domain = $1 AND username = $2 ORDER BY jid`,
            [domain, username],
          );
          return { version: Number(versions.rows[0]?.version ?? 0), items: items.rows.map(rosterItemFromRow) };
        },
        'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY',
      );
    },
    async getItem(domain, username, jid) {
      const { rows } = await pool.query<RosterRow>(
        `SELECT ${ROSTER_COLUMNS} FROM roster_items WHERE domain = $1 AND username = $2 AND jid = $3`,
        [domain, username, jid],
      );
      return rows[0] === undefined ? undefined : rosterItemFromRow(rows[0]);
    },
    async presenceSubscribers(domain, username) {
      const { rows } = await pool.query<[string]>({
        text: "SELECT jid FROM roster_items WHERE domain = $1 AND username = $2 AND subscription IN ('from', 'both')",
        values: [domain, username],
        rowMode: 'array',
      });
      return rows.map((row) => row[0]);
    },
    async setItem(domain, username, item) {
      return inTransaction(pool, async (client) => {
        await client.query(
          `INSERT INTO roster_items (domain, username, ${ROSTER_COLUMNS})
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (domain, username, jid) DO UPDATE SET
             name = excluded.name, subscription = excluded.subscription, ask_out = excluded.ask_out,
             ask_in = excluded.ask_in, approved = excluded.approved, groups = excluded.groups`,
          [
            domain,
            username,
            item.jid,
            item.name ?? null,
            item.subscription,
            item.askOut,
            item.askIn,
            item.approved,
            encodeGroups(item.groups),
          ],
        );
        return bumpVersion(client, domain, username);
      });
    },
    async removeItem(domain, username, jid) {
      return inTransaction(pool, async (client) => {
        const { rowCount } = await client.query(
          'DELETE FROM roster_items WHERE domain = $1 AND username = $2 AND jid = $3',
          [domain, username, jid],
        );
        return rowCount === 0 ? undefined : bumpVersion(client, domain, username);
      });
    },
  };
}

function rosterItemFromRow(row: RosterRow): RosterItem {
  const item: RosterItem = {
    jid: row.jid,
    subscription: decodeSubscription(row.subscription),
    askOut: row.ask_out,
    askIn: row.ask_in,
    approved: row.approved,
    groups: decodeGroups(row.groups),
  };
  if (row.name !== null) item.name = row.name;
  return item;
}

function offlineStore(pool: Pool): OfflineStore {
  return {
    async push(domain, username, stanza, sender, quota, position) {
      const bytes = Buffer.byteLength(stanza);
      const now = Date.now();
      return inTransaction(pool, async (client) => {
        // Pushes for one user wait for each other here. The usage below is a new statement, so
        // under READ COMMITTED it sees every push committed before the lock was granted.
        // Users whose key hashes alike merely share the lock.
        await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
          OFFLINE_LOCK_CLASS,
          JSON.stringify([domain, username]),
        ]);
        const { rows } = await client.query<{ n: number; bytes: string; from_sender: number }>(
          `SELECT count(*)::integer AS n, coalesce(sum(bytes), 0)::bigint AS bytes, count(*) FILTER (WHERE sender = $3)::integer AS from_sender
           FROM offline_messages WHERE domain = $1 AND username = $2`,
          [domain, username, sender],
        );
        const usage = rows[0]!;
        const verdict = overQuota(usage.n, Number(usage.bytes), usage.from_sender, bytes, quota);
        if (verdict !== 'stored') return verdict;
        await client.query(
          'INSERT INTO offline_messages (domain, username, stanza, stored_at, sender, bytes, position) VALUES ($1, $2, $3, $4, $5, $6, $7)',
          [domain, username, stanza, now, sender, bytes, position ?? now * 1000],
        );
        return 'stored';
      });
    },
    async peek(domain, username, maxCount, maxBytes) {
      const { rows } = await pool.query<{ id: string; stanza: string; stored_at: string; bytes: number }>(
        'SELECT id, stanza, stored_at, bytes FROM offline_messages WHERE domain = $1 AND username = $2 ORDER BY position, id LIMIT $3',
        [domain, username, maxCount],
      );
      return withinBytes(
        rows.map((row) => ({ id: Number(row.id), stanza: row.stanza, storedAt: Number(row.stored_at), bytes: row.bytes })),
        maxBytes,
      );
    },
    async remove(domain, username, ids) {
      const { rowCount } = await pool.query(
        'DELETE FROM offline_messages WHERE domain = $1 AND username = $2 AND id = ANY($3::bigint[])',
        [domain, username, ids.map(String)],
      );
      return rowCount ?? 0;
    },
    async count(domain, username) {
      const { rows } = await pool.query<{ n: number }>(
        'SELECT count(*)::integer AS n FROM offline_messages WHERE domain = $1 AND username = $2',
        [domain, username],
      );
      return rows[0]!.n;
    },
    async total() {
      const { rows } = await pool.query<{ n: number }>('SELECT count(*)::integer AS n FROM offline_messages');
      return rows[0]!.n;
    },
  };
}

function userDataStore(pool: Pool): UserDataStore {
  return {
    async get(domain, username, key) {
      const { rows } = await pool.query<{ value: string }>(
        'SELECT value FROM user_data WHERE domain = $1 AND username = $2 AND key = $3',
        [domain, username, key],
      );
      return rows[0]?.value;
    },
    async set(domain, username, key, value) {
      await pool.query(
        `INSERT INTO user_data (domain, username, key, value) VALUES ($1, $2, $3, $4)
         ON CONFLICT (domain, username, key) DO UPDATE SET value = excluded.value`,
        [domain, username, key, value],
      );
    },
    async delete(domain, username, key) {
      const { rowCount } = await pool.query(
        'DELETE FROM user_data WHERE domain = $1 AND username = $2 AND key = $3',
        [domain, username, key],
      );
      return rowCount !== 0;
    },
    async keys(domain, username, prefix = '') {
      // starts_with() rather than LIKE, which treats % and _ in the prefix as wildcards.
      const { rows } = await pool.query<{ key: string }>(
        `SELECT key FROM user_data WHERE domain = $1 AND username = $2 AND starts_with(key, $3)
         ORDER BY key`,
        [domain, username, prefix],
      );
      return rows.map((row) => row.key);
    },
  };
}

function serverDataStore(pool: Pool): ServerDataStore {
  return {
    async get(key) {
      const { rows } = await pool.query<{ value: string }>('SELECT value FROM server_data WHERE key = $1', [key]);
      return rows[0]?.value;
    },
    async set(key, value) {
      await pool.query(
        'INSERT INTO server_data (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
        [key, value],
      );
    },
    async setIfAbsent(key, value) {
      await pool.query('INSERT INTO server_data (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value]);
      const { rows } = await pool.query<{ value: string }>('SELECT value FROM server_data WHERE key = $1', [key]);
      return rows[0]!.value;
    },
    async take(key) {
      const { rows } = await pool.query<{ value: string }>('DELETE FROM server_data WHERE key = $1 RETURNING value', [key]);
      return rows[0]?.value;
    },
    async keys(prefix) {
      const { rows } = await pool.query<{ key: string }>('SELECT key FROM server_data WHERE starts_with(key, $1) ORDER BY key COLLATE "C"', [prefix]);
      return rows.map((row) => row.key);
    },
  };
}

function abuseRuleStore(pool: Pool): AbuseRuleStore {
  return {
    async list(kind) {
      const { rows } = await pool.query<{ kind: string; value: string; reason: string | null; created_at: string }>(
        'SELECT kind, value, reason, created_at FROM abuse_rules WHERE kind = $1 ORDER BY created_at, value',
        [kind],
      );
      return rows.map(
        (row): AbuseRule => ({ kind: row.kind as AbuseRule['kind'], value: row.value, reason: row.reason ?? undefined, createdAt: Number(row.created_at) }),
      );
    },
    async put(rule) {
      // xmax is 0 for a row this statement inserted, and set for one it updated.
      const { rows } = await pool.query<{ inserted: boolean }>(
        `INSERT INTO abuse_rules (kind, value, reason, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (kind, value) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at
         RETURNING (xmax = 0) AS inserted`,
        [rule.kind, rule.value, rule.reason ?? null, rule.createdAt],
      );
      return rows[0]?.inserted === true;
    },
    async delete(kind, value) {
      const { rowCount } = await pool.query('DELETE FROM abuse_rules WHERE kind = $1 AND value = $2', [kind, value]);
      return (rowCount ?? 0) > 0;
    },
  };
}
