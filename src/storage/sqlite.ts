/**
 * Embedded storage driver on node:sqlite. Calls run synchronously inside the process; writes that
 * read before they write take the database write lock first (BEGIN IMMEDIATE), so they are also
 * atomic against another process sharing the file.
 */
import { sqliteAuditStore } from './sqlite-audit.ts';
import { sqliteFastTokenStore } from './sqlite-fast-tokens.ts';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { writeTransaction, type SqliteWrite } from './sqlite-write.ts';
import {
  decodeCredentials,
  decodeGroups,
  decodeSubscription,
  encodeCredentials,
  encodeGroups,
} from './codec.ts';
import { overQuota, withinBytes } from './offline-quota.ts';
import { migrateSqlite } from './sqlite-migrations.ts';
import { AccountExistsError } from './types.ts';
import { sqliteMucRoomStore } from './sqlite-muc.ts';
import { sqlitePubsubStore } from './sqlite-pubsub.ts';
import { sqliteLinkQueueStore } from './sqlite-link-queue.ts';
import { sqliteArchiveStore } from './sqlite-archive.ts';
import { SqliteGroupCommit } from './sqlite-group-commit.ts';
import { SqliteArchiveThread } from './sqlite-archive-thread.ts';
import { WalCheckpoints } from './sqlite-checkpoints.ts';
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

const IN_MEMORY = ':memory:';
/**
 * How long an archived message waits for others to be committed with (sqlite-group-commit.ts).
 * Delivery does not wait for it (src/modules/mam/user-archive.ts); a query commits what waits first.
 */
const ARCHIVE_COMMIT_WINDOW_MS = 20;
/**
 * The archive thread's transactions (sqlite-archive-thread.ts): off the event loop a commit holds
 * up no delivery, so they are larger, and each index page a transaction changes is written once
 * for more messages: 4,000 appends in one transaction with an 8 MB page cache cost 19 us each on
 * this machine's reference run, 400 with SQLite's default 2 MB cost 49 (docs/performance.md,
 * "The message archive's writes").
 */
const ARCHIVE_THREAD = { commitWindowMs: 100, commitMaxWrites: 4000, cacheKilobytes: 8192 };
/** How long a statement waits for another process holding the write lock. */
const BUSY_TIMEOUT_MS = 5000;

type Row = Record<string, unknown>;

export async function openSqliteStorage(file: string): Promise<Storage> {
  if (file !== IN_MEMORY) mkdirSync(dirname(file), { recursive: true });
  const db = new DatabaseSync(file, { timeout: BUSY_TIMEOUT_MS });
  try {
    db.exec('PRAGMA journal_mode = WAL');
    // With WAL, NORMAL keeps the database consistent after a crash; only the last commits may be lost
    // on power failure.
    db.exec('PRAGMA synchronous = NORMAL');
    migrateSqlite(db);
    return new SqliteStorage(db, file === IN_MEMORY ? undefined : file);
  } catch (error) {
    db.close();
    throw error;
  }
}

class SqliteStorage implements Storage {
  readonly driver = 'sqlite';
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
  readonly #db: DatabaseSync;
  /** the archive's appends committed in groups, on this thread (an in-memory database) or in the archive thread */
  readonly #archive: { flush(): void | Promise<void>; close(): void | Promise<void> };
  /** a database file's log checkpointed off the event loop; none for an in-memory database */
  readonly #checkpoints: WalCheckpoints | undefined;

