/**
 * JID patterns of peering rules (`senders`, `recipients` and their deny lists, docs/peering.md):
 * who may send to whom across a peer. A pattern is read here, at load, into its prepared form;
 * src/policy/jid-rules.ts matches addresses against it.
 */
import { parseJid, prepareDomain } from '../jid/jid.ts';

export type JidPattern =
  /** `*`: every address */
  | { kind: 'any' }
  /** `group:NAME`: the members of a group of `s2s.peering_groups` */
  | { kind: 'group'; name: string }
  /** `*@example.com`: every address at the domain, the domain's own among them */
  | { kind: 'domain'; domain: string }
  /** `*@*.example.com`: every address at any subdomain of the domain, at any depth */
  | { kind: 'subdomains'; domain: string }
  /** `alice@example.com`: that account, any resource */
  | { kind: 'bare'; jid: string };

export const GROUP_PREFIX = 'group:';

/** Reads one written pattern; throws with what to write instead when it is none. */
export function parseJidPattern(written: string): JidPattern {
  if (written === '*') return { kind: 'any' };
  if (written.startsWith(GROUP_PREFIX)) {
    const name = written.slice(GROUP_PREFIX.length);
    if (name === '') throw new Error('group: needs the name of a group of s2s.peering_groups');
    return { kind: 'group', name };
  }
  if (written.startsWith('*@*.')) return { kind: 'subdomains', domain: prepareDomain(written.slice(4)) };
  if (written.startsWith('*@')) return { kind: 'domain', domain: prepareDomain(written.slice(2)) };
  if (!written.includes('@')) throw new Error(`write "*@${written}" for every address at a domain, or "user@${written}" for one account`);
  const jid = parseJid(written);
  if (jid.resource !== undefined) throw new Error('a pattern names an account (user@domain), not one of its resources');
  return { kind: 'bare', jid: jid.toString() };
}

/** The pattern as it is written back, prepared. */
export function formatJidPattern(pattern: JidPattern): string {
  switch (pattern.kind) {
    case 'any':
      return '*';
    case 'group':
      return `${GROUP_PREFIX}${pattern.name}`;
    case 'domain':
      return `*@${pattern.domain}`;
    case 'subdomains':
      return `*@*.${pattern.domain}`;
    case 'bare':
      return pattern.jid;
  }
}

/** The prepared form of a written pattern, for the schema. */
export function prepareJidPattern(written: string): string {
  return formatJidPattern(parseJidPattern(written));
}
