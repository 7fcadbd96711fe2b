/**
 * Whether a presented certificate chain proves a host may speak for an XMPP domain, by the DNS:
 * DANE TLSA records under a DNSSEC-signed SRV record (RFC 7673, RFC 6698, RFC 7671) and, where
 * no TLSA applies, PKIX with the SRV target as an extra reference identifier when the SRV answer
 * was signed (RFC 7673 section 4.1; RFC 7712 section 6; draft-ietf-xmpp-dna-01 section 5).
 *
 * Pure: the DNS answers are looked up beforehand (dane-lookup.ts), so both directions of a
 * server connection, and tests, use the same decision.
 */
import type { X509Certificate } from 'node:crypto';
import { certificateIdentities, certificateMatchesDomain } from '../s2s/certificate-identity.ts';
import { verifyCertificateChain } from '../s2s/certificate-trust.ts';
import type { SecureAnswer, TlsaRecord } from './secure-resolver.ts';
import type { SrvRecord } from '../net/dns-srv-order.ts';
import { isUsableTlsa, tlsaMatchesCertificate, TLSA_USAGE } from './tlsa.ts';

/** How a delegation was proven, or `none`. */
export type DelegationMethod =
  /** the certificate chains to a trusted CA and names the domain itself (RFC 6120 section 13.7.2) */
  | 'pkix'
  /** PKIX naming the target of a DNSSEC-signed SRV record (RFC 7673 section 4.1) */
  | 'dnssec-srv'
  /** PKIX naming the target of an unsigned SRV record, accepted by local policy only */
  | 'unsigned-srv'
  /** a TLSA record matched, with the usage named (RFC 7218 section 2.1) */
  | 'dane-ee'
  | 'dane-ta'
  | 'pkix-ee'
  | 'pkix-ta'
  /** a POSH fingerprint matched (RFC 7711) */
  | 'posh'
  | 'none';

export interface DelegationVerdict {
  proven: boolean;
  method: DelegationMethod;
  /** what decided, for logs and the connection listing */
  reason: string;
}

export interface DaneInput {
  /** the service domain (the stream's `to`, or the `from` being checked) */
  domain: string;
  /** the answer for `_xmpp-server._tcp.<domain>`; undefined when it was not asked */
  srv?: SecureAnswer<SrvRecord>;
  /** TLSA answers by SRV target host (lowercase, no trailing dot); a target left out was not asked */
  tlsa?: ReadonlyMap<string, SecureAnswer<TlsaRecord>>;
  /** the peer's certificates, leaf first */
  chain: readonly X509Certificate[];
  /** CAs trusted for PKIX */
  trustAnchors: readonly X509Certificate[];
  /** local policy for this domain: an unsigned SRV target counts as a reference identifier */
  acceptUnsignedSrv?: boolean;
  now?: Date;
}

/**
 * The strongest proof found. In order: a usable TLSA set of a target decides that target alone
 * (RFC 7673 section 3.3: with usable TLSA records the certificate MUST match one); a target
 * without usable TLSA under a secure SRV is a PKIX reference identifier (section 4.1); the
 * service domain itself is always one. A bogus SRV answer proves nothing (section 3.1).
 */
export function daneVerdict(input: DaneInput): DelegationVerdict {
  const now = input.now ?? new Date();
  const leaf = input.chain[0];
  if (!leaf) return refused('no certificate presented');
  if (input.srv?.status === 'bogus') return refused(`the SRV answer for ${input.domain} is bogus (DNSSEC validation failed)`);
  const srvSecure = input.srv?.status === 'secure';
  const failures: string[] = [];
  const pkix = verifyCertificateChain(input.chain, input.trustAnchors, now);
  const namesHost = (host: string) => certificateMatchesDomain(certificateIdentities(leaf), host, 'xmpp-server');

  for (const target of srvTargets(input.srv)) {
    const tlsa = srvSecure ? input.tlsa?.get(target) : undefined;
    // RFC 7673 section 4.3 (via 3.3): bogus or indeterminate TLSA, do not use this target
    if (tlsa && (tlsa.status === 'bogus' || tlsa.status === 'failed')) {
      failures.push(`the TLSA answer for ${target} is ${tlsa.status}`);
      continue;
    }
    const usable = tlsa?.status === 'secure' ? tlsa.records.filter(isUsableTlsa) : [];
    if (usable.length > 0) {
      const verdict = matchTlsa(usable, input.chain, input.trustAnchors, [input.domain, target], namesHost, pkix.trusted, now);
      if (verdict.proven) return verdict;
      failures.push(`${target}: ${verdict.reason}`);
      continue;
    }
    if (!srvSecure && !input.acceptUnsignedSrv) continue;
    if (pkix.trusted && namesHost(target)) {
      return srvSecure
        ? proven('dnssec-srv', `the DNSSEC-signed SRV record of ${input.domain} points at ${target}, which the certificate names`)
        : proven('unsigned-srv', `local policy accepts the unsigned SRV record of ${input.domain} pointing at ${target}, which the certificate names`);
    }
  }
  if (pkix.trusted && namesHost(input.domain)) return proven('pkix', `the certificate names ${input.domain}`);
  if (!pkix.trusted) failures.push(pkix.reason);
  else failures.push(`the certificate names neither ${input.domain} nor ${srvSecure || input.acceptUnsignedSrv ? 'an SRV target of it' : 'it (its SRV answer is not signed)'}`);
  return refused(failures.join('; '));
}

