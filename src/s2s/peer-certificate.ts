/**
 * What a peer's TLS certificate proves (RFC 6120 section 13.7.2, RFC 6125): whether its chain
 * ends at a CA we trust, and whether it names a given domain. Works the same for the
 * certificate a receiving server shows us and the one an initiating server presents as a client.
 */
import { createHash, type X509Certificate } from 'node:crypto';
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

/**
 * How long a verdict about one certificate chain is reused. Checking a chain parses every
 * certificate in it, which costs milliseconds; a stream asks several times (at TLS, on each
 * stream header, per dialback domain) and peers reconnect with the same certificate.
 */
const VERDICT_TTL_MS = 10 * 60 * 1000;
const MAX_CACHED_VERDICTS = 1000;

interface CachedVerdict {
  verdict: CertificateVerdict;
  until: number;
}

/** Verdicts by chain fingerprints and domain; a fresh anchor set (a new server) starts empty. */
const verdictCache = new WeakMap<readonly X509Certificate[], Map<string, CachedVerdict>>();

export function checkPeerCertificate(socket: TLSSocket | undefined, domain: string, anchors: readonly X509Certificate[]): CertificateVerdict {
  const peer = socket?.getPeerCertificate(true);
  if (!peer || !peer.raw) return { status: 'absent', reason: 'no certificate presented' };
  const chain = peerChain(socket!);
  const digest = createHash('sha256');
  for (const der of chain) digest.update(der);
  const key = `${digest.digest('base64')} ${domain}`;
  let cache = verdictCache.get(anchors);
  if (!cache) verdictCache.set(anchors, (cache = new Map()));
  const now = Date.now();
  const cached = cache.get(key);
  if (cached && cached.until > now) return cached.verdict;
  const verdict = evaluate(chain, peer.fingerprint256, domain, anchors);
  // The validity period still counts: a verdict never outlives the leaf certificate.
  const until = Math.min(now + VERDICT_TTL_MS, Date.parse(peer.valid_to));
  if (cache.size >= MAX_CACHED_VERDICTS) cache.clear();
  cache.set(key, { verdict, until });
  return verdict;
}

function evaluate(chain: Buffer[], fingerprint: string, domain: string, anchors: readonly X509Certificate[]): CertificateVerdict {
  const trust = verifyCertificateChain(chain, anchors);
  if (!trust.trusted) return { status: 'untrusted', reason: trust.reason, fingerprint };
  if (!certificateMatchesDomain(certificateIdentities(chain[0]!), domain, 'xmpp-server')) {
    return { status: 'wrong-name', reason: `the certificate does not name ${domain}`, fingerprint };
  }
  return { status: 'valid', fingerprint };
}
