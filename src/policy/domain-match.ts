/**
 * The one domain matcher of policy: entries written for an exact domain (`chat.example`), for
 * every subdomain of a domain at any depth (`*.example`, not `example` itself), or for a domain
 * and its subdomains together; plus a default. The most specific entry that covers a domain
 * wins: an exact entry, then the entry with the longest domain, then the default. Each entry
 * keeps the config key path it was written at, so a decision can say which rule made it.
 * Domains are compared as prepared (lower case); the config loader prepares what is written.
 */

export type DomainScope = 'exact' | 'subdomains' | 'domain-and-subdomains';

export interface DomainPattern {
  scope: DomainScope;
  /** the domain the pattern is about, without "*." */
  domain: string;
}

export interface DomainEntry<T> {
  pattern: DomainPattern;
  /** the config key path of the entry, e.g. `s2s.peers["*.example.org"].level` */
  at: string;
  /** the entry as written, for messages */
  written: string;
  value: T;
}

/** `*.example.com` covers every subdomain of example.com at any depth; anything else is exact. */
export function parseDomainPattern(written: string): DomainPattern {
  const lowered = written.toLowerCase();
  return lowered.startsWith('*.') ? { scope: 'subdomains', domain: lowered.slice(2) } : { scope: 'exact', domain: lowered };
}

export function patternCovers(pattern: DomainPattern, domain: string): boolean {
  const name = domain.toLowerCase();
  if (name === pattern.domain) return pattern.scope !== 'subdomains';
  return pattern.scope !== 'exact' && name.endsWith(`.${pattern.domain}`);
}

/** Higher is more specific: exact over any wider pattern, and a longer domain over a shorter one. */
function specificity(pattern: DomainPattern): number {
  return pattern.scope === 'exact' ? Number.MAX_SAFE_INTEGER : pattern.domain.length;
}

export class DomainMatcher<T> {
  readonly #entries: readonly DomainEntry<T>[];
  readonly #exact = new Map<string, DomainEntry<T>>();
  readonly #fallback: DomainEntry<T> | undefined;

  /**
   * `entries` in the order written: among equally specific entries the first wins. `fallback`
   * decides for a domain no entry covers (its pattern is not consulted).
   */
  constructor(entries: readonly DomainEntry<T>[], fallback?: DomainEntry<T>) {
    this.#entries = entries.filter((entry) => entry.pattern.scope !== 'exact');
    for (const entry of entries) if (entry.pattern.scope === 'exact' && !this.#exact.has(entry.pattern.domain)) this.#exact.set(entry.pattern.domain, entry);
    this.#fallback = fallback;
  }

  /** The most specific entry covering `domain`, else the fallback. */
  match(domain: string): DomainEntry<T> | undefined {
    const name = domain.toLowerCase();
    const exact = this.#exact.get(name);
    if (exact) return exact;
    let best: DomainEntry<T> | undefined;
    for (const entry of this.#entries) {
      if (patternCovers(entry.pattern, name) && (!best || specificity(entry.pattern) > specificity(best.pattern))) best = entry;
    }
    return best ?? this.#fallback;
  }

  /** Whether any entry (not the fallback) covers `domain`. */
  covers(domain: string): boolean {
    const entry = this.match(domain);
    return entry !== undefined && entry !== this.#fallback;
  }

  /** Every entry but the fallback, exact ones first. */
  get entries(): DomainEntry<T>[] {
    return [...this.#exact.values(), ...this.#entries];
  }

  get size(): number {
    return this.#exact.size + this.#entries.length;
  }
}

/** Entries from a list of written patterns, each at `${key}[index]`. */
export function listEntries(key: string, written: readonly string[]): DomainEntry<undefined>[] {
  return written.map((text, index) => ({ pattern: parseDomainPattern(text), at: `${key}[${index}]`, written: text, value: undefined }));
}
