/**
 * One room (XEP-0045): its configuration, affiliations, occupants, history and subject, and
 * occupancy: entering (section 7.2), presence updates (7.7), nickname changes (7.6) and leaving
 * (7.14). Messages are in room-messages.ts, the admin and owner use cases in room-admin.ts.
 * Everything here is synchronous; stanzas leave through `RoomContext.send` in order.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Jid } from '../jid/jid.ts';
import { el, NS_CLIENT, type Element } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { RoomHistory, readHistoryRequest } from './history.ts';
import type { RoomLabelGate } from './room-labels.ts';
import { addressed, mucUser, occupantIdElement, occupantPresence, type ItemDetails, type Occupant } from './occupant-presence.ts';
import { affiliationAtLeast, defaultRole, type Affiliation } from './roles.ts';
import type { RoomConfig, RoomLimits } from './room-config.ts';
import { NS_MUC, STATUS } from './xmlns.ts';

export interface AffiliationRecord {
  affiliation: Exclude<Affiliation, 'none'>;
  /** a nickname registered with the room (section 7.10) */
  nick?: string;
  reason?: string;
}

export interface RoomContext {
  /** Sends a stanza the room addressed; stanzas leave in the order given (broadcasts too). */
  send(stanza: Element): void;
  /** Sends `stanza` (its `to` ignored) to each of `recipients`, real full JIDs. */
  broadcast(stanza: Element, recipients: readonly string[]): void;
  /** The configuration, affiliations or subject changed (a persistent room is saved). */
  changed(room: Room): void;
  /** The room is over: destroyed, or its last occupant left a temporary room. */
  ended(room: Room): void;
  /** A group-chat message or subject change the room is about to broadcast, for its archive (src/muc/room-archive.ts). */
  archive?(room: Room, message: Element): void;
  /** security labels (XEP-0258 section 5.2), when the server checks them */
  labels?: RoomLabelGate;
  limits: RoomLimits;
  now(): number;
}

/** Resources one occupant may have in the room under its nickname. */
const MAX_SESSIONS_PER_OCCUPANT = 32;

/** Error conditions after which a delivery to an occupant will not succeed (as Prosody's is_kickable_error). */
const KICKABLE_ERRORS = new Set(['gone', 'internal-server-error', 'item-not-found', 'jid-malformed', 'recipient-unavailable', 'redirect', 'remote-server-not-found', 'remote-server-timeout', 'service-unavailable', 'malformed error']);

export class Room {
  readonly jid: Jid;
  config: RoomConfig;
  /** section 10.1.1: a new room is locked until its owner configures it */
  locked = false;
  /** by bare JID, or by domain for everyone on it */
  readonly affiliations = new Map<string, AffiliationRecord>();
  /** by nickname */
  readonly occupants = new Map<string, Occupant>();
  readonly history: RoomHistory;
  /** the subject and who set it, with their occupant identifier (XEP-0421) when known */
  subject: { text: string; from: string; occupantId?: string } | undefined;
  /**
   * XEP-0421 section 5: the secret occupant identifiers are made with, kept with the room, so
   * that one person has the same identifier at every visit and nobody can work it out from a JID.
   */
  occupantIdSalt = randomBytes(16).toString('base64');
  /** set once the room is destroyed: stanzas still on their way find it gone */
  destroyed = false;
  readonly context: RoomContext;
  readonly #bySession = new Map<string, Occupant>();

  constructor(jid: Jid, config: RoomConfig, context: RoomContext) {
    this.jid = jid;
    this.config = config;
    this.context = context;
    this.history = new RoomHistory(config.historyLength);
  }

  get name(): string {
    return this.jid.local!;
  }

  /** XEP-0421 section 5: stable for one real bare JID in this room, and not to be reversed. */
  occupantIdOf(bare: Jid): string {
    return createHmac('sha256', this.occupantIdSalt).update(bare.bare().toString()).digest('base64');
  }

  occupantJid(nick: string): string {
    return `${this.jid}/${nick}`;
  }

  /** Section 5.2: a JID's affiliation, by its bare JID, else by its domain. */
  affiliationOf(jid: Jid): Affiliation {
    return (this.affiliations.get(jid.bare().toString()) ?? this.affiliations.get(jid.domain))?.affiliation ?? 'none';
  }