/**
 * RFC 6698 section 2.1.1 with RFC 7671: DANE-EE (3) matches the leaf and ignores names, PKIX
 * and validity (RFC 7671 section 5.1); DANE-TA (2) matches a certificate the peer sent above its
 * leaf, which then anchors the chain, and names are checked (section 5.2); PKIX-EE (1) and
 * PKIX-TA (0) also need the chain to pass PKIX against our own anchors, and names.
 */
function matchTlsa(
  records: TlsaRecord[],
  chain: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  references: string[],
  namesHost: (host: string) => boolean,
  pkixTrusted: boolean,
  now: Date,
): DelegationVerdict {
  const leaf = chain[0]!;
  const named = references.find(namesHost);
  for (const record of records.filter((record) => record.usage === TLSA_USAGE.DANE_EE)) {
    if (tlsaMatchesCertificate(record, leaf)) return proven('dane-ee', 'a DANE-EE TLSA record matches the certificate');
  }
  for (const record of records.filter((record) => record.usage === TLSA_USAGE.DANE_TA)) {
    const index = chain.findIndex((certificate, at) => at > 0 && tlsaMatchesCertificate(record, certificate));
    if (index < 0) continue;
    const path = verifyCertificateChain(chain.slice(0, index + 1), [chain[index]!], now);
    if (path.trusted && named) return proven('dane-ta', `a DANE-TA TLSA record matches the issuer of a certificate naming ${named}`);
  }
  if (pkixTrusted && named) {
    if (records.some((record) => record.usage === TLSA_USAGE.PKIX_EE && tlsaMatchesCertificate(record, leaf))) {
      return proven('pkix-ee', `a PKIX-EE TLSA record matches the certificate, which names ${named}`);
    }
    // the CA certificates on the path: those the peer sent, and the anchor that issued one of them
    const issuers = [...chain.slice(1), ...anchors.filter((anchor) => chain.some((certificate) => certificate.checkIssued(anchor)))];
    if (records.some((record) => record.usage === TLSA_USAGE.PKIX_TA && issuers.some((certificate) => tlsaMatchesCertificate(record, certificate)))) {
      return proven('pkix-ta', `a PKIX-TA TLSA record matches a CA of a certificate naming ${named}`);
    }
  }
  return refused(`no TLSA record matches the certificate${named ? '' : ` (which names none of ${references.join(', ')})`}`);
}

/**
 * The draft-ietf-xmpp-dna-01 section 6 step 3 check for a keyless pair request on a host
 * connection: the sender domain's SRV answer must be DNSSEC-secure (or accepted unsigned by
 * local policy) and name, as a target, a host the connection's certificate already proved.
 */
export function srvDelegationVerdict(
  domain: string,
  srv: SecureAnswer<SrvRecord>,
  serverNames: readonly string[],
  acceptUnsignedSrv = false,
): DelegationVerdict {
  if (srv.status === 'bogus') return refused(`the SRV answer for ${domain} is bogus (DNSSEC validation failed)`);
  if (srv.status === 'failed') return refused(`no answer for the SRV record of ${domain}: ${srv.reason ?? 'unknown'}`);
  if (srv.status === 'nxdomain') return refused(`${domain} does not exist`);
  if (srv.status === 'insecure' && !acceptUnsignedSrv) return refused(`the SRV record of ${domain} is not DNSSEC-signed`);
  const names = new Set(serverNames.map((name) => name.toLowerCase().replace(/\.$/, '')));
  const target = srvTargets(srv).find((name) => names.has(name));
  if (target === undefined) return refused(`no SRV target of ${domain} is a name this connection proved`);
  return srv.status === 'secure'
    ? proven('dnssec-srv', `the DNSSEC-signed SRV record of ${domain} points at ${target}`)
    : proven('unsigned-srv', `local policy accepts the unsigned SRV record of ${domain} pointing at ${target}`);
}

/** The distinct targets of an SRV answer; the lone "." target (service not offered) is none. */
function srvTargets(srv: SecureAnswer<SrvRecord> | undefined): string[] {
  if (!srv || (srv.status !== 'secure' && srv.status !== 'insecure')) return [];
  return [...new Set(srv.records.map((record) => record.name).filter((name) => name !== ''))];
}

function proven(method: DelegationMethod, reason: string): DelegationVerdict {
  return { proven: true, method, reason };
}

function refused(reason: string): DelegationVerdict {
  return { proven: false, method: 'none', reason };
}
