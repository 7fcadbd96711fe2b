/**
 * `trellis import`: accounts from XEP-0227 files into storage, in two passes over the files.
 * The first reads everything and writes nothing: a file that is not valid, a host that is not
 * served here, a user given twice or an account that exists already stops the import before
 * anything changed (existing accounts may instead be skipped: `skipExisting`). The second
 * writes each account's data, and the account itself last, so that an import that was
 * interrupted can simply be run again: data left by a user whose account was not made yet is
 * cleared first.
 */
import type { TrellisConfig } from '../config/types.ts';
import { makeJid, tryParseJid } from '../jid/jid.ts';
import { PRIVATE_KEY_PREFIX, NS_PRIVATE } from '../modules/private/private.ts';
import { PendingRequests } from '../modules/roster/pending-requests.ts';
import { VCARD_STORAGE_KEY } from '../modules/vcard/vcard.ts';
import { withDelay, NS_DELAY, storedForm } from '../modules/offline/stored-stanza.ts';
import { AccountExistsError, type Storage } from '../storage/types.ts';
import { el, type Element } from '../xml/element.ts';
import { serialize } from '../xml/serialize.ts';
import { DEFAULT_READ_LIMITS, readPiefxis, type ReadLimits } from './reader.ts';
import { credentialsOf, readUser, UserRecordError, type ImportedUser } from './user-record.ts';

export interface ImportOptions {
  /** import this hosted domain only; the file's other hosts are passed over */
  host?: string;
  /** leave accounts that exist here as they are instead of refusing the import */
  skipExisting?: boolean;
  /** check the files and say what would be imported, writing nothing */
  dryRun?: boolean;
  limits?: ReadLimits;
}

export interface ImportSummary {
  /** accounts written (or that would be, on a dry run) */
  imported: number;
  /** existing accounts left as they were */
  skipped: string[];
  passwords: { plain: number; scram: number; none: string[] };
  rosterItems: number;
  pendingRequests: number;
  vcards: number;
  privateDocuments: number;
  offlineMessages: number;
  /** offline messages the mailbox quota (offline.max_messages, ...) refused */
  offlineRefused: number;
  /** users of hosts passed over with `host`, by host */
  otherHosts: Map<string, number>;
  /** what the files held that is not imported, with how many users had it */
  ignored: Map<string, number>;
}

/** The import was refused before anything was written; `problems` say why, one a line. */
export class ImportRefusedError extends Error {
  readonly problems: string[];
  constructor(summary: string, problems: string[]) {
    super(summary);
    this.name = 'ImportRefusedError';
    this.problems = problems;
  }
}

/** Problems listed at most, the rest counted. */
const MAX_PROBLEMS = 50;

export async function importPiefxis(storage: Storage, config: TrellisConfig, paths: readonly string[], options: ImportOptions = {}): Promise<ImportSummary> {
  const limits = options.limits ?? DEFAULT_READ_LIMITS;
  const only = options.host === undefined ? undefined : hostedDomain(config, options.host);
  const summary = emptySummary();
  const problems: string[] = [];
  const existing = new Set<string>();
  const seen = new Set<string>();
  for await (const record of users(config, paths, limits, only, summary, problems)) {
    const jid = `${record.username}@${record.domain}`;
    if (seen.has(jid)) addProblem(problems, `${jid} is given twice`);
    seen.add(jid);
    if ((await storage.accounts.get(record.domain, record.username)) !== undefined) existing.add(jid);
  }
  if (problems.length > 0) throw new ImportRefusedError('the files cannot be imported as they are; nothing was imported', problems);
  if (existing.size > 0 && options.skipExisting !== true) {
    throw refusal(`${existing.size} account${existing.size === 1 ? '' : 's'} already exist${existing.size === 1 ? 's' : ''} here; nothing was imported (--skip-existing imports the others and leaves these as they are)`, [...existing].sort());
  }
  summary.skipped = [...existing].sort();
  summary.otherHosts.clear();
  summary.ignored.clear();
  for await (const record of users(config, paths, limits, only, summary, [])) {
    if (existing.has(`${record.username}@${record.domain}`)) continue;
    count(summary, record);
    if (options.dryRun !== true) await writeUser(storage, config, record, summary);
  }
  return summary;
}

/** The users of the files that belong here, read; problems (hosts not served, users that cannot be read) are collected. */
async function* users(config: TrellisConfig, paths: readonly string[], limits: ReadLimits, only: string | undefined, summary: ImportSummary, problems: string[]): AsyncGenerator<ImportedUser> {
  for await (const { host, user, file } of readPiefxis(paths, limits)) {
    const domain = tryParseJid(host)?.domain;
    if (only !== undefined && domain !== only) {
      summary.otherHosts.set(host, (summary.otherHosts.get(host) ?? 0) + 1);
      continue;
    }
    if (domain === undefined || !config.hosts.some((candidate) => candidate.domain === domain)) {
      const problem = `${file}: host ${host} is not served here (hosts: ${config.hosts.map((candidate) => candidate.domain).join(', ')}); add it to the configuration, or import one host with --host`;
      if (!problems.includes(problem)) addProblem(problems, problem);
      continue;
    }
    let record: ImportedUser;
    try {
      record = readUser(domain, user);
    } catch (error) {
      if (!(error instanceof UserRecordError)) throw error;
      addProblem(problems, `${file}: user '${user.attrs.name ?? ''}' of ${host}: ${error.message}`);
      continue;
    }
    for (const what of record.ignored) summary.ignored.set(what, (summary.ignored.get(what) ?? 0) + 1);
    yield record;
  }
}

