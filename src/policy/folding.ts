/**
 * Presence folding and message folding (docs/peering.md, "Checks and actions"): what crosses to
 * or from a peer is reduced to what the rule lets through. Pure functions: the stanza asked
 * about is never changed; a folded copy is returned.
 */
import type { MessageType, PresenceFolding } from '../config/types.ts';
import { NS_CHAT_STATES } from '../xml/chat-states.ts';
import { NS_CLIENT, NS_SERVER, type Element } from '../xml/element.ts';
import { NS_HINTS, NS_SECURITY_LABEL } from '../xml/namespaces.ts';

export { NS_SECURITY_LABEL };

/** What a fold did: the stanza unchanged, a folded copy with what changed, or nothing left to send (dropped). */
export type Folded = { kind: 'same' } | { kind: 'changed'; stanza: Element; removed: string[] } | { kind: 'dropped'; reason: string };

/** The <show/> values each folding keeps (RFC 6121 section 4.7.2.1); the rest become plain available. */
const SHOWN: Record<Exclude<PresenceFolding, 'off'>, Readonly<Record<string, string>>> = {
  available: {},
  away: { away: 'away', xa: 'away' },
  'away-dnd': { away: 'away', xa: 'away', dnd: 'dnd' },
};

/**
 * Availability reduced to a few states with every other child removed (status, priority, caps,
 * avatar hashes, idle time, nickname, ...). Subscriptions, probes and errors pass unchanged:
 * folding is about availability (RFC 6121 section 4.7.2.1 leaves its states to the server).
 */
export function foldPresence(stanza: Element, folding: PresenceFolding): Folded {
  if (folding === 'off') return { kind: 'same' };
  const type = stanza.attrs.type;
  if (type !== undefined && type !== 'unavailable') return { kind: 'same' };
  const show = type === undefined ? SHOWN[folding][stanza.getChildText('show') ?? ''] : undefined;
  const written = stanza.getChildText('show');
  const removed = stanza.elements().filter((child) => !(show !== undefined && child.name === 'show' && isStanzaNamespace(child.xmlns)));
  const changes = removed.map((child) => `removed ${describe(child)}`);
  if (show !== undefined && written !== show) changes.unshift(`<show>${written}</show> as ${show}`);
  if (changes.length === 0) return { kind: 'same' };
  const folded = stanza.clone();
  folded.children = [];
  if (show !== undefined) folded.c('show').t(show);
  return { kind: 'changed', stanza: folded, removed: changes };
}

export interface MessageFolding {
  /** namespaces of children removed */
  strip: readonly string[];
  dropChatStates: boolean;
}

/** Children never removed: the content itself, the error, and a security label (XEP-0258). */
function protectedChild(child: Element): boolean {
  if (child.xmlns === NS_SECURITY_LABEL) return true;
  return isStanzaNamespace(child.xmlns) && ['body', 'subject', 'thread', 'error'].includes(child.name);
}

/** Children that are not content: a message left with only these is dropped. */
const NOT_CONTENT = new Set([NS_HINTS, 'urn:xmpp:sid:0']);

/**
 * Children in the stripped namespaces removed, and chat states (XEP-0085) when asked. A message
 * left with no content (no body, subject or other payload) is dropped, as there is nothing to
 * deliver.
 */
export function foldMessage(stanza: Element, folding: MessageFolding): Folded {
  const strip = (child: Element) => !protectedChild(child) && (folding.strip.includes(child.xmlns) || (folding.dropChatStates && child.xmlns === NS_CHAT_STATES));
  const removed = stanza.elements().filter(strip);
  if (removed.length === 0) return { kind: 'same' };
  const folded = stanza.clone();
  // Whitespace between the children is not content (RFC 6120 section 11.7); what is left goes without it.
  folded.children = folded.children.filter((child) => (typeof child === 'string' ? child.trim() !== '' : !strip(child)));
  const left = folded.elements().filter((child) => !NOT_CONTENT.has(child.xmlns) && !(isStanzaNamespace(child.xmlns) && child.name === 'thread'));
  if (left.length === 0) return { kind: 'dropped', reason: `nothing left once ${removed.map(describe).join(', ')} removed` };
  return { kind: 'changed', stanza: folded, removed: removed.map((child) => `removed ${describe(child)}`) };
}

/** A message of a type the rule drops whole; no type is normal (RFC 6121 section 5.2.2). */
export function droppedType(stanza: Element, types: readonly MessageType[]): MessageType | undefined {
  const type = (stanza.attrs.type ?? 'normal') as MessageType;
  return types.includes(type) ? type : undefined;
}

function isStanzaNamespace(namespace: string): boolean {
  return namespace === NS_CLIENT || namespace === NS_SERVER;
}

function describe(child: Element): string {
  return isStanzaNamespace(child.xmlns) ? `<${child.name}/>` : `<${child.name} xmlns="${child.xmlns}"/>`;
}
