/**
 * Finding the servers for a peer domain (RFC 6120 section 3.2, RFC 2782, XEP-0368).
 *
 * `_xmpps-server._tcp` (direct TLS) and `_xmpp-server._tcp` (STARTTLS) are asked together and
 * their records ordered as one set; each target's addresses are resolved so the connector can
 * try them in order, target after target.
 */
import { isIP } from 'node:net';
import type { DnsLookup } from './dns-lookup.ts';
import { isNoRecords } from './dns-query.ts';
import { orderSrvRecords, type SrvRecord } from './dns-srv-order.ts';

export { orderSrvRecords, type SrvRecord } from './dns-srv-order.ts';
export { createDnsLookup, type DnsLookup, type DnsLookupOptions } from './dns-lookup.ts';

/** RFC 6120 section 3.2.2: the port to use when the domain has no SRV records */
export const DEFAULT_SERVER_PORT = 5269;

export interface ServerTarget {
  /** the SRV target (or the domain itself when falling back), lowercase, without a trailing dot */
  host: string;
  port: number;
  /** XEP-0368: TLS from the first byte, no STARTTLS */
  directTls: boolean;
  /** IPv4 addresses first, then IPv6; never empty */
  addresses: string[];
}

/**
 * `targets`: try them in order, and each target's addresses in order. `fromSrv` is false when
 * the domain had no SRV records and its own addresses are used on port 5269.
 *
 * `not-found`: bounce with remote-server-not-found (RFC 6120 section 8.3.3.16). `reason` is
 * `no-service` when SRV said the service is decidedly not available (a lone "." target),
 * `no-address` when no name involved has an address, `dns-failure` when some answer was unknown
 * (timeout, server failure), so trying again later may succeed.
 */
export type ServerResolution =
  | { kind: 'targets'; targets: ServerTarget[]; fromSrv: boolean }
  | { kind: 'not-found'; reason: 'no-service' | 'no-address' | 'dns-failure' };

interface SrvAnswer {
  records: SrvRecord[];
  /** a lone "." target: RFC 2782 "decidedly not available" */
  noService: boolean;
  /** the query failed without saying whether records exist */
  failed: boolean;
}

interface TargetRecord extends SrvRecord {
  directTls: boolean;
}

export async function resolveServerTargets(
  domain: string,
  lookup: DnsLookup,
  random: () => number = Math.random,
): Promise<ServerResolution> {
  const literal = ipLiteral(domain);
  if (literal !== undefined) {
    // RFC 6120 section 3.2.1: SRV resolution is for domain names; an IP address is used as is
    return { kind: 'targets', targets: [{ host: literal, port: DEFAULT_SERVER_PORT, directTls: false, addresses: [literal] }], fromSrv: false };
  }
  const name = normalizeName(domain);
  const [direct, starttls] = await Promise.all([
    querySrv(lookup, `_xmpps-server._tcp.${name}`),
    querySrv(lookup, `_xmpp-server._tcp.${name}`),
  ]);
  const records: TargetRecord[] = [
    ...direct.records.map((record) => ({ ...record, directTls: true })),
    ...starttls.records.map((record) => ({ ...record, directTls: false })),
  ];
  let failed = direct.failed || starttls.failed;
  if (records.length === 0) {
    // XEP-0368 section 3: "." for either service forbids the A/AAAA fallback
    if (direct.noService || starttls.noService) return { kind: 'not-found', reason: 'no-service' };
    // RFC 6120 section 3.2.2: no SRV records, so the domain's own addresses on port 5269
    const addresses = await resolveAddresses(lookup, name);
    if (addresses.addresses.length > 0) {
      return { kind: 'targets', targets: [{ host: name, port: DEFAULT_SERVER_PORT, directTls: false, addresses: addresses.addresses }], fromSrv: false };
    }
    return { kind: 'not-found', reason: failed || addresses.failed ? 'dns-failure' : 'no-address' };
  }
  // XEP-0368 section 3: one RFC 2782 ordering over the records of both services
  const ordered = orderSrvRecords(records, random);
  const resolved = await Promise.all(ordered.map((record) => resolveAddresses(lookup, record.name)));
  const targets: ServerTarget[] = [];
  ordered.forEach((record, index) => {
    const { addresses } = resolved[index]!;
    failed ||= resolved[index]!.failed;
    if (addresses.length > 0) targets.push({ host: record.name, port: record.port, directTls: record.directTls, addresses });
  });
  // RFC 6120 section 3.2.1: SRV answered, so no fallback to the domain's own addresses
  if (targets.length === 0) return { kind: 'not-found', reason: failed ? 'dns-failure' : 'no-address' };
  return { kind: 'targets', targets, fromSrv: true };
}

async function querySrv(lookup: DnsLookup, name: string): Promise<SrvAnswer> {
  let answer: SrvRecord[];
  try {
    answer = await lookup.resolveSrv(name);
  } catch (error) {
    return { records: [], noService: false, failed: !isNoRecords(error) };
  }
  const records = answer.map((record) => ({ ...record, name: normalizeName(record.name) }));
  // RFC 2782: "If there is precisely one SRV RR, and its Target is "." ..., abort."
  if (records.length === 1 && records[0]!.name === '') return { records: [], noService: true, failed: false };
  return { records: records.filter((record) => record.name !== ''), noService: false, failed: false };
}

/** A and AAAA together, IPv4 first (RFC 6120 section 3.2.1 leaves the order to us); an IP address is itself. */
export async function resolveAddresses(lookup: DnsLookup, host: string): Promise<{ addresses: string[]; failed: boolean }> {
  const literal = ipLiteral(host);
  if (literal !== undefined) return { addresses: [literal], failed: false };
  const answers = await Promise.allSettled([lookup.resolve4(host), lookup.resolve6(host)]);
  const addresses: string[] = [];
  let failed = false;
  for (const answer of answers) {
    if (answer.status === 'fulfilled') {
      for (const address of answer.value) if (!addresses.includes(address)) addresses.push(address);
    } else if (!isNoRecords(answer.reason)) {
      failed = true;
    }
  }
  return { addresses, failed };
}

/** DNS names compare case-insensitively; the root "." becomes the empty string. */
function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** An IPv4 address, or an IPv6 address with or without the brackets a JID domainpart uses. */
function ipLiteral(host: string): string | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return isIP(bare) !== 0 ? bare : undefined;
}
