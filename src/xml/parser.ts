/**
 * Incremental parser for XML streams (RFC 6120 section 4) restricted to the XML subset XMPP
 * allows (RFC 6120 section 11).
 *
 * It scans UTF-8 bytes directly: limits are enforced in bytes as they arrive, the hot loops
 * are table lookups over a Uint8Array, and strings are only made for names, attribute values
 * and whole text runs. UTF-8 validity is checked per chunk by the native validator; a
 * character split across chunks is held back until its last byte arrives (see utf8.ts).
 */

import type { ParserLimits } from '../config/types.ts';
import { Element, NS_CLIENT, NS_STREAMS } from './element.ts';
import { ATTR_STOP, CDATA_STOP, NAME_CHAR, NAME_START, TEXT_STOP, isNonCharacterAt, isWhitespaceByte, isXmlName } from './chars.ts';
import { internAscii } from './intern.ts';
import { resolveReference } from './references.ts';
import { NamespaceScopes, type NamespaceDeclarations, type ScopeFrames } from './scopes.ts';
import { firstInvalidUtf8, incompleteTailLength } from './utf8.ts';
import { checkXmlDeclaration } from './xml-declaration.ts';

export type { NamespaceDeclarations } from './scopes.ts';

export type XmlErrorCondition = 'not-well-formed' | 'restricted-xml' | 'policy-violation' | 'invalid-xml';

export class XmlStreamError extends Error {
  condition: XmlErrorCondition;

  constructor(condition: XmlErrorCondition, message: string) {
    super(message);
    this.name = 'XmlStreamError';
    this.condition = condition;
  }
}

export interface StreamParserHandlers {
  /**
   * The stream root start tag (no children), namespaces resolved. `declarations` lists the
   * namespace declarations written on it ('' for the default namespace), which the model
   * does not keep: e.g. the stream's content namespace and xmlns:db (XEP-0220 section 2.1).
   */
  streamOpen(root: Element, declarations: NamespaceDeclarations): void;
  /** Each complete element at depth 1 (a child of the root). */
  stanza(element: Element): void;
  /** The root end tag was seen; the parser ignores whatever follows (RFC 6120 section 4.4). */
  streamClose(): void;
  /** Whitespace-only text between stanzas (keepalives, RFC 6120 section 4.6.1). */
  whitespace?(): void;
  /** Called at most once; afterwards the parser ignores input. */
  error(error: XmlStreamError): void;
}

export interface StreamParserOptions {
  limits: ParserLimits;
  /** Stanzas (and their descendants) whose resolved namespace equals this become NS_CLIENT internally. */
  contentNamespace?: string;
}

/**
 * Bound on everything before the end of the stream header (XML declaration, whitespace, root
 * start tag). The ParserLimits apply to stanzas; the header has only this bound.
 */
export const MAX_STREAM_HEADER_BYTES = 16384;
/** Bound on element and attribute names, prefix included. */
export const MAX_NAME_BYTES = 1024;
/** Bound on the XML declaration. */
const MAX_DECLARATION_BYTES = 256;
/** Bound on a reference between `&` and `;` (`#x10FFFF` needs 8; leading zeros are legal but not unbounded). */
const MAX_REFERENCE_BYTES = 32;

// Scanner states.
const S_MISC = 0; // outside any stanza: prolog, between stanzas, epilog; whitespace only
const S_CONTENT = 1; // character data inside a stanza
const S_LT = 2; // after '<'
const S_START_NAME = 3;
const S_IN_TAG = 4; // inside a start tag, before an attribute, '/' or '>'
const S_ATTR_NAME = 5;
const S_ATTR_EQ = 6;
const S_ATTR_QUOTE = 7;
const S_ATTR_VALUE = 8;
const S_EMPTY_CLOSE = 9; // after '/' in a start tag
const S_END_NAME = 10;
const S_END_CLOSE = 11; // after an end tag's name
const S_REFERENCE = 12;
const S_BANG = 13; // after '<!'
const S_CDATA = 14;
const S_DECLARATION = 15; // inside '<?xml ... ?>'
const S_STOPPED = 16; // failed or ended

const NO_LIMIT = Number.POSITIVE_INFINITY;
const CDATA_OPEN = '[CDATA[';

/**
 * Arrays a parser needs only inside a start tag or a stanza. Between stanzas a parser hands
 * them back to a shared pool, so an idle stream holds none and keeps no stale elements alive.
 */
