/**
 * Reads XEP-0227 (PIEFXIS) files as a stream of accounts: `<server-data/>` holding `<host/>`
 * elements holding `<user/>` elements, any of them split into other files with XInclude
 * (section 5; only relative `href` without `parse` or `xpointer`, which is what the section
 * requires an importer to support).
 *
 * Files go through the stream parser (src/xml/parser.ts), which holds one child of the root at a
 * time: in a file whose root is `<host/>` (ejabberd's and Trellis's exports) that is one user, in
 * one whose root is `<server-data/>` a whole host (Prosody's migrator writes one user per file).
 * `maxElementBytes` bounds that element, so memory stays bounded whatever the file's size.
 */
import { createReadStream } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { ParserLimits } from '../config/types.ts';
import { Element } from '../xml/element.ts';
import { XmlStreamParser } from '../xml/parser.ts';

/** The namespace of XEP-0227 version 1.0 on, and the provisional one of earlier versions (section 8). */
export const NS_PIE = 'urn:xmpp:pie:0';
export const NS_PIE_PROVISIONAL = 'http://www.xmpp.org/extensions/xep-0227.html#ns';
const NS_XINCLUDE = 'http://www.w3.org/2001/XInclude';

export interface ReadLimits {
  /** the largest element held at once: a user, or a host written inline in its file */
  maxElementBytes: number;
  /** the longest text (a vCard photo, say) */
  maxTextBytes: number;
}

export const DEFAULT_READ_LIMITS: ReadLimits = { maxElementBytes: 64 * 1024 * 1024, maxTextBytes: 16 * 1024 * 1024 };

/** server-data includes hosts, hosts include users: no deeper chain is meaningful. */
const MAX_INCLUDE_DEPTH = 4;
const CHUNK_BYTES = 64 * 1024;

export interface PiefxisUser {
  /** the host's `jid` attribute, as written */
  host: string;
  user: Element;
  /** the file it came from */
  file: string;
}

/** A file that cannot be read as XEP-0227 data; the message names the file. */
export class PiefxisFormatError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'PiefxisFormatError';
  }
}

/**
 * The users of the files and directories given, in file order. A directory stands for each
 * `*.xml` in it whose root is `<server-data/>` (sorted by name); files it holds that only
 * other files include are read through those.
 */
export async function* readPiefxis(paths: readonly string[], limits: ReadLimits = DEFAULT_READ_LIMITS): AsyncGenerator<PiefxisUser> {
  for (const path of paths) {
    const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
      throw new PiefxisFormatError(path, error.code === 'ENOENT' ? 'no such file or directory' : error.message);
    });
    if (!info.isDirectory()) {
      yield* readFile(await realpath(path), { expect: 'server-data', depth: 0, seen: new Set(), limits });
      continue;
    }
    const names = (await readdir(path)).filter((name) => name.endsWith('.xml')).sort();
    let documents = 0;
    for (const name of names) {
      const file = await realpath(join(path, name));
      if ((await rootName(file)) !== 'server-data') continue;
      documents++;
      yield* readFile(file, { expect: 'server-data', depth: 0, seen: new Set(), limits });
    }
    if (documents === 0) throw new PiefxisFormatError(path, 'no XEP-0227 file in this directory (a *.xml file whose root is <server-data/>)');
  }
}

type Level = 'server-data' | 'host' | 'user';

interface FileContext {
  expect: Level;
  depth: number;
  /** files on the way here, against include loops */
  seen: Set<string>;
  limits: ReadLimits;
  /** the host a `<user/>` file belongs to */
  host?: string;
}

/** What the parser handed over for one chunk. */
type ParseEvent = { kind: 'root'; root: Element } | { kind: 'child'; element: Element } | { kind: 'end' };

