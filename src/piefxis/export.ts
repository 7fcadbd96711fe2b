/**
 * `trellis export`: the accounts of the hosted domains as XEP-0227 files, in the layout of
 * section 5.1: DIR/server-data.xml includes one file per host, DIR/<domain>.xml, whose root is
 * the `<host/>` and whose children are its users, so that an importer reading it as a stream
 * holds one user at a time. Passwords are never stored here, so each account carries its SCRAM
 * keys (`<scram-credentials/>`, XEP-0227 version 1.1). The files say what users expect to be
 * protected (section 7): the directory is made for the owner only.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import type { TrellisConfig } from '../config/types.ts';
import { makeJid } from '../jid/jid.ts';
import { PRIVATE_KEY_PREFIX, NS_PRIVATE } from '../modules/private/private.ts';
import { PendingRequests } from '../modules/roster/pending-requests.ts';
import { itemElement, NS_ROSTER } from '../modules/roster/roster-xml.ts';
import { VCARD_STORAGE_KEY } from '../modules/vcard/vcard.ts';
import { parseStoredStanza } from '../modules/offline/stored-stanza.ts';
import type { Storage } from '../storage/types.ts';
import { el, NS_CLIENT, type Element } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { escapeAttr, serialize } from '../xml/serialize.ts';
import { NS_PIE } from './reader.ts';
import { scramCredentialsElements } from './scram-credentials.ts';

const NS_XINCLUDE = 'http://www.w3.org/2001/XInclude';
export const MAIN_FILE = 'server-data.xml';

export interface ExportSummary {
  /** the file to give `trellis import` */
  file: string;
  hosts: { domain: string; file: string; users: number }[];
}

export class ExportRefusedError extends Error {}

export async function exportPiefxis(storage: Storage, dir: string, domains: readonly string[]): Promise<ExportSummary> {
  const present = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  if (present.length > 0) throw new ExportRefusedError(`${dir} is not empty; export into a new or empty directory`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const summary: ExportSummary = { file: join(dir, MAIN_FILE), hosts: [] };
  for (const domain of domains) {
    const file = `${domain}.xml`;
    const out = openFile(join(dir, file));
    await write(out, `<?xml version='1.0' encoding='UTF-8'?>\n<host xmlns='${NS_PIE}' jid='${escapeAttr(domain)}'>\n`);
    let users = 0;
    for (const username of await storage.accounts.list(domain)) {
      const user = await userElement(storage, domain, username);
      if (user === undefined) continue;
      await write(out, `${serialize(user, NS_PIE)}\n`);
      users++;
    }
    await write(out, '</host>\n');
    await close(out);
    summary.hosts.push({ domain, file: join(dir, file), users });
  }
  const includes = summary.hosts.map(({ domain }) => `  <xi:include href='${escapeAttr(encodeURIComponent(`${domain}.xml`))}'/>\n`).join('');
  const main = openFile(summary.file);
  await write(main, `<?xml version='1.0' encoding='UTF-8'?>\n<server-data xmlns='${NS_PIE}' xmlns:xi='${NS_XINCLUDE}'>\n${includes}</server-data>\n`);
  await close(main);
  return summary;
}

/** One account as XEP-0227 section 4 writes it; undefined when it went away meanwhile. */
async function userElement(storage: Storage, domain: string, username: string): Promise<Element | undefined> {
  const credentials = await storage.accounts.get(domain, username);
  if (credentials === undefined) return undefined;
  const jid = makeJid(username, domain);
  const user = el('user', NS_PIE, { name: username });
  // Section 4.4 and its schema: the offline messages come first, oldest first.
  const waiting = await storage.offline.count(domain, username);
  if (waiting > 0) {
    const messages = await storage.offline.peek(domain, username, waiting, Number.MAX_SAFE_INTEGER);
    user.append(el('offline-messages', NS_PIE, {}, ...messages.map((message) => parseStoredStanza(message.stanza))));
  }
  user.append(...scramCredentialsElements(credentials));
  const roster = await storage.rosters.get(domain, username);
  if (roster.items.length > 0) user.append(el('query', NS_ROSTER, {}, ...roster.items.map(itemElement)));
  // Inbound requests not answered yet, as they arrived (Prosody's export writes them so too).
  for (const request of await new PendingRequests(storage.userData).all(jid)) {
    user.append(el('presence', NS_CLIENT, { from: request.attrs.from, type: 'subscribe' }));
  }
  const vcard = await storage.userData.get(domain, username, VCARD_STORAGE_KEY);
  if (vcard !== undefined && vcard !== '') user.append(parseElement(vcard));
  const privateXml: Element[] = [];
  for (const key of await storage.userData.keys(domain, username, PRIVATE_KEY_PREFIX)) {
    const stored = await storage.userData.get(domain, username, key);
    if (stored !== undefined) privateXml.push(...parseElement(stored).elements());
  }
  if (privateXml.length > 0) user.append(el('query', NS_PRIVATE, {}, ...privateXml));
  return user;
}

function openFile(path: string): WriteStream {
  return createWriteStream(path, { mode: 0o600, flags: 'wx' });
}

async function write(out: WriteStream, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

async function close(out: WriteStream): Promise<void> {
  out.end();
  await once(out, 'finish');
}

/** The hosted domains to export: one, or all. */
export function exportDomains(config: TrellisConfig, host: string | undefined): string[] {
  if (host === undefined) return config.hosts.map((candidate) => candidate.domain);
  const found = config.hosts.find((candidate) => candidate.domain === host.toLowerCase());
  if (found === undefined) throw new ExportRefusedError(`${host} is not a hosted domain (hosts: ${config.hosts.map((candidate) => candidate.domain).join(', ')})`);
  return [found.domain];
}
