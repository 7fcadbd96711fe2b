/**
 * Element model to XML text. Only default namespace declarations are written: an element gets
 * `xmlns` exactly when its namespace differs from its parent's (Namespaces in XML 1.0
 * section 6.2). Attributes keyed `{uri}local` (non-xml prefixed attributes, see scopes.ts)
 * get a generated prefix declared on the same element.
 */

import type { Element, XmlNode } from './element.ts';

const TEXT_SPECIAL = /[&<>\r]/;
const TEXT_SPECIAL_ALL = /[&<>\r]/g;
const ATTR_SPECIAL = /[&<>"'\t\n\r]/;
const ATTR_SPECIAL_ALL = /[&<>"'\t\n\r]/g;

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  // Character references survive line-end and attribute-value normalization (XML 1.0 sections 2.11, 3.3.3).
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};

function escapeChar(char: string): string {
  return ESCAPES[char];
}

/** Escapes character data: `&`, `<`, `>` (so `]]>` never appears) and CR. */
export function escapeText(text: string): string {
  return TEXT_SPECIAL.test(text) ? text.replace(TEXT_SPECIAL_ALL, escapeChar) : text;
}

/** Escapes an attribute value for either quote style, keeping TAB, LF and CR as written. */
export function escapeAttr(value: string): string {
  return ATTR_SPECIAL.test(value) ? value.replace(ATTR_SPECIAL_ALL, escapeChar) : value;
}

/** The start tag up to (not including) its closing `>` or `/>`. */
export function serializeStartTag(element: Element, parentNs: string | undefined, attrs: Record<string, string> = element.attrs): string {
  let xml = '<' + element.name;
  if (element.xmlns !== parentNs) xml += ` xmlns="${escapeAttr(element.xmlns)}"`;
  let generated = 0;
  for (const key in attrs) {
    const value = attrs[key];
    if (value === undefined) continue;
    if (key.charCodeAt(0) === 0x7b) {
      // The namespace name may itself hold '}' (nothing stops a peer declaring one); the local
      // name is an NCName, which cannot, so the last '}' is the separator.
      const close = key.lastIndexOf('}');
      const prefix = `ns${generated++}`;
      xml += ` xmlns:${prefix}="${escapeAttr(key.slice(1, close))}" ${prefix}:${key.slice(close + 1)}="${escapeAttr(value)}"`;
    } else xml += ` ${key}="${escapeAttr(value)}"`;
  }
  return xml;
}

/** Serializes the children of an element whose namespace is `ns`. */
export function serializeChildren(children: readonly XmlNode[], ns: string): string {
  let xml = '';
  // Indexed: the array iterator was not inlined here, a call per child (perf, messaging benchmark).
  for (let index = 0; index < children.length; index++) {
    const child = children[index]!;
    xml += typeof child === 'string' ? escapeText(child) : serialize(child, ns);
  }
  return xml;
}

/**
 * Serializes an element. `parentNs` is the namespace in scope where it is written: for a
 * top-level stanza the stream's content namespace (NS_CLIENT; the stream writer maps it to
 * the stream's own default). Without it the element always declares its namespace.
 */
export function serialize(element: Element, parentNs?: string): string {
  const start = serializeStartTag(element, parentNs);
  if (element.children.length === 0) return start + '/>';
  return `${start}>${serializeChildren(element.children, element.xmlns)}</${element.name}>`;
}
