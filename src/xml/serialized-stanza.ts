/**
 * A stanza serialized once for many recipients that differ only in attributes of the stanza
 * element itself, such as presence broadcast (RFC 6121 section 4.2.2), where every copy gets
 * its own `to`. The children are serialized at construction; each withAttrs() call writes only
 * the start tag. bench/serialize.ts measures the gain (docs/decisions.md, "XML stream parser").
 */

import type { Element } from './element.ts';
import { serializeChildren, serializeStartTag } from './serialize.ts';

export class SerializedStanza {
  private readonly element: Element;
  private readonly parentNs: string | undefined;
  private readonly attrs: Record<string, string>;
  private readonly tail: string;

  /** Snapshot of `element` as it is now; later changes to it are not seen. */
  constructor(element: Element, parentNs?: string) {
    this.element = element;
    this.parentNs = parentNs;
    this.attrs = { ...element.attrs };
    this.tail = element.children.length === 0 ? '/>' : `>${serializeChildren(element.children, element.xmlns)}</${element.name}>`;
  }

  /** The stanza with `overrides` applied to its own attributes (undefined removes one). */
  withAttrs(overrides: Record<string, string | undefined>): string {
    return serializeStartTag(this.element, this.parentNs, { ...this.attrs, ...overrides } as Record<string, string>) + this.tail;
  }
}
