/**
 * How an offline message is kept: the stanza with a delayed-delivery stamp (XEP-0203), written
 * as XML text, and read back into an element when its owner comes online.
 */
import { Element, NS_CLIENT } from '../../xml/element.ts';
import { parseElement } from '../../xml/parse-element.ts';
import { serialize } from '../../xml/serialize.ts';

export const NS_DELAY = 'urn:xmpp:delay';

/**
 * A copy of the stanza stamped with when and by whom it was stored (XEP-0203 section 3, as
 * XEP-0160 section 3 asks); an earlier stamp from this server is replaced, others are kept.
 */
export function withDelay(stanza: Element, domain: string, storedAt: Date): Element {
  const copy = stanza.clone();
  copy.children = copy.children.filter((child) => typeof child === 'string' || child.name !== 'delay' || child.xmlns !== NS_DELAY || child.attrs.from !== domain);
  // XEP-0082 section 3.3: a UTC DateTime (the fraction of a second is allowed).
  copy.c('delay', { from: domain, stamp: storedAt.toISOString() }, NS_DELAY).t('Offline Storage');
  return copy;
}

export function storedForm(stanza: Element): string {
  return serialize(stanza);
}

/** Reads a stored stanza back; throws when the text is not one well-formed jabber:client stanza. */
export function parseStoredStanza(text: string): Element {
  const stanza = parseElement(text);
  if (stanza.xmlns !== NS_CLIENT) throw new Error('a stored stanza must be a jabber:client element');
  return stanza;
}