async function writeUser(storage: Storage, config: TrellisConfig, record: ImportedUser, summary: ImportSummary): Promise<void> {
  const { domain, username } = record;
  const jid = makeJid(username, domain);
  // Made between the two passes (a registration, say): not ours to touch.
  if ((await storage.accounts.get(domain, username)) !== undefined) throw new AccountExistsError(domain, username);
  // What an interrupted import left for this user, before its account was made.
  await storage.accounts.delete(domain, username);
  for (const item of record.roster) await storage.rosters.setItem(domain, username, item);
  const pending = new PendingRequests(storage.userData);
  for (const request of record.pendingIn) await pending.add(jid, tryParseJid(request.attrs.from!)!, request);
  if (record.vcard !== undefined) await storage.userData.set(domain, username, VCARD_STORAGE_KEY, serialize(record.vcard));
  for (const [namespace, elements] of record.privateXml) {
    await storage.userData.set(domain, username, PRIVATE_KEY_PREFIX + namespace, serialize(el('query', NS_PRIVATE, {}, ...elements)));
  }
  const { max_messages: maxMessages, max_bytes: maxBytes, max_per_sender: maxPerSender } = hostConfig(config, domain).offline;
  let position = 0;
  for (const message of record.offline) {
    const stored = offlineForm(message, domain);
    // The order of the file (oldest first, section 4.4), placed at the time each was stored.
    position = Math.max(position + 1, stored.time * 1000);
    const sender = tryParseJid(message.attrs.from ?? '')?.bare().toString() ?? domain;
    const outcome = await storage.offline.push(domain, username, storedForm(stored.stanza), sender, { maxMessages, maxBytes, maxPerSender }, position);
    if (outcome !== 'stored') {
      summary.offlineRefused++;
      summary.offlineMessages--;
    }
  }
  await storage.accounts.create(domain, username, credentialsOf(record, config.c2s.scram_iterations));
}

/** An offline message as the offline module keeps it: with the stamp the old server gave it (XEP-0203), or one of now. */
function offlineForm(message: Element, domain: string): { stanza: Element; time: number } {
  const delay = message.getChild('delay', NS_DELAY);
  const stamped = delay === undefined ? undefined : Date.parse(delay.attrs.stamp ?? '');
  if (stamped !== undefined && Number.isFinite(stamped)) return { stanza: message, time: stamped };
  const now = new Date();
  return { stanza: withDelay(message, domain, now), time: now.getTime() };
}

function count(summary: ImportSummary, record: ImportedUser): void {
  summary.imported++;
  if (record.password.kind === 'plain') summary.passwords.plain++;
  else if (record.password.kind === 'scram') summary.passwords.scram++;
  else summary.passwords.none.push(`${record.username}@${record.domain}`);
  summary.rosterItems += record.roster.length;
  summary.pendingRequests += record.pendingIn.length;
  if (record.vcard !== undefined) summary.vcards++;
  summary.privateDocuments += record.privateXml.size;
  summary.offlineMessages += record.offline.length;
}

function hostedDomain(config: TrellisConfig, input: string): string {
  const domain = tryParseJid(input)?.domain;
  if (domain === undefined || !config.hosts.some((host) => host.domain === domain)) {
    throw new ImportRefusedError(`${input} is not a hosted domain (hosts: ${config.hosts.map((host) => host.domain).join(', ')})`, []);
  }
  return domain;
}

function hostConfig(config: TrellisConfig, domain: string): TrellisConfig['hosts'][number] {
  return config.hosts.find((host) => host.domain === domain)!;
}

/** Keeps the first problems and counts the others in the last line, so that a file of bad users cannot fill memory. */
function addProblem(problems: string[], problem: string): void {
  if (problems.length < MAX_PROBLEMS) problems.push(problem);
  else if (problems.length === MAX_PROBLEMS) problems.push('... and 1 more');
  else problems[MAX_PROBLEMS] = `... and ${Number(/\d+/.exec(problems[MAX_PROBLEMS]!)![0]) + 1} more`;
}

function refusal(message: string, problems: Iterable<string>): ImportRefusedError {
  const shown: string[] = [];
  for (const problem of problems) addProblem(shown, problem);
  return new ImportRefusedError(message, shown);
}

function emptySummary(): ImportSummary {
  return {
    imported: 0,
    skipped: [],
    passwords: { plain: 0, scram: 0, none: [] },
    rosterItems: 0,
    pendingRequests: 0,
    vcards: 0,
    privateDocuments: 0,
    offlineMessages: 0,
    offlineRefused: 0,
    otherHosts: new Map(),
    ignored: new Map(),
  };
}
