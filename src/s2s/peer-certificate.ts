/**
 * What a peer's TLS certificate proves (RFC 6120 section 13.7.2, RFC 6125): whether its chain
 * ends at a CA we trust, and whether it names a given domain. Works the same for the
 * certificate a receiving server shows us and the one an initiating server presents as a client.
 */
import type { X509Certificate } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { certificateIdentities, certificateMatchesDomain } from './certificate-identity.ts';
import { verifyCertificateChain } from './certificate-trust.ts';

export type CertificateStatus =
  /** chains to a trusted CA and names the domain */
  | 'valid'
  /** chains to a trusted CA but does not name the domain */
  | 'wrong-name'
  /** self-signed, unknown CA, expired or otherwise not trusted */
  | 'untrusted'
  /** no certificate presented (or no TLS) */
  | 'absent';

export interface CertificateVerdict {
  status: CertificateStatus;
  /** why it is not valid, for logs and the connection listing */
  reason?: string;
  /** SHA-256 fingerprint of the leaf, to notice a changed certificate (XEP-0344 section 3.3) */
  fingerprint?: string;
}

/** The DER chain the peer sent, leaf first. */
export function peerChain(socket: TLSSocket): Buffer[] {
  const leaf = socket.getPeerCertificate(true) as PeerCertificate & { issuerCertificate?: PeerCertificate };
  if (!leaf || !leaf.raw) return [];
  const chain: Buffer[] = [];
  const seen = new Set<string>();
  let current: (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined = leaf;
  while (current?.raw && !seen.has(current.fingerprint256) && chain.length < 10) {
    seen.add(current.fingerprint256);
    chain.push(current.raw);
    current = current.issuerCertificate as typeof current;
  }
  return chain;
}

export function checkPeerCertificate(socket: TLSSocket | undefined, domain: string, anchors: readonly X509Certificate[]): CertificateVerdict {
  const chain = socket ? peerChain(socket) : [];
  if (chain.length === 0) return { status: 'absent', reason: 'no certificate presented' };
  const fingerprint = socket!.getPeerCertificate().fingerprint256;
  const trust = verifyCertificateChain(chain, anchors);
  if (!trust.trusted) return { status: 'untrusted', reason: trust.reason, fingerprint };
  if (!certificateMatchesDomain(certificateIdentities(chain[0]!), domain, 'xmpp-server')) {
    return { status: 'wrong-name', reason: `the certificate does not name ${domain}`, fingerprint };
  }
  return { status: 'valid', fingerprint };
}
