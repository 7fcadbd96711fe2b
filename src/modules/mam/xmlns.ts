/** Namespaces of message archives and the protocols they lean on. */
/** Message Archive Management (XEP-0313) and its extended features (section 6). */
export const NS_MAM = 'urn:xmpp:mam:2';
export const NS_MAM_EXTENDED = 'urn:xmpp:mam:2#extended';
/** Unique and stable stanza IDs (XEP-0359). */
export const NS_SID = 'urn:xmpp:sid:0';
/** Result set management (XEP-0059). */
export const NS_RSM = 'http://jabber.org/protocol/rsm';
/** Delayed delivery (XEP-0203). */
export const NS_DELAY = 'urn:xmpp:delay';
