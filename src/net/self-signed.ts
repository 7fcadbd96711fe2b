/**
 * Self-signed certificates for hosts that have none configured, so a fresh install speaks TLS
 * at once. Stored under <data_dir>/certs/<domain>.{crt,key} and reused across restarts;
 * regenerated when missing or within 30 days of expiry.
 *
 * The certificate is written with node:crypto and a few DER helpers (der-encode.ts) rather than
 * an X.509 library, which with its ASN.1 schemas was about 200 modules kept in memory for the
 * life of a server that made one at start (docs/performance.md, "Memory at start").
 */
import { generateKeyPair, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { domainToASCII } from 'node:url';
import { promisify } from 'node:util';
import type { TlsFiles } from '../config/types.ts';
import { bitString, booleanTrue, contextTag, octetString, oid, sequence, set, time, unsignedInteger, utf8String } from './der-encode.ts';

const VALIDITY_DAYS = 3650;
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

/** Object identifiers, RFC 5280 section 4.2.1 and RFC 5758 section 3.2 */
const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extendedKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

export interface SelfSignedResult {
  files: TlsFiles;
  /** true when a new certificate was written now */
  created: boolean;
}

export async function ensureSelfSignedCertificate(domain: string, dataDir: string): Promise<SelfSignedResult> {
  const dir = join(dataDir, 'certs');
  const files: TlsFiles = { certificate: join(dir, `${domain}.crt`), key: join(dir, `${domain}.key`) };
  if (await isUsable(files.certificate)) return { files, created: false };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const { certificatePem, keyPem } = await generateSelfSigned(domain);
  await writeFile(files.key, keyPem, { mode: 0o600 });
  await writeFile(files.certificate, certificatePem, { mode: 0o644 });
  return { files, created: true };
}

export interface SelfSignedPem {
  certificatePem: string;
  keyPem: string;
}

async function isUsable(certificateFile: string): Promise<boolean> {
  try {
    const certificate = new X509Certificate(await readFile(certificateFile));
    return Date.parse(certificate.validTo) - Date.now() > RENEW_BEFORE_MS;
  } catch {
    return false;
  }
}

/**
 * An ECDSA P-256 certificate naming the domain as a DNS-ID (RFC 6125 section 6.4) and as its
 * common name, with serverAuth and clientAuth usages so the same certificate serves both ends of
 * a server link.
 */
export async function generateSelfSigned(domain: string): Promise<SelfSignedPem> {
  // An internationalized name as its A-labels (RFC 6125 section 6.4.2); an ASCII one as it is,
  // which includes the service names of a host named by an address (conference.127.0.0.1).
  const dnsName = /^[\x21-\x7e]+$/.test(domain) ? domain : domainToASCII(domain);
  if (dnsName === '') throw new Error(`cannot make a certificate for "${domain}": not a valid domain name`);
  const { publicKey, privateKey } = await promisify(generateKeyPair)('ec', { namedCurve: 'P-256' });
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + VALIDITY_DAYS * 24 * 3600 * 1000);
  const name = sequence(set(sequence(oid(OID.commonName), utf8String(domain))));
  const signatureAlgorithm = sequence(oid(OID.ecdsaWithSha256));
  // RFC 5280 section 4.1: TBSCertificate, version 3 ([0] EXPLICIT INTEGER 2)
  const tbs = sequence(
    contextTag(0, true, unsignedInteger(Buffer.from([2]))),
    unsignedInteger(serialNumber()),
    signatureAlgorithm,
    name,
    sequence(time(notBefore), time(notAfter)),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    contextTag(3, true, sequence(...extensions(dnsName))),
  );
  const signature = sign('sha256', tbs, { key: privateKey, dsaEncoding: 'der' });
  const certificate = sequence(tbs, signatureAlgorithm, bitString(signature));
  return { certificatePem: pem('CERTIFICATE', certificate), keyPem: `${exportKey(privateKey)}\n` };
}

/** RFC 5280 section 4.1.2.2: positive, at most 20 bytes; 16 random bytes with the top bit clear. */
function serialNumber(): Buffer {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x10;
  return bytes;
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? sequence(oid(id), booleanTrue(), octetString(value)) : sequence(oid(id), octetString(value));
}

function extensions(dnsName: string): Buffer[] {
  return [
    // section 4.2.1.9: not a CA (cA defaults to false, so the sequence is empty)
    extension(OID.basicConstraints, true, sequence()),
    // section 4.2.1.3: digitalSignature (bit 0) and keyAgreement (bit 4); three unused bits
    extension(OID.keyUsage, true, bitString(Buffer.from([0x88]), 3)),
    // section 4.2.1.12
    extension(OID.extendedKeyUsage, false, sequence(oid(OID.serverAuth), oid(OID.clientAuth))),
    // section 4.2.1.6: dNSName is [2] IMPLICIT IA5String
    extension(OID.subjectAltName, false, sequence(contextTag(2, false, Buffer.from(dnsName, 'ascii')))),
  ];
}

function exportKey(key: KeyObject): string {
  return (key.export({ type: 'pkcs8', format: 'pem' }) as string).trimEnd();
}

/** RFC 7468: base64 in lines of 64 characters between the label's boundaries. */
function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g)!;
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
