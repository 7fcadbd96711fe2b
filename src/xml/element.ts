/**
 * The element model shared by every layer.
 *
 * Namespaces are resolved at parse time: every element carries its namespace URI in `xmlns`
 * and its local `name` (no prefix). `attrs` holds ordinary attributes only (never `xmlns`
 * or `xmlns:*` declarations); `xml:lang` and other prefixed attributes keep their prefix.
 *
 * Stanzas on both client and server streams use the canonical content namespace
 * `jabber:client` inside the server (see NS_CLIENT); stream writers map it to the stream's own
 * default namespace (RFC 6120 section 4.8.3), so a stanza moves between c2s and s2s untouched.
 */

export const NS_CLIENT = 'jabber:client';
export const NS_SERVER = 'jabber:server';
export const NS_STREAMS = 'http://etherx.jabber.org/streams';
export const NS_XML = 'http://www.w3.org/XML/1998/namespace';

export type XmlNode = Element | string;

export class Element {
  name: string;
  xmlns: string;
  attrs: Record<string, string>;
  children: XmlNode[];

  constructor(name: string, xmlns: string, attrs: Record<string, string> = {}, children: XmlNode[] = []) {
    this.name = name;
    this.xmlns = xmlns;
    this.attrs = attrs;
    this.children = children;
  }

  attr(name: string): string | undefined {
    return this.attrs[name];
  }

  /** Sets or (with undefined) removes an attribute; returns this for chaining. */
  setAttr(name: string, value: string | undefined): this {
    if (value === undefined) delete this.attrs[name];
    else this.attrs[name] = value;
    return this;
  }

  /** First child element with this local name, in `xmlns` when given, else in this element's namespace. */
  getChild(name: string, xmlns: string = this.xmlns): Element | undefined {
    for (const child of this.children) {
      if (typeof child !== 'string' && child.name === name && child.xmlns === xmlns) return child;
    }
    return undefined;
  }

  getChildren(name: string, xmlns: string = this.xmlns): Element[] {
    const found: Element[] = [];
    for (const child of this.children) {
      if (typeof child !== 'string' && child.name === name && child.xmlns === xmlns) found.push(child);
    }
    return found;
  }

  /** First child element in the given namespace, whatever its name. */
  getChildByNs(xmlns: string): Element | undefined {
    for (const child of this.children) {
      if (typeof child !== 'string' && child.xmlns === xmlns) return child;
    }
    return undefined;
  }

  elements(): Element[] {
    return this.children.filter((child): child is Element => typeof child !== 'string');
  }

  /** Concatenated character data of this element's direct text children. */
  text(): string {
    let text = '';
    for (const child of this.children) if (typeof child === 'string') text += child;
    return text;
  }

  getChildText(name: string, xmlns: string = this.xmlns): string | undefined {
    return this.getChild(name, xmlns)?.text();
  }

  /** Appends a child element (inheriting this namespace unless given) and returns the child. */
  c(name: string, attrs: Record<string, string> = {}, xmlns: string = this.xmlns): Element {
    const child = new Element(name, xmlns, attrs);
    this.children.push(child);
    return child;
  }

  append(...nodes: XmlNode[]): this {
    this.children.push(...nodes);
    return this;
  }

  /** Appends text and returns this. */
  t(text: string): this {
    this.children.push(text);
    return this;
  }

  remove(child: XmlNode): this {
    const index = this.children.indexOf(child);
    if (index >= 0) this.children.splice(index, 1);
    return this;
  }

  clone(): Element {
    return new Element(
      this.name,
      this.xmlns,
      { ...this.attrs },
      this.children.map((child) => (typeof child === 'string' ? child : child.clone())),
    );
  }
}

/** Compact builder: el('message', NS_CLIENT, { to }, el('body', NS_CLIENT, {}, 'hi')). */
export function el(name: string, xmlns: string, attrs: Record<string, string | undefined> = {}, ...children: XmlNode[]): Element {
  const clean: Record<string, string> = {};
  for (const [key, value] of Object.entries(attrs)) if (value !== undefined) clean[key] = value;
  return new Element(name, xmlns, clean, children);
}
