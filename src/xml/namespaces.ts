/** Namespace URIs of the stream negotiation features (RFC 6120 sections 5-7, RFC 3921 section 3). */

export const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
export const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
export const NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session';
export const NS_PING = 'urn:xmpp:ping';
/** Server dialback elements (XEP-0220 section 2) and the stream feature announcing dialback errors. */
export const NS_DIALBACK = 'jabber:server:dialback';
export const NS_DIALBACK_FEATURE = 'urn:xmpp:features:dialback';
/** Bidirectional server connections (XEP-0288 section 2): the stream feature and the request. */
export const NS_BIDI_FEATURE = 'urn:xmpp:features:bidi';
export const NS_BIDI = 'urn:xmpp:bidi';
/** Message carbons (XEP-0280) and the forwarded wrapper its copies use (XEP-0297). */
export const NS_CARBONS = 'urn:xmpp:carbons:2';
export const NS_FORWARD = 'urn:xmpp:forward:0';
/** Message processing hints (XEP-0334). */
export const NS_HINTS = 'urn:xmpp:hints';
/** Group chat occupants' extensions (XEP-0045 section 17.2), which client features look for too. */
export const NS_MUC_USER = 'http://jabber.org/protocol/muc#user';
/** Data forms (XEP-0004). */
export const NS_DATA_FORMS = 'jabber:x:data';
/** XEP-0258: the security label of a stanza. */
export const NS_SECURITY_LABEL = 'urn:xmpp:sec-label:0';
