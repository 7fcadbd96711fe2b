/**
 * Whether a peer server's certificate chain ends at a trust anchor (RFC 6120 section 13.7.2,
 * RFC 5280 section 6 in the parts below).
 *
 * Our own check rather than Node's TLS verification: verifying the certificate an initiating
 * server presents as a TLS client would demand the clientAuth purpose, while public CAs now
 * issue serverAuth-only certificates, and that peer is still a server. A leaf is acceptable
 * with either purpose, or with no extendedKeyUsage at all. Revocation is not checked.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import { certificateExtensions, objectIdentifier, readTlv, type CertificateExtension } from './der.ts';

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

const KEY_USAGE = '2.5.29.15';
const BASIC_CONSTRAINTS = '2.5.29.19';
const EXTENDED_KEY_USAGE = '2.5.29.37';

interface PathCertificate {
  node: X509Certificate;
  extensions: CertificateExtension[];
}

/**
 * `chain`: the certificates as the peer sent them (parsed, or DER), leaf first; the others may
 * come in any order and may include the root. `trustAnchors`: the CAs we trust, and any peer
 * certificates configured as trusted as they are.
 */
export function verifyCertificateChain(
  chain: readonly (X509Certificate | Uint8Array)[],
  trustAnchors: readonly X509Certificate[],
  now: Date = new Date(),
): ChainVerdict {
  if (chain.length === 0) return untrusted('no certificate presented');
  let presented: PathCertificate[];
  try {
    presented = chain.map((certificate) => pathCertificate(certificate instanceof X509Certificate ? certificate : new X509Certificate(certificate)));
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
  const files = await readTrustAnchorFiles(caFiles);
  return includeSystem ? [...systemRoots(), ...files] : files;
}

/**
 * The trust anchors a running server checks peers against: the files read now, so that a bad
 * one stops the start, and Node's bundled roots parsed at the first call, so that a server
 * that verifies no peer's certificate never holds some 140 parsed certificates
 * (docs/performance.md, "Memory at start"). Every call returns the same array.
 */
export async function trustAnchorsOnDemand(caFiles: readonly string[], includeSystem: boolean): Promise<() => readonly X509Certificate[]> {
  const files = await readTrustAnchorFiles(caFiles);
  let anchors: readonly X509Certificate[] | undefined = includeSystem ? undefined : files;
  return () => (anchors ??= [...systemRoots(), ...files]);
}

function systemRoots(): X509Certificate[] {
  return rootCertificates.map((pem) => new X509Certificate(pem));
}

async function readTrustAnchorFiles(caFiles: readonly string[]): Promise<X509Certificate[]> {
  const anchors: X509Certificate[] = [];
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
  const unknown = certificate.extensions.find((extension) => extension.critical && !UNDERSTOOD_CRITICAL.has(extension.oid));
  return unknown ? untrusted(`${describe(certificate.node)} has an unsupported critical extension ${unknown.oid}`) : undefined;
}

/** The leaf's extendedKeyUsage (RFC 5280 section 4.2.1.12), and the same limit on its issuers. */
function checkPurpose(certificate: PathCertificate): ChainVerdict | undefined {
  const extension = extensionOf(certificate, EXTENDED_KEY_USAGE);
  if (!extension || extendedKeyUsages(extension.value).some((usage) => ACCEPTED_PURPOSES.has(usage))) return undefined;
  return untrusted(`${describe(certificate.node)} is not for TLS servers or clients`);
}

/**
 * RFC 5280 sections 4.2.1.9 and 4.2.1.3: an issuer must be a CA (an anchor only when it says
 * otherwise), its pathLenConstraint must allow the intermediates below it, and a keyUsage
 * extension, when present, must allow certificate signing.
 */
function checkIssuer(certificate: PathCertificate, intermediatesBelow: number, mustSayCa: boolean): ChainVerdict | undefined {
  const basic = extensionOf(certificate, BASIC_CONSTRAINTS);
  const constraints = basic ? basicConstraints(basic.value) : undefined;
  if (constraints ? !constraints.ca : mustSayCa) return untrusted(`${describe(certificate.node)} is not a CA`);
  if (constraints?.pathLength !== undefined && intermediatesBelow > constraints.pathLength) {
    return untrusted(`${describe(certificate.node)} allows at most ${constraints.pathLength} intermediate certificates below it`);
  }
  const keyUsage = extensionOf(certificate, KEY_USAGE);
  if (keyUsage && !allowsCertificateSigning(keyUsage.value)) {
    return untrusted(`${describe(certificate.node)} may not sign certificates`);
  }
  return undefined;
}

function extensionOf(certificate: PathCertificate, oid: string): CertificateExtension | undefined {
  return certificate.extensions.find((extension) => extension.oid === oid);
}

/** ExtKeyUsageSyntax ::= SEQUENCE OF KeyPurposeId (RFC 5280 section 4.2.1.12). */
function extendedKeyUsages(der: Buffer): string[] {
  const sequence = readTlv(der, 0);
  const usages: string[] = [];
  for (let offset = sequence.start; offset < sequence.end; ) {
    const purpose = readTlv(der, offset, sequence.end);
    offset = purpose.next;
    if (purpose.tag === 0x06) usages.push(objectIdentifier(der.subarray(purpose.start, purpose.end)));
  }
  return usages;
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL } */
function basicConstraints(der: Buffer): { ca: boolean; pathLength?: number } {
  const sequence = readTlv(der, 0);
  let ca = false;
  let pathLength: number | undefined;
  for (let offset = sequence.start; offset < sequence.end; ) {
    const field = readTlv(der, offset, sequence.end);
    offset = field.next;
    if (field.tag === 0x01) ca = der[field.start] !== 0;
    else if (field.tag === 0x02) pathLength = der.subarray(field.start, field.end).reduce((value, byte) => value * 256 + byte, 0);
  }
  return pathLength === undefined ? { ca } : { ca, pathLength };
}

/** KeyUsage ::= BIT STRING; keyCertSign is bit 5, 0x04 of the first content byte (RFC 5280 section 4.2.1.3). */
function allowsCertificateSigning(der: Buffer): boolean {
  const bits = readTlv(der, 0);
  return bits.tag === 0x03 && bits.end - bits.start >= 2 && (der[bits.start + 1]! & 0x04) !== 0;
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
 * Extensions by certificate fingerprint: anchors and intermediates come back with every peer of
 * the same CA. Bounded; cleared when full.
 */
const extensionsByFingerprint = new Map<string, CertificateExtension[]>();
const MAX_REMEMBERED_CERTIFICATES = 1000;

function pathCertificate(node: X509Certificate): PathCertificate {
  let extensions = extensionsByFingerprint.get(node.fingerprint256);
  if (!extensions) {
    if (extensionsByFingerprint.size >= MAX_REMEMBERED_CERTIFICATES) extensionsByFingerprint.clear();
    extensionsByFingerprint.set(node.fingerprint256, (extensions = certificateExtensions(Buffer.from(node.raw))));
  }
  return { node, extensions };
}

function describe(certificate: X509Certificate): string {
  const subject = certificate.subject.replace(/\n/g, ', ');
  return `the certificate of ${subject || 'an empty subject'}`;
}

function untrusted(reason: string): { trusted: false; reason: string } {
  return { trusted: false, reason };
}
