/**
 * Per-pair authorization on an existing connection (draft-ietf-xmpp-dna-01 section 6; the
 * spec digest's section 5.4): a keyless `<db:result from='sender' to='target'/>` is granted
 * when the sender domain is proven for this connection, by the first of these that holds, in
 * the order of strength (docs/federation.md, "Proofs that a host may speak for a domain"):
 *   1. the peer's certificate chains to a trusted CA and names the sender (RFC 6120 section 13.7.2);
 *   2. DNSSEC: DANE TLSA records of the sender's SRV target match the certificate (RFC 7673),
 *      or the DNSSEC-signed SRV record points at a name the certificate proves (the draft's
 *      method), or, where `s2s.delegation.accept_unsigned_srv` allows it, an unsigned one;
 *   3. POSH (RFC 7711): the sender publishes the certificate's fingerprints over HTTPS.
 * Each method other than the certificate is on only where `s2s.delegation.methods` lists it
 * (and, for the DNS ones, a validating resolver is configured).
 */
import type { X509Certificate } from 'node:crypto';
import type { FederationLevel } from '../config/types.ts';
import { levelReached, type ProofStrength } from '../policy/levels.ts';
import { daneVerdict, srvDelegationVerdict, type DelegationVerdict } from '../delegation/dane.ts';
import { lookupDane, type DaneLookup } from '../delegation/dane-lookup.ts';
import type { DelegationChecks } from '../delegation/from-config.ts';
import type { CertificateVerdict } from './peer-certificate.ts';

/** Trellis's own namespace for what the draft left without one (the digest's section 5.8). */
export const NS_TRELLIS_S2S = 'urn:xmpp:trellis:s2s:0';

/** How a sender domain was proven for a connection. */
export type PairMethod = 'certificate' | 'dane' | 'dnssec-srv' | 'unsigned-srv' | 'posh' | 'host-activation';

export type PairVerdict =
  | { proven: true; method: PairMethod; level: FederationLevel; reason: string }
  | { proven: false; reason: string };

/** What the connection shows about the peer. */
export interface PairEvidence {
  /** what the peer's certificate proves about a name (RFC 6125, chain trusted) */
  certificate(name: string): CertificateVerdict;
  /** the peer's certificates, leaf first; empty when it presented none */
  chain: readonly X509Certificate[];
  /** CAs trusted for peers' certificates */
  anchors: readonly X509Certificate[];
}

/**
 * Whether `sender` is proven for the connection `evidence` describes. An unsigned SRV record
 * reaches only the encrypted level: it can be forged.
 */
export async function proveSender(sender: string, evidence: PairEvidence, checks: DelegationChecks | undefined): Promise<PairVerdict> {
  const certificate = evidence.certificate(sender);
  if (certificate.status === 'valid') return grant('certificate', `the certificate names ${sender}`);
  const reasons = [certificate.reason ?? `the certificate is ${certificate.status}`];
  if (evidence.chain.length === 0) return { proven: false, reason: reasons[0]! };
  const methods = checks?.methods ?? new Set();
  if (checks?.resolver && (methods.has('dane') || methods.has('dnssec_srv'))) {
    const lookup: DaneLookup = methods.has('dane') ? await lookupDane(checks.resolver, sender) : { srv: await checks.resolver.srv(`_xmpp-server._tcp.${sender}`), tlsa: new Map() };
    // RFC 7673 section 3.1: a bogus SRV answer is an attack or a broken zone, not "unsigned".
    if (lookup.srv.status === 'bogus') return { proven: false, reason: `the SRV answer for ${sender} is bogus (DNSSEC validation failed)` };
    const acceptUnsignedSrv = checks.acceptsUnsignedSrv(sender);
    const verdict = methods.has('dane')
      ? daneVerdict({ domain: sender, srv: lookup.srv, tlsa: lookup.tlsa, chain: evidence.chain, trustAnchors: evidence.anchors, acceptUnsignedSrv })
      : srvDelegationVerdict(sender, lookup.srv, provedTargets(lookup, evidence), acceptUnsignedSrv);
    const method = pairMethod(verdict);
    // Each method is independent: DANE alone does not accept what only the signed SRV record proves.
    const srvOnly = method === 'dnssec-srv' || method === 'unsigned-srv';
    if (method && (!srvOnly || methods.has('dnssec_srv'))) return grant(method, verdict.reason);
    reasons.push(verdict.reason);
  }
  if (checks?.posh) {
    const verdict = await checks.posh.verify(sender, evidence.chain);
    if (verdict.proven) return grant('posh', verdict.reason);
    reasons.push(verdict.reason);
  }
  return { proven: false, reason: reasons.join('; ') };
}

/** The SRV targets the peer's certificate proves: the connection's server names among them. */
function provedTargets(lookup: DaneLookup, evidence: PairEvidence): string[] {
  const targets = lookup.srv.records.map((record) => record.name).filter((name) => name !== '');
  return targets.filter((target) => evidence.certificate(target).status === 'valid');
}

function pairMethod(verdict: DelegationVerdict): PairMethod | undefined {
  if (!verdict.proven) return undefined;
  switch (verdict.method) {
    case 'dnssec-srv':
    case 'unsigned-srv':
    case 'posh':
      return verdict.method;
    case 'pkix':
      return 'certificate';
    case 'none':
      return undefined;
    default:
      return 'dane';
  }
}

/** An unsigned SRV record can be forged: it proves no more than DNS. Every other method rests on a certificate. */
export function pairStrength(method: PairMethod): ProofStrength {
  return method === 'unsigned-srv' ? 'dns' : 'pki';
}

/** Keyless requests are understood only over TLS. */
function grant(method: PairMethod, reason: string): PairVerdict {
  return { proven: true, method, level: levelReached({ tls: true, strength: pairStrength(method) }), reason };
}
