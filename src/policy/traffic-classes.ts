/**
 * The traffic classes a peering rule can block (`block`, docs/peering.md), told from a stanza's
 * kind, type and namespaces as src/policy/foreign-groups.ts reads them.
 */
import type { PeeringBlock } from '../config/types.ts';
import type { Element } from '../xml/element.ts';
import { stanzaFacts } from './foreign-access.ts';
import { FEATURE_GROUPS, type StanzaFacts } from './foreign-groups.ts';

/**
 * End-to-end encryption: OMEMO (XEP-0384: urn:xmpp:omemo:2, :1 and the legacy axolotl
 * namespace), OpenPGP for XMPP (XEP-0373), legacy OpenPGP (XEP-0027), and the EME hint that
 * names any method (XEP-0380 section 3).
 */
export const ENCRYPTION_NAMESPACES: ReadonlySet<string> = new Set([
  'urn:xmpp:omemo:2',
  'urn:xmpp:omemo:1',
  'eu.siacs.conversations.axolotl',
  'urn:xmpp:openpgp:0',
  'jabber:x:encrypted',
  'urn:xmpp:eme:0',
]);

/** XEP-0364 section 2: an OTR message is a body that starts with "?OTR". */
const OTR_PREFIX = '?OTR';

const isMuc = (facts: StanzaFacts): boolean => FEATURE_GROUPS.groupchat.matches(facts);

const CLASSES: Record<PeeringBlock, (facts: StanzaFacts, stanza: Element) => boolean> = {
  'file-transfer': (facts) => FEATURE_GROUPS['file-transfer'].matches(facts),
  muc: isMuc,
  // "MUC only" (boundary practice): messages between users, type chat or normal (RFC 6121 section 5.2.2), that are not room traffic.
  'one-to-one': (facts) => facts.kind === 'message' && [undefined, 'chat', 'normal'].includes(facts.type) && !isMuc(facts),
  encrypted: (facts, stanza) => [...facts.namespaces].some((namespace) => ENCRYPTION_NAMESPACES.has(namespace)) || (facts.kind === 'message' && (stanza.getChildText('body')?.startsWith(OTR_PREFIX) ?? false)),
};

/** The first of `blocked` that the stanza belongs to, if any. */
export function blockedClass(stanza: Element, blocked: readonly PeeringBlock[]): PeeringBlock | undefined {
  if (blocked.length === 0) return undefined;
  const facts = stanzaFacts(stanza);
  return blocked.find((name) => CLASSES[name](facts, stanza));
}

export const CLASS_NAMES: Record<PeeringBlock, string> = {
  'file-transfer': 'file transfer',
  muc: 'group chat (MUC)',
  'one-to-one': 'one-to-one messages',
  encrypted: 'end-to-end encrypted payloads',
};
