/**
 * The one place roster items change (RFC 6121 section 2): every feature that edits a roster
 * (roster sets, presence subscriptions, blocking, ...) goes through `RosterService`, so the
 * item limit, roster versions and roster pushes follow the same rules everywhere.
 *
 * Changes to one (user, contact) pair are serialized: a roster set and a subscription stanza
 * for the same contact never interleave their read-modify-write. Callers route stanzas only
 * after `update` returns, never inside it, so two users' updates cannot wait on each other.
 */
import { randomBytes } from 'node:crypto';
import type { Jid } from '../../jid/jid.ts';
import type { Router } from '../../router/router.ts';
import type { Roster, RosterItem, Storage } from '../../storage/types.ts';
import { el, NS_CLIENT, type Element } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import { PendingRequests } from './pending-requests.ts';
import { itemElement, queryElement, removedItemElement } from './roster-xml.ts';

/** An item before and after one update; both undefined when nothing existed nor was created. */
export interface ItemChange {
  before: RosterItem | undefined;
  after: RosterItem | undefined;
}

/** Computes the next item from the current one; undefined removes it (or creates nothing). */
export type ItemUpdate = (current: RosterItem | undefined) => RosterItem | undefined | Promise<RosterItem | undefined>;

const queues = new Map<string, Promise<unknown>>();

/** Runs `task` after every earlier task with the same key has finished. */
async function exclusive<T>(key: string, task: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const run = previous.then(task);
  const tail = run.catch(() => undefined);
  queues.set(key, tail);
  try {
    return await run;
  } finally {
    if (queues.get(key) === tail) queues.delete(key);
  }
}

export function newRosterItem(contact: Jid): RosterItem {
  return { jid: contact.bare().toString(), subscription: 'none', askOut: false, askIn: false, approved: false, groups: [] };
}

export class RosterService {
  readonly pending: PendingRequests;
  #storage: Storage;
  #router: Router;

  constructor(storage: Storage, router: Router) {
    this.#storage = storage;
    this.#router = router;
    this.pending = new PendingRequests(storage.userData);
  }

  roster(user: Jid): Promise<Roster> {
    return this.#storage.rosters.get(user.domain, user.local!);
  }

  /** The bare JIDs of the contacts subscribed to the user's presence (RFC 6121 section 4.4.2). */
  presenceSubscribers(user: Jid): Promise<string[]> {
    return this.#storage.rosters.presenceSubscribers(user.domain, user.local!);
  }

  item(user: Jid, contact: Jid): Promise<RosterItem | undefined> {
    return this.#storage.rosters.getItem(user.domain, user.local!, contact.bare().toString());
  }

  /**
   * Changes one item under the pair's lock: stores the result, then pushes it to the user's
   * interested resources (RFC 6121 section 2.1.6). A new item beyond the host's
   * `roster.max_items` is refused with not-allowed.
   */
  update(user: Jid, contact: Jid, change: ItemUpdate): Promise<ItemChange> {
    const bareUser = user.bare();
    const contactJid = contact.bare().toString();
    return exclusive(`${bareUser} ${contactJid}`, async () => {
      const before = await this.item(bareUser, contact);
      const after = await change(before === undefined ? undefined : { ...before, groups: [...before.groups] });
      if (after === undefined) {
        if (before === undefined) return { before, after };
        const version = await this.#storage.rosters.removeItem(bareUser.domain, bareUser.local!, contactJid);
        if (version !== undefined) this.#push(bareUser, removedItemElement(contactJid), version);
        return { before, after };
      }
      if (before !== undefined && sameItem(before, after)) return { before, after: before };
      if (before === undefined) await this.#checkLimit(bareUser);
      const version = await this.#storage.rosters.setItem(bareUser.domain, bareUser.local!, { ...after, jid: contactJid });
      this.#push(bareUser, itemElement(after), version);
      return { before, after };
    });
  }

  /**
   * Removes a contact (RFC 6121 section 2.5.2): the item and any pending request go, and the
   * contact learns that the subscriptions in both directions are cancelled. Throws
   * item-not-found when the roster has no such item (section 2.5.3).
   */
  async removeContact(user: Jid, contact: Jid): Promise<RosterItem> {
    const { before } = await this.update(user, contact, async (current) => {
      if (current === undefined) throw new StanzaError('item-not-found', `${contact.bare()} is not in the roster`);
      await this.pending.remove(user, contact);
      return undefined;
    });
    const removed = before!;
    const from = user.bare().toString();
    const to = contact.bare().toString();
    if (removed.subscription === 'to' || removed.subscription === 'both' || removed.askOut) {
      await this.#router.route(el('presence', NS_CLIENT, { from, to, type: 'unsubscribe' }), { kind: 'local' });
    }
    if (removed.subscription === 'from' || removed.subscription === 'both') {
      // RFC 6121 section 3.2.2: a contact losing its subscription sees the user go offline.
      for (const session of this.#router.sessions.availableResourcesOf(user)) {
        await this.#router.route(el('presence', NS_CLIENT, { from: session.jid.toString(), to, type: 'unavailable' }), { kind: 'local' });
      }
    }
    if (removed.subscription === 'from' || removed.subscription === 'both' || removed.askIn) {
      await this.#router.route(el('presence', NS_CLIENT, { from, to, type: 'unsubscribed' }), { kind: 'local' });
    }
    return removed;
  }

  async #checkLimit(user: Jid): Promise<void> {
    const limit = this.#router.hosts.get(user.domain)?.config.roster.max_items;
    if (limit === undefined) return;
    const { items } = await this.roster(user);
    if (items.length >= limit) throw new StanzaError('not-allowed', `the roster is limited to ${limit} items`);
  }

  /** RFC 6121 section 2.1.6: a roster push to every resource that asked for the roster. */
  #push(user: Jid, item: Element, version: number): void {
    for (const session of this.#router.sessions.resourcesOf(user)) {
      if (!session.im.rosterRequested) continue;
      const push = el('iq', NS_CLIENT, { type: 'set', id: `push-${randomBytes(6).toString('base64url')}`, to: session.jid.toString() }, queryElement(version, [item]));
      session.send(push);
    }
  }
}

function sameItem(a: RosterItem, b: RosterItem): boolean {
  return (
    a.name === b.name &&
    a.subscription === b.subscription &&
    a.askOut === b.askOut &&
    a.askIn === b.askIn &&
    a.approved === b.approved &&
    a.groups.length === b.groups.length &&
    a.groups.every((group, index) => group === b.groups[index])
  );
}
