/**
 * Text encodings shared by the drivers for values that are stored as a single column.
 */
import type { FastToken, PolicyAuditQuery, StoredAffiliation, StoredCredentials, StoredPolicyAuditRecord, StoredRoom, Subscription } from './types.ts';

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

/** The WHERE clause of an audit query, with `placeholder` giving each driver's parameter marker (1-based). */
export function auditFilter(query: PolicyAuditQuery, placeholder: (position: number) => string): { where: string; values: (string | number)[] } {
  const conditions: string[] = [];
  const values: (string | number)[] = [];
  const add = (sql: (marker: string) => string, value: string | number) => {
    values.push(value);
    conditions.push(sql(placeholder(values.length)));
  };
  if (query.since !== undefined) add((marker) => `time >= ${marker}`, query.since);
  // A prefix match written without LIKE, so that "_" and "%" in a key path mean themselves.
  if (query.rule !== undefined) add((marker) => `substr(rule, 1, length(${marker})) = ${marker}`, query.rule);
  if (query.verdict !== undefined) add((marker) => `verdict = ${marker}`, query.verdict);
  return { where: conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`, values };
}

/** A row of policy_audit as a record. */
export function auditRecordOf(row: Record<string, unknown>): StoredPolicyAuditRecord {
  return {
    id: Number(row.id),
    time: Number(row.time),
    rule: String(row.rule),
    verdict: String(row.verdict) as StoredPolicyAuditRecord['verdict'],
    direction: String(row.direction) as StoredPolicyAuditRecord['direction'],
    from: String(row.from_jid),
    to: String(row.to_jid),
    kind: String(row.kind),
    ...(row.label === null || row.label === undefined ? {} : { label: String(row.label) }),
    text: String(row.text),
  };
}

/** A row of fast_tokens as a token. */
export function fastTokenOf(row: Record<string, unknown>): FastToken {
  return {
    clientId: String(row.client_id),
    mechanism: String(row.mechanism),
    hash: String(row.hash),
    expiresAt: Number(row.expires_at),
    ...(row.used_at === null || row.used_at === undefined ? {} : { usedAt: Number(row.used_at) }),
  };
}
