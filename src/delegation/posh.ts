/**
 * POSH verification (RFC 7711): fetch a domain's document, follow one reference, keep the
 * fingerprints for as long as the documents allow, and check a peer's certificate against them.
 */
import type { X509Certificate } from 'node:crypto';
import type { DelegationVerdict } from './dane.ts';
import { parsePoshDocument, poshMatches, poshUrl, type PoshDocument, type PoshFingerprint, type PoshService } from './posh-document.ts';
import { fetchHttps, type HttpsFetchOptions } from './posh-fetch.ts';

export type PoshLookup =
  | { kind: 'fingerprints'; fingerprints: readonly PoshFingerprint[]; /** the document they came from */ url: string }
  /** 404: the domain publishes no POSH document for the service */
  | { kind: 'absent' }
  | { kind: 'invalid'; reason: string };

export interface PoshOptions extends Partial<HttpsFetchOptions> {
  service?: PoshService;
  /** documents kept at once; the oldest is dropped first; 0 keeps none */
  cacheEntries?: number;
  /** longest a document is kept in seconds, whatever its `expires` says (never forever, section 6) */
  maxCacheSeconds?: number;
  /** seconds a missing or broken document is remembered, so a peer cannot make us fetch on every connection */
  negativeCacheSeconds?: number;
  /** milliseconds since the epoch (tests) */
  now?: () => number;
}

const DEFAULTS = { timeoutMs: 10_000, maxBytes: 64 * 1024, maxRedirects: 10, cacheEntries: 10_000, maxCacheSeconds: 86_400, negativeCacheSeconds: 60 };

interface CacheEntry {
  lookup: PoshLookup;
  until: number;
}

export class PoshVerifier {
  readonly #options: PoshOptions & typeof DEFAULTS;
  readonly #cache = new Map<string, CacheEntry>();
  readonly #inFlight = new Map<string, Promise<PoshLookup>>();

  constructor(options: PoshOptions = {}) {
    this.#options = { ...DEFAULTS, ...options };
  }

  /** RFC 7711 section 4: whether the peer's certificate matches the domain's POSH fingerprints. */
  async verify(domain: string, chain: readonly X509Certificate[]): Promise<DelegationVerdict> {
    const leaf = chain[0];
    if (!leaf) return { proven: false, method: 'none', reason: 'no certificate presented' };
    const now = this.#now();
    // RFC 7711 section 6: an expired certificate is not valid, whatever POSH says
    if (now > leaf.validToDate.getTime() || now < leaf.validFromDate.getTime()) {
      return { proven: false, method: 'none', reason: `the certificate is not valid now (valid ${leaf.validFrom} to ${leaf.validTo})` };
    }
    const lookup = await this.lookup(domain);
    if (lookup.kind === 'absent') return { proven: false, method: 'none', reason: `${domain} publishes no POSH document` };
    if (lookup.kind === 'invalid') return { proven: false, method: 'none', reason: `the POSH document of ${domain} is unusable: ${lookup.reason}` };
    if (poshMatches(lookup.fingerprints, leaf.raw)) return { proven: true, method: 'posh', reason: `the certificate matches a fingerprint at ${lookup.url}` };
    return { proven: false, method: 'none', reason: `the certificate matches no fingerprint at ${lookup.url}` };
  }

  /** The domain's fingerprints, from the cache while it is fresh; concurrent callers share one fetch. */
  lookup(domain: string): Promise<PoshLookup> {
    const key = domain.toLowerCase().replace(/\.$/, '');
    const cached = this.#cache.get(key);
    if (cached && cached.until > this.#now()) return Promise.resolve(cached.lookup);
    const pending = this.#inFlight.get(key);
    if (pending) return pending;
    const fetching = this.#fetch(key).then(({ lookup, seconds }) => {
      this.#remember(key, lookup, seconds);
      return lookup;
    }).finally(() => this.#inFlight.delete(key));
    this.#inFlight.set(key, fetching);
    return fetching;
  }

  /** Forgets every document (e.g. on reload). */
  clear(): void {
    this.#cache.clear();
  }

  get cacheSize(): number {
    return this.#cache.size;
  }

  /**
   * Section 3.2: a reference document leads to exactly one more fetch, whose result must be a
   * fingerprints document. Section 6: keep the result for the smaller of the two `expires`.
   */
  async #fetch(domain: string): Promise<{ lookup: PoshLookup; seconds: number }> {
    const negative = this.#options.negativeCacheSeconds;
    // one deadline for the whole lookup, the reference included
    const deadline = Date.now() + this.#options.timeoutMs;
    const first = await this.#document(poshUrl(domain, this.#options.service), deadline);
    if (first.kind !== 'document') return { lookup: first, seconds: negative };
    const { document, url } = first;
    if (document.kind === 'fingerprints') return { lookup: { kind: 'fingerprints', fingerprints: document.fingerprints, url }, seconds: document.expires ?? 0 };
    const second = await this.#document(document.url, deadline);
    if (second.kind !== 'document') {
      const reason = second.kind === 'absent' ? `the referenced document ${document.url} does not exist` : second.reason;
      return { lookup: { kind: 'invalid', reason }, seconds: negative };
    }
    const referenced = second;
    if (referenced.document.kind === 'reference') {
      return { lookup: { kind: 'invalid', reason: `${document.url} is another reference; only one is followed` }, seconds: negative };
    }
    const seconds = Math.min(document.expires ?? 0, referenced.document.expires ?? 0);
    return { lookup: { kind: 'fingerprints', fingerprints: referenced.document.fingerprints, url: referenced.url }, seconds };
  }

  async #document(url: string, deadline: number): Promise<{ kind: 'document'; document: PoshDocument; url: string } | { kind: 'absent' } | { kind: 'invalid'; reason: string }> {
    const { maxBytes, maxRedirects, ca, connectTo } = this.#options;
    const timeoutMs = deadline - Date.now();
    if (timeoutMs <= 0) return { kind: 'invalid', reason: `timed out before fetching ${url}` };
    const result = await fetchHttps(url, { timeoutMs, maxBytes, maxRedirects, ...(ca ? { ca } : {}), ...(connectTo ? { connectTo } : {}) });
    if (result.kind === 'not-found') return { kind: 'absent' };
    if (result.kind === 'error') return { kind: 'invalid', reason: result.reason };
    try {
      return { kind: 'document', document: parsePoshDocument(result.body), url: result.url };
    } catch (error) {
      return { kind: 'invalid', reason: `${result.url}: ${(error as Error).message}` };
    }
  }

  #remember(key: string, lookup: PoshLookup, seconds: number): void {
    const { cacheEntries, maxCacheSeconds } = this.#options;
    const keep = Math.min(seconds, maxCacheSeconds);
    if (keep <= 0 || cacheEntries === 0) return;
    this.#cache.delete(key);
    // bounded: the entry stored longest ago goes first
    while (this.#cache.size >= cacheEntries) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(key, { lookup, until: this.#now() + keep * 1000 });
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }
}
