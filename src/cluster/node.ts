/**
 * This server as one node of a cluster (docs/cluster.md). It publishes its client sessions to
 * the other nodes and mirrors theirs in its session registry (mirror.ts), hands stanzas for
 * their sessions to their inboxes and delivers what arrives in its own (one ordered channel per
 * pair of nodes: what a node appends to another's inbox is read there in that order), keeps its
 * registration alive (membership.ts), fences itself when it cannot, and takes over after a dead
 * node when it wins the lease to (takeover.ts).
 */
import { randomBytes } from 'node:crypto';
import type { ClusterConfig, S2sConfig } from '../config/types.ts';
import { parseJid } from '../jid/jid.ts';
import type { NodeAnswer } from '../router/node-notices.ts';
import type { Router } from '../router/router.ts';
import type { BoundSession, SessionEndCondition, SessionObserver } from '../router/sessions.ts';
import { rerouteUndelivered, spillToOffline } from '../c2s/undelivered.ts';
import type { Logger } from '../util/log.ts';
import type { Element } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { serialize } from '../xml/serialize.ts';
import type { ClusterEngine, ClusterMember, NodeIdentity, NodeStatus, ReceivedEntry } from './engine.ts';
import { ClusterFederation, type LocalFederation } from './federation.ts';
import { InboxReader, type HoldEntry } from './inbox-reader.ts';
import { Membership } from './membership.ts';
import { SessionMirror } from './mirror.ts';
import { NoticeRelay } from './notice-relay.ts';
import { RemoteSession, recordOf, type Courier } from './remote-session.ts';
import { ClusterResumption, type ResumableClients } from './resumption.ts';
import { ClusterRooms, type LocalRooms } from './rooms.ts';
import { takeOver } from './takeover.ts';

/** What the node needs of the client side of this server. */
export interface LocalClients extends ResumableClients {
  /** refuse new client connections with this text, or accept them again (undefined) */
  pause(reason: string | undefined): void;
  /** every client session not yet ended */
  sessions(): Iterable<BoundSession>;
}

/** One node of the cluster in `trellis status`, the admin API and the console. */
export interface ClusterNodeRow {
  name: string;
  incarnation: string;
  /** the node answering */
  self: boolean;
  /** `live`: its registration holds; `lapsed`: it missed its lease and waits for a survivor */
  state: 'live' | 'lapsed';
  /** where it listens, as "c2s 10.0.0.11:5222" */
  addresses: string[];
  /** client sessions it holds */
  sessions: number;
  /** ISO 8601, by its clock; null before its first renewal */
  lastHeartbeat: string | null;
  /** the remote domains it federates with (it holds their leases) */
  federates: string[];
}

export interface ClusterNodeOptions {
  config: ClusterConfig;
  engine: ClusterEngine;
  router: Router;
  clients: LocalClients;
  /** this server's federation, shared with the other nodes (federation.ts) */
  federation: { local: LocalFederation; s2s: S2sConfig };
  /** this server's group-chat rooms, run one node at a time (rooms.ts) */
  rooms: LocalRooms;
  logger: Logger;
}

export class ClusterNode implements SessionObserver, Courier {
  readonly #options: ClusterNodeOptions;
  readonly #mirror: SessionMirror;
  readonly #logger: Logger;
  /** which node sends to each remote domain */
  readonly federation: ClusterFederation;
  /** sessions resumed on another node than the one holding them (XEP-0198) */
  readonly resumption: ClusterResumption;
  /** features' notices and operators' questions to and from the other nodes */
  readonly #relay: NoticeRelay;
  /** which node runs each group-chat room */
  readonly rooms: ClusterRooms;
  #self: NodeIdentity | undefined;
  /** the members as the engine listed them at the last heartbeat */
  #members: ClusterMember[] = [];
  /** where this node listens, as "c2s 10.0.0.11:5222" (set once the listeners are bound) */
  addresses: string[] = [];
  #membership: Membership | undefined;
  #reader: InboxReader | undefined;
  /** local sessions whose IM state changed in this turn, published together at its end */
  #changed = new Set<BoundSession>();
  #closing = false;
  /** a rejoin after fencing in progress */
  #rejoining: Promise<void> | undefined;

