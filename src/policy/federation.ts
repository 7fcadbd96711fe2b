/**
 * Peering policy as pure decisions (DESIGN: policy returns verdicts, not side effects): which
 * federation level a remote domain must reach, and whether a remote domain or address may
 * talk to us at all. The s2s layer applies the verdicts.
 */
import type { FederationLevel, S2sConfig } from '../config/types.ts';
import { describeBan, describeBlock, type AbuseList } from './abuse-list.ts';
import { requiredLevel } from './levels.ts';
import { PeerAccess, type PeerQuery, type PeerVerdict } from './peer-access.ts';

export type { PeerQuery, PeerVerdict } from './peer-access.ts';

export class FederationPolicy {
  readonly #config: S2sConfig;
  readonly #access: PeerAccess;
  readonly #abuse: AbuseList | undefined;

  /** `abuse`: the operator's run-time bans and blocks (`trellis ban`, `trellis s2s block`), checked before the configured lists. */
  constructor(config: S2sConfig, abuse?: AbuseList) {
    this.#config = config;
    this.#access = new PeerAccess(config.access);
    this.#abuse = abuse;
  }

  requiredLevel(remoteDomain: string): FederationLevel {
    return requiredLevel(this.#config, remoteDomain);
  }

  /** The run-time blocks and bans, then the allow and deny lists of `s2s.access`, in both directions. */
  checkPeer(query: PeerQuery): PeerVerdict {
    const block = query.domain === undefined ? undefined : this.#abuse?.blockFor(query.domain);
    if (block) return { allowed: false, reason: describeBlock(block) };
    const ban = query.address === undefined ? undefined : this.#abuse?.banFor(query.address);
    if (ban) return { allowed: false, reason: describeBan(ban) };
    return this.#access.check(query);
  }
}
