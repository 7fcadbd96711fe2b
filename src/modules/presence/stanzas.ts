/** Small builders for the presence stanzas the server sends on a user's behalf. */
import type { Jid } from '../../jid/jid.ts';
import { Element, el, NS_CLIENT } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';

/** The same presence with other addresses; the children are shared, not copied. */
export function readdressed(stanza: Element, addresses: { from?: string; to?: string }): Element {
  const attrs = { ...stanza.attrs };
  if (addresses.from !== undefined) attrs.from = addresses.from;
  if (addresses.to !== undefined) attrs.to = addresses.to;
  return new Element(stanza.name, stanza.xmlns, attrs, stanza.children);
}

export function presence(type: string | undefined, from: Jid | string, to: Jid | string): Element {
  return el('presence', NS_CLIENT, { type, from: from.toString(), to: to.toString() });
}

/** RFC 6121 section 4.7.2.3: an integer from -128 to 127, 0 when absent. */
export function parsePriority(stanza: Element): number {
  const text = stanza.getChildText('priority', NS_CLIENT);
  if (text === undefined) return 0;
  const value = /^\s*[+-]?\d{1,4}\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(value) || value < -128 || value > 127) throw new StanzaError('bad-request', '<priority/> must be an integer from -128 to 127');
  return value;
}