async function* readFile(file: string, context: FileContext): AsyncGenerator<PiefxisUser> {
  if (context.seen.has(file)) throw new PiefxisFormatError(file, 'includes itself (an XInclude loop)');
  const seen = new Set(context.seen).add(file);
  // A user file is gathered whole: the element limit is the file's.
  if (context.expect === 'user' && (await stat(file)).size > context.limits.maxElementBytes) {
    throw new PiefxisFormatError(file, `a user larger than ${context.limits.maxElementBytes} bytes; raise the limit with --max-element-bytes`);
  }
  let root: Element | undefined;
  let ended = false;
  // A user given as a file of its own is gathered whole (its children come one by one).
  let userFile: Element | undefined;
  for await (const event of parseEvents(file, context.limits)) {
    if (event.kind === 'root') {
      root = event.root;
      checkRoot(file, root, context.expect);
      if (context.expect === 'user') userFile = root;
      continue;
    }
    if (event.kind === 'end') {
      ended = true;
      continue;
    }
    const child = event.element;
    if (userFile !== undefined) {
      userFile.children.push(child);
      continue;
    }
    if (isInclude(child)) {
      yield* readInclude(file, child, root!, context, seen);
      continue;
    }
    if (root!.name === 'server-data') {
      if (!isPie(child, 'host')) throw new PiefxisFormatError(file, `<${child.name}/> in <server-data/>: only <host/> elements may be there (XEP-0227 section 4.1)`);
      yield* usersOfHost(file, child, context, seen);
    } else {
      if (!isPie(child, 'user')) throw new PiefxisFormatError(file, `<${child.name}/> in <host/>: only <user/> elements may be there (XEP-0227 section 4.2)`);
      yield { host: hostJid(file, root!), user: child, file };
    }
  }
  if (root === undefined || !ended) throw new PiefxisFormatError(file, root === undefined ? 'empty file' : `the file ends before </${root.name}>`);
  if (userFile !== undefined) yield { host: context.host!, user: userFile, file };
}

async function* usersOfHost(file: string, host: Element, context: FileContext, seen: Set<string>): AsyncGenerator<PiefxisUser> {
  const jid = hostJid(file, host);
  for (const child of host.elements()) {
    if (isInclude(child)) yield* readInclude(file, child, host, context, seen);
    else if (isPie(child, 'user')) yield { host: jid, user: child, file };
    else throw new PiefxisFormatError(file, `<${child.name}/> in <host jid='${jid}'/>: only <user/> elements may be there (XEP-0227 section 4.2)`);
  }
}

/** XEP-0227 section 5: `<include href='relative'/>`, resolved against the including file. */
async function* readInclude(file: string, include: Element, parent: Element, context: FileContext, seen: Set<string>): AsyncGenerator<PiefxisUser> {
  const href = include.attrs.href;
  if (href === undefined || href === '') throw new PiefxisFormatError(file, 'an XInclude <include/> without href');
  if (include.attrs.parse !== undefined || include.attrs.xpointer !== undefined) {
    throw new PiefxisFormatError(file, `<include href='${href}'/> with parse or xpointer: only plain relative includes are supported`);
  }
  if (/^[a-z][a-z0-9+.-]*:/i.test(href) || isAbsolute(href)) throw new PiefxisFormatError(file, `<include href='${href}'/>: only relative file names are supported`);
  if (context.depth + 1 > MAX_INCLUDE_DEPTH) throw new PiefxisFormatError(file, `includes nest deeper than ${MAX_INCLUDE_DEPTH} files`);
  const base = dirname(file);
  const target = resolve(base, decodeURIComponent(href));
  const inside = relative(base, target);
  if (inside.startsWith(`..${sep}`) || inside === '..') throw new PiefxisFormatError(file, `<include href='${href}'/> leaves the directory of the file that includes it`);
  const real = await realpath(target).catch(() => {
    throw new PiefxisFormatError(file, `<include href='${href}'/>: no such file ${target}`);
  });
  const expect: Level = parent.name === 'server-data' ? 'host' : 'user';
  const host = parent.name === 'host' ? hostJid(file, parent) : undefined;
  yield* readFile(real, { ...context, expect, depth: context.depth + 1, seen, ...(host === undefined ? {} : { host }) });
}

