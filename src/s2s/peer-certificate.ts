/**
 * What a peer's TLS certificate proves (RFC 6120 section 13.7.2, RFC 6125): whether its chain
 * ends at a CA we trust, and whether it names a given domain. Works the same for the
 * certificate a receiving server shows us and the one an initiating server presents as a client.
 */
import { X509Certificate } from 'node:crypto';
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

/** The chain a peer presented, read from its socket once. */
interface PeerChain {
  /** leaf first, then the other certificates the peer sent */
  certificates: X509Certificate[];
  /** the SHA-256 fingerprints of the whole chain: equal chains, equal keys */
  fingerprints: string;
  /** when the leaf expires, in ms since the epoch */
  leafValidTo: number;
}

/**
 * Chains by socket. Reading the peer's certificates through the TLS library costs a tenth of a
 * millisecond or more each time; a stream asks at TLS, on each stream header and per domain.
 */
const chainsBySocket = new WeakMap<TLSSocket, PeerChain>();

/** The certificates the peer sent on `socket`, leaf first; none without TLS or a certificate. */
export function peerCertificates(socket: TLSSocket | undefined): X509Certificate[] {
  try {
    return (socket && peerChain(socket)?.certificates) ?? [];
  } catch {
    return [];
  }
}

/** The chain the peer sent, leaf first; undefined when it sent none (or before the handshake). */
function peerChain(socket: TLSSocket): PeerChain | undefined {
  const known = chainsBySocket.get(socket);
  if (known) return known;
  const leaf = socket.getPeerCertificate(true) as PeerCertificate & { issuerCertificate?: PeerCertificate };
  if (!leaf || !leaf.raw) return undefined;
  const certificates: X509Certificate[] = [];
  const fingerprints: string[] = [];
  let current: (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined = leaf;
  while (current?.raw && !fingerprints.includes(current.fingerprint256) && certificates.length < 10) {
    fingerprints.push(current.fingerprint256);
    certificates.push(new X509Certificate(current.raw));
    current = current.issuerCertificate as typeof current;
  }
  const chain = { certificates, fingerprints: fingerprints.join(' '), leafValidTo: Date.parse(leaf.valid_to) };
  chainsBySocket.set(socket, chain);
  return chain;
}

/**
 * How long a verdict about one certificate chain is reused: peers reconnect with the same
 * certificate, and checking a chain verifies signatures.
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
  let chain: PeerChain | undefined;
  try {
    chain = socket ? peerChain(socket) : undefined;
  } catch (error) {
    // The TLS library accepted it, so this should not happen; if it does, nothing is trusted.
    return { status: 'untrusted', reason: `unreadable certificate: ${(error as Error).message}` };
  }
  if (!chain) return { status: 'absent', reason: 'no certificate presented' };
  const key = `${chain.fingerprints} ${domain}`;
  let cache = verdictCache.get(anchors);
  if (!cache) verdictCache.set(anchors, (cache = new Map()));
  const now = Date.now();
  const cached = cache.get(key);
  if (cached && cached.until > now) return cached.verdict;
  const verdict = evaluate(chain.certificates, domain, anchors);
  // The validity period still counts: a verdict never outlives the leaf certificate.
  const until = Math.min(now + VERDICT_TTL_MS, chain.leafValidTo);
  if (cache.size >= MAX_CACHED_VERDICTS) cache.clear();
  cache.set(key, { verdict, until });
  return verdict;
}

function evaluate(chain: X509Certificate[], domain: string, anchors: readonly X509Certificate[]): CertificateVerdict {
  const fingerprint = chain[0]!.fingerprint256;
  const trust = verifyCertificateChain(chain, anchors);
  if (!trust.trusted) return { status: 'untrusted', reason: trust.reason, fingerprint };
  if (!certificateMatchesDomain(certificateIdentities(chain[0]!), domain, 'xmpp-server')) {
    return { status: 'wrong-name', reason: `the certificate does not name ${domain}`, fingerprint };
  }
  return { status: 'valid', fingerprint };
}
