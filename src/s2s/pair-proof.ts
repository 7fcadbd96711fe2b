/** How a pair of domains was proven on a connection, and the federation level that reaches (docs/federation.md). */
import type { FederationLevel } from '../config/types.ts';
import type { Direction } from './connection-table.ts';
import type { AuthMethod } from './context.ts';

export interface PairProof {
  method: AuthMethod;
  level: FederationLevel;
}

/**
 * Outbound, what the peer proved to us: a certificate naming the remote domain (trusted), or
 * only TLS and DNS (encrypted), or DNS alone (verified). Inbound, what the peer proved for its
 * domain: a certificate (SASL EXTERNAL, or XEP-0344 with dialback) is trusted, dialback over TLS
 * encrypted and without it verified; an unproven claim is permissive.
 */
export function proofOf(direction: Direction, method: AuthMethod, secure: boolean, certified: boolean): PairProof {
  if (direction === 'out') return { method, level: !secure ? 'verified' : certified ? 'trusted' : 'encrypted' };
  if (method === 'none') return { method, level: 'permissive' };
  if (method === 'dialback') return { method, level: secure ? 'encrypted' : 'verified' };
  // An unsigned SRV record can be forged: TLS, but no proof beyond DNS.
  if (method === 'unsigned-srv') return { method, level: 'encrypted' };
  return { method, level: 'trusted' };
}
