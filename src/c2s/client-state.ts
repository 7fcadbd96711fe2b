/**
 * Client state indication (XEP-0352): while a client says it is inactive, its session holds back
 * what the user would not miss (section 2.2: presence updates, chat states) and sends it when
 * the client is active again or when something important arrives, so that order is kept: a
 * held stanza never overtakes, nor is overtaken by, an important one. Held stanzas of the same
 * kind from the same sender replace each other: only the latest presence of each full JID and
 * the latest chat state of each conversation reach the client.
 */
import { NS_CLIENT, type Element } from '../xml/element.ts';
import { onlyChatStates } from '../xml/chat-states.ts';
import { NS_CARBONS, NS_FORWARD, NS_MUC_USER } from '../xml/namespaces.ts';

export const NS_CSI = 'urn:xmpp:csi:0';

/**
 * The key an inactive client's session may hold a stanza under (a later stanza with the same key
 * replaces it), or undefined for a stanza that must go out now:
 * - presence without a type or of type unavailable: the sender's latest state (not a
 *   subscription request, a probe or an error; not a group chat's presence about the user's own
 *   occupant, XEP-0045 status 110, which completes joining a room);
 * - a message that carries only chat states (XEP-0085), and a carbon (XEP-0280) of one.
 */
export function holdKey(stanza: Element): string | undefined {
  if (stanza.xmlns !== NS_CLIENT) return undefined;
  if (stanza.name === 'presence') {
    const type = stanza.attrs.type;
    if (type !== undefined && type !== 'unavailable') return undefined;
    if (isOwnOccupantPresence(stanza)) return undefined;
    return `presence ${stanza.attrs.from ?? ''}`;
  }
  if (stanza.name === 'message' && stanza.attrs.type !== 'error') {
    const message = carriedMessage(stanza);
    if (message && onlyChatStates(message)) return `chat-state ${message.attrs.from ?? ''} ${message.attrs.to ?? ''}`;
  }
  return undefined;
}

/** The message itself, or for a carbon the message it carries (XEP-0280 sections 6 and 7). */
function carriedMessage(stanza: Element): Element | undefined {
  const carbon = stanza.getChild('received', NS_CARBONS) ?? stanza.getChild('sent', NS_CARBONS);
  if (!carbon) return stanza;
  return carbon.getChild('forwarded', NS_FORWARD)?.getChild('message', NS_CLIENT);
}

function isOwnOccupantPresence(stanza: Element): boolean {
  const x = stanza.getChild('x', NS_MUC_USER);
  return x !== undefined && x.getChildren('status', NS_MUC_USER).some((status) => status.attrs.code === '110');
}

export interface HeldStanza {
  readonly element: Element;
  /** its XML, counted against the output budget while held */
  readonly xml: string;
}

/** The stanzas held for an inactive client, in the order their latest versions arrived. */
export class HeldStanzas {
  /** made on the first stanza held, and again after each drain */
  #held: Map<string, HeldStanza> | undefined;
  /** characters held */
  chars = 0;

  get size(): number {
    return this.#held?.size ?? 0;
  }

  has(key: string): boolean {
    return this.#held?.has(key) ?? false;
  }

  /** Holds a stanza; returns the one it replaced. The newest goes last, so the order of arrival is kept. */
  put(key: string, stanza: HeldStanza): HeldStanza | undefined {
    const held = (this.#held ??= new Map());
    const replaced = held.get(key);
    if (replaced) {
      held.delete(key);
      this.chars -= replaced.xml.length;
    }
    held.set(key, stanza);
    this.chars += stanza.xml.length;
    return replaced;
  }

  /** Removes and returns every held stanza, oldest first. */
  drain(): HeldStanza[] {
    const held = [...(this.#held?.values() ?? [])];
    this.#held = undefined;
    this.chars = 0;
    return held;
  }
}
