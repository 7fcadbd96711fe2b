/**
 * The four federation levels (the Jabber XCP model): which one a remote domain must reach,
 * what each demands of a server stream, and the level a proof reaches.
 */
import { FEDERATION_LEVELS, type FederationLevel, type S2sConfig } from '../config/types.ts';
import { DomainMatcher, parseDomainPattern, type DomainEntry } from './domain-match.ts';
import { peeringMatcher } from './peering.ts';

export function levelRank(level: FederationLevel): number {
  return FEDERATION_LEVELS.indexOf(level);
}

/** True when `achieved` satisfies `required`. */
export function meetsLevel(achieved: FederationLevel, required: FederationLevel): boolean {
  return levelRank(achieved) >= levelRank(required);
}

/** A required level and the key path of the rule that requires it. */
export interface LevelRequirement {
  level: FederationLevel;
  rule: string;
}

/**
 * The levels remote domains must reach, compiled from `s2s.peering`, `s2s.peers` and
 * `s2s.min_level`: an exact rule, else the most specific pattern (`*.suffix` covers every
 * subdomain at any depth, not the domain itself; a peering rule with subdomains both), else
 * `min_level`. The config loader refuses a level set in both places for one key.
 */
export class RequiredLevels {
  readonly #matcher: DomainMatcher<FederationLevel>;
  readonly #default: LevelRequirement;

  constructor(config: Pick<S2sConfig, 'min_level' | 'peers' | 'peering'>) {
    const peering = peeringMatcher(config.peering, 'level').entries;
    const entries: DomainEntry<FederationLevel>[] = config.peers.map((peer) => ({
      pattern: parseDomainPattern(peer.domain),
      at: `s2s.peers[${JSON.stringify(peer.domain)}].level`,
      written: peer.domain,
      value: peer.level,
    }));
    this.#default = { level: config.min_level, rule: 's2s.min_level' };
    this.#matcher = new DomainMatcher([...peering, ...entries]);
  }

  /** The level `remote` must reach; before the domain is known, `min_level`. */
  of(remote: string | undefined): LevelRequirement {
    const entry = remote === undefined ? undefined : this.#matcher.match(remote);
    return entry ? { level: entry.value, rule: entry.at } : this.#default;
  }
}

/** What a level asks of the stream and of the proof of identity. */
export interface LevelDemands {
  /** TLS before anything else */
  tls: boolean;
  /** some proof of the domain (dialback or certificate); false only for permissive */
  authentication: boolean;
  /** a certificate that chains to a trusted CA and names the domain */
  trustedCertificate: boolean;
}

export function demandsOf(level: FederationLevel): LevelDemands {
  return {
    tls: levelRank(level) >= levelRank('encrypted'),
    authentication: levelRank(level) >= levelRank('verified'),
    trustedCertificate: level === 'trusted',
  };
}

/**
 * What proves a domain on a stream: nothing (an unproven claim), DNS (dialback calls the
 * domain's servers back, an outgoing stream reached them through DNS, or an unsigned SRV record
 * that can be forged), or PKI (a certificate that chains to a trusted CA, possibly through a
 * DNSSEC, DANE or POSH delegation).
 */
export type ProofStrength = 'none' | 'dns' | 'pki';

/** The level a proof reaches: the one place it is computed (docs/federation.md). */
export function levelReached(proof: { tls: boolean; strength: ProofStrength }): FederationLevel {
  if (proof.strength === 'none') return 'permissive';
  if (!proof.tls) return 'verified';
  return proof.strength === 'pki' ? 'trusted' : 'encrypted';
}
