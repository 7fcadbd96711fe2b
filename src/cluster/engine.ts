/**
 * What the nodes of a cluster share (docs/cluster.md), behind one small interface so that the
 * engine can change (Redis now: redis-engine.ts): membership with heartbeats, the session
 * registry, leases, and an inbox per node whose entries stay until the node acknowledges them.
 */
import type { SessionEndCondition } from '../router/sessions.ts';
import type { VerifyOutcome } from '../s2s/step-dialback-initiator.ts';
import type { HandedOverSession } from '../c2s/hand-over.ts';

/** One life of a node: its configured name and a fresh incarnation per start (and per rejoin after fencing). */
export interface NodeIdentity {
  readonly name: string;
  readonly incarnation: string;
}

/** A bound client resource as the other nodes see it: where it is and its IM state (router/sessions.ts). */
export interface SessionRecord {
  /** full JID */
  jid: string;
  node: string;
  incarnation: string;
  /** the last available presence it broadcast, serialized; absent while unavailable */
  presence?: string;
  priority: number;
  carbons: boolean;
  rosterRequested: boolean;
  /** JIDs it sent directed presence to (RFC 6121 section 4.6) */
  directed: string[];
  /** its stream management resumption id (XEP-0198 section 3): a client resuming on another node finds it by this */
  resumption?: string;
  /** the client said it is inactive (XEP-0352) */
  inactive?: boolean;
  /** its connection dropped and stream management keeps it for resumption (XEP-0198) */
  detached?: boolean;
}

/** What one node hands another, in order. */
export type InboxEntry =
  /** a stanza for a session bound on the receiving node, serialized */
  | { kind: 'stanza'; to: string; xml: string }
  /** a session of the sending node was bound or changed */
  | { kind: 'session'; record: SessionRecord }
  /** a session of the sending node ended */
  | { kind: 'session-gone'; jid: string }
  /** end a session of the receiving node (a login elsewhere replaced it, an operator kicked it) */
  | { kind: 'terminate'; jid: string; condition: SessionEndCondition; text?: string }
  /** a node was declared dead and its sessions removed (sent by the survivor that cleaned up) */
  | { kind: 'node-gone'; node: string; incarnation: string }
  /** a stanza for a remote domain, to the node that federates with it (cluster/federation.ts); `hops`: nodes it passed */
  | { kind: 's2s'; remote: string; local: string; xml: string; hops: number }
  /** a stanza for a group-chat room, to the node that runs it (cluster/rooms.ts); `hops`: nodes it passed */
  | { kind: 'muc'; room: string; xml: string; hops: number }
  /** check a dialback key with the remote domain's authoritative server (XEP-0220 section 2.1.2), for the sending node */
  | { kind: 'dialback-verify'; id: string; remote: string; receiving: string; streamId: string; key: string }
  /** the answer to a `dialback-verify` */
  | { kind: 'dialback-verified'; id: string; outcome: VerifyOutcome }
  /** a client of `account` (bare JID) resumes on the sending node the session with resumption id `previd` held here (XEP-0198 section 5; resumption.ts) */
  | { kind: 'resume'; id: string; previd: string; account: string }
  /** the answer to a `resume`: no such session here */
  | { kind: 'resume-refused'; id: string }
  /** the answer to a `resume`: the session, now the receiving node's (written by `handOver`) */
  | { kind: 'hand-over'; id: string; session: HandedOverSession }
  /** state the sending node changed that this node may hold a copy of (router/node-notices.ts) */
  | { kind: 'notice'; topic: string; body: string }
  /** an operator's command for every node, to be answered with an `answer` (cluster/notice-relay.ts) */
  | { kind: 'ask'; id: string; topic: string; body: string }
  /** the answer to an `ask`: the handler's answer, or why it failed */
  | { kind: 'answer'; id: string; body?: string; error?: string };

/** `fenced`: the giving node is no longer live; `gone`: the taking node is not. Nothing moved in either case. */
export type HandOverOutcome = 'sent' | 'gone' | 'fenced';

/** What a node publishes of itself at every renewal, for `trellis status` on any node. */
export interface NodeStatus {
  /** where it listens, as "c2s 10.0.0.11:5222" */
  addresses: string[];
  /** client sessions it holds */
  sessions: number;
  /** the remote domains it federates with (their leases, federation.ts) */
  federates: string[];
  /** when it renewed, by its clock (ms since the epoch) */
  at: number;
}

/** A registered incarnation as the engine holds it. */
export interface ClusterMember {
  name: string;
  incarnation: string;
  /** its registration holds; false: it lapsed and waits for a survivor */
  live: boolean;
  /** ms since the epoch */
  joinedAt: number;
  /** what it published at its last renewal; undefined before its first */
  status: NodeStatus | undefined;
}