  occupantBySession(jid: Jid | string): Occupant | undefined {
    return this.#bySession.get(jid.toString());
  }

  /** Section 7.10: the bare JID a nickname is registered to, if any. */
  nickOwner(nick: string): string | undefined {
    for (const [jid, record] of this.affiliations) if (record.nick === nick) return jid;
    return undefined;
  }

  /** Section 4.2: whether `recipient` sees occupants' real JIDs. */
  seesJids(recipient: Occupant): boolean {
    return this.config.anonymity === 'non' || recipient.role === 'moderator';
  }

  /** A presence addressed to the room's occupant JID `nick` (or the bare room when undefined). */
  handlePresence(stanza: Element, from: Jid, nick: string | undefined, created = false): void {
    const type = stanza.attrs.type;
    const occupant = this.#bySession.get(from.toString());
    if (type === 'error') {
      if (occupant && isKickable(stanza)) this.removeOccupant(occupant, { statuses: [STATUS.technicalRemoval], reason: 'your server reported an error' });
      return;
    }
    if (type === 'unavailable') {
      if (occupant) this.leave(occupant, from, stanza);
      return;
    }
    if (type !== undefined) return;
    // Section 7.2.1: the occupant JID names the nickname; without it there is nothing to join.
    if (nick === undefined) throw new StanzaError('jid-malformed', 'address the room with your nickname: room@service/nick');
    if (!occupant) return this.#enter(stanza, from, nick, created);
    if (occupant.nick !== nick) this.#checkNickFree(nick, occupant.jid, occupant);
    occupant.presence = stanza;
    occupant.current = from.toString();
    if (occupant.nick !== nick) return this.#changeNick(occupant, nick);
    this.broadcastPresence(occupant);
  }

