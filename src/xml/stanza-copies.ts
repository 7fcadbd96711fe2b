/**
 * Copies of one stanza that differ only in their `to`, as a group-chat room sends one message
 * or presence to each occupant (XEP-0045 sections 7.2.3 and 7.4). The stanza is serialized once;
 * each copy's XML is that text with its own `to` in the start tag. A copy is an Element like any
 * other, so routing and the recipients' features read it as usual; it is frozen, so nothing can
 * change it after its XML was made, and a client session writes `xml` instead of serializing
 * the copy again.
 */
import { Element, NS_CLIENT, type XmlNode } from './element.ts';
import { escapeAttr, serializeChildren, serializeStartTag } from './serialize.ts';

/** One recipient's copy, with its XML in the client content namespace (as `serialize(copy, NS_CLIENT)` writes it, but for the attribute order). */
export class AddressedCopy extends Element {
  readonly xml: string;

  constructor(name: string, xmlns: string, attrs: Record<string, string>, children: XmlNode[], xml: string) {
    super(name, xmlns, Object.freeze(attrs), children);
    this.xml = xml;
    Object.freeze(this);
  }
}

export class StanzaCopies {
  readonly #name: string;
  readonly #xmlns: string;
  readonly #attrs: Record<string, string>;
  readonly #children: XmlNode[];
  /** the start tag without `to`, up to where `to` goes */
  readonly #head: string;
  /** the rest: the end of the start tag, the children and the end tag */
  readonly #tail: string;

  /** A snapshot of `stanza` (its `to` left out); later changes to it are not seen. */
  constructor(stanza: Element) {
    const { to: _to, ...attrs } = stanza.attrs;
    this.#name = stanza.name;
    this.#xmlns = stanza.xmlns;
    this.#attrs = attrs;
    // Shared by every copy: frozen, so that no copy's reader changes the others.
    this.#children = Object.freeze([...stanza.children]) as XmlNode[];
    this.#head = serializeStartTag(stanza, NS_CLIENT, attrs);
    this.#tail = this.#children.length === 0 ? '/>' : `>${serializeChildren(this.#children, stanza.xmlns)}</${stanza.name}>`;
  }

  /** The copy for `to`. */
  to(to: string): AddressedCopy {
    const xml = `${this.#head} to="${escapeAttr(to)}"${this.#tail}`;
    return new AddressedCopy(this.#name, this.#xmlns, { ...this.#attrs, to }, this.#children, xml);
  }
}