interface Scratch extends ScopeFrames {
  /** Open elements: stack[0] is the root, stack[1] the stanza. */
  stack: (Element | undefined)[];
  /** Qualified names of the open elements, for matching end tags. */
  openNames: string[];
  attrNames: string[];
  attrValues: string[];
  /** The deepest index written in the per-depth arrays since the scratch was taken. */
  deepest: number;
  /** How many attributes one start tag filled at most since the scratch was taken. */
  mostAttributes: number;
}

const sparePool: Scratch[] = [];
const MAX_SPARE_SCRATCH = 16;

function takeScratch(): Scratch {
  return sparePool.pop() ?? { stack: [], openNames: [], attrNames: [], attrValues: [], defaults: [], prefixMaps: [], deepest: 0, mostAttributes: 0 };
}

/** Empties what the parser wrote (only that: clearing whole arrays per chunk showed in profiles) and pools the scratch. */
function returnScratch(scratch: Scratch): void {
  clearUpTo(scratch.stack, scratch.deepest, undefined);
  clearUpTo(scratch.openNames, scratch.deepest, '');
  clearUpTo(scratch.defaults, scratch.deepest, '');
  clearUpTo(scratch.prefixMaps, scratch.deepest, undefined);
  clearUpTo(scratch.attrNames, scratch.mostAttributes - 1, '');
  clearUpTo(scratch.attrValues, scratch.mostAttributes - 1, '');
  scratch.deepest = 0;
  scratch.mostAttributes = 0;
  if (sparePool.length < MAX_SPARE_SCRATCH) sparePool.push(scratch);
}

function clearUpTo<T>(array: T[], last: number, empty: T): void {
  const end = last < array.length ? last + 1 : array.length;
  for (let index = 0; index < end; index++) array[index] = empty;
}

/**
 * What a parser between stanzas needs to go on with its stream: its limits and the root's name
 * and namespace frame. An idle stream keeps this instead of its parser (`park`, `resume`).
 */
export interface ParkedParser {
  readonly limits: ParserLimits;
  readonly contentNamespace: string | undefined;
  readonly rootName: string;
  readonly rootDefault: string;
  readonly rootPrefixes: ReadonlyMap<string, string>;
}

export class XmlStreamParser {
  private readonly handlers: StreamParserHandlers;
  private limits: ParserLimits;
  private readonly contentNamespace: string | undefined;
  private readonly scopes = new NamespaceScopes();

  private state = S_MISC;
  /** Bumped by reset(), pause() and stopping, so a scan interrupted by a handler can tell. */
  private generation = 0;
  /** Absolute stream offset of byte 0 of the slice being scanned. */
  private base = 0;
  /** Bytes of the current stanza or header may not reach this absolute offset. */
  private limitEnd = MAX_STREAM_HEADER_BYTES;
  private limitIsHeader = true;
  /** Bytes of an unfinished UTF-8 character from the previous chunk. */
  private carry: Uint8Array | undefined;
  /** Set by pause() from a handler: the scan stops after that handler's construct. */
  private pauseRequested = false;
  /** While paused: the bytes after the construct that paused, unparsed, with any that arrived since. */
  private pending: Buffer | undefined;

  private atStreamStart = true;
  /** Qualified name of the stream root, for its end tag. */
  private rootName = '';
  /** Open elements, the root included. */
  private depth = 0;
  /** Taken at the start of write(), handed back when write() ends between stanzas. */
  private scratch: Scratch | undefined;

  /** The name being scanned: element, attribute or end tag. */
  private name = '';
  /** The qualified name of the start tag being scanned. */
  private tagName = '';
  private nameBytes = 0;
  private attrCount = 0;
  private sawSpace = false;
  private quote = 0;
  private value = '';
  private valueBytes = 0;
  private text = '';
  private textBytes = 0;
  private reference = '';
  private referenceReturn = S_CONTENT;
  private bang = '';
  private declaration = '';
  /** Absolute offset just past the last literal ']' and how many came in a row (for `]]>`). */
  private bracketEnd = -1;
  private bracketRun = 0;
  /** Absolute offset of the '<' of the tag being scanned at depth 1, where a stanza's bytes start. */
  private tagStart = 0;
  /** A CR ended the previous slice; a LF starting the next one belongs to it (XML 1.0 section 2.11). */
  private skipLineFeed = false;

