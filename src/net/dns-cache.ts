/**
 * Address answers kept in the server, so that links to many domains served by one host (one SRV
 * target, RFC 6120 section 3.2.1) ask for its A and AAAA records once rather than per domain.
 *
 * An answer is kept for its TTL (RFC 1035 section 3.2.1; RFC 2181 section 8), at most an hour.
 * A definite absence (NXDOMAIN or NODATA) is kept for a minute: RFC 2308 section 5 would use the
 * zone's SOA, which the stub resolver API does not return, so a short fixed time stands in.
 * Failures that say nothing about the records (timeouts, SERVFAIL) are never kept. Concurrent
 * questions for one name share one query. When full, the oldest entry goes.
 */
import { isNoRecords, shareInFlight } from './dns-query.ts';

export interface AddressWithTtl {
  address: string;
  /** seconds */
  ttl: number;
}

export type AddressType = 'A' | 'AAAA';

export const MAX_CACHED_TTL_SECONDS = 3600;
export const ABSENCE_TTL_SECONDS = 60;

interface Entry {
  until: number;
  addresses?: string[];
  /** the NXDOMAIN or NODATA error, thrown again while it is kept */
  absence?: unknown;
}

export class DnsAddressCache {
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<string[]>>();

  constructor(maxEntries: number, now: () => number = Date.now) {
    this.#maxEntries = maxEntries;
    this.#now = now;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The addresses of `host`, from the cache or from `query`; rejects as `query` does. */
  addresses(type: AddressType, host: string, query: () => Promise<AddressWithTtl[]>): Promise<string[]> {
    const key = `${type} ${host.toLowerCase().replace(/\.$/, '')}`;
    const entry = this.#entries.get(key);
    if (entry && entry.until > this.#now()) {
      return entry.addresses ? Promise.resolve(entry.addresses) : Promise.reject(entry.absence);
    }
    if (entry) this.#entries.delete(key);
    return shareInFlight(this.#inFlight, key, () => this.#ask(key, query));
  }

  async #ask(key: string, query: () => Promise<AddressWithTtl[]>): Promise<string[]> {
    let records: AddressWithTtl[];
    try {
      records = await query();
    } catch (error) {
      if (isNoRecords(error)) this.#keep(key, { until: this.#now() + ABSENCE_TTL_SECONDS * 1000, absence: error });
      throw error;
    }
    const addresses = records.map((record) => record.address);
    const ttl = Math.min(MAX_CACHED_TTL_SECONDS, ...records.map((record) => record.ttl));
    if (ttl > 0) this.#keep(key, { until: this.#now() + ttl * 1000, addresses });
    return addresses;
  }

  #keep(key: string, entry: Entry): void {
    if (this.#maxEntries === 0) return;
    if (this.#entries.size >= this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, entry);
  }
}
