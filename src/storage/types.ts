/**
 * The storage contract. Every driver (embedded SQLite, PostgreSQL) implements `Storage` and
 * passes the shared contract suite in src/storage/contract.ts.
 *
 * Users are addressed by (domain, username) where both are already prepared JID parts
 * (RFC 7622): drivers compare them byte for byte.
 */
import type { ArchiveStore } from './archive-types.ts';

/** SCRAM verifier for one hash (RFC 5802 section 3): never the password itself. */
export interface ScramVerifier {
  /** base64 */
  salt: string;
  iterations: number;
  /** base64 of H(ClientKey) */
  storedKey: string;
  /** base64 of HMAC(SaltedPassword, "Server Key") */
  serverKey: string;
}

/**
 * The verifiers of an account, one per SCRAM hash. Accounts made here have both; an account
 * imported with the keys another server stored (XEP-0227) may have only the one it had, and
 * then logs in with that mechanism or PLAIN (src/auth/plain.ts).
 */
export interface StoredCredentials {
  'SCRAM-SHA-1'?: ScramVerifier;
  'SCRAM-SHA-256'?: ScramVerifier;
}

export interface AccountStore {
  /** Creates an account; rejects with AccountExistsError when it exists. */
  create(domain: string, username: string, credentials: StoredCredentials): Promise<void>;
  get(domain: string, username: string): Promise<StoredCredentials | undefined>;
  /** Replaces the credentials; returns false when there is no such account. */
  setCredentials(domain: string, username: string, credentials: StoredCredentials): Promise<boolean>;
  /** Deletes the account and everything stored for it; returns false when there was none. */
  delete(domain: string, username: string): Promise<boolean>;
  /** Usernames of a domain, sorted. */
  list(domain: string): Promise<string[]>;
}

export type Subscription = 'none' | 'to' | 'from' | 'both';

/** A roster item (RFC 6121 section 2.1.2). */
export interface RosterItem {
  /** bare JID of the contact, prepared */
  jid: string;
  name?: string;
  subscription: Subscription;
  /** "subscribe" sent and not yet answered (RFC 6121 section 3.1.2) */
  askOut: boolean;
  /** an inbound subscription request is pending (kept with its stanza for redelivery) */
  askIn: boolean;
  /** subscription pre-approved by the user (RFC 6121 section 3.4) */
  approved: boolean;
  groups: string[];
}

export interface Roster {
  /** increases on every change (XEP-0237 style roster versioning) */
  version: number;
  items: RosterItem[];
}

export interface RosterStore {
  get(domain: string, username: string): Promise<Roster>;
  getItem(domain: string, username: string, jid: string): Promise<RosterItem | undefined>;
  /**
   * The bare JIDs of the contacts subscribed to the user's presence (subscription `from` or
   * `both`, RFC 6121 section 4.4.2), in no particular order: what a presence broadcast reads,
   * without building every item.
   */
  presenceSubscribers(domain: string, username: string): Promise<string[]>;
  /** Inserts or replaces an item; returns the new roster version. */
  setItem(domain: string, username: string, item: RosterItem): Promise<number>;
  /** Removes an item; returns the new roster version, or undefined when there was no such item. */
  removeItem(domain: string, username: string, jid: string): Promise<number | undefined>;
}

export interface OfflineMessage {
  /** increasing in arrival order within a mailbox */
  id: number;
  /** serialized stanza */
  stanza: string;
  /** milliseconds since the epoch */
  storedAt: number;
}

/** How much one mailbox may hold (XEP-0160 section 2: the server decides, and bounces beyond it). */
export interface OfflineQuota {
  maxMessages: number;
  /** bytes of stored stanzas (UTF-8) */
  maxBytes: number;
  /** messages from one sender (bare JID), so that nobody can fill another's mailbox alone */
  maxPerSender: number;
}

/** What became of a message pushed to a mailbox. */
export type OfflinePush = 'stored' | 'mailbox-full' | 'sender-limit';

