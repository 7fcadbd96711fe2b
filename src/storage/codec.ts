/**
 * Text encodings shared by the drivers for values that are stored as a single column.
 */
import type { StoredAffiliation, StoredCredentials, StoredRoom, Subscription } from './types.ts';

export function encodeCredentials(credentials: StoredCredentials): string {
  return JSON.stringify({
    'SCRAM-SHA-1': credentials['SCRAM-SHA-1'],
    'SCRAM-SHA-256': credentials['SCRAM-SHA-256'],
  });
}

export function decodeCredentials(text: string): StoredCredentials {
  return JSON.parse(text) as StoredCredentials;
}

export function encodeGroups(groups: readonly string[]): string {
  return JSON.stringify(groups);
}

export function decodeGroups(text: string): string[] {
  return JSON.parse(text) as string[];
}

const SUBSCRIPTIONS: readonly string[] = ['none', 'to', 'from', 'both'] satisfies Subscription[];

export function decodeSubscription(text: string): Subscription {
  if (!SUBSCRIPTIONS.includes(text)) throw new Error(`stored roster subscription is invalid: ${text}`);
  return text as Subscription;
}

const AFFILIATIONS: readonly string[] = ['owner', 'admin', 'member', 'outcast'] satisfies StoredAffiliation['affiliation'][];

/** An affiliation row of either driver (columns jid, affiliation, nick, reason). */
export function decodeAffiliation(row: { jid: unknown; affiliation: unknown; nick: unknown; reason: unknown }): StoredAffiliation {
  const affiliation = String(row.affiliation);
  if (!AFFILIATIONS.includes(affiliation)) throw new Error(`stored room affiliation is invalid: ${affiliation}`);
  const stored: StoredAffiliation = { jid: String(row.jid), affiliation: affiliation as StoredAffiliation['affiliation'] };
  if (row.nick !== null && row.nick !== undefined) stored.nick = String(row.nick);
  if (row.reason !== null && row.reason !== undefined) stored.reason = String(row.reason);
  return stored;
}

/** Rooms with their affiliations from the rows of a service, both sorted by the query. */
export function groupRooms(rooms: readonly { name: unknown; config: unknown }[], affiliations: readonly { room: unknown; jid: unknown; affiliation: unknown; nick: unknown; reason: unknown }[]): StoredRoom[] {
  const byRoom = new Map<string, StoredRoom>();
  for (const row of rooms) byRoom.set(String(row.name), { name: String(row.name), config: String(row.config), affiliations: [] });
  for (const row of affiliations) byRoom.get(String(row.room))?.affiliations.push(decodeAffiliation(row));
  return [...byRoom.values()];
}
