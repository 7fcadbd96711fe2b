/**
 * Block lists of one host's users, read from storage and kept in memory while the user has a
 * connected resource (every stanza to or from them is checked against it). Changes go through
 * `update`, one at a time per user, and replace the cached list; in a cluster the other nodes
 * are told (`changed`) before `update` resolves, and drop their copy (`forget`).
 */
import type { Jid } from '../../jid/jid.ts';
import type { SessionRegistry } from '../../router/sessions.ts';
import type { Storage } from '../../storage/types.ts';
import { BLOCKLIST_KEY, Blocklist } from './blocklist.ts';

export class BlocklistStore {
  readonly #domain: string;
  readonly #storage: Storage;
  readonly #sessions: SessionRegistry;
  /** tells the other nodes of a cluster that a user's list changed; resolves once they hold the notice */
  readonly #changed: (user: Jid) => Promise<void>;
  /**
   * Online users' lists, by bare JID: the load under way, replaced by the list once it loaded
   * (one entry per online user, and the list itself for answers that cannot wait: `peek`).
   */
  readonly #lists = new Map<string, Blocklist | Promise<Blocklist>>();
  /** the last pending change per user, so changes apply in order */
  readonly #updates = new Map<string, Promise<unknown>>();

  constructor(domain: string, storage: Storage, sessions: SessionRegistry, changed: (user: Jid) => Promise<void> = async () => {}) {
    this.#domain = domain;
    this.#storage = storage;
    this.#sessions = sessions;
    this.#changed = changed;
  }

  /** The block list of a user of this host (bare JID): the list itself when it is in memory. */
  get(user: Jid): Blocklist | Promise<Blocklist> {
    const key = user.bare().toString();
    const cached = this.#lists.get(key);
    if (cached) return cached;
    const loading = this.#load(user);
    if (this.#online(user)) {
      this.#lists.set(key, loading);
      loading.then(
        (list) => {
          if (this.#lists.get(key) === loading) this.#lists.set(key, list);
        },
        () => {
          if (this.#lists.get(key) === loading) this.#lists.delete(key);
        },
      );
    }
    return loading;
  }

  /** The block list of an online user when it is already in memory, else undefined. */
  peek(user: Jid): Blocklist | undefined {
    const cached = this.#lists.get(user.bare().toString());
    return cached instanceof Blocklist ? cached : undefined;
  }

  /** Applies a change, stores it and returns the list before and after it. */
  update(user: Jid, change: (current: Blocklist) => Blocklist): Promise<{ before: Blocklist; after: Blocklist }> {
    const key = user.bare().toString();
    const previous = this.#updates.get(key) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(async () => {
      const before = await this.#load(user);
      const after = change(before);
      await this.#storage.userData.set(this.#domain, user.local!, BLOCKLIST_KEY, after.serialize());
      this.#lists.delete(key);
      if (this.#online(user)) this.#lists.set(key, after);
      await this.#changed(user.bare());
      return { before, after };
    });
    this.#updates.set(key, next);
    void next.finally(() => {
      if (this.#updates.get(key) === next) this.#updates.delete(key);
    }).catch(() => {});
    return next;
  }

  /** Drops a user's cached list: another node of the cluster changed it; the next check reads storage. */
  forget(user: Jid): void {
    this.#lists.delete(user.bare().toString());
  }

  /** Drops a user's cached list once their last resource is gone. */
  forgetIfOffline(user: Jid): void {
    if (!this.#online(user)) this.forget(user);
  }

  async #load(user: Jid): Promise<Blocklist> {
    if (user.local === undefined) return Blocklist.EMPTY;
    return Blocklist.parse(await this.#storage.userData.get(this.#domain, user.local, BLOCKLIST_KEY));
  }

  #online(user: Jid): boolean {
    return this.#sessions.resourcesOf(user).length > 0;
  }
}
