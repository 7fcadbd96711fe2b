/**
 * Which messages are carbon-copied (XEP-0280 section 6 leaves the rules to the server and
 * suggests these): messages used for instant messaging, never those the sender asked to keep
 * to one device, never group chat. Pure: it sees the stanza and its direction, nothing else.
 */
import type { Element } from '../../xml/element.ts';
import { NS_CARBONS, NS_HINTS, NS_MUC_USER } from '../../xml/namespaces.ts';
import { messageType } from '../message/recipients.ts';

export type CarbonDirection = 'sent' | 'received';

/**
 * - `<private/>` (XEP-0280 section 8) or `<no-copy/>` (XEP-0334 section 4.3): never copied;
 * - a carbon itself (`<sent/>` or `<received/>` in the carbons namespace) is never copied again;
 * - a private message from a group chat occupant (it carries `<x xmlns='muc#user'/>`, XEP-0045
 *   section 7.5) is not copied to the recipient's other resources, which may not be in the room
 *   (section 6: "sent by a MUC room or service"); one the user sends is, so that the user's other
 *   joined devices see both sides;
 * - type chat is copied; type normal only with a body; groupchat, headline and error are not
 *   (an error cannot be matched to the message it answers without tracking, section 6).
 */
export function isCarbonEligible(stanza: Element, direction: CarbonDirection): boolean {
  if (stanza.name !== 'message') return false;
  if (stanza.getChild('private', NS_CARBONS) || stanza.getChild('no-copy', NS_HINTS)) return false;
  if (stanza.getChild('sent', NS_CARBONS) || stanza.getChild('received', NS_CARBONS)) return false;
  if (direction === 'received' && stanza.getChild('x', NS_MUC_USER)) return false;
  const type = messageType(stanza);
  if (type === 'chat') return true;
  return type === 'normal' && stanza.getChild('body') !== undefined;
}
