/**
 * Archiving preferences (XEP-0441, in the namespace of XEP-0313): a default of always, roster
 * or never, and JIDs whose messages are always or never archived. A user who set none has the
 * host's default. Kept in the user's data as JSON.
 */
import { parseJid, JidMalformedError } from '../../jid/jid.ts';
import type { MamDefault } from '../../config/types.ts';
import { el, type Element } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import { NS_MAM } from './xmlns.ts';

export const PREFS_KEY = 'mam:prefs';
/** JIDs in the always and never lists together. */
export const MAX_PREFS_JIDS = 1000;

export interface ArchivePrefs {
  default: MamDefault;
  /** bare JIDs (XEP-0441 section 3: a full JID matches only that resource; this archive keeps bare JIDs) */
  always: string[];
  never: string[];
}

const DEFAULTS: readonly string[] = ['always', 'roster', 'never'];

/** Section 3: reads a `<prefs/>` a user sets. */
export function parsePrefs(prefs: Element): ArchivePrefs {
  const value = prefs.attrs.default;
  if (value === undefined || !DEFAULTS.includes(value)) throw new StanzaError('bad-request', 'default must be always, roster or never');
  const jids = (name: string): string[] => {
    const list = prefs.getChild(name, NS_MAM);
    return [...new Set((list?.getChildren('jid', NS_MAM) ?? []).map((jid) => bareJid(jid.text())))];
  };
  const always = jids('always');
  const never = jids('never');
  if (always.length + never.length > MAX_PREFS_JIDS) throw new StanzaError('policy-violation', `at most ${MAX_PREFS_JIDS} JIDs in always and never together`);
  // A JID in both lists is never archived: the safer reading for the user's privacy.
  return { default: value as MamDefault, always: always.filter((jid) => !never.includes(jid)), never };
}

function bareJid(text: string): string {
  try {
    return parseJid(text.trim()).bare().toString();
  } catch (error) {
    if (error instanceof JidMalformedError) throw new StanzaError('jid-malformed', `${text}: ${error.message}`);
    throw error;
  }
}

export function prefsElement(prefs: ArchivePrefs): Element {
  const element = el('prefs', NS_MAM, { default: prefs.default });
  const always = element.c('always');
  for (const jid of prefs.always) always.c('jid').t(jid);
  const never = element.c('never');
  for (const jid of prefs.never) never.c('jid').t(jid);
  return element;
}

export function encodePrefs(prefs: ArchivePrefs): string {
  return JSON.stringify(prefs);
}

/** Stored preferences, or the host's default when there are none (or they cannot be read). */
export function decodePrefs(stored: string | undefined, hostDefault: MamDefault): ArchivePrefs {
  if (stored === undefined) return { default: hostDefault, always: [], never: [] };
  try {
    const value = JSON.parse(stored) as ArchivePrefs;
    if (DEFAULTS.includes(value.default) && Array.isArray(value.always) && Array.isArray(value.never)) return value;
  } catch {
    // Damaged preferences fall back to the host's default below.
  }
  return { default: hostDefault, always: [], never: [] };
}

/** Whether messages with `peer` (a bare JID) are archived; `inRoster` is asked only for the roster default. */
export async function archivesWith(prefs: ArchivePrefs, peer: string, inRoster: () => Promise<boolean>): Promise<boolean> {
  if (prefs.never.includes(peer)) return false;
  if (prefs.always.includes(peer)) return true;
  if (prefs.default === 'roster') return inRoster();
  return prefs.default === 'always';
}