  constructor(handlers: StreamParserHandlers, options: StreamParserOptions) {
    this.handlers = handlers;
    this.limits = options.limits;
    this.contentNamespace = options.contentNamespace;
  }

  write(chunk: Buffer | Uint8Array): void {
    if (this.state === S_STOPPED) return;
    if (this.pending !== undefined) {
      // Paused: what arrives waits, unparsed, behind what the pause left (resume).
      this.pending = Buffer.concat([this.pending, chunk]);
      return;
    }
    let bytes = toBuffer(chunk);
    if (this.carry !== undefined) {
      bytes = Buffer.concat([this.carry, bytes]);
      this.carry = undefined;
    }
    this.scratch ??= takeScratch();
    const tail = incompleteTailLength(bytes, bytes.length);
    const end = bytes.length - tail;
    const invalidAt = firstInvalidUtf8(bytes, end);
    const scanEnd = invalidAt < 0 ? end : invalidAt;

    let from = 0;
    for (;;) {
      const generation = this.generation;
      this.base = this.base - from;
      const resumeAt = this.scan(bytes, from, scanEnd);
      if (this.state === S_STOPPED) return;
      if (this.pauseRequested) {
        this.pauseRequested = false;
        this.pending = bytes.subarray(resumeAt);
        this.base += resumeAt;
        if (this.state === S_MISC) this.releaseScratch();
        return;
      }
      if (this.generation === generation) break;
      // reset() was called by a handler: the rest of this chunk starts the new stream.
      this.base = 0;
      from = resumeAt;
    }
    if (invalidAt >= 0) {
      this.fail('not-well-formed', 'invalid UTF-8');
      return;
    }
    this.base += scanEnd;
    if (tail > 0) this.carry = bytes.slice(end);
    if (this.state === S_MISC) this.releaseScratch();
  }

  /**
   * What this parser needs to go on later, when it stands between two stanzas with nothing
   * held back (no partial tag or character); undefined anywhere else. The parser is not to be
   * used after a park that returned something: `resume` makes its successor.
   */
  park(): ParkedParser | undefined {
    if (this.state !== S_MISC || this.depth !== 1 || this.carry !== undefined || this.pending !== undefined || this.scratch !== undefined || this.skipLineFeed) return undefined;
    return {
      limits: this.limits,
      contentNamespace: this.contentNamespace,
      rootName: this.rootName,
      rootDefault: this.scopes.rootDefaultNamespace,
      rootPrefixes: this.scopes.rootPrefixMap,
    };
  }

  /** A parser that goes on with a parked one's stream, between two stanzas. */
  static resume(handlers: StreamParserHandlers, parked: ParkedParser): XmlStreamParser {
    const parser = new XmlStreamParser(handlers, { limits: parked.limits, contentNamespace: parked.contentNamespace });
    parser.atStreamStart = false;
    parser.rootName = parked.rootName;
    parser.depth = 1;
    parser.limitEnd = NO_LIMIT;
    parser.limitIsHeader = false;
    parser.scopes.enterRoot(parked.rootDefault, parked.rootPrefixes);
    return parser;
  }

  private releaseScratch(): void {
    if (this.scratch === undefined) return;
    returnScratch(this.scratch);
    this.scratch = undefined;
    this.value = '';
    this.declaration = '';
  }

  end(): void {
    this.stop();
  }

  /**
   * Called from a handler: parsing stops after the construct being handled, and the bytes after
   * it wait as they are until `resume`, so that a stream held to its share of a turn keeps what
   * it has not run yet as the bytes read, not as element trees. A reset() from a handler run
   * while paused applies to those bytes, as it would to the rest of a chunk.
   */
  pause(): void {
    if (this.state === S_STOPPED) return;
    this.pauseRequested = true;
    this.generation++;
  }

  /** whether a pause left bytes waiting for `resume` */
  get paused(): boolean {
    return this.pending !== undefined;
  }

  /** Parses what a pause left; the handlers may pause again. Nothing happens when not paused. */
  resume(): void {
    const pending = this.pending;
    if (pending === undefined) return;
    this.pending = undefined;
    this.write(pending);
  }

  /** Applies new limits from the next stanza on, within the same stream (a component after its handshake). */
  setLimits(limits: ParserLimits): void {
    this.limits = limits;
  }

