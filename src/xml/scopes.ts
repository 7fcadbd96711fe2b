/**
 * Namespace resolution for the stream parser (Namespaces in XML 1.0, RFC 6120 section 11.2).
 *
 * Each open element has a frame: its default namespace and its prefix bindings. Frames share
 * the parent's prefix map until an element declares a prefix (copy on write), so the common
 * stanza (default namespace only) costs one array store. The frames before the root and of the
 * root live in the scopes themselves; those of a stanza and its descendants live in arrays the
 * parser borrows while it is inside a stanza (parser.ts, `Scratch`), so an idle stream keeps none.
 */

import { Element, NS_XML } from './element.ts';

const NS_XMLNS = 'http://www.w3.org/2000/xmlns/';

/** Namespace declarations written on one start tag: prefix to URI, '' for the default namespace. */
export type NamespaceDeclarations = Record<string, string>;

function setOwn(record: Record<string, string>, key: string, value: string): void {
  // `__proto__` is a legal XML name; define it as data instead of invoking the prototype setter.
  if (key === '__proto__') Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
  else record[key] = value;
}

/** A QName has at most one colon, neither first nor last (Namespaces in XML 1.0 section 4). */
function colonOf(qname: string): number {
  const colon = qname.indexOf(':');
  if (colon < 0) return -1;
  if (colon === 0 || colon === qname.length - 1 || qname.indexOf(':', colon + 1) >= 0) return -2;
  return colon;
}

/**
 * The bindings in scope before any declaration: only `xml` (Namespaces in XML 1.0 section 3).
 * Shared by every parser: frames copy a map before adding to it, so this one is never written.
 */
const INITIAL_PREFIXES: ReadonlyMap<string, string> = new Map([['xml', NS_XML]]);

/** Frames of a stanza and its descendants, indexed by depth (0 and 1 unused). */
export interface ScopeFrames {
  defaults: string[];
  prefixMaps: (ReadonlyMap<string, string> | undefined)[];
}

/**
 * Prefix maps of stream roots, shared by every stream whose root declares the same prefixes
 * (`stream:` on nearly all): a stream keeps its root's map as long as it lives, and no frame
 * writes to a map it did not make. Bounded: past the bound a root keeps a map of its own.
 */
const rootPrefixMaps = new Map<string, ReadonlyMap<string, string>>();
const MAX_ROOT_PREFIX_MAPS = 32;

function sharedRootPrefixes(prefixes: Map<string, string>): ReadonlyMap<string, string> {
  let key = '';
  for (const [prefix, uri] of prefixes) key += `${prefix}\u0000${uri}\u0000`;
  const shared = rootPrefixMaps.get(key);
  if (shared !== undefined) return shared;
  if (rootPrefixMaps.size < MAX_ROOT_PREFIX_MAPS) rootPrefixMaps.set(key, prefixes);
  return prefixes;
}

export class NamespaceScopes {
  /** the root's frame; before the root, the initial one */
  private rootDefault = '';
  private rootPrefixes = INITIAL_PREFIXES;
  private depth = 0;
  /** Why the last open() failed. */
  error = '';
  /** Declarations of the last opened element, or undefined when it declared none. */
  declared: NamespaceDeclarations | undefined;

  constructor() {
    this.reset();
  }

  reset(): void {
    this.depth = 0;
    this.rootDefault = '';
    this.rootPrefixes = INITIAL_PREFIXES;
  }

