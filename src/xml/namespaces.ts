/** Namespace URIs of the stream negotiation features (RFC 6120 sections 5-7, RFC 3921 section 3). */

export const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
export const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
export const NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session';
export const NS_PING = 'urn:xmpp:ping';
