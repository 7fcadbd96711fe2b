/**
 * Trunks (docs/peering.md, "Trunks and relaying"): a peer server whose rule says which domains it
 * speaks for. From such a peer, once it is authenticated at its rule's level, stanzas whose
 * `from` is one of those domains are accepted although the stream's pair names the peer
 * (RFC 6120 section 8.1.1.2 and XEP-0220 section 2.6.2 tie a stanza's `from` to an authenticated
 * pair; the rule is the operator's statement that the peer relays for these domains). A hosted
 * domain is never spoken for.
 */
import type { S2sPeeringRule } from '../config/types.ts';
import { parseDomainPattern, patternCovers, type DomainPattern } from './domain-match.ts';
import { proceed, reject, type Admission } from './verdict.ts';

interface Trunk {
  at: string;
  /** undefined: "*", every domain not hosted here */
  patterns: { pattern: DomainPattern | undefined; at: string }[];
}

export class Trunks {
  readonly #peers = new Map<string, Trunk>();
  readonly #hosted: ReadonlySet<string>;

  constructor(rules: readonly S2sPeeringRule[], hosted: ReadonlySet<string>) {
    this.#hosted = hosted;
    for (const rule of rules) {
      if (rule.speaks_for === undefined) continue;
      const at = `s2s.peering[${JSON.stringify(rule.domain)}].speaks_for`;
      const patterns = rule.speaks_for.map((written, index) => ({ pattern: written === '*' ? undefined : parseDomainPattern(written), at: `${at}[${index}]` }));
      this.#peers.set(rule.domain, { at, patterns });
    }
  }

  /** Whether `peer` is a trunk: a rule gives it domains to speak for. */
  isTrunk(peer: string): boolean {
    return this.#peers.has(peer.toLowerCase());
  }

  /** Whether `peer` may send stanzas from `domain`; refused, the reason names the rule (or its absence). */
  speaksFor(peer: string, domain: string): Admission {
    const trunk = this.#peers.get(peer.toLowerCase());
    const name = domain.toLowerCase();
    if (trunk === undefined) return reject('s2s.peering', 'not-authorized', `${peer} is authenticated, not ${name}, and no s2s.peering rule lets ${peer} speak for others (speaks_for)`);
    if (this.#hosted.has(name)) return reject(trunk.at, 'not-authorized', `${name} is hosted here: ${peer} may not speak for it`);
    const found = trunk.patterns.find(({ pattern }) => pattern === undefined || patternCovers(pattern, name));
    if (found === undefined) return reject(trunk.at, 'not-authorized', `${peer} may speak for what ${trunk.at} lists, which does not cover ${name}`);
    return proceed(found.at, `${peer} speaks for ${name}`);
  }
}
