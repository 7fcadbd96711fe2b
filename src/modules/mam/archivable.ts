/**
 * Which messages a user's archive keeps (XEP-0313 section 7.1.1): those of type chat or normal
 * with a body, and never group chat (the room keeps its own archive), headlines or errors. The
 * message processing hints of XEP-0334 (section 4) refine it: `<no-store/>` and
 * `<no-permanent-store/>` keep a message out, `<store/>` takes in one without a body.
 * Pure: it sees the stanza and nothing else.
 */
import type { Element } from '../../xml/element.ts';
import { NS_CARBONS, NS_HINTS } from '../../xml/namespaces.ts';
import { messageType } from '../message/recipients.ts';
import { NS_MAM } from './xmlns.ts';

export function isArchivable(stanza: Element): boolean {
  if (stanza.name !== 'message') return false;
  const type = messageType(stanza);
  if (type !== 'chat' && type !== 'normal') return false;
  if (stanza.getChild('no-store', NS_HINTS) || stanza.getChild('no-permanent-store', NS_HINTS)) return false;
  // Copies are kept once, as the message they copy (section 7.1.1): carbons and archive results.
  if (stanza.getChild('sent', NS_CARBONS) || stanza.getChild('received', NS_CARBONS) || stanza.getChild('result', NS_MAM)) return false;
  return stanza.getChild('body') !== undefined || stanza.getChild('store', NS_HINTS) !== undefined;
}

/**
 * What a room's archive keeps (XEP-0313 section 7.1.2): group-chat messages with a body and
 * subject changes.
 */
export function isRoomArchivable(stanza: Element): boolean {
  if (stanza.name !== 'message' || stanza.attrs.type !== 'groupchat') return false;
  if (stanza.getChild('no-store', NS_HINTS) || stanza.getChild('no-permanent-store', NS_HINTS)) return false;
  return stanza.getChild('body') !== undefined || stanza.getChild('subject') !== undefined;
}