export interface OfflineStore {
  /**
   * Adds a stanza from `sender` (a bare JID) unless that would go over the quota. `position` is
   * where it arrived (increasing; default: now, in microseconds since the epoch): a message
   * stored late still takes its place among those stored before it.
   */
  push(domain: string, username: string, stanza: string, sender: string, quota: OfflineQuota, position?: number): Promise<OfflinePush>;
  /**
   * The stored messages in arrival order, without removing them: at most `maxCount`, and
   * no more than `maxBytes` together (but always the first one).
   */
  peek(domain: string, username: string, maxCount: number, maxBytes: number): Promise<OfflineMessage[]>;
  /** Removes the messages with these ids; returns how many were there. */
  remove(domain: string, username: string, ids: readonly number[]): Promise<number>;
  count(domain: string, username: string): Promise<number>;
  /** Messages waiting in every mailbox of every domain (the metrics). */
  total(): Promise<number>;
}

/**
 * Small per-user documents keyed by a name (vCard-temp, private XML storage, block list, ...).
 * Values are opaque strings (usually serialized XML).
 */
export interface UserDataStore {
  get(domain: string, username: string, key: string): Promise<string | undefined>;
  set(domain: string, username: string, key: string, value: string): Promise<void>;
  delete(domain: string, username: string, key: string): Promise<boolean>;
  /** Keys stored for a user that start with `prefix`, sorted. */
  keys(domain: string, username: string, prefix?: string): Promise<string[]>;
}

/** Server-wide key/value settings (for example secrets that must survive restarts). */
export interface ServerDataStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  /** Stores `value` unless the key holds one already; resolves what it holds then (nodes of a cluster starting at once agree). */
  setIfAbsent(key: string, value: string): Promise<string>;
  /** Removes the key and resolves what it held: of callers racing for one key, one gets the value (a single-use token). */
  take(key: string): Promise<string | undefined>;
  /** The keys that start with `prefix`, sorted. */
  keys(prefix: string): Promise<string[]>;
}

/**
 * The operator's abuse controls (`trellis ban`, `trellis s2s block`): one row per banned address
 * or range ("address") or blocked remote domain ("domain"), loaded when the server starts.
 */
export interface AbuseRule {
  kind: 'address' | 'domain';
  /** the canonical address or range, or the domain */
  value: string;
  reason: string | undefined;
  /** milliseconds since the epoch */
  createdAt: number;
}

export interface AbuseRuleStore {
  /** Every rule of a kind, oldest first. */
  list(kind: AbuseRule['kind']): Promise<AbuseRule[]>;
  /** Adds a rule, or replaces the reason and time of an existing one; returns true when it is new. */
  put(rule: AbuseRule): Promise<boolean>;
  /** Removes a rule; returns false when there was none. */
  delete(kind: AbuseRule['kind'], value: string): Promise<boolean>;
}

/** One affiliation with a room (XEP-0045 section 5.2); `none` is never stored. */
export interface StoredAffiliation {
  /** a bare JID, or a domain for everyone on it, prepared */
  jid: string;
  affiliation: 'owner' | 'admin' | 'member' | 'outcast';
  /** the nickname registered with the room (section 7.10) */
  nick?: string;
  reason?: string;
}

/** A persistent group-chat room (XEP-0045 section 10.1.3) as its service keeps it. */
export interface StoredRoom {
  /** the room's local part, prepared */
  name: string;
  /** the room's configuration and subject: JSON the service writes and reads back */
  config: string;
  affiliations: StoredAffiliation[];
}

/** Persistent rooms, kept per service domain and loaded when the server starts. */
export interface MucRoomStore {
  /** Every room of a service, sorted by name, affiliations sorted by JID. */
  list(service: string): Promise<StoredRoom[]>;
  /** One room of a service, affiliations sorted by JID; undefined when there is none. */
  get(service: string, name: string): Promise<StoredRoom | undefined>;
  /** Inserts the room, or replaces its configuration and all its affiliations at once. */
  put(service: string, room: StoredRoom): Promise<void>;
  /** Removes a room and its affiliations; returns false when there was none. */
  delete(service: string, name: string): Promise<boolean>;
}

