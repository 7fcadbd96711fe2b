/**
 * The table of bound client resources (RFC 6120 section 7): full JID → session, and bare JID
 * → its resources. The router reads it; c2s writes it on bind and close.
 */
import type { Jid } from '../jid/jid.ts';
import type { Element } from '../xml/element.ts';

/** What the router needs from a connected, bound client. */
export interface BoundSession {
  readonly jid: Jid;
  /** "address:port" of the client, for logs */
  readonly peer: string;
  send(stanza: Element): void;
  /** Ends the session with a stream error (for example `conflict` when another login takes the resource). */
  terminate(condition: 'conflict' | 'system-shutdown' | 'policy-violation', text?: string): void;
}

export class SessionRegistry {
  #byFullJid = new Map<string, BoundSession>();
  #byBareJid = new Map<string, Map<string, BoundSession>>();

  /** Adds a session; returns the session it replaced on the same full JID, if any. */
  add(session: BoundSession): BoundSession | undefined {
    const full = session.jid.toString();
    const previous = this.#byFullJid.get(full);
    this.#byFullJid.set(full, session);
    const bare = session.jid.bare().toString();
    let resources = this.#byBareJid.get(bare);
    if (!resources) this.#byBareJid.set(bare, (resources = new Map()));
    resources.set(session.jid.resource ?? '', session);
    return previous;
  }

  /** Removes a session if it is still the one registered under its JID. */
  remove(session: BoundSession): boolean {
    const full = session.jid.toString();
    if (this.#byFullJid.get(full) !== session) return false;
    this.#byFullJid.delete(full);
    const bare = session.jid.bare().toString();
    const resources = this.#byBareJid.get(bare);
    resources?.delete(session.jid.resource ?? '');
    if (resources?.size === 0) this.#byBareJid.delete(bare);
    return true;
  }

  get(fullJid: Jid): BoundSession | undefined {
    return this.#byFullJid.get(fullJid.toString());
  }

  /** The sessions of an account (bare JID), in bind order. */
  resourcesOf(bareJid: Jid): BoundSession[] {
    const resources = this.#byBareJid.get(bareJid.bare().toString());
    return resources ? [...resources.values()] : [];
  }

  hasResource(bareJid: Jid, resource: string): boolean {
    return this.#byBareJid.get(bareJid.bare().toString())?.has(resource) ?? false;
  }

  get size(): number {
    return this.#byFullJid.size;
  }

  all(): IterableIterator<BoundSession> {
    return this.#byFullJid.values();
  }
}
