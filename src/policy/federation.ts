/**
 * Peering policy as pure decisions (DESIGN: policy returns verdicts, not side effects): which
 * federation level a remote domain must reach, and whether a remote domain or address may
 * talk to us at all. The s2s layer applies the verdicts.
 */
import type { FederationLevel, S2sConfig } from '../config/types.ts';
import { requiredLevel } from './levels.ts';
import { PeerAccess, type PeerQuery, type PeerVerdict } from './peer-access.ts';

export type { PeerQuery, PeerVerdict } from './peer-access.ts';

export class FederationPolicy {
  readonly #config: S2sConfig;
  readonly #access: PeerAccess;

  constructor(config: S2sConfig) {
    this.#config = config;
    this.#access = new PeerAccess(config.access);
  }

  requiredLevel(remoteDomain: string): FederationLevel {
    return requiredLevel(this.#config, remoteDomain);
  }

  /** The allow and deny lists of `s2s.access`, in both directions. */
  checkPeer(query: PeerQuery): PeerVerdict {
    return this.#access.check(query);
  }
}
