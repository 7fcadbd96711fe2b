/**
 * Named feature groups for the foreign access rules: what a stanza is, told from its kind, its
 * type and the namespaces it carries. Namespaces are those of the stanza's direct children (an
 * IQ's payload among them) and, for Jingle (XEP-0166 section 7), of each content's description
 * and transport, which say what the session is for.
 */

import type { FeatureGroupName } from '../config/types.ts';

export { FEATURE_GROUP_NAMES, isFeatureGroup, type FeatureGroupName } from '../config/types.ts';

/** What the rules look at in a stanza. */
export interface StanzaFacts {
  kind: 'message' | 'presence' | 'iq';
  /** the type attribute as written; undefined when absent */
  type: string | undefined;
  namespaces: ReadonlySet<string>;
  /** a message with a <body/> */
  hasBody: boolean;
}

export interface FeatureGroup {
  /** one line for docs/policy.md */
  summary: string;
  /**
   * 1 for a whole stanza kind, 2 for a feature; a written namespace is 3. A more specific
   * allow overrides a less specific deny (see foreign-access.ts).
   */
  specificity: 1 | 2;
  matches(facts: StanzaFacts): boolean;
}

const anyNamespace = (facts: StanzaFacts, test: (namespace: string) => boolean): boolean => [...facts.namespaces].some(test);
/** `base` itself or `base#fragment`, as the XEP-0045 and XEP-0060 namespaces are built */
const family = (base: string) => (namespace: string) => namespace === base || namespace.startsWith(`${base}#`);
const among = (...namespaces: string[]) => (namespace: string) => namespaces.includes(namespace);
const startsWith = (...prefixes: string[]) => (namespace: string) => prefixes.some((prefix) => namespace.startsWith(prefix));

/** XEP-0095/0096 SI, XEP-0065 SOCKS5, XEP-0047 IBB, XEP-0066 iq:oob, XEP-0234 Jingle FT and its transports, XEP-0363 upload */
export const fileTransfer = (namespace: string): boolean =>
  among(
    'http://jabber.org/protocol/si',
    'http://jabber.org/protocol/si/profile/file-transfer',
    'http://jabber.org/protocol/bytestreams',
    'http://jabber.org/protocol/ibb',
    'jabber:iq:oob',
    'urn:xmpp:jingle:transports:s5b:1',
    'urn:xmpp:jingle:transports:ibb:1',
    'urn:xmpp:http:upload:0',
  )(namespace) || namespace.startsWith('urn:xmpp:jingle:apps:file-transfer:');

/** XEP-0167 RTP sessions, their XEP-0176/0177 transports, and XEP-0353 call proposals */
const calls = startsWith('urn:xmpp:jingle:apps:rtp:', 'urn:xmpp:jingle:transports:ice-udp:', 'urn:xmpp:jingle:transports:raw-udp:', 'urn:xmpp:jingle-message:');

const SUBSCRIPTION_TYPES = ['subscribe', 'subscribed', 'unsubscribe', 'unsubscribed'];

export const FEATURE_GROUPS = {
  message: { summary: 'every message', specificity: 1, matches: (facts) => facts.kind === 'message' },
  presence: { summary: 'every presence stanza, subscriptions and probes included', specificity: 1, matches: (facts) => facts.kind === 'presence' },
  iq: { summary: 'every IQ request', specificity: 1, matches: (facts) => facts.kind === 'iq' },
  chat: {
    summary: 'one-to-one messages: type chat or normal (or no type) with a <body/> (RFC 6121 section 5.2.2)',
    specificity: 2,
    matches: (facts) => facts.kind === 'message' && [undefined, 'chat', 'normal'].includes(facts.type) && facts.hasBody,
  },
  groupchat: {
    summary: 'messages of type groupchat and anything in a MUC namespace, http://jabber.org/protocol/muc and muc#… (XEP-0045), or a direct invitation, jabber:x:conference (XEP-0249)',
    specificity: 2,
    matches: (facts) =>
      (facts.kind === 'message' && facts.type === 'groupchat') || anyNamespace(facts, (ns) => family('http://jabber.org/protocol/muc')(ns) || ns === 'jabber:x:conference'),
  },
  'presence-subscription': {
    summary: 'presence of type subscribe, subscribed, unsubscribe or unsubscribed (RFC 6121 section 3)',
    specificity: 2,
    matches: (facts) => facts.kind === 'presence' && SUBSCRIPTION_TYPES.includes(facts.type ?? ''),
  },
  'file-transfer': {
    summary:
      'SI file transfer (XEP-0095, XEP-0096), SOCKS5 bytestreams (XEP-0065), in-band bytestreams in IQs or messages (XEP-0047), jabber:iq:oob (XEP-0066), Jingle file transfer and its s5b and ibb transports (XEP-0234, XEP-0260, XEP-0261), HTTP upload slot requests (XEP-0363)',
    specificity: 2,
    matches: (facts) => anyNamespace(facts, fileTransfer),
  },
  jingle: {
    summary: 'voice and video calls: Jingle RTP sessions with ICE-UDP or raw UDP transports (XEP-0167, XEP-0176, XEP-0177) and call proposals in messages (XEP-0353)',
    specificity: 2,
    matches: (facts) => anyNamespace(facts, calls),
  },
  pubsub: {
    summary: 'publish-subscribe requests and event notifications, http://jabber.org/protocol/pubsub and pubsub#… (XEP-0060, XEP-0163)',
    specificity: 2,
    matches: (facts) => anyNamespace(facts, family('http://jabber.org/protocol/pubsub')),
  },
  vcard: {
    summary: 'vCard requests, vcard-temp (XEP-0054) and vCard4 (XEP-0292); not the avatar hash in presence',
    specificity: 2,
    matches: (facts) => anyNamespace(facts, among('vcard-temp', 'urn:ietf:params:xml:ns:vcard-4.0')),
  },
  version: { summary: 'software version requests, jabber:iq:version (XEP-0092)', specificity: 2, matches: (facts) => facts.namespaces.has('jabber:iq:version') },
  disco: {
    summary: 'service discovery, disco#info and disco#items (XEP-0030)',
    specificity: 2,
    matches: (facts) => anyNamespace(facts, among('http://jabber.org/protocol/disco#info', 'http://jabber.org/protocol/disco#items')),
  },
} satisfies Record<FeatureGroupName, FeatureGroup>;