  /** Starts a new stream (RFC 6120 section 4.3.3), under new limits when given (a stream gets more room once authenticated). */
  reset(limits?: ParserLimits): void {
    if (this.state === S_STOPPED) return;
    if (limits !== undefined) this.limits = limits;
    this.generation++;
    this.state = S_MISC;
    this.base = 0;
    this.limitEnd = MAX_STREAM_HEADER_BYTES;
    this.limitIsHeader = true;
    this.carry = undefined;
    this.atStreamStart = true;
    this.depth = 0;
    this.scopes.reset();
    this.text = '';
    this.textBytes = 0;
    this.bracketEnd = -1;
    this.skipLineFeed = false;
  }

  /**
   * Scans bytes[from, end). Returns where it stopped: `end`, or the index after the construct
   * whose handler called reset(), from where the new stream continues.
   */
  private scan(bytes: Buffer, from: number, end: number): number {
    const generation = this.generation;
    let i = from;
    while (i < end) {
      const limitAt = this.limitEnd - this.base;
      const stop = limitAt < end ? limitAt : end;
      if (i >= stop) {
        this.failLimit();
        return i;
      }
      switch (this.state) {
        case S_MISC: {
          if (this.atStreamStart && bytes[i] === 0xef && bytes[i + 1] === 0xbb && bytes[i + 2] === 0xbf) {
            i += 3; // byte order mark (XML 1.0 section 4.3.3)
            continue;
          }
          const start = i;
          while (i < stop && isWhitespaceByte(bytes[i])) i++;
          if (i > start) {
            this.atStreamStart = false;
            if (this.depth === 1 && this.handlers.whitespace !== undefined) {
              this.handlers.whitespace();
              if (this.generation !== generation) return i;
            }
          }
          if (i >= stop) continue;
          if (bytes[i] !== 0x3c) {
            this.fail('not-well-formed', this.depth === 1 ? 'text between stanzas' : 'text outside the stream root');
            return i;
          }
          // A stanza's bytes count from its '<'; the limit starts with its name, since this may
          // as well be the stream's end tag, which is no stanza (see S_LT).
          this.tagStart = this.base + i;
          this.state = S_LT;
          i++;
          continue;
        }

        case S_CONTENT: {
          if (this.skipLineFeed) {
            this.skipLineFeed = false;
            if (bytes[i] === 0x0a) i++;
            continue;
          }
          const start = i;
          for (;;) {
            while (i < stop && TEXT_STOP[bytes[i]] === 0) i++;
            if (i >= stop) break;
            const byte = bytes[i];
            if (byte === 0x5d) {
              this.countBracket(i);
              i++;
            } else if (byte === 0x3e) {
              if (this.bracketEnd === this.base + i && this.bracketRun >= 2) {
                this.fail('not-well-formed', "']]>' in character data");
                return i;
              }
              i++;
            } else if (byte === 0xef) {
              if (isNonCharacterAt(bytes, i)) {
                this.fail('not-well-formed', 'U+FFFE or U+FFFF in character data');
                return i;
              }
              i += 3;
            } else break;
          }
          if (i > start && !this.addText(bytes.toString('utf8', start, i), i - start)) return i;
          if (i >= stop) continue;
          const byte = bytes[i];
          if (byte === 0x3c) {
            this.state = S_LT;
            i++;
          } else if (byte === 0x26) {
            this.startReference(S_CONTENT);
            i++;
          } else if (byte === 0x0d) {
            if (!this.addText('\n', 1)) return i;
            i = this.afterCarriageReturn(bytes, i, end);
          } else {
            this.fail('not-well-formed', `character U+${byte.toString(16).padStart(4, '0')} is not allowed in XML`);
            return i;
          }
          continue;
        }

        case S_LT: {
          const byte = bytes[i];
          if (byte === 0x2f) {
            if (this.depth === 0) {
              this.fail('not-well-formed', 'end tag outside the stream root');
              return i;
            }
            this.flushText();
            this.startName(S_END_NAME);
            i++;
          } else if (NAME_START[byte] === 1) {
            if (this.depth === 1) {
              this.limitEnd = this.tagStart + this.limits.max_stanza_bytes;
              this.limitIsHeader = false;
            }
            this.flushText();
            this.startName(S_START_NAME);
            this.attrCount = 0;
          } else if (byte === 0x3f) {
            if (!this.atStreamStart) {
              this.fail('restricted-xml', 'processing instructions are not allowed');
              return i;
            }
            this.declaration = '';
            this.state = S_DECLARATION;
            i++;
          } else if (byte === 0x21) {
            this.bang = '';
            this.state = S_BANG;
            i++;
          } else {
            this.fail('not-well-formed', "'<' not followed by a name");
            return i;
          }
          this.atStreamStart = false;
          continue;
        }

        case S_START_NAME:
        case S_ATTR_NAME:
        case S_END_NAME: {
          const start = i;
          if (this.nameBytes === 0 && NAME_START[bytes[i]] !== 1) {
            this.fail('not-well-formed', 'a name must start with a letter, _ or :');
            return i;
          }
          while (i < stop && NAME_CHAR[bytes[i]] === 1) i++;
          this.nameBytes += i - start;
          if (this.nameBytes > MAX_NAME_BYTES) {
            this.fail('policy-violation', `name exceeds ${MAX_NAME_BYTES} bytes`);
            return i;
          }
          if (this.name !== '') this.name += bytes.toString('utf8', start, i);
          else if (this.state === S_END_NAME && i < stop && this.isOpenName(bytes, start, i)) this.name = this.openName();
          else this.name = internAscii(bytes, start, i);
          if (i >= stop) continue;
          if (this.name.length !== this.nameBytes && !isXmlName(this.name)) {
            this.fail('not-well-formed', `invalid name ${JSON.stringify(this.name)}`);
            return i;
          }
          if (this.state === S_START_NAME) {
            this.tagName = this.name;
            this.state = S_IN_TAG;
          } else this.state = this.state === S_ATTR_NAME ? S_ATTR_EQ : S_END_CLOSE;
          this.sawSpace = false;
          continue;
        }

        case S_IN_TAG: {
          while (i < stop && isWhitespaceByte(bytes[i])) {
            i++;
            this.sawSpace = true;
          }
          if (i >= stop) continue;
          const byte = bytes[i];
          if (byte === 0x3e) {
            i++;
            if (!this.finishStartTag(false)) return i;
            if (this.generation !== generation) return i;
          } else if (byte === 0x2f) {
            this.state = S_EMPTY_CLOSE;
            i++;
          } else if (NAME_START[byte] === 1 && this.sawSpace) {
            if (this.attrCount >= this.limits.max_attributes && this.depth > 0) {
              this.fail('policy-violation', `element exceeds max_attributes (${this.limits.max_attributes})`);
              return i;
            }
            this.startName(S_ATTR_NAME);
          } else {
            this.fail('not-well-formed', NAME_START[byte] === 1 ? 'attributes must be separated by whitespace' : `unexpected ${describeByte(byte)} in a start tag`);
            return i;
          }
          continue;
        }

        case S_ATTR_EQ:
        case S_ATTR_QUOTE: {
          while (i < stop && isWhitespaceByte(bytes[i])) i++;
          if (i >= stop) continue;
          const byte = bytes[i];
          if (this.state === S_ATTR_EQ) {
            if (byte !== 0x3d) {
              this.fail('not-well-formed', `attribute ${this.name} has no value`);
              return i;
            }
            this.state = S_ATTR_QUOTE;
          } else {
            if (byte !== 0x22 && byte !== 0x27) {
              this.fail('not-well-formed', `value of attribute ${this.name} is not quoted`);
              return i;
            }
            this.quote = byte;
            this.value = '';
            this.valueBytes = 0;
            this.state = S_ATTR_VALUE;
          }
          i++;
          continue;
        }

        case S_ATTR_VALUE: {
          if (this.skipLineFeed) {
            this.skipLineFeed = false;
            if (bytes[i] === 0x0a) i++;
            continue;
          }
          const start = i;
          const quote = this.quote;
          for (;;) {
            while (i < stop && ATTR_STOP[bytes[i]] === 0) i++;
            if (i >= stop) break;
            const byte = bytes[i];
            if (byte === 0xef) {
              if (isNonCharacterAt(bytes, i)) {
                this.fail('not-well-formed', 'U+FFFE or U+FFFF in an attribute value');
                return i;
              }
              i += 3;
            } else if ((byte === 0x22 || byte === 0x27) && byte !== quote) i++;
            else break;
          }
          if (i > start) {
            const whole = this.valueBytes === 0 && i < stop && bytes[i] === quote;
            if (!this.addValue(whole ? internAscii(bytes, start, i) : bytes.toString('utf8', start, i), i - start)) return i;
          }
          if (i >= stop) continue;
          const byte = bytes[i];
          if (byte === quote) {
            const scratch = this.scratch!;
            scratch.attrNames[this.attrCount] = this.name;
            scratch.attrValues[this.attrCount] = this.value;
            this.attrCount++;
            if (this.attrCount > scratch.mostAttributes) scratch.mostAttributes = this.attrCount;
            this.sawSpace = false;
            this.state = S_IN_TAG;
            i++;
          } else if (byte === 0x26) {
            this.startReference(S_ATTR_VALUE);
            i++;
          } else if (byte === 0x09 || byte === 0x0a) {
            // Attribute-value normalization (XML 1.0 section 3.3.3).
            if (!this.addValue(' ', 1)) return i;
            i++;
          } else if (byte === 0x0d) {
            if (!this.addValue(' ', 1)) return i;
            i = this.afterCarriageReturn(bytes, i, end);
          } else if (byte === 0x3c) {
            this.fail('not-well-formed', "'<' in an attribute value");
            return i;
          } else {
            this.fail('not-well-formed', `character U+${byte.toString(16).padStart(4, '0')} is not allowed in XML`);
            return i;
          }
          continue;
        }

        case S_EMPTY_CLOSE: {
          if (bytes[i] !== 0x3e) {
            this.fail('not-well-formed', "'/' not followed by '>' in a start tag");
            return i;
          }
          i++;
          if (!this.finishStartTag(true)) return i;
          if (this.generation !== generation) return i;
          continue;
        }

        case S_END_CLOSE: {
          while (i < stop && isWhitespaceByte(bytes[i])) i++;
          if (i >= stop) continue;
          if (bytes[i] !== 0x3e) {
            this.fail('not-well-formed', `unexpected ${describeByte(bytes[i])} in an end tag`);
            return i;
          }
          i++;
          if (!this.finishEndTag()) return i;
          if (this.generation !== generation) return i;
          continue;
        }

        case S_REFERENCE: {
          const start = i;
          const bound = start + MAX_REFERENCE_BYTES + 1;
          while (i < stop && i < bound && bytes[i] !== 0x3b && (NAME_CHAR[bytes[i]] === 1 || bytes[i] === 0x23)) i++;
          this.reference += bytes.toString('utf8', start, i);
          if (this.reference.length > MAX_REFERENCE_BYTES) {
            this.fail('not-well-formed', 'malformed character or entity reference');
            return i;
          }
          if (i >= stop) continue;
          if (bytes[i] !== 0x3b) {
            this.fail('not-well-formed', "'&' not starting a reference (write &amp;)");
            return i;
          }
          i++;
          const resolved = resolveReference(this.reference);
          if (typeof resolved !== 'string') {
            this.fail(resolved.condition, resolved.message);
            return i;
          }
          const size = Buffer.byteLength(resolved);
          const added = this.referenceReturn === S_CONTENT ? this.addText(resolved, size) : this.addValue(resolved, size);
          if (!added) return i;
          this.state = this.referenceReturn;
          continue;
        }

        case S_BANG: {
          this.bang += String.fromCharCode(bytes[i]);
          i++;
          const bang = this.bang;
          if (bang === '-') continue;
          if (bang === '--') {
            this.fail('restricted-xml', 'comments are not allowed');
            return i;
          }
          if (CDATA_OPEN.startsWith(bang)) {
            if (bang !== CDATA_OPEN) continue;
            if (this.depth < 2) {
              this.fail('not-well-formed', 'CDATA section outside a stanza');
              return i;
            }
            this.bracketEnd = -1;
            this.state = S_CDATA;
            continue;
          }
          const first = bang.charCodeAt(0);
          if (first >= 0x41 && first <= 0x5a) {
            this.fail('restricted-xml', 'document type and markup declarations are not allowed');
          } else this.fail('not-well-formed', "'<!' not starting a CDATA section");
          return i;
        }

        case S_CDATA: {
          if (this.skipLineFeed) {
            this.skipLineFeed = false;
            if (bytes[i] === 0x0a) i++;
            continue;
          }
          const start = i;
          let closed = false;
          for (;;) {
            while (i < stop && CDATA_STOP[bytes[i]] === 0) i++;
            if (i >= stop) break;
            const byte = bytes[i];
            if (byte === 0x5d) {
              this.countBracket(i);
              i++;
            } else if (byte === 0x3e) {
              closed = this.bracketEnd === this.base + i && this.bracketRun >= 2;
              if (closed) break;
              i++;
            } else if (byte === 0xef) {
              if (isNonCharacterAt(bytes, i)) {
                this.fail('not-well-formed', 'U+FFFE or U+FFFF in a CDATA section');
                return i;
              }
              i += 3;
            } else break;
          }
          if (i > start) {
            this.text += bytes.toString('utf8', start, i);
            this.textBytes += i - start;
          }
          if (closed) {
            // The two ']' of ']]>' were taken as text; they close the section instead.
            this.text = this.text.slice(0, -2);
            this.textBytes -= 2;
            this.bracketEnd = -1;
            this.state = S_CONTENT;
            i++;
          }
          if (!this.addText('', 0)) return i;
          if (closed || i >= stop) continue;
          if (bytes[i] === 0x0d) {
            if (!this.addText('\n', 1)) return i;
            i = this.afterCarriageReturn(bytes, i, end);
            continue;
          }
          this.fail('not-well-formed', `character U+${bytes[i].toString(16).padStart(4, '0')} is not allowed in XML`);
          return i;
        }

        case S_DECLARATION: {
          const start = i;
          while (i < stop && bytes[i] !== 0x3e) i++;
          if (i < stop) i++;
          this.declaration += bytes.toString('latin1', start, i);
          if (this.declaration.length > MAX_DECLARATION_BYTES) {
            this.fail('not-well-formed', 'XML declaration too long');
            return i;
          }
          if (!this.declaration.endsWith('?>')) continue;
          const problem = checkXmlDeclaration(this.declaration);
          if (problem !== undefined) {
            this.fail(problem.condition, problem.message);
            return i;
          }
          this.state = S_MISC;
          continue;
        }

        default:
          return end;
      }
    }
    return i;
  }

