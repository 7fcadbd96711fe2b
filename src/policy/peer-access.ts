/**
 * Allow and deny lists of foreign servers, by domain and by IP address (the Jabber XCP black
 * and white lists). Compiled once from `s2s.access`; each check names the rule that decided.
 * Deny wins over allow; a non-empty allow list admits only what it names.
 */
import type { S2sAccessConfig } from '../config/types.ts';
import { parseIpAddress, parseIpRange, rangeContains, type IpRange } from '../util/ip-range.ts';
import { DomainMatcher, listEntries } from './domain-match.ts';

export interface PeerQuery {
  /** the remote domain, when known */
  domain?: string;
  /** the remote IP address, when known */
  address?: string;
}

/** Whether a peer may federate, and the key path of the entry (or list) that decided. */
export type PeerDecision = { allowed: true; rule: string } | { allowed: false; rule: string; reason: string };

interface AddressRule {
  /** the key path of the entry, e.g. s2s.access.deny_addresses[2] */
  at: string;
  written: string;
  range: IpRange;
}

export class PeerAccess {
  readonly #denyDomains: DomainMatcher<undefined>;
  readonly #allowDomains: DomainMatcher<undefined>;
  readonly #denyAddresses: AddressRule[];
  readonly #allowAddresses: AddressRule[];

  /** Throws when an address entry is not an address or range (the config validator reports those first). */
  constructor(access: S2sAccessConfig) {
    const addresses = (key: 'deny_addresses' | 'allow_addresses'): AddressRule[] =>
      access[key].map((written, index) => ({ at: `s2s.access.${key}[${index}]`, written, range: parseIpRange(written) }));
    this.#denyDomains = new DomainMatcher(listEntries('s2s.access.deny_domains', access.deny_domains));
    this.#allowDomains = new DomainMatcher(listEntries('s2s.access.allow_domains', access.allow_domains));
    this.#denyAddresses = addresses('deny_addresses');
    this.#allowAddresses = addresses('allow_addresses');
  }

  /** Whether a peer may federate with us; whatever of domain and address is known is checked. */
  check(query: PeerQuery): PeerDecision {
    const domain = query.domain?.toLowerCase();
    const address = query.address === undefined ? undefined : parseIpAddress(query.address);
    const addressMatches = (rule: AddressRule): boolean => address !== undefined && rangeContains(rule.range, address);
    const deniedDomain = domain === undefined ? undefined : this.#denyDomains.match(domain);
    if (deniedDomain) return refused(deniedDomain.at, `${deniedDomain.at} (${deniedDomain.written}) denies ${domain}`);
    const deniedAddress = this.#denyAddresses.find(addressMatches);
    if (deniedAddress) return refused(deniedAddress.at, `${deniedAddress.at} (${deniedAddress.written}) denies ${query.address}`);
    let rule = 's2s.access';
    if (domain !== undefined && this.#allowDomains.size > 0) {
      const allowed = this.#allowDomains.match(domain);
      if (!allowed) return refused('s2s.access.allow_domains', `${domain} is not in s2s.access.allow_domains`);
      rule = allowed.at;
    }
    if (query.address !== undefined && this.#allowAddresses.length > 0) {
      const allowed = this.#allowAddresses.find(addressMatches);
      if (!allowed) return refused('s2s.access.allow_addresses', `${query.address} is not in s2s.access.allow_addresses`);
      rule = allowed.at;
    }
    return { allowed: true, rule };
  }
}

function refused(rule: string, reason: string): PeerDecision {
  return { allowed: false, rule, reason };
}
