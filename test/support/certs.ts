/**
 * Certificates built to order for unit tests of certificate checks: any subject, any mix of
 * subjectAltNames (DNS-ID, SRV-ID, XmppAddr, URI-ID) or none, chosen extended key usages,
 * validity, CA flags and issuer, so that each rule can be shown to accept and to refuse.
 * The lab's test CA (./lab/ca.ts) issues only well-formed server certificates.
 */
import { X509Certificate, webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { subjectAltNames } from './lab/ca.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export const EKU = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  any: '2.5.29.37.0',
} as const;

export const KEY_USAGE = x509.KeyUsageFlags;

export interface CertificateSpec {
  /** subject commonName; no subject attributes when absent */
  commonName?: string;
  /** subjectAltName entries; no subjectAltName extension when every list is empty */
  dnsIds?: string[];
  srvIds?: string[];
  xmppAddrs?: string[];
  /** URI-IDs, only on a certificate without other subjectAltNames */
  uriIds?: string[];
  /** extended key usage OIDs; no extension when absent */
  eku?: string[];
  /** key usage flags; defaults to digitalSignature for leaves, keyCertSign|cRLSign for CAs; null for none */
  keyUsage?: number | null;
  /** a CA certificate, with an optional pathLenConstraint */
  ca?: boolean;
  pathLength?: number;
  /** no basicConstraints extension at all */
  omitBasicConstraints?: boolean;
  notBefore?: Date;
  notAfter?: Date;
  /** signed by this certificate's key; self-signed when absent */
  issuer?: TestCertificate;
  /** an extra extension, e.g. an unknown critical one */
  extraExtension?: { oid: string; critical: boolean; value: Uint8Array<ArrayBuffer> };
}

export interface TestCertificate {
  der: Buffer;
  pem: string;
  /** node:crypto view, as used for trust anchors */
  node: X509Certificate;
  keys: CryptoKeyPair;
  subject: string;
}

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const DAY_MS = 24 * 3600 * 1000;

export async function makeCertificate(spec: CertificateSpec): Promise<TestCertificate> {
  const keys = (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const subject = spec.commonName === undefined ? '' : `CN=${spec.commonName}`;
  const notBefore = spec.notBefore ?? new Date(Date.now() - DAY_MS);
  const notAfter = spec.notAfter ?? new Date(Date.now() + 30 * DAY_MS);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
    subject,
    issuer: spec.issuer?.subject ?? subject,
    notBefore,
    notAfter,
    signingAlgorithm: KEY_ALGORITHM,
    publicKey: keys.publicKey,
    signingKey: spec.issuer?.keys.privateKey ?? keys.privateKey,
    extensions: await extensions(spec, keys),
  });
  const der = Buffer.from(certificate.rawData);
  return { der, pem: certificate.toString('pem'), node: new X509Certificate(der), keys, subject };
}

async function extensions(spec: CertificateSpec, keys: CryptoKeyPair): Promise<x509.Extension[]> {
  const list: x509.Extension[] = [];
  if (!spec.omitBasicConstraints) list.push(new x509.BasicConstraintsExtension(spec.ca ?? false, spec.pathLength, true));
  const keyUsage = spec.keyUsage === undefined ? (spec.ca ? KEY_USAGE.keyCertSign | KEY_USAGE.cRLSign : KEY_USAGE.digitalSignature) : spec.keyUsage;
  if (keyUsage !== null) list.push(new x509.KeyUsagesExtension(keyUsage, true));
  if (spec.eku) list.push(new x509.ExtendedKeyUsageExtension(spec.eku));
  list.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey));
  if (spec.issuer) list.push(await x509.AuthorityKeyIdentifierExtension.create(spec.issuer.keys.publicKey));
  const names = { names: spec.dnsIds ?? [], srvNames: spec.srvIds ?? [], xmppAddrs: spec.xmppAddrs ?? [] };
  if (spec.uriIds && spec.uriIds.length > 0) {
    if (names.names.length + names.srvNames.length + names.xmppAddrs.length > 0) throw new Error('URI-IDs only alone');
    list.push(new x509.SubjectAlternativeNameExtension(spec.uriIds.map((value) => ({ type: 'url' as const, value }))));
  } else if (names.names.length + names.srvNames.length + names.xmppAddrs.length > 0) {
    // RFC 5280 section 4.2.1.6: critical when the subject is empty
    list.push(new x509.Extension('2.5.29.17', spec.commonName === undefined, subjectAltNames(names)));
  }
  if (spec.extraExtension) list.push(new x509.Extension(spec.extraExtension.oid, spec.extraExtension.critical, spec.extraExtension.value));
  return list;
}