  private startName(next: number): void {
    this.name = '';
    this.nameBytes = 0;
    this.state = next;
  }

  private startReference(returnTo: number): void {
    this.reference = '';
    this.referenceReturn = returnTo;
    this.state = S_REFERENCE;
  }

  private countBracket(i: number): void {
    const at = this.base + i;
    this.bracketRun = this.bracketEnd === at ? this.bracketRun + 1 : 1;
    this.bracketEnd = at + 1;
  }

  /** Consumes a CR and a LF right after it, here or at the start of the next slice (XML 1.0 section 2.11). */
  private afterCarriageReturn(bytes: Buffer, i: number, end: number): number {
    if (i + 1 < end) return bytes[i + 1] === 0x0a ? i + 2 : i + 1;
    this.skipLineFeed = true;
    return i + 1;
  }

  private addText(text: string, size: number): boolean {
    this.text += text;
    this.textBytes += size;
    if (this.textBytes > this.limits.max_text_bytes) {
      this.fail('policy-violation', `text exceeds max_text_bytes (${this.limits.max_text_bytes})`);
      return false;
    }
    return true;
  }

  private addValue(value: string, size: number): boolean {
    this.value += value;
    this.valueBytes += size;
    if (this.valueBytes > this.limits.max_attribute_bytes && this.depth > 0) {
      this.fail('policy-violation', `attribute value exceeds max_attribute_bytes (${this.limits.max_attribute_bytes})`);
      return false;
    }
    return true;
  }

