/**
 * A host's user archives being written (XEP-0313 section 3.1): each chat or normal message a
 * user sends or receives is archived once, by the user's preferences, with the archive's ID
 * added as `<stanza-id/>` (section 3.5) where the user sees the message: on the message the
 * user receives, and on the carbon copies of one the user sends (XEP-0280), never on the copy
 * that goes to the other party.
 */
import type { Jid } from '../../jid/jid.ts';
import { nextArrival } from '../../router/arrival.ts';
import type { OutboundStanzaEvent, StanzaEvent } from '../../router/host.ts';
import type { Element } from '../../xml/element.ts';
import { serialize } from '../../xml/serialize.ts';
import type { ModuleContext } from '../context.ts';
import { isArchivable } from './archivable.ts';
import { archivesWith, decodePrefs } from './prefs.ts';
import { Retention } from './retention.ts';
import { addStanzaId, newArchiveId, removeStanzaIdsBy } from './stanza-id.ts';
import type { StoredPrefs } from './stored-prefs.ts';

/**
 * Archive writes a host lets run behind delivery at most; beyond, a message waits for its write
 * (storage slower than the messages coming in slows them instead of queueing without bound).
 */
const MAX_WRITES_BEHIND = 10_000;

export class UserArchives {
  readonly retention: Retention;
  /** writes not yet done, by username: a query of that archive waits for them */
  readonly #behind = new Map<string, Set<Promise<void>>>();
  #behindCount = 0;
  readonly #context: ModuleContext;
  /** each account's archive preferences as stored */
  readonly #stored: StoredPrefs;
  /** the archives (bare JIDs) each stanza went to, so a message routed again (a session handing back what it held) is not archived twice */
  readonly #archivedIn = new WeakMap<Element, string[]>();
  /** the `<stanza-id/>` a sent message carries while its carbon copies are made */
  readonly #forCarbons = new WeakMap<Element, Element>();

  constructor(context: ModuleContext, stored: StoredPrefs) {
    this.#context = context;
    this.#stored = stored;
    const { host, storage, logger } = context;
    this.retention = new Retention(host.domain, storage.archive, () => host.config.mam, logger);
  }

  /** Without waiting: false when the message needs no archiving (an ID claiming to be ours removed), undefined when it does. */
  decideIncoming({ stanza, to }: StanzaEvent): false | undefined {
    // Group chat is the room's to archive; its copies for each occupant are frozen (src/xml/stanza-copies.ts).
    if (to.local === undefined || stanza.attrs.type === 'groupchat' || Object.isFrozen(stanza) || this.#wasArchivedIn(stanza, to)) return false;
    removeStanzaIdsBy(stanza, to.bare().toString());
    return isArchivable(stanza) ? undefined : false;
  }

  /** A message for one of the host's users: archived in the addressee's archive, then delivered. */
  async incoming(event: StanzaEvent): Promise<false> {
    if (this.decideIncoming(event) === false) return false;
    const { stanza, from, to } = event;
    if (!(await this.#accountExists(to))) return false;
    const id = await this.#archive(to, from, stanza);
    if (id !== undefined) addStanzaId(stanza, to.bare().toString(), id);
    return false;
  }

  /** A message a user sends: archived in the sender's archive; its ID rides on the carbon copies only. */
  async outgoing({ stanza, from, to }: OutboundStanzaEvent): Promise<false> {
    if (!isArchivable(stanza) || this.#wasArchivedIn(stanza, from)) return false;
    // A message to the account itself is archived once, as the message it receives.
    if (to.local === undefined || to.bare().equals(from.bare())) return false;
    const id = await this.#archive(from, to, stanza);
    if (id !== undefined) this.#forCarbons.set(stanza, addStanzaId(stanza, from.bare().toString(), id));
    return false;
  }

  /** After the carbon copies are made: XEP-0313 section 3.5 keeps the sender's ID from the recipient. */
  afterCarbons({ stanza }: OutboundStanzaEvent): false {
    const element = this.#forCarbons.get(stanza);
    if (element !== undefined) {
      stanza.remove(element);
      this.#forCarbons.delete(stanza);
    }
    return false;
  }

  /** Archives `stanza` in `owner`'s archive with `peer` if the owner's preferences say so; the archive's UID, or undefined. */
  async #archive(owner: Jid, peer: Jid, stanza: Element): Promise<string | undefined> {
    const { host, storage, logger } = this.#context;
    const username = owner.local!;
    const peerBare = peer.bare().toString();
    const prefs = decodePrefs(await this.#stored.get(username), host.config.mam.default);
    const archives = await archivesWith(prefs, peerBare, async () => (await storage.rosters.getItem(host.domain, username, peerBare)) !== undefined);
    if (!archives) return undefined;
    const position = nextArrival();
    const id = newArchiveId(position);
    this.#archivedIn.set(stanza, [...(this.#archivedIn.get(stanza) ?? []), owner.bare().toString()]);
    // On SQLite delivery does not wait for the write (archived messages are committed together,
    // src/storage/sqlite-group-commit.ts); a query of the archive does (whenWritten).
    const write = storage.archive.append({ domain: host.domain, name: username }, { id, position, withBare: peerBare, withResource: peer.resource, stanza: serialize(stanza) }).then(
      () => this.retention.noteWritten(username),
      (error: unknown) => {
        // The message still goes on: an archive that cannot be written does not stop delivery.
        logger.error('a message could not be archived', { archive: owner.bare().toString(), error: error instanceof Error ? error.message : String(error) });
      },
    );
    // A database other servers share (PostgreSQL: the nodes of a cluster): a query made on another
    // node must find what was delivered, and only this node knows what it has yet to write.
    if (storage.driver === 'postgres') {
      await write;
      return id;
    }
    this.#trackBehind(username, write);
    if (this.#behindCount > MAX_WRITES_BEHIND) await write;
    return id;
  }

  /** Resolves once every message archived so far in `username`'s archive is written. */
  async whenWritten(username: string): Promise<void> {
    const behind = this.#behind.get(username);
    if (behind !== undefined) await Promise.all(behind);
  }

  #trackBehind(username: string, write: Promise<void>): void {
    let behind = this.#behind.get(username);
    if (behind === undefined) this.#behind.set(username, (behind = new Set()));
    behind.add(write);
    this.#behindCount++;
    void write.then(() => {
      this.#behindCount--;
      behind.delete(write);
      if (behind.size === 0 && this.#behind.get(username) === behind) this.#behind.delete(username);
    });
  }

  #wasArchivedIn(stanza: Element, owner: Jid): boolean {
    return this.#archivedIn.get(stanza)?.includes(owner.bare().toString()) ?? false;
  }

  async #accountExists(jid: Jid): Promise<boolean> {
    const { router, storage, host } = this.#context;
    if (router.sessions.resourcesOf(jid.bare()).length > 0) return true;
    return (await storage.accounts.get(host.domain, jid.local!)) !== undefined;
  }
}
