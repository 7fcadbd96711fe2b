/**
 * Each account's archive preferences (XEP-0441) as stored, kept in memory for the next message:
 * every message archived needs its owner's, and reading them from storage for each cost a
 * query per message (a PostgreSQL round trip in a cluster). Bounded, least recently used first
 * out; a change made here is dropped from the copy here and, in a cluster, on every other node
 * (router/node-notices.ts) before the change is answered.
 */
import type { NodeNotices } from '../../router/node-notices.ts';
import type { Storage } from '../../storage/types.ts';
import { PREFS_KEY } from './prefs.ts';

/** Accounts whose preferences are kept at most. */
export const MAX_KEPT_PREFS = 10_000;

export class StoredPrefs {
  readonly #domain: string;
  readonly #storage: Storage;
  readonly #notices: NodeNotices;
  readonly #topic: string;
  /** username → the stored text (undefined: none stored, the host's default applies) */
  readonly #kept = new Map<string, string | undefined>();
  /** bumped by every change: a read that began before one is not kept */
  #changes = 0;

  constructor(domain: string, storage: Storage, notices: NodeNotices) {
    this.#domain = domain;
    this.#storage = storage;
    this.#notices = notices;
    this.#topic = `mam-prefs:${domain}`;
    notices.on(this.#topic, (username) => this.#forget(username));
  }

  async get(username: string): Promise<string | undefined> {
    if (this.#kept.has(username)) {
      const value = this.#kept.get(username);
      // Most recently used last: the first key is the one to go.
      this.#kept.delete(username);
      this.#kept.set(username, value);
      return value;
    }
    const changes = this.#changes;
    const value = await this.#storage.userData.get(this.#domain, username, PREFS_KEY);
    if (changes === this.#changes) {
      this.#kept.set(username, value);
      if (this.#kept.size > MAX_KEPT_PREFS) this.#kept.delete(this.#kept.keys().next().value!);
    }
    return value;
  }

  /** Stores new preferences; the other nodes drop their copy before this resolves. */
  async set(username: string, value: string): Promise<void> {
    await this.#storage.userData.set(this.#domain, username, PREFS_KEY, value);
    this.#forget(username);
    await this.#notices.publish(this.#topic, username);
  }

  #forget(username: string): void {
    this.#changes++;
    this.#kept.delete(username);
  }
}