  /** Adjacent text segments (runs, references, CDATA) become one text child. */
  private flushText(): void {
    if (this.text !== '') {
      this.scratch!.stack[this.depth - 1]!.children.push(this.text);
      this.text = '';
    }
    this.textBytes = 0;
    this.bracketEnd = -1;
  }

  private finishStartTag(selfClosing: boolean): boolean {
    const scratch = this.scratch!;
    // open() writes the frames at the depth it enters, one below this element's index.
    if (this.depth + 1 > scratch.deepest) scratch.deepest = this.depth + 1;
    const element = this.scopes.open(this.tagName, scratch.attrNames, scratch.attrValues, this.attrCount, scratch);
    if (element === undefined) {
      this.fail('not-well-formed', this.scopes.error);
      return false;
    }
    const depth = this.depth;
    if (depth === 0) {
      this.rootName = this.tagName;
      this.depth = 1;
      this.limitEnd = NO_LIMIT;
      this.state = S_MISC;
      const generation = this.generation;
      const declared = this.scopes.declared ?? {};
      // The stream keeps what it needs of them: not kept here for as long as the stream lives.
      this.scopes.declared = undefined;
      this.handlers.streamOpen(element, declared);
      if (selfClosing && this.generation === generation) return this.finishEndTag();
      return true;
    }
    if (depth === 1 && element.name === 'stream' && element.xmlns === NS_STREAMS) {
      // A stream header is only allowed at the start of a stream or after a restart (RFC 6120
      // sections 4.2 and 4.3.3). Here it would open a child of the stream root, which the streams
      // schema does not allow (RFC 6120 appendix A.1): invalid-xml (section 4.9.3.11), the specific
      // condition section 4.9.3.1 recommends over bad-format. Taken as a stanza, it would silently
      // swallow everything the peer sends after it.
      this.fail('invalid-xml', 'a second stream header without a stream restart');
      return false;
    }
    if (depth > this.limits.max_depth) {
      this.fail('policy-violation', `element nesting exceeds max_depth (${this.limits.max_depth})`);
      return false;
    }
    if (this.contentNamespace !== undefined && element.xmlns === this.contentNamespace) element.xmlns = NS_CLIENT;
    if (depth > 1) scratch.stack[depth - 1]!.children.push(element);
    scratch.stack[depth] = element;
    scratch.openNames[depth] = this.tagName;
    this.depth = depth + 1;
    this.state = S_CONTENT;
    this.textBytes = 0;
    if (selfClosing) return this.finishEndTag();
    return true;
  }

