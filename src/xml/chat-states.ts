/** Chat state notifications (XEP-0085): recognising a message that carries nothing else. */
import type { Element } from './element.ts';
import { NS_HINTS } from './namespaces.ts';

export const NS_CHAT_STATES = 'http://jabber.org/protocol/chatstates';
/** XEP-0334 processing hints and XEP-0359 stanza ids ride along with chat states without being content. */
const NOT_CONTENT = new Set([NS_HINTS, 'urn:xmpp:sid:0']);

/**
 * XEP-0085: a message whose only payload is a chat state: no body, subject or other content
 * (a <thread/>, processing hints and stanza ids aside).
 */
export function onlyChatStates(stanza: Element): boolean {
  let chatState = false;
  for (const child of stanza.elements()) {
    if (child.xmlns === NS_CHAT_STATES) chatState = true;
    else if (child.name !== 'thread' && !NOT_CONTENT.has(child.xmlns)) return false;
  }
  return chatState;
}
