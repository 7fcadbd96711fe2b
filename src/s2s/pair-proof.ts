/** How a pair of domains was proven on a connection, and the federation level that reaches (docs/federation.md). */
import type { FederationLevel } from '../config/types.ts';
import { levelReached, type ProofStrength } from '../policy/levels.ts';
import type { Direction } from './connection-table.ts';
import type { AuthMethod } from './context.ts';
import { pairStrength } from './pair-authorization.ts';

export interface PairProof {
  method: AuthMethod;
  level: FederationLevel;
}

/**
 * Outbound, what the peer proved to us (`certified`): a certificate naming the remote domain, or only DNS
 * (we reached the servers its records name). Inbound, what the peer proved for its domain: a
 * certificate (SASL EXTERNAL, XEP-0344 with dialback, or a delegation to one), dialback (a
 * call back through DNS), or nothing (an unproven claim). The level follows from that and TLS
 * (src/policy/levels.ts).
 */
export function proofOf(direction: Direction, method: AuthMethod, secure: boolean, certified: boolean): PairProof {
  return { method, level: levelReached({ tls: secure, strength: strengthOf(direction, method, certified) }) };
}

function strengthOf(direction: Direction, method: AuthMethod, certified: boolean): ProofStrength {
  if (direction === 'out') return certified ? 'pki' : 'dns';
  if (method === 'none') return 'none';
  if (method === 'dialback') return 'dns';
  if (method === 'sasl-external') return 'pki';
  return pairStrength(method);
}
