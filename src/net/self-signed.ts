/**
 * Self-signed certificates for hosts that have none configured, so a fresh install speaks TLS
 * at once. Stored under <data_dir>/certs/<domain>.{crt,key} and reused across restarts;
 * regenerated when missing or within 30 days of expiry.
 *
 * @peculiar/x509, with tsyringe, reflect-metadata and a dozen ASN.1 schema packages (about 200
 * modules), is imported only when a certificate has to be made: a server restarted on its data
 * directory never loads it. (Making it in a child process instead kept it out of a first start
 * too, but cost every fresh start a Node process per host: 3.5 s for three hosts on a busy
 * machine against 0.3 s here; docs/performance.md, "Memory at start".)
 */
import { webcrypto } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { join } from 'node:path';
import type { TlsFiles } from '../config/types.ts';

const VALIDITY_DAYS = 3650;
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

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
    const certificate = new NodeX509Certificate(await readFile(certificateFile));
    return Date.parse(certificate.validTo) - Date.now() > RENEW_BEFORE_MS;
  } catch {
    return false;
  }
}

/**
 * An ECDSA P-256 certificate naming the domain as a DNS-ID (RFC 6125 section 6.4), with
 * serverAuth and clientAuth usages so the same certificate serves both ends of a server link.
 */
export async function generateSelfSigned(domain: string): Promise<SelfSignedPem> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + VALIDITY_DAYS * 24 * 3600 * 1000);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=${domain}`,
    notBefore,
    notAfter,
    signingAlgorithm: algorithm,
    keys: keys as unknown as CryptoKeyPair,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: domain }]),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    certificatePem: certificate.toString('pem') + '\n',
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n',
  };
}