export interface ReceivedEntry {
  /** the engine's id, for acknowledgement */
  readonly id: string;
  /** the sending node's name and incarnation */
  readonly from: NodeIdentity;
  readonly entry: InboxEntry;
}

/**
 * - `renewed`: the registration was live and lasts another lease;
 * - `restored`: the engine had lost it (a restart without persistence) and it is written again:
 *   the node publishes its sessions again;
 * - `fenced`: the others declared this incarnation dead (or a live node holds the name): the
 *   node must stop serving and join again as a new incarnation.
 */
export type RenewOutcome = 'renewed' | 'restored' | 'fenced';

/** `gone`: the node's registration lapsed (it is dead or being cleaned up); `full`: its inbox holds its limit. */
export type SendOutcome = 'sent' | 'gone' | 'full';

/** What a survivor took over from a dead node, removed from the engine in the same step. */
export interface TakenOver {
  sessions: SessionRecord[];
  /** entries its inbox held that it never acknowledged, in order */
  undelivered: ReceivedEntry[];
}

export interface ClusterEngine {
  /**
   * Registers a new incarnation under its name for `leaseMs`, with an empty inbox. Resolves false
   * while another incarnation's registration under the name is live.
   */
  join(self: NodeIdentity, leaseMs: number): Promise<boolean>;
  /** Renews the registration for another `leaseMs`, publishing `status` with it. */
  renew(self: NodeIdentity, leaseMs: number, status?: NodeStatus): Promise<RenewOutcome>;
  /** Ends the registration at once (a clean stop): a survivor takes over what is left, as from a dead node, without waiting for the lease. */
  leave(self: NodeIdentity): Promise<void>;
  /** Incarnations listed as members whose registration lapsed: dead, waiting for a survivor. */
  lapsed(): Promise<NodeIdentity[]>;
  /** Every incarnation listed as a member, live or lapsed, with what it last published. */
  members(): Promise<ClusterMember[]>;

  /** Takes the named lease for `ms` unless another holder has it; a holder taking it again extends it. */
  acquireLease(name: string, holder: string, ms: number): Promise<boolean>;
  /** Gives the lease up, if `holder` still has it. */
  releaseLease(name: string, holder: string): Promise<void>;

  /**
   * Takes the named lease for `ms` unless a live node holds it (a holder whose registration
   * lapsed holds nothing); resolves the holder afterwards: `holder` itself, or the one to ask.
   */
  claimLease(name: string, holder: string, ms: number): Promise<string>;
  /** Extends the named leases `holder` has for another `ms`; resolves the names another holder took. */
  renewLeases(names: readonly string[], holder: string, ms: number): Promise<string[]>;

  /** Writes a session's record and tells every other live node, in one step. */
  putSession(self: NodeIdentity, record: SessionRecord): Promise<void>;
  /** Removes a session's record and tells every other live node, in one step. */
  removeSession(self: NodeIdentity, jid: string): Promise<void>;
  /**
   * Moves a session's record from this node to `to` (`record` names `to`), tells every other live
   * node as if `to` had published it, and appends `entry` to `to`'s inbox, in one
   * step: the session is either this node's or `to`'s, never both nor neither.
   */
  handOver(self: NodeIdentity, to: NodeIdentity, record: SessionRecord, entry: InboxEntry): Promise<HandOverOutcome>;
  /** The records of every live node's sessions. */
  sessions(): Promise<SessionRecord[]>;

  /** Appends to a live node's inbox, after everything this node appended there before. */
  send(self: NodeIdentity, to: NodeIdentity, entry: InboxEntry, maxEntries: number): Promise<SendOutcome>;
  /**
   * The next entries of this node's inbox: first those read before and not acknowledged (a
   * reader that restarted), then new ones, waiting up to `blockMs` for one.
   */
  read(self: NodeIdentity, count: number, blockMs: number): Promise<ReceivedEntry[]>;
  /** The entries were handled: they leave the inbox. */
  acknowledge(self: NodeIdentity, ids: readonly string[]): Promise<void>;
  /**
   * Declares a lapsed incarnation dead and takes what it left, in one step: its sessions and the
   * entries of its inbox; the other live nodes are told (`node-gone`). Undefined when it is not
   * lapsed (it renewed meanwhile) or another survivor took it over already.
   */
  takeOver(self: NodeIdentity, dead: NodeIdentity): Promise<TakenOver | undefined>;
  close(): Promise<void>;
}