  /**
   * Sections 7.2.9, 7.6 and 7.10: a nickname held in the room by someone else (another person,
   * or when changing, another occupant), or registered to someone else, is a conflict.
   */
  #checkNickFree(nick: string, bare: Jid, changing?: Occupant): Occupant | undefined {
    const holder = this.occupants.get(nick);
    if (holder && (changing ? holder !== changing : !holder.jid.equals(bare))) throw new StanzaError('conflict', 'that nickname is in use in this room');
    const registered = this.nickOwner(nick);
    if (registered !== undefined && registered !== bare.toString()) throw new StanzaError('conflict', 'that nickname is registered to someone else');
    return holder;
  }

  /** Section 7.2: the checks in the order the section lists its errors, then the entry itself. */
  #enter(stanza: Element, from: Jid, nick: string, created: boolean): void {
    const affiliation = this.affiliationOf(from);
    const owner = affiliation === 'owner';
    // Section 10.1.1: nobody but the owner enters a room that is still locked.
    if (this.locked && !owner) throw new StanzaError('item-not-found', 'this room is being set up by its owner');
    if (affiliation === 'outcast') throw new StanzaError('forbidden', 'you are banned from this room');
    const uncleared = this.context.labels?.entry(this.jid, from);
    if (uncleared) throw uncleared;
    if (this.config.membersOnly && !affiliationAtLeast(affiliation, 'member')) throw new StanzaError('registration-required', 'this room is for members only');
    const holder = this.#checkNickFree(nick, from.bare());
    const password = stanza.getChild('x', NS_MUC)?.getChildText('password') ?? '';
    if (this.config.password !== '' && !owner && password !== this.config.password) throw new StanzaError('not-authorized', 'this room needs a password');
    if (!holder && this.occupants.size >= this.config.maxUsers && !affiliationAtLeast(affiliation, 'admin')) {
      throw new StanzaError('service-unavailable', 'this room is full', 'wait');
    }
    if (holder) {
      if (holder.sessions.size >= MAX_SESSIONS_PER_OCCUPANT) throw new StanzaError('resource-constraint', `at most ${MAX_SESSIONS_PER_OCCUPANT} resources share a nickname`, 'wait');
      return this.#addSession(holder, stanza, from);
    }
    const occupant: Occupant = { nick, jid: from.bare(), occupantId: this.occupantIdOf(from), sessions: new Set([from.toString()]), current: from.toString(), presence: stanza, role: defaultRole(affiliation, this.config.moderated) };
    // Section 7.2.3: the occupants already there, to the newcomer...
    for (const other of this.occupants.values()) this.#sendTo(from.toString(), this.#presenceOf(other, this.seesJids(occupant)));
    this.occupants.set(nick, occupant);
    this.#bySession.set(from.toString(), occupant);
    // ...the newcomer to everyone, itself last with status 110 (and 100 and 201 where they apply).
    const own = [STATUS.self, ...(this.config.anonymity === 'non' ? [STATUS.nonAnonymous] : []), ...(created ? [STATUS.created] : [])];
    this.broadcastPresence(occupant, { selfStatuses: own });
    this.#welcome(from.toString(), stanza);
  }

  /** A second resource of an occupant enters under the same nickname (as Prosody's multi-session). */
  #addSession(occupant: Occupant, stanza: Element, from: Jid): void {
    occupant.sessions.add(from.toString());
    occupant.current = from.toString();
    occupant.presence = stanza;
    this.#bySession.set(from.toString(), occupant);
    for (const other of this.occupants.values()) if (other !== occupant) this.#sendTo(from.toString(), this.#presenceOf(other, this.seesJids(occupant)));
    this.broadcastPresence(occupant, { selfStatuses: [STATUS.self] });
    this.#welcome(from.toString(), stanza);
  }

  /** Sections 7.2.15 and 7.2.16: history as asked, then the subject (always, empty when unset). */
  #welcome(to: string, stanza: Element): void {
    const request = readHistoryRequest(stanza.getChild('x', NS_MUC)?.getChild('history'));
    for (const message of this.history.select(request, this.context.now())) {
      // XEP-0258 section 5.2.2: history too only to whoever is cleared for it.
      if (this.context.labels?.cleared(this.jid, message, to) === false) continue;
      this.context.send(addressed(message, to));
    }
    const subject = el('message', NS_CLIENT, { type: 'groupchat', from: this.subject?.from ?? this.jid.toString(), to, id: `subject-${this.context.now()}` });
    subject.c('subject').t(this.subject?.text ?? '');
    if (this.subject?.occupantId !== undefined) subject.append(occupantIdElement(this.subject.occupantId));
    this.context.send(subject);
  }

  /** Section 7.6: unavailable with 303 and the new nickname, then available under it. */
  #changeNick(occupant: Occupant, nick: string): void {
    this.broadcastPresence(occupant, { type: 'unavailable', statuses: [STATUS.nickChanged], item: { nick } });
    this.occupants.delete(occupant.nick);
    occupant.nick = nick;
    this.occupants.set(nick, occupant);
    this.broadcastPresence(occupant);
  }

  /** Section 7.14: a resource leaves; the occupant leaves with its last resource. */
  leave(occupant: Occupant, session: Jid | string, presence?: Element): void {
    const key = session.toString();
    this.#bySession.delete(key);
    occupant.sessions.delete(key);
    const gone = occupantPresence(this.occupantJid(occupant.nick), presence, 'unavailable', mucUser(this.#item(occupant, key), [STATUS.self]), occupant.occupantId);
    if (occupant.sessions.size > 0) {
      this.#sendTo(key, gone);
      if (occupant.current === key) occupant.current = [...occupant.sessions][0]!;
      return;
    }
    this.broadcastPresence(occupant, { type: 'unavailable', source: presence, includeSelf: false });
    this.#sendTo(key, gone);
    this.#forget(occupant);
  }

  /**
   * Takes an occupant out with every resource (kick, ban, destruction, errors): each gets
   * unavailable presence with the codes; the others see the same, without 110.
   */
  removeOccupant(occupant: Occupant, options: { statuses: readonly string[]; item?: Partial<ItemDetails>; reason?: string; extra?: readonly Element[] }): void {
    const item = { ...options.item, ...(options.reason !== undefined ? { reason: options.reason } : {}) };
    this.broadcastPresence(occupant, { type: 'unavailable', statuses: options.statuses, item, extra: options.extra, selfStatuses: [STATUS.self, ...options.statuses] });
    for (const session of occupant.sessions) this.#bySession.delete(session);
    this.#forget(occupant);
  }

  #forget(occupant: Occupant): void {
    this.occupants.delete(occupant.nick);
    if (this.occupants.size === 0 && !this.config.persistent && !this.destroyed) this.context.ended(this);
  }

  #item(occupant: Occupant, jid: string | undefined, overrides: Partial<ItemDetails> = {}): ItemDetails {
    return { affiliation: this.affiliationOf(occupant.jid), role: occupant.role, ...(jid ? { jid } : {}), ...overrides };
  }

  /** The occupant's presence as a recipient that does or does not see real JIDs gets it. */
  #presenceOf(occupant: Occupant, withJid: boolean): Element {
    return occupantPresence(this.occupantJid(occupant.nick), occupant.presence, undefined, mucUser(this.#item(occupant, withJid ? occupant.current : undefined)), occupant.occupantId);
  }

  /**
   * An occupant's presence to every occupant: those who see real JIDs get them, the occupant
   * itself gets `selfStatuses` (default 110 and the others).
   */
  broadcastPresence(
    occupant: Occupant,
    options: { type?: 'unavailable'; statuses?: readonly string[]; selfStatuses?: readonly string[]; item?: Partial<ItemDetails>; extra?: readonly Element[]; source?: Element; includeSelf?: boolean } = {},
  ): void {
    const statuses = options.statuses ?? [];
    const source = options.source ?? (options.type === 'unavailable' ? undefined : occupant.presence);
    const build = (withJid: boolean, codes: readonly string[]) =>
      occupantPresence(this.occupantJid(occupant.nick), source, options.type, mucUser(this.#item(occupant, withJid ? occupant.current : undefined, options.item), codes, options.extra), occupant.occupantId);
    // Section 4.2: those who see real JIDs get one variant, the others another; each is sent once to all its recipients.
    const withJid: string[] = [];
    const withoutJid: string[] = [];
    for (const other of this.occupants.values()) {
      if (other === occupant) continue;
      const recipients = this.seesJids(other) ? withJid : withoutJid;
      for (const session of other.sessions) recipients.push(session);
    }
    if (withoutJid.length > 0) this.context.broadcast(build(false, statuses), withoutJid);
    if (withJid.length > 0) this.context.broadcast(build(true, statuses), withJid);
    if (options.includeSelf === false) return;
    this.context.broadcast(build(true, options.selfStatuses ?? [STATUS.self, ...statuses]), [...occupant.sessions]);
  }

  /** A stanza to every resource of every occupant; a message with a security label only to those cleared for it (XEP-0258 section 5.2.2). */
  broadcast(stanza: Element): void {
    const recipients: string[] = [];
    const labels = stanza.name === 'message' ? this.context.labels : undefined;
    for (const occupant of this.occupants.values()) {
      for (const session of occupant.sessions) if (labels === undefined || labels.cleared(this.jid, stanza, session)) recipients.push(session);
    }
    this.context.broadcast(stanza, recipients);
  }

  /** A stanza to every resource of one occupant. */
  sendToOccupant(occupant: Occupant, stanza: Element): void {
    this.context.broadcast(stanza, [...occupant.sessions]);
  }

  #sendTo(to: string, stanza: Element): void {
    this.context.send(addressed(stanza, to));
  }

  /** Recomputes an occupant's role after its affiliation or the room's moderation changed; broadcasts a change. */
  refreshRole(occupant: Occupant): void {
    const role = defaultRole(this.affiliationOf(occupant.jid), this.config.moderated);
    if (role === occupant.role) return;
    occupant.role = role;
    this.broadcastPresence(occupant);
  }

  /** An error from an occupant's resource whose condition says deliveries to it fail. */
  dropOnError(stanza: Element, from: Jid): boolean {
    const occupant = this.#bySession.get(from.toString());
    if (!occupant || !isKickable(stanza)) return false;
    this.removeOccupant(occupant, { statuses: [STATUS.technicalRemoval], reason: 'your server reported an error' });
    return true;
  }
}

/** The error condition of an error stanza. */
function isKickable(stanza: Element): boolean {
  const error = stanza.getChild('error');
  const condition = error?.elements()[0]?.name ?? 'malformed error';
  return KICKABLE_ERRORS.has(condition);
}