  constructor(options: ClusterNodeOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ component: 'cluster', node: options.config.node });
    this.#mirror = new SessionMirror(options.router.sessions, this);
    // Only while the lease holds by this node's own clock: past it, another node may take over its leases.
    const self = (): NodeIdentity | undefined => (this.#membership?.live === true ? this.#self : undefined);
    this.federation = new ClusterFederation({
      engine: options.engine,
      self,
      local: options.federation.local,
      router: options.router,
      cluster: options.config,
      s2s: options.federation.s2s,
      logger: this.#logger,
    });
    this.resumption = new ClusterResumption({
      engine: options.engine,
      name: options.config.node,
      self: () => (this.#membership?.live === true ? this.#self : undefined),
      members: () => this.#members,
      clients: options.clients,
      mirror: this.#mirror,
      registry: options.router.sessions,
      waitMs: options.config.lease_ms,
      logger: this.#logger,
    });
    this.#relay = new NoticeRelay({
      engine: options.engine,
      self: () => (this.#membership?.live === true ? this.#self : undefined),
      others: () => this.#others(),
      notices: options.router.notices,
      answerTimeoutMs: options.config.lease_ms,
      logger: this.#logger,
    });
    this.rooms = new ClusterRooms({ engine: options.engine, self, router: options.router, cluster: options.config, local: options.rooms, logger: this.#logger });
  }

  /** The other live nodes as of the last heartbeat. */
  #others(): NodeIdentity[] {
    const self = this.#self;
    return this.#members.filter((member) => member.live && !(member.name === self?.name && member.incarnation === self.incarnation)).map(({ name, incarnation }) => ({ name, incarnation }));
  }

  /**
   * Joins the cluster: waits while a previous incarnation of this name is still registered (it
   * lapses within a lease), then fails naming the key, as a second node configured with the same
   * name would.
   */
  async start(): Promise<void> {
    const { config } = this.#options;
    const deadline = Date.now() + config.lease_ms + 2 * config.heartbeat_interval_ms;
    for (;;) {
      if (await this.#join()) return;
      if (Date.now() > deadline) throw new Error(`cluster.node: "${config.node}" is registered by a live node; every node needs a name of its own`);
      await sleep(config.heartbeat_interval_ms);
    }
  }

  async #join(): Promise<boolean> {
    const { config, engine, router } = this.#options;
    const self = { name: config.node, incarnation: randomBytes(8).toString('hex') };
    if (!(await engine.join(self, config.lease_ms))) return false;
    this.#self = self;
    this.#members = await engine.members();
    this.#mirror.replaceAll((await engine.sessions()).filter((record) => record.node !== self.name));
    router.sessions.observe(this);
    router.notices.transport = this.#relay;
    await this.#publishAll();
    this.#reader = new InboxReader({ engine, self, handle: (entry, hold) => this.#receive(entry, hold), mayDeliver: () => this.#membership?.live === true, logger: this.#logger });
    this.#membership = new Membership({
      engine,
      self,
      heartbeatMs: config.heartbeat_interval_ms,
      leaseMs: config.lease_ms,
      logger: this.#logger,
      events: {
        fenced: (reason) => this.#fenced(reason),
        restored: () => void this.#restored(),
        lapsed: (dead) => void this.#takeOver(dead),
        surveyed: (members) => (this.#members = members),
      },
      status: () => this.#status(),
    });
    this.#options.clients.pause(undefined);
    this.#logger.info('cluster node joined', { incarnation: self.incarnation, remote_sessions: this.#mirror.size });
    return true;
  }

  #status(): NodeStatus {
    const sessions = [...this.#options.clients.sessions()].length;
    const federates = this.federation.owners().filter((row) => row.owner === 'here').map((row) => row.remote);
    return { addresses: this.addresses, sessions, federates, at: Date.now() };
  }

  /** Every node of the cluster as of the last heartbeat, this one as it is now. */
  nodes(): ClusterNodeRow[] {
    const self = this.#self;
    return this.#members.map((member) => {
      const isSelf = self !== undefined && member.name === self.name && member.incarnation === self.incarnation;
      const status = isSelf ? this.#status() : member.status;
      return {
        name: member.name,
        incarnation: member.incarnation,
        self: isSelf,
        state: member.live ? 'live' : 'lapsed',
        addresses: status?.addresses ?? [],
        sessions: status?.sessions ?? 0,
        lastHeartbeat: member.status === undefined ? null : new Date(member.status.at).toISOString(),
        federates: status?.federates ?? [],
      };
    });
  }

  /** Puts an operator's question to every other live node (admin/cluster-routes.ts). */
  ask(topic: string, body: string): Promise<NodeAnswer[]> {
    return this.#relay.ask(topic, body);
  }

  // --- publishing this node's sessions (SessionObserver) ---------------------------------------

  owns(session: BoundSession): boolean {
    return session instanceof RemoteSession;
  }

  added(session: BoundSession): void {
    this.#changed.delete(session);
    this.#put(session);
  }

  removed(session: BoundSession): void {
    this.#changed.delete(session);
    this.rooms.sessionGone(session.jid.toString());
    // Handed over to another node: the engine moved its record there in the same step.
    if (this.resumption.movedAway(session)) return;
    const self = this.#self;
    if (self === undefined) return;
    this.#options.engine.removeSession(self, session.jid.toString()).catch((error: unknown) => this.#publishFailed(session, error));
  }

  changed(session: BoundSession): void {
    if (this.#changed.size === 0) queueMicrotask(() => this.#flushChanged());
    this.#changed.add(session);
  }

  #flushChanged(): void {
    const changed = [...this.#changed];
    this.#changed.clear();
    for (const session of changed) if (this.#options.router.sessions.get(session.jid) === session) this.#put(session);
  }

  #put(session: BoundSession): void {
    const self = this.#self;
    if (self === undefined) return;
    this.#options.engine.putSession(self, recordOf(session, self)).catch((error: unknown) => this.#publishFailed(session, error));
  }

  #publishFailed(session: BoundSession, error: unknown): void {
    // Redis being out of reach is the membership's to judge; a restored registration publishes everything again.
    this.#logger.warn('cluster session record not written', { jid: session.jid.toString(), error: error instanceof Error ? error.message : String(error) });
  }

  async #publishAll(): Promise<void> {
    const self = this.#self!;
    const local = [...this.#options.router.sessions.all()].filter((session) => !(session instanceof RemoteSession));
    await Promise.all(local.map((session) => this.#options.engine.putSession(self, recordOf(session, self))));
  }

  // --- handing stanzas to other nodes (Courier) -------------------------------------------------

  async forward(session: RemoteSession, stanza: Element): Promise<boolean> {
    const { engine, config, router } = this.#options;
    const self = this.#self;
    let outcome: string;
    try {
      outcome = self === undefined ? 'out of the cluster' : await engine.send(self, session.node, { kind: 'stanza', to: session.jid.toString(), xml: serialize(stanza) }, config.inbox_max_entries);
    } catch (error) {
      outcome = error instanceof Error ? error.message : String(error);
    }
    if (outcome === 'sent') return true;
    if (outcome === 'gone') {
      // Its node's registration lapsed: its sessions are gone from here too (the survivor tells
      // their contacts), and the stanza is handled as for a resource that went offline.
      this.#mirror.dropNode(session.node);
      await rerouteUndelivered(router, session.jid, [stanza]);
    } else {
      this.#logger.warn('cluster stanza not handed to its node', { to: session.jid.toString(), node: session.node.name, outcome });
      await spillToOffline(router, session, stanza, this.#logger);
    }
    return false;
  }

  terminate(session: RemoteSession, condition: SessionEndCondition, text: string | undefined): void {
    const self = this.#self;
    if (self === undefined) return;
    const entry = { kind: 'terminate' as const, jid: session.jid.toString(), condition, ...(text === undefined ? {} : { text }) };
    this.#options.engine.send(self, session.node, entry, Number.MAX_SAFE_INTEGER).catch((error: unknown) => {
      this.#logger.warn('cluster session not terminated on its node', { jid: session.jid.toString(), node: session.node.name, error: error instanceof Error ? error.message : String(error) });
    });
  }

  // --- this node's inbox ------------------------------------------------------------------------

  async #receive({ from, entry }: ReceivedEntry, hold: HoldEntry): Promise<void> {
    switch (entry.kind) {
      case 'stanza':
        return this.#deliver(from, entry.to, parseElement(entry.xml));
      case 'session':
        return this.#mirror.apply(entry.record);
      case 'session-gone':
        return void this.#mirror.drop(from, entry.jid);
      case 'node-gone': {
        const dead = { name: entry.node, incarnation: entry.incarnation };
        this.#mirror.dropNode(dead);
        return this.rooms.nodeGone(dead);
      }
      case 'muc':
        return this.rooms.receive(entry);
      case 's2s':
      case 'dialback-verify':
      case 'dialback-verified':
        return this.federation.receive(from, entry, hold);
      case 'resume':
      case 'resume-refused':
      case 'hand-over':
        return this.resumption.receive(from, entry);
      case 'notice':
      case 'ask':
      case 'answer':
        return this.#relay.receive(from, entry);
      case 'terminate': {
        const session = this.#options.router.sessions.get(parseJid(entry.jid));
        if (session !== undefined && !(session instanceof RemoteSession)) session.terminate(entry.condition, entry.text);
        return;
      }
    }
  }

  async #deliver(from: NodeIdentity, to: string, stanza: Element): Promise<void> {
    const jid = parseJid(to);
    const session = this.#options.router.sessions.get(jid);
    if (session !== undefined && !(session instanceof RemoteSession)) {
      this.rooms.delivered(from, to, stanza);
      return session.send(stanza);
    }
    // The session moved to a third node (a client resumed there, resumption.ts): it follows, in the order it came.
    if (session instanceof RemoteSession && session.node.name !== from.name) return session.send(stanza);
    // The session ended (or moved to another node) while the stanza travelled: as for any resource that went away.
    await rerouteUndelivered(this.#options.router, jid, [stanza]);
  }

  // --- failures -----------------------------------------------------------------------------------

  async #takeOver(dead: NodeIdentity[]): Promise<void> {
    const self = this.#self;
    if (self === undefined) return;
    for (const node of dead) {
      try {
        await takeOver({ engine: this.#options.engine, router: this.#options.router, mirror: this.#mirror, self, dead: node, leaseMs: this.#options.config.lease_ms, courier: this, federation: this.federation, rooms: this.rooms, logger: this.#logger });
      } catch (error) {
        this.#logger.error('taking over after a dead node failed; the next heartbeat tries again', { dead: node.name, error: error instanceof Error ? error.stack : String(error) });
      }
    }
  }

  async #restored(): Promise<void> {
    try {
      await this.#publishAll();
    } catch (error) {
      this.#logger.warn('cluster sessions not published again', { error: error instanceof Error ? error.message : String(error) });
    }
    // By the end of a lease every live node renewed and published its sessions again; nodes that
    // died meanwhile never will, and leave this node's registry with the snapshot.
    setTimeout(() => {
      if (this.#self === undefined || this.#closing) return;
      this.#options.engine.sessions().then(
        (records) => this.#self !== undefined && this.#mirror.replaceAll(records.filter((record) => record.node !== this.#self!.name)),
        (error: unknown) => this.#logger.warn('cluster session snapshot failed', { error: error instanceof Error ? error.message : String(error) }),
      );
    }, this.#options.config.lease_ms).unref();
  }

  /**
   * Self-fencing: the node stops taking work before another node may take over its sessions:
   * new clients are refused, the inbox is no longer read, and its client sessions end (their
   * clients reconnect, to this node once it joined again or to another). Then it joins again as
   * a new incarnation, as soon as Redis lets it.
   */
  #fenced(reason: string): void {
    const { clients, router } = this.#options;
    clients.pause(`this server is rejoining its cluster (${reason}); connect again shortly`);
    this.#self = undefined;
    this.#members = [];
    this.federation.reset();
    this.#relay.reset();
    this.rooms.reset();
    router.sessions.observe(undefined);
    void this.#reader?.stop();
    this.#reader = undefined;
    this.#mirror.clear();
    for (const session of [...clients.sessions()]) session.terminate('system-shutdown', 'this server lost its place in its cluster; connect again');
    this.#rejoining ??= this.#rejoin().finally(() => (this.#rejoining = undefined));
  }

  async #rejoin(): Promise<void> {
    while (!this.#closing) {
      await sleep(this.#options.config.heartbeat_interval_ms);
      try {
        if (await this.#join()) return;
      } catch (error) {
        this.#logger.debug('cluster rejoin failed', { error: error instanceof Error ? error.message : String(error) });
      }
    }
  }

  /**
   * Leaves the cluster. The client sessions ended first (server.ts closes c2s before this), so
   * their contacts were told; what the inbox still holds is taken over by a survivor at once.
   */
  async close(): Promise<void> {
    this.#closing = true;
    this.#membership?.stop();
    this.federation.close();
    this.#relay.reset();
    this.#options.router.notices.transport = undefined;
    this.rooms.close();
    await this.#reader?.stop();
    const self = this.#self;
    this.#self = undefined;
    this.#options.router.sessions.observe(undefined);
    this.#mirror.clear();
    try {
      if (self !== undefined) await this.#options.engine.leave(self);
    } catch (error) {
      this.#logger.warn('cluster registration not ended; it lapses with its lease', { error: error instanceof Error ? error.message : String(error) });
    }
    await this.#rejoining;
    await this.#options.engine.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
