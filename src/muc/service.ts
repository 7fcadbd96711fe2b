/**
 * A group-chat service (XEP-0045) on its service host: the rooms by name, their creation
 * (section 10.1) within the configured limits, persistent rooms kept in storage and loaded at
 * start, unique room names (section 10.1.4), and IQs relayed between occupants (section 7.5).
 */
import { randomBytes } from 'node:crypto';
import { makeJid, type Jid } from '../jid/jid.ts';
import type { MucSettings } from '../config/types.ts';
import type { Router } from '../router/router.ts';
import type { Storage } from '../storage/types.ts';
import type { Logger } from '../util/log.ts';
import { el, NS_CLIENT, type Element } from '../xml/element.ts';
import { StanzaError, iqResult } from '../xml/stanza-error.ts';
import { shutdownPresence } from './joined-rooms.ts';
import { Outbox } from './outbox.ts';
import { defaultRoomConfig, type RoomLimits } from './room-config.ts';
import { handleRoomMessage } from './room-messages.ts';
import { Room, type RoomContext } from './room.ts';
import type { RoomArchives } from './room-archive.ts';
import { restore, toStored } from './stored-room.ts';
import { NS_PING } from './xmlns.ts';
import { roomLabelGate, type RoomLabelGate } from './room-labels.ts';

/** Stanzas waiting to be routed out of one service. */
const OUTBOX_MAX = 100_000;
/** IQs between occupants awaiting their answer (section 7.5 relays them with ids of its own). */
const MAX_PENDING_IQS = 10_000;

export interface MucServiceOptions {
  domain: string;
  /** the hosted domain the service belongs to */
  parent: string;
  settings: MucSettings;
  router: Router;
  storage: Storage;
  logger: Logger;
  now?: () => number;
  /** the rooms' message archives (XEP-0313), if the service keeps them */
  archives?: RoomArchives;
}

interface PendingIq {
  id: string;
  /** the real full JID that asked */
  asker: string;
  /** the real full JID asked */
  target: string;
  /** the occupant JID the answer comes from */
  from: string;
}

export class MucService {
  readonly domain: string;
  /** the hosted domain the service belongs to */
  readonly parent: string;
  readonly settings: MucSettings;
  readonly rooms = new Map<string, Room>();
  /** resolves once the persistent rooms are loaded */
  readonly ready: Promise<void>;
  readonly outbox: Outbox;
  readonly #options: MucServiceOptions;
  readonly #pendingIqs = new Map<string, PendingIq>();
  #iqCounter = 0;
  /** names of the rooms storage holds, so temporary rooms cost no writes */
  readonly #stored = new Set<string>();
  /** saves and deletions, one after another */
  #saving: Promise<void> = Promise.resolve();
  /** security labels in the rooms, by the policy in force (docs/labels.md, "Rooms") */
  readonly #labels: RoomLabelGate;

  constructor(options: MucServiceOptions) {
    this.#options = options;
    this.domain = options.domain;
    this.parent = options.parent;
    this.settings = options.settings;
    this.outbox = new Outbox(options.router, options.logger, OUTBOX_MAX);
    this.#labels = roomLabelGate(options.router);
    this.ready = this.#load();
  }

  get limits(): RoomLimits {
    return { maxOccupants: this.settings.max_occupants, maxHistory: this.settings.max_history, maxAffiliations: this.settings.max_affiliations };
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }

  async #load(): Promise<void> {
    const stored = await this.#options.storage.mucRooms.list(this.domain);
    for (const record of stored) {
      const room = this.#newRoom(record.name);
      const complete = restore(room, record);
      this.rooms.set(room.name, room);
      this.#stored.add(room.name);
      if (!complete) this.#save(room);
    }
    if (stored.length > 0) this.#options.logger.info('persistent rooms loaded', { service: this.domain, rooms: stored.length });
  }

  /**
   * This server starts to run a room that another node of its cluster may have run before
   * (docs/cluster.md, "Group chat"): what it held of the room is replaced by what storage holds
   * (nothing, for a temporary room or one destroyed meanwhile).
   */
  async adopt(name: string): Promise<void> {
    await this.ready;
    const stored = await this.#options.storage.mucRooms.get(this.domain, name);
    // Not ended: its archive stays for the room as storage holds it.
    this.rooms.delete(name);
    if (stored === undefined) {
      this.#stored.delete(name);
      return;
    }
    const room = this.#newRoom(name);
    const complete = restore(room, stored);
    this.rooms.set(name, room);
    this.#stored.add(name);
    if (!complete) this.#save(room);
  }

  /**
   * Another node of the cluster runs the room now: each of its occupants' resources is told it
   * was removed (XEP-0045 section 15.6.2, status code 332) so that its client joins it there, and
   * this server forgets the room (its archive and stored configuration stay).
   */
  release(name: string, text: string): void {
    const room = this.rooms.get(name);
    if (room === undefined) return;
    this.rooms.delete(name);
    for (const occupant of room.occupants.values()) {
      const membership = { occupantJid: room.occupantJid(occupant.nick), affiliation: room.affiliationOf(occupant.jid) };
      for (const session of occupant.sessions) this.outbox.send(shutdownPresence(session, membership, text, occupant.occupantId));
    }
  }

  #newRoom(name: string): Room {
    const context: RoomContext = {
      send: (stanza) => this.outbox.send(stanza),
      broadcast: (stanza, recipients) => this.outbox.broadcast(stanza, recipients),
      changed: (room) => this.#save(room),
      ended: (room) => this.#end(room),
      archive: (room, message) => this.#options.archives?.archive(room, message),
      labels: this.#labels,
      limits: this.limits,
      now: () => this.#now(),
    };
    return new Room(makeJid(name, this.domain), defaultRoomConfig(name, this.settings.history_length, this.limits), context);
  }

  /** Section 10.1.1 and the muc.room_creation setting: who may create a room here. */
  mayCreate(from: Jid): boolean {
    const creation = this.settings.room_creation;
    if (creation === 'anyone') return true;
    if (creation === 'host') return from.domain === this.#options.parent;
    const host = this.#options.router.hosts.get(from.domain);
    return host !== undefined && host.service === undefined;
  }

  /** Presence to a room: enters (creating the room when it does not exist), updates or leaves. */
  presence(stanza: Element, from: Jid, to: Jid): void {
    const room = this.rooms.get(to.local!);
    if (room) return room.handlePresence(stanza, from, to.resource);
    if (stanza.attrs.type !== undefined || to.resource === undefined) {
      if (stanza.attrs.type === undefined) throw new StanzaError('jid-malformed', 'address the room with your nickname: room@service/nick');
      return;
    }
    // Section 10.1.1: entering a room that does not exist creates it, locked, with the creator as owner.
    if (!this.mayCreate(from)) throw new StanzaError('not-allowed', 'you may not create rooms on this service');
    if (this.rooms.size >= this.settings.max_rooms) throw new StanzaError('resource-constraint', 'this service holds no more rooms', 'wait');
    const created = this.#newRoom(to.local!);
    created.affiliations.set(from.bare().toString(), { affiliation: 'owner' });
    created.locked = true;
    this.rooms.set(created.name, created);
    try {
      created.handlePresence(stanza, from, to.resource, true);
    } catch (error) {
      this.rooms.delete(created.name);
      throw error;
    }
    this.#options.logger.info('room created', { room: created.jid.toString(), owner: from.bare().toString() });
  }

  message(stanza: Element, from: Jid, to: Jid): void {
    const room = this.rooms.get(to.local!);
    if (!room) {
      if (stanza.attrs.type === 'error') return;
      throw new StanzaError('item-not-found', 'there is no such room');
    }
    handleRoomMessage(room, stanza, from, to.resource);
  }

  /** An existing room, or item-not-found (section 6.4 and the admin and owner use cases). */
  room(to: Jid): Room {
    const room = this.rooms.get(to.local ?? '');
    if (!room) throw new StanzaError('item-not-found', 'there is no such room');
    return room;
  }

  /**
   * Section 7.5 (and XEP-0410): an IQ to an occupant JID goes on to the occupant's resource from
   * the asker's occupant JID, under an id of the room's; the answer comes back the same way.
   */
  occupantIq(stanza: Element, from: Jid, to: Jid): void {
    const room = this.room(to);
    const type = stanza.attrs.type;
    if (type === 'result' || type === 'error') {
      const pending = this.#pendingIqs.get(stanza.attrs.id ?? '');
      if (!pending || pending.target !== from.toString()) return;
      this.#pendingIqs.delete(stanza.attrs.id!);
      this.outbox.send(el('iq', NS_CLIENT, { ...stanza.attrs, id: pending.id, from: pending.from, to: pending.asker }, ...stanza.children));
      return;
    }
    const asker = room.occupantBySession(from);
    if (!asker) throw new StanzaError('not-acceptable', 'only occupants reach other occupants');
    const target = room.occupants.get(to.resource!);
    if (!target) throw new StanzaError('item-not-found', `nobody is called ${to.resource} in this room`);
    // XEP-0410 section 3.2: a ping to one's own occupant JID is answered by the room.
    if (target === asker && stanza.getChild('ping', NS_PING)) {
      this.outbox.send(iqResult(stanza));
      return;
    }
    const id = `muc-${++this.#iqCounter}`;
    if (this.#pendingIqs.size >= MAX_PENDING_IQS) this.#pendingIqs.delete(this.#pendingIqs.keys().next().value!);
    this.#pendingIqs.set(id, { id: stanza.attrs.id!, asker: from.toString(), target: target.current, from: to.toString() });
    this.outbox.send(el('iq', NS_CLIENT, { ...stanza.attrs, id, from: room.occupantJid(asker.nick), to: target.current }, ...stanza.children));
  }

  /** Section 10.1.4: a room name nobody uses. */
  uniqueName(): string {
    for (;;) {
      const name = randomBytes(10).toString('hex');
      if (!this.rooms.has(name)) return name;
    }
  }

  #save(room: Room): void {
    if (room.destroyed || room.locked) return;
    const { storage, logger } = this.#options;
    const stored = room.config.persistent ? toStored(room) : undefined;
    if (stored) this.#stored.add(room.name);
    else if (!this.#stored.delete(room.name)) return;
    this.#saving = this.#saving
      .then(async () => {
        if (stored) await storage.mucRooms.put(this.domain, stored);
        else await storage.mucRooms.delete(this.domain, room.name);
      })
      .catch((error: unknown) => logger.error('saving a room failed', { room: room.jid.toString(), error: error instanceof Error ? error.message : String(error) }));
  }

  #end(room: Room): void {
    if (this.rooms.get(room.name) !== room) return;
    this.rooms.delete(room.name);
    this.#options.archives?.ended(room);
    if (room.destroyed) this.#options.logger.info('room destroyed', { room: room.jid.toString() });
    if (this.#stored.delete(room.name)) {
      const { storage, logger } = this.#options;
      this.#saving = this.#saving
        .then(async () => void (await storage.mucRooms.delete(this.domain, room.name)))
        .catch((error: unknown) => logger.error('deleting a room failed', { room: room.jid.toString(), error: error instanceof Error ? error.message : String(error) }));
    }
  }

  /** Resolves once pending saves and outgoing stanzas are done (tests, shutdown). */
  async settled(): Promise<void> {
    await this.#saving;
    await this.outbox.idle();
  }
}
