/**
 * The avatar hash of accounts whose clients send presence (XEP-0398 section 4), so that a
 * presence costs no storage read once its account's hash is known. Bounded: the least recently
 * used account is forgotten first and read again when it next sends presence.
 */
import type { Jid } from '../../jid/jid.ts';

/** A hash, or null for an account without an avatar. */
export type AvatarHash = string | null;

export class AvatarHashes {
  readonly #max: number;
  readonly #read: (account: Jid) => Promise<AvatarHash>;
  /** Map order is use order: the first key is the least recently used. */
  readonly #known = new Map<string, AvatarHash>();

  constructor(max: number, read: (account: Jid) => Promise<AvatarHash>) {
    this.#max = max;
    this.#read = read;
  }

  async get(account: Jid): Promise<AvatarHash> {
    const key = account.toString();
    const known = this.#known.get(key);
    if (known !== undefined) {
      this.#known.delete(key);
      this.#known.set(key, known);
      return known;
    }
    const read = await this.#read(account);
    // A change made while storage was read has set the newer hash: it wins.
    const newer = this.#known.get(key);
    if (newer !== undefined) return newer;
    this.set(account, read);
    return read;
  }

  set(account: Jid, hash: AvatarHash): void {
    const key = account.toString();
    this.#known.delete(key);
    this.#known.set(key, hash);
    if (this.#known.size > this.#max) this.#known.delete(this.#known.keys().next().value!);
  }

  get size(): number {
    return this.#known.size;
  }
}
