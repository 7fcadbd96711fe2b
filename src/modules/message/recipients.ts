/**
 * Which resources of an account take a message sent to its bare JID (RFC 6121 section 8.5.2).
 * Pure: it sees the account's available resources and the message type, nothing else.
 */
import type { Element } from '../../xml/element.ts';

export type MessageType = 'normal' | 'chat' | 'groupchat' | 'headline' | 'error';

const KNOWN_TYPES = new Set<string>(['normal', 'chat', 'groupchat', 'headline', 'error']);

/** RFC 6121 section 5.2.2: no type, or a type the server does not understand, means "normal". */
export function messageType(stanza: Element): MessageType {
  const type = stanza.attrs.type;
  return type !== undefined && KNOWN_TYPES.has(type) ? (type as MessageType) : 'normal';
}

export interface PrioritisedResource {
  readonly im: { readonly priority: number };
}

/**
 * The resources a normal, chat or headline message to the bare JID goes to, from the
 * account's available resources:
 * - headline: every available resource with non-negative priority (RFC 6121 section 8.5.2.1.1);
 * - normal and chat: the "most available" resources, which here means every resource that
 *   shares the highest non-negative priority (section 8.5.2.1.1 leaves the choice to the server).
 * Resources with negative priority never receive messages addressed to the bare JID; with none
 * left the message is handled as if no resource were available (section 8.5.2.2.1).
 */
export function bareRecipients<Session extends PrioritisedResource>(type: 'normal' | 'chat' | 'headline', available: readonly Session[]): Session[] {
  const eligible = available.filter((session) => session.im.priority >= 0);
  if (type === 'headline' || eligible.length === 0) return eligible;
  const highest = Math.max(...eligible.map((session) => session.im.priority));
  return eligible.filter((session) => session.im.priority === highest);
}
