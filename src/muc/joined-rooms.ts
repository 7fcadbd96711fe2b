/**
 * The rooms run elsewhere that this server's client sessions are in, learnt from the presence
 * those rooms send them about themselves (XEP-0045 section 7.2.3: status code 110 marks it), so
 * that when the server running a room is gone its occupants here can be told (section 15.6.2,
 * status code 332: removed because the service shut down) and join again (docs/cluster.md,
 * "Group chat"). Bounded: past `max` memberships, new ones are not remembered.
 */
import { tryParseJid } from '../jid/jid.ts';
import { el, NS_CLIENT, type Element } from '../xml/element.ts';
import { mucUser, occupantPresence } from './occupant-presence.ts';
import type { Affiliation } from './roles.ts';
import { NS_MUC_USER, STATUS } from './xmlns.ts';

/** One session in one room, and who ran the room when it last said so. */
export interface Membership<Runner> {
  /** the occupant JID, room@service/nick */
  occupantJid: string;
  affiliation: Affiliation;
  runner: Runner;
}

export class JoinedRooms<Runner> {
  /** full JID of the session → bare room JID → membership */
  readonly #bySession = new Map<string, Map<string, Membership<Runner>>>();
  #count = 0;
  readonly #max: number;
  /** memberships not remembered because the limit was reached */
  skipped = 0;

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#count;
  }

  /**
   * A presence from a room (`isService` says which domains are group-chat services) reaching the session
   * `session`, sent by the room's server `runner`: a self-presence enters or updates the
   * membership, an unavailable one ends it (unless it announces a new nickname, status 303,
   * which the next self-presence carries).
   */
  saw(session: string, stanza: Element, runner: Runner, isService: (domain: string) => boolean): void {
    if (stanza.name !== 'presence') return;
    const from = tryParseJid(stanza.attrs.from ?? '');
    if (from?.local === undefined || from.resource === undefined || !isService(from.domain)) return;
    const x = stanza.getChild('x', NS_MUC_USER);
    const codes = x?.getChildren('status').map((status) => status.attrs.code) ?? [];
    if (!codes.includes(STATUS.self)) return;
    const room = from.bare().toString();
    if (stanza.attrs.type === 'unavailable') {
      if (!codes.includes(STATUS.nickChanged)) this.#remove(session, room);
      return;
    }
    if (stanza.attrs.type !== undefined) return;
    let rooms = this.#bySession.get(session);
    if (rooms?.has(room) !== true) {
      if (this.#count >= this.#max) {
        this.skipped++;
        return;
      }
      this.#count++;
    }
    if (rooms === undefined) this.#bySession.set(session, (rooms = new Map()));
    const affiliation = (x!.getChild('item')?.attrs.affiliation ?? 'none') as Affiliation;
    rooms.set(room, { occupantJid: from.toString(), affiliation, runner });
  }

  #remove(session: string, room: string): void {
    const rooms = this.#bySession.get(session);
    if (rooms?.delete(room) !== true) return;
    this.#count--;
    if (rooms.size === 0) this.#bySession.delete(session);
  }

  /** The session ended: it is in no room any more. */
  sessionGone(session: string): void {
    const rooms = this.#bySession.get(session);
    if (rooms === undefined) return;
    this.#count -= rooms.size;
    this.#bySession.delete(session);
  }

  /** Removes and returns, as [session, membership], every membership of rooms `gone` says their runner no longer runs. */
  takeWhere(gone: (runner: Runner) => boolean): [string, Membership<Runner>][] {
    const taken: [string, Membership<Runner>][] = [];
    for (const [session, rooms] of this.#bySession) {
      for (const [room, membership] of rooms) {
        if (!gone(membership.runner)) continue;
        taken.push([session, membership]);
        this.#remove(session, room);
      }
    }
    return taken;
  }

  clear(): void {
    this.#bySession.clear();
    this.#count = 0;
  }
}

/**
 * XEP-0045 section 15.6.2, status code 332: the occupant `membership` was removed from the room
 * because the service running it shut down; with 110, as it is about the recipient itself.
 */
export function shutdownPresence(session: string, membership: Pick<Membership<unknown>, 'occupantJid' | 'affiliation'>, text: string, occupantId?: string): Element {
  const x = mucUser({ affiliation: membership.affiliation, role: 'none' }, [STATUS.self, STATUS.shutdown]);
  const presence = occupantPresence(membership.occupantJid, el('presence', NS_CLIENT, {}, el('status', NS_CLIENT, {}, text)), 'unavailable', x, occupantId);
  presence.attrs.to = session;
  return presence;
}
