/**
 * A room's message archive (XEP-0313 sections 3.3.2 and 7.1.2): the group-chat messages with a
 * body and the subject changes the room broadcasts, each once, with the room's `<stanza-id/>`
 * (XEP-0359) on what every occupant receives, queried at the room's bare JID by those allowed
 * to enter it. Archived messages keep the sender's occupant JID and no `to`; real JIDs are
 * never added to the results.
 */
import type { MamSettings } from '../config/types.ts';
import type { Jid } from '../jid/jid.ts';
import { isRoomArchivable } from '../modules/mam/archivable.ts';
import { parseArchiveQuery } from '../modules/mam/query.ts';
import { finElement, metadataElement } from '../modules/mam/results.ts';
import { Retention } from '../modules/mam/retention.ts';
import { runArchiveQuery } from '../modules/mam/run-query.ts';
import { sendResults } from '../modules/mam/send-results.ts';
import { addStanzaId, newArchiveId, removeStanzaIdsBy } from '../modules/mam/stanza-id.ts';
import { nextArrival } from '../router/arrival.ts';
import type { Storage } from '../storage/types.ts';
import type { Logger } from '../util/log.ts';
import type { Element } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { serialize } from '../xml/serialize.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { affiliationAtLeast } from './roles.ts';
import type { Room } from './room.ts';
import { NS_MUC_USER } from './xmlns.ts';

export class RoomArchives {
  readonly retention: Retention;
  readonly #domain: string;
  readonly #storage: Storage;
  readonly #settings: () => MamSettings;
  readonly #logger: Logger;
  /** appends in the order the room broadcast them, one after another */
  #writing: Promise<void> = Promise.resolve();

  constructor(domain: string, storage: Storage, settings: () => MamSettings, logger: Logger) {
    this.#domain = domain;
    this.#storage = storage;
    this.#settings = settings;
    this.#logger = logger;
    this.retention = new Retention(domain, storage.archive, settings, logger);
  }

  get enabled(): boolean {
    return this.#settings().rooms;
  }

  /**
   * A message the room is about to broadcast: an ID claiming to be the room's is removed
   * (XEP-0359 section 3); an archivable one gets the room's ID and is written behind the others.
   */
  archive(room: Room, message: Element): void {
    const by = room.jid.toString();
    removeStanzaIdsBy(message, by);
    if (!this.enabled || !isRoomArchivable(message)) return;
    // Section 7.1.2: what the room stores carries no muc#user extension of the sender's.
    const stored = message.clone();
    stored.children = stored.children.filter((child) => typeof child === 'string' || child.xmlns !== NS_MUC_USER);
    const position = nextArrival();
    const id = newArchiveId(position);
    const record = { id, position, withBare: by, withResource: nickOf(message), stanza: serialize(stored) };
    addStanzaId(message, by, id);
    // Not chained behind the previous write: the SQLite driver commits appends in the order made,
    // together (src/storage/sqlite-group-commit.ts); a query waits for the last one.
    const previous = this.#writing;
    const written = this.#storage.archive.append({ domain: this.#domain, name: room.name }, record).then(
      () => this.retention.noteWritten(room.name),
      (error: unknown) => this.#logger.error('a room message could not be archived', { room: by, error: error instanceof Error ? error.message : String(error) }),
    );
    this.#writing = Promise.all([previous, written]).then(() => undefined);
  }

  /** Section 7.1.2: whoever may enter the room now may read its archive: not an outcast, and a member of a members-only room. */
  checkAccess(room: Room, from: Jid): void {
    if (!this.enabled) throw new StanzaError('service-unavailable', 'this service keeps no room archives');
    const affiliation = room.affiliationOf(from);
    if (affiliation === 'outcast') throw new StanzaError('forbidden', 'you are banned from this room');
    if (room.config.membersOnly && !affiliationAtLeast(affiliation, 'member')) throw new StanzaError('forbidden', 'the archive of a members-only room is for its members');
  }

  async query(room: Room, from: Jid, payload: Element, send: (stanza: Element) => void): Promise<Element> {
    this.checkAccess(room, from);
    await this.#writing;
    const request = parseArchiveQuery(payload, this.#settings());
    const outcome = await runArchiveQuery(this.#storage.archive, { domain: this.#domain, name: room.name }, request);
    const sent = sendResults(outcome, request, { archive: room.jid.toString(), to: from.toString(), send, logger: this.#logger });
    return finElement(outcome, sent);
  }

  async metadata(room: Room, from: Jid): Promise<Element> {
    this.checkAccess(room, from);
    await this.#writing;
    return metadataElement(await this.#storage.archive.bounds({ domain: this.#domain, name: room.name }));
  }

  /**
   * Replaces an archived message, found by the ID the room gave it, with what `transform` makes
   * of it (a moderated message's tombstone, XEP-0425 section 4); false when there is no such message.
   */
  async replaceStanza(room: Room, id: string, transform: (stored: Element) => Element): Promise<boolean> {
    await this.#writing;
    const owner = { domain: this.#domain, name: room.name };
    const [found] = (await this.#storage.archive.query(owner, { ids: [id] }, { max: 1, backward: false })).messages;
    if (found === undefined) return false;
    return this.#storage.archive.replace(owner, id, serialize(transform(parseElement(found.stanza))));
  }

  /** The room is over (destroyed, or a temporary room emptied): its archive goes with it. */
  ended(room: Room): void {
    this.#writing = this.#writing.then(async () => {
      try {
        await this.#storage.archive.clear({ domain: this.#domain, name: room.name });
      } catch (error) {
        this.#logger.error('a room archive could not be removed', { room: room.jid.toString(), error: error instanceof Error ? error.message : String(error) });
      }
    });
  }
}

/** The sender's nickname: the resource of the occupant JID the room sends from. */
function nickOf(message: Element): string | undefined {
  const from = message.attrs.from ?? '';
  const slash = from.indexOf('/');
  return slash === -1 ? undefined : from.slice(slash + 1);
}
