/**
 * One `<user/>` of an export (XEP-0227 section 4) read into what Trellis stores for an account:
 * credentials, roster (RFC 6121 section 2.1 items) with pending inbound requests, vCard
 * (XEP-0054), private XML (XEP-0049) and offline messages (section 4.4). What the format may hold
 * that Trellis does not import is listed in `ignored`, so that the operator is told (section 4).
 */
import { makeStoredCredentials } from '../auth/scram.ts';
import { tryParseJid } from '../jid/jid.ts';
import { NS_PRIVATE } from '../modules/private/private.ts';
import { NS_ROSTER } from '../modules/roster/roster-xml.ts';
import { NS_VCARD } from '../modules/vcard/vcard.ts';
import type { RosterItem, StoredCredentials, Subscription } from '../storage/types.ts';
import { Element, NS_CLIENT } from '../xml/element.ts';
import { NS_PIE, NS_PIE_PROVISIONAL } from './reader.ts';
import { CredentialsError, NS_PIE_SCRAM, readScramCredentials } from './scram-credentials.ts';


export interface ImportedUser {
  domain: string;
  username: string;
  /** a plaintext password (hashed when written), SCRAM keys, or nothing to log in with */
  password: { kind: 'plain'; value: string } | { kind: 'scram'; credentials: StoredCredentials } | { kind: 'none' };
  roster: RosterItem[];
  /** inbound subscription requests not answered yet, as `<presence type='subscribe'/>` stanzas from the contact */
  pendingIn: Element[];
  vcard: Element | undefined;
  /** private XML storage documents, children grouped by their namespace */
  privateXml: Map<string, Element[]>;
  /** offline messages, oldest first */
  offline: Element[];
  /** what was left out, each said once per user: `<name xmlns='…'/>`, roster items that are no JID, ... */
  ignored: string[];
}

export class UserRecordError extends Error {}

/** Reads one user of host `domain` (already prepared); throws UserRecordError when the account itself cannot be imported. */
export function readUser(domain: string, user: Element): ImportedUser {
  const name = user.attrs.name ?? '';
  const local = tryParseJid(`${name}@${domain}`);
  if (local === undefined || local.local === undefined || local.resource !== undefined) throw new UserRecordError(`user name '${name}' is not a valid JID localpart`);
  const record: ImportedUser = {
    domain,
    username: local.local,
    password: user.attrs.password === undefined || user.attrs.password === '' ? { kind: 'none' } : { kind: 'plain', value: user.attrs.password },
    roster: [],
    pendingIn: [],
    vcard: undefined,
    privateXml: new Map(),
    offline: [],
    ignored: [],
  };
  const scram: StoredCredentials = {};
  const ignore = (what: string): void => {
    if (!record.ignored.includes(what)) record.ignored.push(what);
  };
  for (const child of user.elements()) {
    if (child.name === 'scram-credentials' && child.xmlns === NS_PIE_SCRAM) {
      let read;
      try {
        read = readScramCredentials(child);
      } catch (error) {
        if (error instanceof CredentialsError) throw new UserRecordError(error.message);
        throw error;
      }
      if (read.key === undefined) ignore(`${read.mechanism} credentials (not a mechanism this server offers)`);
      else scram[read.key] = read.verifier!;
    } else if (child.name === 'query' && child.xmlns === NS_ROSTER) {
      readRoster(record, child, ignore);
    } else if (isSubscribeRequest(child)) {
      // COMPAT(prosody): Prosody 0.12's export writes pending requests as <presence/> children of
      // <user/> without a namespace of their own (so in the export's), not in jabber:client.
      const from = tryParseJid(child.attrs.from ?? '');
      if (from === undefined) ignore(`a subscription request from '${child.attrs.from ?? ''}', which is no JID`);
      else record.pendingIn.push(new Element('presence', NS_CLIENT, { from: from.bare().toString(), to: `${record.username}@${domain}`, type: 'subscribe' }));
    } else if (child.name === 'vCard' && child.xmlns === NS_VCARD) {
      record.vcard = child;
    } else if (child.name === 'query' && child.xmlns === NS_PRIVATE) {
      for (const item of child.elements()) {
        if (item.xmlns === '' || item.xmlns === NS_PRIVATE) ignore('private XML without a namespace of its own');
        else record.privateXml.set(item.xmlns, [...(record.privateXml.get(item.xmlns) ?? []), item]);
      }
    } else if (child.name === 'offline-messages' && (child.xmlns === NS_PIE || child.xmlns === NS_PIE_PROVISIONAL)) {
      for (const message of child.elements()) {
        if (message.name === 'message' && message.xmlns === NS_CLIENT) record.offline.push(message);
        else ignore(`<${message.name} xmlns='${message.xmlns}'/> among the offline messages`);
      }
    } else {
      ignore(`<${child.name} xmlns='${child.xmlns}'/>`);
    }
  }
  // SCRAM keys are what the exporter stored; a password beside them says the same.
  if (scram['SCRAM-SHA-1'] !== undefined || scram['SCRAM-SHA-256'] !== undefined) {
    if (record.password.kind === 'none') record.password = { kind: 'scram', credentials: scram };
  }
  const pendingFrom = new Set(record.pendingIn.map((stanza) => stanza.attrs.from));
  for (const item of record.roster) if (pendingFrom.has(item.jid)) item.askIn = true;
  return record;
}

/** Verifiers for what the user gave: hashed now for a plaintext password, as taken for keys, none otherwise. */
export function credentialsOf(record: ImportedUser, iterations: number): StoredCredentials {
  if (record.password.kind === 'plain') return makeStoredCredentials(record.password.value, iterations);
  if (record.password.kind === 'scram') return record.password.credentials;
  return {};
}

const SUBSCRIPTIONS: readonly string[] = ['none', 'to', 'from', 'both'] satisfies Subscription[];

/** RFC 6121 section 2.1.2: jid, name, subscription, ask, approved, groups. */
function readRoster(record: ImportedUser, query: Element, ignore: (what: string) => void): void {
  const own = `${record.username}@${record.domain}`;
  const seen = new Set<string>();
  for (const item of query.elements()) {
    if (item.name !== 'item' || item.xmlns !== NS_ROSTER) {
      ignore(`<${item.name} xmlns='${item.xmlns}'/> in the roster`);
      continue;
    }
    const jid = tryParseJid(item.attrs.jid ?? '');
    if (jid === undefined || jid.resource !== undefined) {
      ignore(`roster item '${item.attrs.jid ?? ''}', which is no bare JID`);
      continue;
    }
    const bare = jid.toString();
    if (bare === own || seen.has(bare)) continue;
    seen.add(bare);
    const subscription = item.attrs.subscription ?? 'none';
    if (!SUBSCRIPTIONS.includes(subscription)) {
      ignore(`roster item ${bare} with subscription '${subscription}'`);
      continue;
    }
    const groups = [...new Set(item.getChildren('group', NS_ROSTER).map((group) => group.text()).filter((group) => group !== ''))];
    record.roster.push({
      jid: bare,
      ...(item.attrs.name === undefined || item.attrs.name === '' ? {} : { name: item.attrs.name }),
      subscription: subscription as Subscription,
      askOut: item.attrs.ask === 'subscribe',
      askIn: false,
      approved: item.attrs.approved === 'true' || item.attrs.approved === '1',
      groups,
    });
  }
}

function isSubscribeRequest(element: Element): boolean {
  return element.name === 'presence' && element.attrs.type === 'subscribe' && (element.xmlns === NS_CLIENT || element.xmlns === NS_PIE || element.xmlns === NS_PIE_PROVISIONAL);
}