function checkRoot(file: string, root: Element, expect: Level): void {
  // A file named on the command line may be a host file too: the host names itself.
  const allowed: Level[] = expect === 'server-data' ? ['server-data', 'host'] : [expect];
  if (!allowed.some((name) => isPie(root, name))) {
    const found = `<${root.name}${root.xmlns === '' ? '' : ` xmlns='${root.xmlns}'`}/>`;
    throw new PiefxisFormatError(file, `the root is ${found}, not ${allowed.map((name) => `<${name}/>`).join(' or ')} in ${NS_PIE} (XEP-0227)`);
  }
  if (root.name === 'user') nameOf(file, root);
}

function hostJid(file: string, host: Element): string {
  const jid = host.attrs.jid;
  if (jid === undefined || jid === '') throw new PiefxisFormatError(file, '<host/> without its jid attribute (XEP-0227 section 4.1)');
  return jid;
}

function nameOf(file: string, user: Element): string {
  const name = user.attrs.name;
  if (name === undefined || name === '') throw new PiefxisFormatError(file, '<user/> without its name attribute (XEP-0227 section 4.2)');
  return name;
}

function isPie(element: Element, name: string): boolean {
  return element.name === name && (element.xmlns === NS_PIE || element.xmlns === NS_PIE_PROVISIONAL);
}

function isInclude(element: Element): boolean {
  return element.name === 'include' && element.xmlns === NS_XINCLUDE;
}

/** The name of a file's root element ('' when it is not XML this parser reads). */
async function rootName(file: string): Promise<string> {
  for await (const event of parseEvents(file, DEFAULT_READ_LIMITS, { stopAtRoot: true })) {
    if (event.kind === 'root') return event.root.name;
  }
  return '';
}

/** The file through the stream parser, chunk by chunk; a parse error becomes a PiefxisFormatError. */
async function* parseEvents(file: string, limits: ReadLimits, { stopAtRoot = false } = {}): AsyncGenerator<ParseEvent> {
  const pending: ParseEvent[] = [];
  let failure: Error | undefined;
  const parser = new XmlStreamParser(
    {
      streamOpen: (root) => pending.push({ kind: 'root', root }),
      stanza: (element) => pending.push({ kind: 'child', element }),
      streamClose: () => pending.push({ kind: 'end' }),
      whitespace: () => {},
      error: (error) => (failure = error),
    },
    { limits: parserLimits(limits) },
  );
  const stream = createReadStream(file, { highWaterMark: CHUNK_BYTES });
  let offset = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      parser.write(chunk);
      while (pending.length > 0) {
        const event = pending.shift()!;
        yield event;
        if (stopAtRoot && event.kind === 'root') return;
      }
      if (failure !== undefined) {
        if (stopAtRoot) return;
        throw new PiefxisFormatError(file, `${describeParseError(failure, limits)} (in the bytes from ${offset} to ${offset + chunk.length})`);
      }
      offset += chunk.length;
    }
  } catch (error) {
    if (error instanceof PiefxisFormatError) throw error;
    throw new PiefxisFormatError(file, (error as Error).message);
  } finally {
    stream.destroy();
  }
}

function parserLimits(limits: ReadLimits): ParserLimits {
  return {
    max_stanza_bytes: limits.maxElementBytes,
    max_depth: 64,
    max_attributes: 256,
    max_attribute_bytes: 1024 * 1024,
    max_text_bytes: limits.maxTextBytes,
  };
}

function describeParseError(error: Error, limits: ReadLimits): string {
  if (/max_stanza_bytes/.test(error.message)) return `a user (or a host written inline) larger than ${limits.maxElementBytes} bytes; raise the limit with --max-element-bytes`;
  if (/max_text_bytes/.test(error.message)) return `a text longer than ${limits.maxTextBytes} bytes`;
  return `not XML this importer reads: ${error.message}`;
}
