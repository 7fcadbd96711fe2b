/**
 * The four federation levels (the Jabber XCP model): which one a remote domain must reach,
 * and what each demands of a server stream.
 */
import { FEDERATION_LEVELS, type FederationLevel, type S2sConfig } from '../config/types.ts';

export function levelRank(level: FederationLevel): number {
  return FEDERATION_LEVELS.indexOf(level);
}

/** True when `achieved` satisfies `required`. */
export function meetsLevel(achieved: FederationLevel, required: FederationLevel): boolean {
  return levelRank(achieved) >= levelRank(required);
}

/**
 * The level a remote domain must reach: an exact peer rule, else the longest matching
 * `*.suffix` rule (a wildcard covers every subdomain, at any depth), else `min_level`.
 */
export function requiredLevel(config: Pick<S2sConfig, 'min_level' | 'peers'>, remoteDomain: string): FederationLevel {
  let best: { level: FederationLevel; specificity: number } | undefined;
  for (const rule of config.peers) {
    if (rule.domain === remoteDomain) return rule.level;
    if (rule.domain.startsWith('*.')) {
      const suffix = rule.domain.slice(1);
      if (remoteDomain.endsWith(suffix) && (!best || suffix.length > best.specificity)) best = { level: rule.level, specificity: suffix.length };
    }
  }
  return best?.level ?? config.min_level;
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

/** The level a stream reached from how it was secured and authenticated. */
export function achievedLevel(proof: { tls: boolean; method: 'sasl-external' | 'dialback' | 'certificate' | 'none' }): FederationLevel {
  if (proof.method === 'none') return 'permissive';
  if (!proof.tls) return 'verified';
  return proof.method === 'dialback' ? 'encrypted' : 'trusted';
}
