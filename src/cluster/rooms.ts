/**
 * Group chat across the nodes of a cluster (docs/cluster.md, "Group chat"): each room runs on one
 * node at a time, under the lease `muc:<room JID>` (leased-routing.ts). Every stanza for a room
 * (an entry, a groupchat or private message, an IQ) that reaches another node is handed to that
 * node through its inbox, in the order it came; the node running the room handles it as a
 * single server does (src/muc), and what the room sends to occupants on other nodes reaches them
 * through the session registry, as any stanza does. A node that starts to run a room takes its
 * configuration from storage; one that loses the lease of a room it runs tells its occupants to join
 * again (muc/across-nodes.ts does both for the group-chat services).
 *
 * When the node running a room dies, its occupants on the other nodes are told by their own node
 * (XEP-0045 section 15.6.2, status code 332: removed because the service shut down), which learnt
 * from the room's presence which of its sessions were in it (muc/across-nodes.ts); their clients
 * join again, and the next stanza for the room makes a node claim it. What the dead node's inbox
 * still held for the room is handed to the new one by the survivor that takes over (takeover.ts):
 * a message from someone not (yet) in the room again bounces there, as on a single server.
 */
import type { ClusterConfig } from '../config/types.ts';
import type { Jid } from '../jid/jid.ts';
import type { Router } from '../router/router.ts';
import type { Logger } from '../util/log.ts';
import type { Element } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { serialize } from '../xml/serialize.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import type { ClusterEngine, InboxEntry, NodeIdentity } from './engine.ts';
import { holderOf, LeasedRouting, type Handed } from './leased-routing.ts';

/** Stanzas that may wait for one room's node to be known. */
const MAX_WAITING_PER_ROOM = 10_000;
/** Rooms one node keeps track of (runs, or knows who runs) at most; a stanza for one more bounces. */
const MAX_ROOMS_KNOWN = 100_000;
/** A room nobody is in and nothing was sent to for this long is given up (its lease released, or its node forgotten). */
const ROOM_IDLE_MS = 5 * 60_000;

/** What this server's group-chat services do for the cluster (muc/across-nodes.ts); rooms are bare JIDs, nodes `<name>:<incarnation>`. */
export interface LocalRooms {
  /** the room runs here with occupants in it */
  occupied(room: string): boolean;
  /** this node starts to run the room: what it held of it is replaced by what storage holds */
  adopt(room: string): Promise<void>;
  /** another node runs the room now: its occupants are told to join again, and it is forgotten here */
  release(room: string): void;
  /** a stanza from the node `runner` reached the local session `session` (rooms run there say who is in them) */
  delivered(session: string, stanza: Element, runner: string): void;
  /** a local session ended */
  sessionGone(session: string): void;
  /** the node `runner` is gone: the local sessions in rooms it ran are told (status code 332); resolves how many */
  runnerGone(runner: string): number;
  clear(): void;
}

export interface ClusterRoomsOptions {
  engine: ClusterEngine;
  /** this node while it is a live member of the cluster; undefined while it is fenced or rejoining */
  self(): NodeIdentity | undefined;
  router: Router;
  cluster: ClusterConfig;
  local: LocalRooms;
  logger: Logger;
}

export class ClusterRooms {
  readonly #options: ClusterRoomsOptions;
  readonly #routing: LeasedRouting<Handed>;

  constructor(options: ClusterRoomsOptions) {
    this.#options = options;
    const { router, local, logger } = options;
    this.#routing = new LeasedRouting<Handed>({
      ...options,
      what: 'room',
      prefix: LEASE_PREFIX,
      here: (room, { stanza }) => {
        router.route(stanza, { kind: 'local' }).catch((error: unknown) => logger.error('a stanza for a room failed', { room, error: error instanceof Error ? error.message : String(error) }));
      },
      entry: (room, { stanza, hops }) => ({ kind: 'muc', room, xml: serialize(stanza), hops }),
      maxWaiting: () => MAX_WAITING_PER_ROOM,
      maxKeys: MAX_ROOMS_KNOWN,
      idleMs: () => ROOM_IDLE_MS,
      inUse: (room) => local.occupied(room),
      acquired: (room) => local.adopt(room),
      // Another node runs it now (this one missed a renewal): its occupants here join it there.
      lost: (room) => local.release(room),
      unreachable: (room, reason) => new StanzaError('recipient-unavailable', `no node of this cluster could run ${room}: ${reason}`, 'wait'),
      full: (room) => new StanzaError('resource-constraint', `too many stanzas or rooms waiting for their node: ${room}`, 'wait'),
    });
  }

  /** muc/placement.ts: a stanza for a room run elsewhere (or whose node is not known yet) goes there. */
  handOver(room: Jid, stanza: Element): boolean {
    const key = room.toString();
    if (this.#routing.ownedHere(key)) return false;
    this.#routing.send(key, { stanza, hops: 0 });
    return true;
  }

  /** A `muc` entry of this node's inbox: another node handed it a stanza for a room it runs, or ran. */
  receive(entry: Extract<InboxEntry, { kind: 'muc' }>): void {
    this.#routing.handOn(entry.room, { stanza: parseElement(entry.xml), hops: entry.hops });
  }

  /** Stanzas a dead node's inbox held for a room (takeover.ts): to whichever node runs the room now. */
  resend(entry: Extract<InboxEntry, { kind: 'muc' }>): void {
    this.#routing.send(entry.room, { stanza: parseElement(entry.xml), hops: entry.hops });
  }

  /** A stanza from node `from` reaching the local session `session`. */
  delivered(from: NodeIdentity, session: string, stanza: Element): void {
    if (stanza.name === 'presence') this.#options.local.delivered(session, stanza, holderOf(from));
  }

  /** A local session ended: it is in no room any more. */
  sessionGone(session: string): void {
    this.#options.local.sessionGone(session);
  }

  /**
   * A node was declared dead: the rooms it ran are claimed again by the next stanza for them,
   * and this node's sessions that were in them are told they were removed (status code 332).
   */
  nodeGone(dead: NodeIdentity): void {
    const rooms = this.#routing.nodeGone(dead);
    const told = this.#options.local.runnerGone(holderOf(dead));
    if (rooms.length > 0 || told > 0) this.#options.logger.warn('rooms of a dead node released; their occupants here told', { dead: dead.name, rooms: rooms.length, told });
  }

  /** This node stopped being a live member: it runs no room any more, and its sessions are gone. */
  reset(): void {
    this.#routing.reset();
    this.#options.local.clear();
  }

  close(): void {
    this.#routing.close();
    this.#options.local.clear();
  }
}

const LEASE_PREFIX = 'muc:';