/** A publish-subscribe node (XEP-0060) as its service keeps it. */
export interface StoredPubsubNode {
  /** the NodeID, compared byte for byte */
  name: string;
  /** the node's configuration, affiliations and subscriptions: JSON the service writes and reads back */
  state: string;
}

/** A published item (XEP-0060 section 7.1). */
export interface StoredPubsubItem {
  id: string;
  /** the serialized <item/> element */
  xml: string;
  /** the publisher's bare JID */
  publisher: string;
}

/**
 * Nodes and items, kept per service: a PubSub service's domain, or an account's bare JID for
 * its personal eventing service (XEP-0163), whose rows go with the account.
 */
export interface PubsubStore {
  /** Every node of a service, sorted by name. */
  nodes(service: string): Promise<StoredPubsubNode[]>;
  node(service: string, name: string): Promise<StoredPubsubNode | undefined>;
  /** Inserts the node or replaces its state; its items stay. */
  putNode(service: string, node: StoredPubsubNode): Promise<void>;
  /** Removes a node and its items; returns false when there was none. */
  deleteNode(service: string, name: string): Promise<boolean>;
  /** The newest `max` items of a node (every item when undefined), newest first. */
  items(service: string, node: string, max?: number): Promise<StoredPubsubItem[]>;
  item(service: string, node: string, id: string): Promise<StoredPubsubItem | undefined>;
  /**
   * Stores an item as the node's newest (replacing one with its id), then removes the oldest
   * beyond `maxItems`; returns the ids removed.
   */
  putItem(service: string, node: string, item: StoredPubsubItem, maxItems: number): Promise<string[]>;
  /** Removes an item; returns false when there was none. */
  deleteItem(service: string, node: string, id: string): Promise<boolean>;
  /** Removes every item of a node; returns how many there were. */
  purge(service: string, node: string): Promise<number>;
}

/** A message waiting for a link (docs/links.md) to come back. */
export interface LinkQueuedMessage {
  /** increasing in queue order within a link */
  id: number;
  /** serialized stanza */
  stanza: string;
  /** milliseconds since the epoch */
  queuedAt: number;
}

/** How much one link's queue may hold. */
export interface LinkQueueLimits {
  maxMessages: number;
  /** bytes of queued stanzas (UTF-8) */
  maxBytes: number;
}

/**
 * The durable store-and-forward queues of links: messages routed to a link that is down, per
 * link name, in the order they were queued.
 */
export interface LinkQueueStore {
  /** Adds a stanza at the end of the link's queue; 'full' (nothing stored) when that would go over the limits. */
  push(link: string, stanza: string, queuedAt: number, limits: LinkQueueLimits): Promise<'stored' | 'full'>;
  /** The first messages of the link's queue, at most `maxCount`, without removing them. */
  peek(link: string, maxCount: number): Promise<LinkQueuedMessage[]>;
  /** Removes the messages with these ids; returns how many were there. */
  remove(link: string, ids: readonly number[]): Promise<number>;
  /** Removes and returns the messages queued before `before` (milliseconds since the epoch), in order. */
  takeExpired(link: string, before: number): Promise<LinkQueuedMessage[]>;
  count(link: string): Promise<number>;
  /** The names of the links with messages queued, in name order. */
  links(): Promise<string[]>;
}

/**
 * One decision of a peering rule on a stanza that crossed to or from another server
 * (docs/peering.md, "Audit and alerts"). Records are only appended, and the oldest removed
 * past the configured bounds.
 */