  /** The qualified name of the innermost open element, which the next end tag must repeat. */
  private openName(): string {
    const depth = this.depth - 1;
    return depth === 0 ? this.rootName : this.scratch!.openNames[depth];
  }

  /**
   * Whether bytes[start, end) spell the innermost open element's name in ASCII (an end tag's,
   * decoded without a lookup). A name with other characters takes the general way: compared
   * code by byte, U+00C3 U+00B7 would match the UTF-8 of U+00F7.
   */
  private isOpenName(bytes: Buffer, start: number, end: number): boolean {
    const name = this.openName();
    if (name.length !== end - start) return false;
    for (let k = 0; k < name.length; k++) {
      const code = name.charCodeAt(k);
      if (code >= 0x80 || code !== bytes[start + k]) return false;
    }
    return true;
  }

  private finishEndTag(): boolean {
    const depth = this.depth - 1;
    const openName = this.openName();
    if (this.state === S_END_CLOSE && this.name !== openName) {
      this.fail('not-well-formed', `end tag </${this.name}> does not match <${openName}>`);
      return false;
    }
    this.depth = depth;
    this.scopes.close();
    const scratch = this.scratch!;
    if (depth >= 2) {
      this.state = S_CONTENT;
      this.textBytes = 0;
      return true;
    }
    if (depth === 0) {
      // RFC 6120 section 4.4: the peer sends nothing after its closing tag. Whatever it sends
      // anyway (a late stream management <a/>, say) is ignored, not taken for a malformed stream.
      this.stop();
      this.handlers.streamClose();
      return false;
    }
    this.state = S_MISC;
    this.limitEnd = NO_LIMIT;
    const stanza = scratch.stack[1]!;
    scratch.stack[1] = undefined;
    this.handlers.stanza(stanza);
    return true;
  }

  private failLimit(): void {
    if (this.limitIsHeader) this.fail('policy-violation', `stream header exceeds ${MAX_STREAM_HEADER_BYTES} bytes`);
    else this.fail('policy-violation', `stanza exceeds max_stanza_bytes (${this.limits.max_stanza_bytes})`);
  }

  private fail(condition: XmlErrorCondition, message: string): void {
    if (this.state === S_STOPPED) return;
    this.stop();
    this.handlers.error(new XmlStreamError(condition, message));
  }

  private stop(): void {
    this.state = S_STOPPED;
    this.generation++;
    this.carry = undefined;
    this.pending = undefined;
    this.pauseRequested = false;
    this.releaseScratch();
  }
}

function toBuffer(chunk: Buffer | Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

function describeByte(byte: number): string {
  return byte >= 0x21 && byte < 0x7f ? `'${String.fromCharCode(byte)}'` : `byte 0x${byte.toString(16).padStart(2, '0')}`;
}
