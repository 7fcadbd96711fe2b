/**
 * Inbound subscription requests the user has not answered yet ("Pending In", RFC 6121 section
 * 3.1.3), kept durably with the stanza as it arrived, so they reach the user at the next login
 * even when no resource was available when they came. One user-data document per contact.
 */
import type { Jid } from '../../jid/jid.ts';
import type { UserDataStore } from '../../storage/types.ts';
import { Element, type XmlNode } from '../../xml/element.ts';

const KEY_PREFIX = 'subscription-request:';

interface StoredNode {
  name: string;
  xmlns: string;
  attrs: Record<string, string>;
  children: (StoredNode | string)[];
}

export class PendingRequests {
  #store: UserDataStore;

  constructor(store: UserDataStore) {
    this.#store = store;
  }

  async has(user: Jid, contact: Jid): Promise<boolean> {
    return (await this.#store.get(user.domain, user.local!, KEY_PREFIX + contact.bare())) !== undefined;
  }

  async add(user: Jid, contact: Jid, stanza: Element): Promise<void> {
    await this.#store.set(user.domain, user.local!, KEY_PREFIX + contact.bare(), JSON.stringify(stanza));
  }

  /** Forgets a request (answered, cancelled or the contact removed); true when there was one. */
  async remove(user: Jid, contact: Jid): Promise<boolean> {
    return this.#store.delete(user.domain, user.local!, KEY_PREFIX + contact.bare());
  }

  /** Every pending request of a user, as the stanzas that carried them. */
  async all(user: Jid): Promise<Element[]> {
    const requests: Element[] = [];
    for (const key of await this.#store.keys(user.domain, user.local!, KEY_PREFIX)) {
      const stored = await this.#store.get(user.domain, user.local!, key);
      if (stored !== undefined) requests.push(revive(JSON.parse(stored) as StoredNode));
    }
    return requests;
  }
}

function revive(node: StoredNode): Element {
  const children: XmlNode[] = node.children.map((child) => (typeof child === 'string' ? child : revive(child)));
  return new Element(node.name, node.xmlns, node.attrs, children);
}
