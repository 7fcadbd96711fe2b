/**
 * The DNS queries server-to-server routing needs, behind an interface so the resolution logic
 * can be tested without a network. The default is a thin wrapper over node:dns.
 */
import { Resolver } from 'node:dns/promises';
import { DnsAddressCache } from './dns-cache.ts';
import { shareInFlight } from './dns-query.ts';
import type { SrvRecord } from './dns-srv-order.ts';

/**
 * Each method resolves to the records found, or rejects with an error whose `code` is
 * 'ENOTFOUND' (NXDOMAIN) or 'ENODATA' (the name exists without records of that type) when there
 * are none, or any other code (e.g. 'ETIMEOUT', 'ESERVFAIL') when the answer is unknown.
 */
export interface DnsLookup {
  resolveSrv(name: string): Promise<SrvRecord[]>;
  resolve4(host: string): Promise<string[]>;
  resolve6(host: string): Promise<string[]>;
}

export interface DnsLookupOptions {
  /** resolvers to ask instead of the system's, each `ip`, `ip:port` or `[ipv6]:port` */
  servers?: string[];
  /** how long to wait for each attempt of a query, in milliseconds */
  timeoutMs?: number;
  /** attempts per query and server */
  tries?: number;
  /** address answers kept (dns-cache.ts); 0 asks every time */
  cacheEntries?: number;
}

const DEFAULT_TIMEOUT_MS = 5000;
const DEFAULT_TRIES = 2;
const DEFAULT_CACHE_ENTRIES = 10_000;

/** Throws when a configured server address is not an IP address (with an optional port). */
export function createDnsLookup(options: DnsLookupOptions = {}): DnsLookup {
  const resolver = new Resolver({ timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, tries: options.tries ?? DEFAULT_TRIES });
  if (options.servers && options.servers.length > 0) resolver.setServers(options.servers);
  const cache = new DnsAddressCache(options.cacheEntries ?? DEFAULT_CACHE_ENTRIES);
  // SRV answers come without their TTL from node:dns, so they are not kept; questions for one name
  // asked at once share one query (many pairs for one domain starting together asked it per pair).
  const srvInFlight = new Map<string, Promise<SrvRecord[]>>();
  return {
    resolveSrv: (name) => shareInFlight(srvInFlight, name.toLowerCase(), () => resolver.resolveSrv(name)),
    resolve4: (host) => cache.addresses('A', host, () => resolver.resolve4(host, { ttl: true })),
    resolve6: (host) => cache.addresses('AAAA', host, () => resolver.resolve6(host, { ttl: true })),
  };
}
