/**
 * A user's block list (XEP-0191): the blocked addresses, how one matches a sender, and the form
 * it is stored in (a JSON array of JIDs in the user's data under BLOCKLIST_KEY).
 */
import { tryParseJid, type Jid } from '../../jid/jid.ts';

export const BLOCKLIST_KEY = 'blocklist';

export class Blocklist {
  static readonly EMPTY = new Blocklist([]);
  /** blocked addresses, prepared, in the order they were added */
  readonly #entries: Set<string>;

  constructor(entries: Iterable<string>) {
    this.#entries = new Set(entries);
  }

  get entries(): string[] {
    return [...this.#entries];
  }

  get size(): number {
    return this.#entries.size;
  }

  has(entry: Jid): boolean {
    return this.#entries.has(entry.toString());
  }

  /**
   * XEP-0191 "JID Matching" (the order of XEP-0016): the sender's address is
   * tried as user@domain/resource (only that resource), user@domain (any resource),
   * domain/resource and domain; a domain entry also covers its subdomains.
   */
  matches(address: Jid): boolean {
    if (this.#entries.size === 0) return false;
    const { local, domain, resource } = address;
    if (resource !== undefined && this.#entries.has(address.toString())) return true;
    if (local !== undefined && this.#entries.has(`${local}@${domain}`)) return true;
    if (resource !== undefined && this.#entries.has(`${domain}/${resource}`)) return true;
    for (let suffix: string | undefined = domain; suffix !== undefined; suffix = parentDomain(suffix)) {
      if (this.#entries.has(suffix)) return true;
    }
    return false;
  }

  with(added: readonly Jid[]): Blocklist {
    return new Blocklist([...this.#entries, ...added.map(String)]);
  }

  without(removed: readonly Jid[]): Blocklist {
    const gone = new Set(removed.map(String));
    return new Blocklist(this.entries.filter((entry) => !gone.has(entry)));
  }

  serialize(): string {
    return JSON.stringify(this.entries);
  }

  /** Reads the stored form; entries that are no longer valid addresses are skipped. */
  static parse(stored: string | undefined): Blocklist {
    if (stored === undefined) return Blocklist.EMPTY;
    const value: unknown = JSON.parse(stored);
    if (!Array.isArray(value)) throw new Error('a stored block list must be a JSON array');
    const entries = value.filter((entry): entry is string => typeof entry === 'string').map((entry) => tryParseJid(entry)?.toString());
    return new Blocklist(entries.filter((entry): entry is string => entry !== undefined));
  }
}

function parentDomain(domain: string): string | undefined {
  const dot = domain.indexOf('.');
  return dot >= 0 && dot < domain.length - 1 ? domain.slice(dot + 1) : undefined;
}