export interface PolicyAuditRecord {
  /** milliseconds since the epoch */
  time: number;
  /** the config key path of the rule that decided */
  rule: string;
  /** refuse (bounced or dropped as a refusal), drop (an action that left nothing), transform (folded) */
  verdict: 'refuse' | 'drop' | 'transform';
  /** `local`: between two users of this server (security labels, docs/labels.md) */
  direction: 'in' | 'out' | 'local';
  from: string;
  to: string;
  /** message, presence or iq */
  kind: string;
  /** the stanza's security label (XEP-0258) as text, when it carries one */
  label?: string;
  /** what was decided, as the sender or the log is told */
  text: string;
}

export interface StoredPolicyAuditRecord extends PolicyAuditRecord {
  /** increasing in the order records were appended */
  id: number;
}

export interface PolicyAuditQuery {
  /** records at or after this time (ms since the epoch) */
  since?: number;
  /** records whose rule starts with this */
  rule?: string;
  verdict?: PolicyAuditRecord['verdict'];
  /** at most this many, the newest */
  limit: number;
}

export interface PolicyAuditStore {
  append(records: readonly PolicyAuditRecord[]): Promise<void>;
  /** The newest matching records, newest first. */
  query(query: PolicyAuditQuery): Promise<StoredPolicyAuditRecord[]>;
  /** Removes records older than `before` and all but the newest `keep`; returns how many went. */
  prune(bounds: { before: number; keep: number }): Promise<number>;
}

export interface Storage {
  readonly driver: 'sqlite' | 'postgres';
  readonly accounts: AccountStore;
  readonly rosters: RosterStore;
  readonly offline: OfflineStore;
  readonly userData: UserDataStore;
  readonly serverData: ServerDataStore;
  readonly abuseRules: AbuseRuleStore;
  readonly mucRooms: MucRoomStore;
  readonly pubsub: PubsubStore;
  readonly linkQueues: LinkQueueStore;
  /** message archives of users and rooms (XEP-0313) */
  readonly archive: ArchiveStore;
  readonly policyAudit: PolicyAuditStore;
  /** FAST tokens (XEP-0484) of the accounts' clients */
  readonly fastTokens: FastTokenStore;
  close(): Promise<void>;
}

/**
 * A FAST token (XEP-0484) as storage keeps it: never the token itself, only its SHA-256
 * (src/auth/hashed-token.ts says why that is enough to check a login).
 */
export interface FastToken {
  /** the SASL2 user-agent id of the client it was issued to (XEP-0388 section 2.2) */
  clientId: string;
  /** the HT mechanism it is bound to (XEP-0484 section 3.4) */
  mechanism: string;
  /** base64 of SHA-256 of the token */
  hash: string;
  /** milliseconds since the epoch */
  expiresAt: number;
  /** when a login first used it, milliseconds since the epoch */
  usedAt?: number;
}

/**
 * FAST tokens per account. Setting an account's credentials or deleting the account removes all
 * of its tokens (a new password ends every token login).
 */
export interface FastTokenStore {
  /**
   * Keeps a new token. The client's tokens that were never used go (XEP-0484 section 3.4: a new
   * token invalidates those generated before it and not used), and so do the account's oldest
   * beyond `maxPerAccount` and every expired one.
   */
  issue(domain: string, username: string, token: FastToken, maxPerAccount: number, now: number): Promise<void>;
  /** The client's tokens that have not expired. */
  forClient(domain: string, username: string, clientId: string, now: number): Promise<FastToken[]>;
  /**
   * A login used this token: it is marked used, and the client's tokens that expire before it
   * go (XEP-0484 section 3.4).
   */
  used(domain: string, username: string, clientId: string, hash: string, now: number): Promise<void>;
  /** Removes one token; false when there was none. */
  remove(domain: string, username: string, hash: string): Promise<boolean>;
  /** The account's tokens that have not expired, all clients. */
  count(domain: string, username: string, now: number): Promise<number>;
}

export class AccountExistsError extends Error {
  constructor(domain: string, username: string) {
    super(`account ${username}@${domain} already exists`);
    this.name = 'AccountExistsError';
  }
}