  /**
   * Resolves a start tag into an element and enters its scope. Attribute names with the `xml`
   * prefix keep it (`xml:lang`); other prefixed attributes are keyed `{namespace-uri}local`,
   * the only form that survives without the declaring prefix. Returns undefined (see `error`)
   * on an unbound prefix, a malformed QName, a forbidden declaration or a duplicate attribute.
   */
  open(qname: string, names: string[], values: string[], count: number, frames: ScopeFrames): Element | undefined {
    const parent = this.depth;
    let defaultNs = parent < 2 ? this.rootDefault : frames.defaults[parent]!;
    let prefixes = parent < 2 ? this.rootPrefixes : frames.prefixMaps[parent]!;
    let ownPrefixes: Map<string, string> | undefined;
    let declared: NamespaceDeclarations | undefined;
    this.declared = undefined;

    for (let k = 0; k < count; k++) {
      const name = names[k];
      if (name.charCodeAt(0) !== 0x78 || !name.startsWith('xmlns')) continue;
      if (name.length === 5) {
        declared ??= {};
        if (Object.hasOwn(declared, '')) return this.fail('duplicate attribute xmlns');
        defaultNs = values[k];
        declared[''] = defaultNs;
      } else if (name.charCodeAt(5) === 0x3a) {
        const prefix = name.slice(6);
        const uri = values[k];
        if (colonOf(prefix) !== -1 || prefix === '') return this.fail(`malformed namespace declaration ${name}`);
        if (prefix === 'xmlns' || uri === NS_XMLNS) return this.fail(`the xmlns prefix and namespace cannot be declared`);
        if ((prefix === 'xml') !== (uri === NS_XML)) return this.fail(`the xml prefix is bound only to ${NS_XML}`);
        if (uri === '') return this.fail(`prefix ${prefix} cannot be undeclared`);
        declared ??= {};
        if (Object.hasOwn(declared, prefix)) return this.fail(`duplicate attribute ${name}`);
        setOwn(declared, prefix, uri);
        ownPrefixes ??= new Map(prefixes);
        ownPrefixes.set(prefix, uri);
        prefixes = ownPrefixes;
      }
    }

    const colon = colonOf(qname);
    let local = qname;
    let xmlns = defaultNs;
    if (colon === -2) return this.fail(`malformed name ${qname}`);
    if (colon > 0) {
      const prefix = qname.slice(0, colon);
      const uri = prefixes.get(prefix);
      if (uri === undefined || prefix === 'xmlns') return this.fail(`unbound prefix ${prefix} on element ${qname}`);
      local = qname.slice(colon + 1);
      xmlns = uri;
    }

    const attrs: Record<string, string> = {};
    for (let k = 0; k < count; k++) {
      const name = names[k];
      if (declared !== undefined && name.charCodeAt(0) === 0x78 && (name === 'xmlns' || name.startsWith('xmlns:'))) continue;
      let key = name;
      const attrColon = colonOf(name);
      if (attrColon === -2) return this.fail(`malformed attribute name ${name}`);
      if (attrColon > 0) {
        const prefix = name.slice(0, attrColon);
        if (prefix !== 'xml') {
          const uri = prefixes.get(prefix);
          if (uri === undefined) return this.fail(`unbound prefix ${prefix} on attribute ${name}`);
          key = `{${uri}}${name.slice(attrColon + 1)}`;
        }
      }
      if (Object.hasOwn(attrs, key)) return this.fail(`duplicate attribute ${name}`);
      setOwn(attrs, key, values[k]);
    }

    const depth = ++this.depth;
    if (depth === 1) {
      this.rootDefault = defaultNs;
      this.rootPrefixes = ownPrefixes === undefined ? prefixes : sharedRootPrefixes(ownPrefixes);
    } else {
      frames.defaults[depth] = defaultNs;
      frames.prefixMaps[depth] = prefixes;
    }
    this.declared = declared;
    return new Element(local, xmlns, attrs, []);
  }

  close(): void {
    this.depth--;
  }

  /** The root's default namespace, inside the root (for a parser that parks, parser.ts). */
  get rootDefaultNamespace(): string {
    return this.rootDefault;
  }

  /** The root's prefix bindings, inside the root. */
  get rootPrefixMap(): ReadonlyMap<string, string> {
    return this.rootPrefixes;
  }

  /** Enters a root opened by a parser before this one (parser.ts, `resume`). */
  enterRoot(defaultNs: string, prefixes: ReadonlyMap<string, string>): void {
    this.depth = 1;
    this.rootDefault = defaultNs;
    this.rootPrefixes = prefixes;
  }

  private fail(message: string): undefined {
    this.error = message;
    return undefined;
  }
}