  /** `file`: the database file, whose archive a worker thread keeps (sqlite-archive-thread.ts); none for an in-memory database. */
  constructor(db: DatabaseSync, file?: string) {
    this.#db = db;
    const write = <T>(work: () => T): T => writeTransaction(db, work);
    if (file === undefined) {
      const commits = new SqliteGroupCommit(db, ARCHIVE_COMMIT_WINDOW_MS);
      this.archive = sqliteArchiveStore(db, commits);
      this.#archive = { flush: () => commits.flush(), close: () => commits.flush() };
    } else {
      this.#checkpoints = new WalCheckpoints(db, { file, busyTimeoutMs: BUSY_TIMEOUT_MS });
      const thread = new SqliteArchiveThread({ file, busyTimeoutMs: BUSY_TIMEOUT_MS, ...ARCHIVE_THREAD });
      this.archive = thread;
      this.#archive = thread;
    }
    // Archive appends are committed in groups: an account removed goes after those queued before.
    this.accounts = accountStore(db, write, () => this.#archive.flush());
    this.rosters = rosterStore(db, write);
    this.offline = offlineStore(db, write);
    this.userData = userDataStore(db);
    this.serverData = serverDataStore(db);
    this.abuseRules = abuseRuleStore(db, write);
    this.mucRooms = sqliteMucRoomStore(db, write);
    this.pubsub = sqlitePubsubStore(db, write);
    this.linkQueues = sqliteLinkQueueStore(db, write);
    this.policyAudit = sqliteAuditStore(db, write);
    this.fastTokens = sqliteFastTokenStore(db, write);
  }

  async close(): Promise<void> {
    if (!this.#db.isOpen) return;
    await this.#archive.close();
    await this.#checkpoints?.close();
    this.#db.close();
  }
}

/** `settleArchive` resolves once the archive's queued appends are committed. */
function accountStore(db: DatabaseSync, write: SqliteWrite, settleArchive: () => void | Promise<void>): AccountStore {
  const insert = db.prepare(
    'INSERT INTO accounts (domain, username, credentials) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
  );
  const select = db.prepare('SELECT credentials FROM accounts WHERE domain = ? AND username = ?');
  const update = db.prepare('UPDATE accounts SET credentials = ? WHERE domain = ? AND username = ?');
  const list = db.prepare('SELECT username FROM accounts WHERE domain = ? ORDER BY username');
  const remove = db.prepare('DELETE FROM accounts WHERE domain = ? AND username = ?');
  const revokeTokens = db.prepare('DELETE FROM fast_tokens WHERE domain = ? AND username = ?');
  // Everything stored for the user goes with the account.
  const removeUserRows = ['roster_items', 'roster_versions', 'offline_messages', 'user_data', 'archive_messages', 'fast_tokens'].map(
    (table) => db.prepare(`DELETE FROM ${table} WHERE domain = ? AND username = ?`),
  );
  // The account's personal eventing nodes (XEP-0163) are kept under its bare JID.
  const removePepRows = ['pubsub_items', 'pubsub_nodes'].map((table) => db.prepare(`DELETE FROM ${table} WHERE service = ?`));

  return {
    async create(domain, username, credentials) {
      const { changes } = insert.run(domain, username, encodeCredentials(credentials));
      if (changes === 0) throw new AccountExistsError(domain, username);
    },
    async get(domain, username) {
      const row = select.get(domain, username);
      return row === undefined ? undefined : decodeCredentials(String(row.credentials));
    },
    async setCredentials(domain, username, credentials) {
      // A new password ends every FAST token of the account (docs/clients.md, "Fast logins").
      return write(() => {
        revokeTokens.run(domain, username);
        return update.run(encodeCredentials(credentials), domain, username).changes > 0;
      });
    },
    async delete(domain, username) {
      await settleArchive();
      return write(() => {
        const existed = remove.run(domain, username).changes > 0;
        for (const statement of removeUserRows) statement.run(domain, username);
        for (const statement of removePepRows) statement.run(`${username}@${domain}`);
        return existed;
      });
    },
    async list(domain) {
      return list.all(domain).map((row) => String(row.username));
    },
  };
}

function rosterStore(db: DatabaseSync, write: SqliteWrite): RosterStore {
  const selectVersion = db.prepare(
    'SELECT version FROM roster_versions WHERE domain = ? AND username = ?',
  );
  const selectItems = db.prepare(
    'SELECT * FROM roster_items WHERE domain = ? AND username = ? ORDER BY jid',
  );
  const selectItem = db.prepare(
    'SELECT * FROM roster_items WHERE domain = ? AND username = ? AND jid = ?',
  );
  const selectSubscribers = db.prepare(
    "SELECT jid FROM roster_items WHERE domain = ? AND username = ? AND subscription IN ('from', 'both')",
  );
  // Rows as arrays: a broadcast to a thousand contacts builds no object per row.
  selectSubscribers.setReturnArrays(true);
  const upsertItem = db.prepare(`
    INSERT INTO roster_items (domain, username, jid, name, subscription, ask_out, ask_in, approved, groups)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (domain, username, jid) DO UPDATE SET
      name = excluded.name, subscription = excluded.subscription, ask_out = excluded.ask_out,
      ask_in = excluded.ask_in, approved = excluded.approved, groups = excluded.groups`);
  const removeItem = db.prepare(
    'DELETE FROM roster_items WHERE domain = ? AND username = ? AND jid = ?',
  );
  const bumpVersion = db.prepare(`
    INSERT INTO roster_versions (domain, username, version) VALUES (?, ?, 1)
    ON CONFLICT (domain, username) DO UPDATE SET version = version + 1
    RETURNING version`);
  const nextVersion = (domain: string, username: string): number =>
    Number(bumpVersion.get(domain, username)!.version);

  return {
    async get(domain, username): Promise<Roster> {
      // Both reads see one snapshot, so the version always describes the items returned.
      db.exec('BEGIN');
      try {
        const version = Number(selectVersion.get(domain, username)?.version ?? 0);
        const items = selectItems.all(domain, username).map(rosterItemFromRow);
        return { version, items };
      } finally {
        db.exec('COMMIT');
      }
    },
    async getItem(domain, username, jid) {
      const row = selectItem.get(domain, username, jid);
      return row === undefined ? undefined : rosterItemFromRow(row);
    },
    async presenceSubscribers(domain, username) {
      return (selectSubscribers.all(domain, username) as unknown as unknown[][]).map((row) => String(row[0]));
    },
    async setItem(domain, username, item) {
      return write(() => {
        upsertItem.run(
          domain,
          username,
          item.jid,
          item.name ?? null,
          item.subscription,
          Number(item.askOut),
          Number(item.askIn),
          Number(item.approved),
          encodeGroups(item.groups),
        );
        return nextVersion(domain, username);
      });
    },
    async removeItem(domain, username, jid) {
      return write(() => {
        if (removeItem.run(domain, username, jid).changes === 0) return undefined;
        return nextVersion(domain, username);
      });
    },
  };
}

function rosterItemFromRow(row: Row): RosterItem {
  const item: RosterItem = {
    jid: String(row.jid),
    subscription: decodeSubscription(String(row.subscription)),
    askOut: row.ask_out === 1,
    askIn: row.ask_in === 1,
    approved: row.approved === 1,
    groups: decodeGroups(String(row.groups)),
  };
  if (row.name !== null) item.name = String(row.name);
  return item;
}

function offlineStore(db: DatabaseSync, write: SqliteWrite): OfflineStore {
  const usage = db.prepare(
    `SELECT count(*) AS n, coalesce(sum(bytes), 0) AS bytes, coalesce(sum(sender = ?), 0) AS from_sender
     FROM offline_messages WHERE domain = ? AND username = ?`,
  );
  const insert = db.prepare(
    'INSERT INTO offline_messages (domain, username, stanza, stored_at, sender, bytes, position) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const selectOldest = db.prepare(
    'SELECT id, stanza, stored_at, bytes FROM offline_messages WHERE domain = ? AND username = ? ORDER BY position, id LIMIT ?',
  );
  const removeOne = db.prepare('DELETE FROM offline_messages WHERE domain = ? AND username = ? AND id = ?');
  const count = db.prepare('SELECT count(*) AS n FROM offline_messages WHERE domain = ? AND username = ?');
  const total = db.prepare('SELECT count(*) AS n FROM offline_messages');

  return {
    async push(domain, username, stanza, sender, quota, position) {
      const bytes = Buffer.byteLength(stanza);
      const now = Date.now();
      return write(() => {
        const row = usage.get(sender, domain, username)!;
        const verdict = overQuota(Number(row.n), Number(row.bytes), Number(row.from_sender), bytes, quota);
        if (verdict !== 'stored') return verdict;
        insert.run(domain, username, stanza, now, sender, bytes, position ?? now * 1000);
        return 'stored';
      });
    },
    async peek(domain, username, maxCount, maxBytes) {
      return withinBytes(
        selectOldest.all(domain, username, maxCount).map((row) => ({
          id: Number(row.id),
          stanza: String(row.stanza),
          storedAt: Number(row.stored_at),
          bytes: Number(row.bytes),
        })),
        maxBytes,
      );
    },
    async remove(domain, username, ids) {
      return write(() => ids.reduce((removed, id) => removed + Number(removeOne.run(domain, username, id).changes), 0));
    },
    async count(domain, username) {
      return Number(count.get(domain, username)!.n);
    },
    async total() {
      return Number(total.get()!.n);
    },
  };
}

function userDataStore(db: DatabaseSync): UserDataStore {
  const select = db.prepare(
    'SELECT value FROM user_data WHERE domain = ? AND username = ? AND key = ?',
  );
  const upsert = db.prepare(`
    INSERT INTO user_data (domain, username, key, value) VALUES (?, ?, ?, ?)
    ON CONFLICT (domain, username, key) DO UPDATE SET value = excluded.value`);
  const remove = db.prepare('DELETE FROM user_data WHERE domain = ? AND username = ? AND key = ?');
  // substr() rather than LIKE: LIKE folds ASCII case and treats % and _ as wildcards.
  const keys = db.prepare(`
    SELECT key FROM user_data
    WHERE domain = ?1 AND username = ?2 AND substr(key, 1, length(?3)) = ?3
    ORDER BY key`);

  return {
    async get(domain, username, key) {
      const row = select.get(domain, username, key);
      return row === undefined ? undefined : String(row.value);
    },
    async set(domain, username, key, value) {
      upsert.run(domain, username, key, value);
    },
    async delete(domain, username, key) {
      return remove.run(domain, username, key).changes > 0;
    },
    async keys(domain, username, prefix = '') {
      return keys.all(domain, username, prefix).map((row) => String(row.key));
    },
  };
}

function serverDataStore(db: DatabaseSync): ServerDataStore {
  const select = db.prepare('SELECT value FROM server_data WHERE key = ?');
  const upsert = db.prepare(
    'INSERT INTO server_data (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  );
  const insert = db.prepare('INSERT INTO server_data (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING');
  const remove = db.prepare('DELETE FROM server_data WHERE key = ? RETURNING value');
  // substr() rather than LIKE, as for user_data's keys.
  const keys = db.prepare('SELECT key FROM server_data WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key');

  return {
    async get(key) {
      const row = select.get(key);
      return row === undefined ? undefined : String(row.value);
    },
    async set(key, value) {
      upsert.run(key, value);
    },
    async setIfAbsent(key, value) {
      insert.run(key, value);
      return String(select.get(key)!.value);
    },
    async take(key) {
      const row = remove.get(key);
      return row === undefined ? undefined : String(row.value);
    },
    async keys(prefix) {
      return keys.all(prefix).map((row) => String(row.key));
    },
  };
}

function abuseRuleStore(db: DatabaseSync, write: SqliteWrite): AbuseRuleStore {
  const list = db.prepare('SELECT kind, value, reason, created_at FROM abuse_rules WHERE kind = ? ORDER BY created_at, value');
  const exists = db.prepare('SELECT 1 FROM abuse_rules WHERE kind = ? AND value = ?');
  const upsert = db.prepare(
    `INSERT INTO abuse_rules (kind, value, reason, created_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (kind, value) DO UPDATE SET reason = excluded.reason, created_at = excluded.created_at`,
  );
  const remove = db.prepare('DELETE FROM abuse_rules WHERE kind = ? AND value = ?');
  return {
    async list(kind) {
      return list.all(kind).map(
        (row): AbuseRule => ({
          kind: row.kind as AbuseRule['kind'],
          value: String(row.value),
          reason: row.reason === null ? undefined : String(row.reason),
          createdAt: Number(row.created_at),
        }),
      );
    },
    async put(rule) {
      return write(() => {
        const existed = exists.get(rule.kind, rule.value) !== undefined;
        upsert.run(rule.kind, rule.value, rule.reason ?? null, rule.createdAt);
        return !existed;
      });
    },
    async delete(kind, value) {
      return remove.run(kind, value).changes > 0;
    },
  };
}
