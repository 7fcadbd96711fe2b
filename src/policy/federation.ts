/**
 * Peering policy as pure decisions (DESIGN: policy returns verdicts, not side effects): which
 * federation level a remote domain must reach, and whether a remote domain or address may
 * talk to us at all. The s2s layer applies the verdicts.
 */
import type { FederationLevel, S2sConfig } from '../config/types.ts';
import { requiredLevel } from './levels.ts';

export type PeerVerdict = { allowed: true } | { allowed: false; reason: string };

export interface PeerQuery {
  /** the remote domain, when known */
  domain?: string;
  /** the remote IP address, when known */
  address?: string;
  direction: 'in' | 'out';
}

export class FederationPolicy {
  readonly #config: S2sConfig;

  constructor(config: S2sConfig) {
    this.#config = config;
  }

  requiredLevel(remoteDomain: string): FederationLevel {
    return requiredLevel(this.#config, remoteDomain);
  }

  checkPeer(_query: PeerQuery): PeerVerdict {
    return { allowed: true };
  }
}
