/**
 * Allow and deny lists of foreign servers, by domain and by IP address (the Jabber XCP black
 * and white lists). Compiled once from `s2s.access`; each check names the rule that decided.
 * Deny wins over allow; a non-empty allow list admits only what it names.
 */
import type { S2sAccessConfig } from '../config/types.ts';
import { parseIpAddress, parseIpRange, rangeContains, type IpRange } from './ip-range.ts';

export type PeerVerdict = { allowed: true } | { allowed: false; reason: string };

export interface PeerQuery {
  /** the remote domain, when known */
  domain?: string;
  /** the remote IP address, when known */
  address?: string;
  direction: 'in' | 'out';
}

interface Rule<T> {
  /** the key path of the entry, e.g. s2s.access.deny_domains[2] */
  at: string;
  written: string;
  pattern: T;
}

export type DomainPattern = { exact: string } | { suffix: string };

const ALLOWED: PeerVerdict = { allowed: true };

/** An exact domain, or "*.example.com" for every subdomain of example.com at any depth (not example.com itself). */
export function domainPattern(written: string): DomainPattern {
  const lowered = written.toLowerCase();
  return lowered.startsWith('*.') ? { suffix: lowered.slice(1) } : { exact: lowered };
}

export function domainMatches(pattern: DomainPattern, domain: string): boolean {
  return 'exact' in pattern ? domain === pattern.exact : domain.endsWith(pattern.suffix);
}

export class PeerAccess {
  readonly #denyDomains: Rule<DomainPattern>[];
  readonly #allowDomains: Rule<DomainPattern>[];
  readonly #denyAddresses: Rule<IpRange>[];
  readonly #allowAddresses: Rule<IpRange>[];

  /** Throws when an address entry is not an address or range (the config validator reports those first). */
  constructor(access: S2sAccessConfig) {
    const rules = <T>(key: keyof S2sAccessConfig, compile: (written: string) => T): Rule<T>[] =>
      access[key].map((written, index) => ({ at: `s2s.access.${key}[${index}]`, written, pattern: compile(written) }));
    this.#denyDomains = rules('deny_domains', domainPattern);
    this.#allowDomains = rules('allow_domains', domainPattern);
    this.#denyAddresses = rules('deny_addresses', parseIpRange);
    this.#allowAddresses = rules('allow_addresses', parseIpRange);
  }

  /** Whether a peer may federate with us; whatever of domain and address is known is checked. */
  check(query: PeerQuery): PeerVerdict {
    const domain = query.domain?.toLowerCase();
    const address = query.address === undefined ? undefined : parseIpAddress(query.address);
    const addressMatches = (range: IpRange): boolean => address !== undefined && rangeContains(range, address);
    const deniedDomain = domain === undefined ? undefined : this.#denyDomains.find((rule) => domainMatches(rule.pattern, domain));
    if (deniedDomain) return refused(`${deniedDomain.at} (${deniedDomain.written}) denies ${domain}`);
    const deniedAddress = this.#denyAddresses.find((rule) => addressMatches(rule.pattern));
    if (deniedAddress) return refused(`${deniedAddress.at} (${deniedAddress.written}) denies ${query.address}`);
    if (domain !== undefined && this.#allowDomains.length > 0 && !this.#allowDomains.some((rule) => domainMatches(rule.pattern, domain))) {
      return refused(`${domain} is not in s2s.access.allow_domains`);
    }
    if (query.address !== undefined && this.#allowAddresses.length > 0 && !this.#allowAddresses.some((rule) => addressMatches(rule.pattern))) {
      return refused(`${query.address} is not in s2s.access.allow_addresses`);
    }
    return ALLOWED;
  }
}

function refused(reason: string): PeerVerdict {
  return { allowed: false, reason };
}
