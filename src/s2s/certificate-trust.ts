/**
 * Whether a peer server's certificate chain ends at a trust anchor (RFC 6120 section 13.7.2,
 * RFC 5280 section 6 in the parts below).
 *
 * Our own check rather than Node's TLS verification: verifying the certificate an initiating
 * server presents as a TLS client would demand the clientAuth purpose, while public CAs now
 * issue serverAuth-only certificates, and that peer is still a server. A leaf is acceptable
 * with either purpose, or with no extendedKeyUsage at all. Revocation is not checked.
 */
import { X509Certificate, webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export type ChainVerdict = { trusted: true } | { trusted: false; reason: string };

/** Certificates on a path, leaf and anchor included; longer paths are refused. */
export const MAX_PATH_LENGTH = 8;

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';
const ACCEPTED_PURPOSES = new Set([SERVER_AUTH, CLIENT_AUTH, ANY_EXTENDED_KEY_USAGE]);

/**
 * Critical extensions we understand (RFC 5280 section 4.2: a certificate with any other critical
 * extension is refused). Policy extensions are accepted without building a policy tree: no
 * particular policy is required of peers. nameConstraints is not enforced, so a critical one
 * makes the chain untrusted.
 */
const UNDERSTOOD_CRITICAL = new Set([
  '2.5.29.15', // keyUsage
  '2.5.29.17', // subjectAltName
  '2.5.29.19', // basicConstraints
  '2.5.29.32', // certificatePolicies
  '2.5.29.33', // policyMappings
  '2.5.29.36', // policyConstraints
  '2.5.29.37', // extKeyUsage
  '2.5.29.54', // inhibitAnyPolicy
]);

interface PathCertificate {
  node: X509Certificate;
  parsed: x509.X509Certificate;
}

/**
 * `chain`: DER certificates as the peer sent them, leaf first; the others may come in any order
 * and may include the root. `trustAnchors`: the CAs we trust, and any peer certificates
 * configured as trusted as they are.
 */
export function verifyCertificateChain(
  chain: readonly Buffer[],
  trustAnchors: readonly X509Certificate[],
  now: Date = new Date(),
): ChainVerdict {
  if (chain.length === 0) return untrusted('no certificate presented');
  let presented: PathCertificate[];
  try {
    presented = chain.map((der) => pathCertificate(new X509Certificate(der)));
  } catch (error) {
    return untrusted(`unreadable certificate: ${(error as Error).message}`);
  }
  const leaf = presented[0]!;
  if (trustAnchors.some((anchor) => anchor.fingerprint256 === leaf.node.fingerprint256)) {
    return checkValidity(leaf.node, now) ?? { trusted: true };
  }
  const path = buildPath(leaf, presented.slice(1), trustAnchors, now);
  if ('reason' in path) return path;
  return checkPath(path.certificates, path.anchor, now) ?? { trusted: true };
}

/** Loads PEM (any number of certificates) or DER files, and optionally Node's bundled roots. */
export async function loadTrustAnchors(caFiles: readonly string[], includeSystem: boolean): Promise<X509Certificate[]> {
  const anchors = includeSystem ? rootCertificates.map((pem) => new X509Certificate(pem)) : [];
  for (const file of caFiles) {
    const contents = await readFile(file);
    const text = contents.toString('latin1');
    const blocks = text.includes('-----BEGIN') ? (text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []) : [contents];
    if (blocks.length === 0) throw new Error(`${file}: no certificate found`);
    for (const block of blocks) {
      try {
        anchors.push(new X509Certificate(block));
      } catch (error) {
        throw new Error(`${file}: not a certificate (${(error as Error).message})`);
      }
    }
  }
  return anchors;
}

/**
 * From the leaf upwards: at each step a currently valid trust anchor that issued the current
 * certificate ends the path; otherwise one of the presented certificates must have issued it.
 */
function buildPath(
  leaf: PathCertificate,
  others: PathCertificate[],
  trustAnchors: readonly X509Certificate[],
  now: Date,
): { certificates: PathCertificate[]; anchor: PathCertificate } | { trusted: false; reason: string } {
  const certificates = [leaf];
  const unused = [...others];
  for (;;) {
    const current = certificates[certificates.length - 1]!.node;
    const anchor = trustAnchors.find((candidate) => issued(candidate, current) && checkValidity(candidate, now) === undefined);
    if (anchor) return { certificates, anchor: pathCertificate(anchor) };
    if (certificates.length + 1 >= MAX_PATH_LENGTH) return untrusted('certificate chain too long');
    const index = unused.findIndex((candidate) => issued(candidate.node, current));
    if (index < 0) {
      if (certificates.length === 1 && selfSigned(current)) return untrusted('self-signed certificate');
      return untrusted(`no trusted issuer for ${describe(current)}`);
    }
    certificates.push(unused.splice(index, 1)[0]!);
  }
}

/** RFC 5280 section 6.1.3 and 6.1.4, for the parts named in the module comment. */
function checkPath(certificates: PathCertificate[], anchor: PathCertificate, now: Date): ChainVerdict | undefined {
  for (const [index, certificate] of certificates.entries()) {
    const problem =
      checkValidity(certificate.node, now) ??
      checkCriticalExtensions(certificate) ??
      checkPurpose(certificate) ??
      (index > 0 ? checkIssuer(certificate, index - 1, true) : undefined);
    if (problem) return problem;
  }
  return checkIssuer(anchor, certificates.length - 1, false);
}

function checkValidity(certificate: X509Certificate, now: Date): ChainVerdict | undefined {
  if (now < certificate.validFromDate) return untrusted(`${describe(certificate)} is not valid before ${certificate.validFrom}`);
  if (now > certificate.validToDate) return untrusted(`${describe(certificate)} expired on ${certificate.validTo}`);
  return undefined;
}

function checkCriticalExtensions(certificate: PathCertificate): ChainVerdict | undefined {
  const unknown = certificate.parsed.extensions.find((extension) => extension.critical && !UNDERSTOOD_CRITICAL.has(extension.type));
  return unknown ? untrusted(`${describe(certificate.node)} has an unsupported critical extension ${unknown.type}`) : undefined;
}

/** The leaf's extendedKeyUsage (RFC 5280 section 4.2.1.12), and the same limit on its issuers. */
function checkPurpose(certificate: PathCertificate): ChainVerdict | undefined {
  const extension = certificate.parsed.getExtension(x509.ExtendedKeyUsageExtension);
  if (!extension || extension.usages.some((usage) => ACCEPTED_PURPOSES.has(String(usage)))) return undefined;
  return untrusted(`${describe(certificate.node)} is not for TLS servers or clients`);
}

/**
 * RFC 5280 sections 4.2.1.9 and 4.2.1.3: an issuer must be a CA (an anchor only when it says
 * otherwise), its pathLenConstraint must allow the intermediates below it, and a keyUsage
 * extension, when present, must allow certificate signing.
 */
function checkIssuer(certificate: PathCertificate, intermediatesBelow: number, mustSayCa: boolean): ChainVerdict | undefined {
  const constraints = certificate.parsed.getExtension(x509.BasicConstraintsExtension);
  if (constraints ? !constraints.ca : mustSayCa) return untrusted(`${describe(certificate.node)} is not a CA`);
  if (constraints?.pathLength !== undefined && intermediatesBelow > constraints.pathLength) {
    return untrusted(`${describe(certificate.node)} allows at most ${constraints.pathLength} intermediate certificates below it`);
  }
  const keyUsage = certificate.parsed.getExtension(x509.KeyUsagesExtension);
  if (keyUsage && (keyUsage.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
    return untrusted(`${describe(certificate.node)} may not sign certificates`);
  }
  return undefined;
}

/** `issuer` names and signed `subject`. */
function issued(issuer: X509Certificate, subject: X509Certificate): boolean {
  try {
    return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** Signed with its own key, whatever its keyUsage says (so not through checkIssued). */
function selfSigned(certificate: X509Certificate): boolean {
  try {
    return certificate.issuer === certificate.subject && certificate.verify(certificate.publicKey);
  } catch {
    return false;
  }
}

/**
 * Parsed forms by fingerprint: anchors and intermediates come back with every peer of the same
 * CA, and parsing costs far more than verifying a signature. Bounded; cleared when full.
 */
const parsedCertificates = new Map<string, x509.X509Certificate>();
const MAX_PARSED_CERTIFICATES = 1000;

function pathCertificate(node: X509Certificate): PathCertificate {
  let parsed = parsedCertificates.get(node.fingerprint256);
  if (!parsed) {
    if (parsedCertificates.size >= MAX_PARSED_CERTIFICATES) parsedCertificates.clear();
    parsedCertificates.set(node.fingerprint256, (parsed = new x509.X509Certificate(new Uint8Array(node.raw))));
  }
  return { node, parsed };
}

function describe(certificate: X509Certificate): string {
  const subject = certificate.subject.replace(/\n/g, ', ');
  return `the certificate of ${subject || 'an empty subject'}`;
}

function untrusted(reason: string): { trusted: false; reason: string } {
  return { trusted: false, reason };
}
