/**
 * A throwaway certificate authority for the lab, and the server certificates it issues: DNS-IDs
 * (RFC 6125), SRV-IDs (RFC 4985) and XmppAddr identifiers (RFC 6120 section 13.7.1.4).
 */
import { webcrypto } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export interface CertificateAndKey {
  certPem: string;
  keyPem: string;
}

export interface IssueOptions {
  /** DNS-IDs, wildcards such as "*.example.test" included; the first is also the subject CN */
  names: string[];
  /** SRVName values in their full form, e.g. "_xmpp-server.example.test" */
  srvNames?: string[];
  /** XmppAddr values, e.g. "example.test" */
  xmppAddrs?: string[];
  /** extended key usages; certificates presented on both ends of an s2s link need both */
  eku?: 'server' | 'server+client';
  /** the leaf's key: P-256 by default; RSA 4096 makes certificates (and what embeds them) over a kilobyte */
  key?: 'ecdsa' | 'rsa';
}

export interface TestCa extends CertificateAndKey {
  issue(options: IssueOptions): Promise<CertificateAndKey>;
}

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
const RSA_KEY_ALGORITHM = { name: 'RSASSA-PKCS1-v1_5', modulusLength: 4096, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
const VALIDITY_MS = 30 * 24 * 3600 * 1000;
/** Allows for clocks a little behind the issuing one. */
const BACKDATE_MS = 3600 * 1000;

/** RFC 6120 section 13.7.1.4: id-on-xmppAddr */
const ID_ON_XMPP_ADDR = '1.3.6.1.5.5.7.8.5';
/** RFC 4985 section 2: id-on-dnsSRV */
const ID_ON_DNS_SRV = '1.3.6.1.5.5.7.8.7';
const SUBJECT_ALT_NAME = '2.5.29.17';

export async function createTestCa(commonName = 'Trellis Lab CA'): Promise<TestCa> {
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${commonName}`,
    ...validity(),
    signingAlgorithm: KEY_ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certPem: certificate.toString('pem'),
    keyPem: await privateKeyPem(keys.privateKey),
    issue: async (options) => {
      const leafKeys = await generateKeys(options.key === 'rsa' ? RSA_KEY_ALGORITHM : KEY_ALGORITHM);
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: serialNumber(),
        subject: `CN=${options.names[0] ?? 'lab'}`,
        issuer: certificate.subject,
        ...validity(),
        signingAlgorithm: KEY_ALGORITHM,
        publicKey: leafKeys.publicKey,
        signingKey: keys.privateKey,
        extensions: [
          ...(await leafExtensions(leafKeys, options)),
          await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey),
        ],
      });
      return { certPem: leaf.toString('pem'), keyPem: await privateKeyPem(leafKeys.privateKey) };
    },
  };
}

/** A self-signed server certificate naming `domain` as its DNS-ID. */
export async function selfSigned(domain: string, eku: IssueOptions['eku'] = 'server+client'): Promise<CertificateAndKey> {
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${domain}`,
    ...validity(),
    signingAlgorithm: KEY_ALGORITHM,
    keys,
    extensions: await leafExtensions(keys, { names: [domain], eku }),
  });
  return { certPem: certificate.toString('pem'), keyPem: await privateKeyPem(keys.privateKey) };
}

/** Writes `<dir>/<name>.crt` and `<dir>/<name>.key` (mode 0600) and returns their paths. */
export function writeCertificateFiles(dir: string, name: string, pair: CertificateAndKey): { certFile: string; keyFile: string } {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(certFile, pair.certPem);
  writeFileSync(keyFile, pair.keyPem, { mode: 0o600 });
  return { certFile, keyFile };
}

async function leafExtensions(keys: CryptoKeyPair, options: IssueOptions): Promise<x509.Extension[]> {
  const usages = [x509.ExtendedKeyUsage.serverAuth];
  if ((options.eku ?? 'server+client') === 'server+client') usages.push(x509.ExtendedKeyUsage.clientAuth);
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(usages),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    new x509.Extension(SUBJECT_ALT_NAME, false, subjectAltNames(options)),
  ];
}

/**
 * GeneralNames (RFC 5280 section 4.2.1.6) in DER: dNSName is [2] IA5String; otherName is
 * [0] { type-id OID, [0] EXPLICIT value }, where the XmppAddr value is a UTF8String and the
 * SRVName value an IA5String.
 */
export function subjectAltNames(options: Pick<IssueOptions, 'names' | 'srvNames' | 'xmppAddrs'>): Uint8Array<ArrayBuffer> {
  const names = [
    ...options.names.map((name) => tlv(0x82, ascii(name))),
    ...(options.srvNames ?? []).map((name) => otherName(ID_ON_DNS_SRV, tlv(0x16, ascii(name)))),
    ...(options.xmppAddrs ?? []).map((name) => otherName(ID_ON_XMPP_ADDR, tlv(0x0c, Buffer.from(name, 'utf8')))),
  ];
  return new Uint8Array(tlv(0x30, Buffer.concat(names)));
}

function otherName(typeId: string, value: Buffer): Buffer {
  return tlv(0xa0, Buffer.concat([tlv(0x06, objectIdentifier(typeId)), tlv(0xa0, value)]));
}

/** X.690 section 8.19: the first two arcs share a byte, each arc in base 128 with continuation bits. */
function objectIdentifier(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const bytes: number[] = [];
  for (const arc of [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)]) {
    const group = [arc & 0x7f];
    for (let rest = arc >>> 7; rest > 0; rest >>>= 7) group.unshift((rest & 0x7f) | 0x80);
    bytes.push(...group);
  }
  return Buffer.from(bytes);
}

/** X.690 section 8.1: tag, definite length (short form below 128, else long form), contents. */
function tlv(tag: number, contents: Buffer): Buffer {
  const length = contents.length;
  let header: number[];
  if (length < 0x80) header = [tag, length];
  else {
    const lengthBytes: number[] = [];
    for (let rest = length; rest > 0; rest >>>= 8) lengthBytes.unshift(rest & 0xff);
    header = [tag, 0x80 | lengthBytes.length, ...lengthBytes];
  }
  return Buffer.concat([Buffer.from(header), contents]);
}

function ascii(text: string): Buffer {
  if (!/^[\x20-\x7e]*$/.test(text)) throw new Error(`not an IA5String-safe name: ${text}`);
  return Buffer.from(text, 'ascii');
}

async function generateKeys(algorithm: typeof KEY_ALGORITHM | typeof RSA_KEY_ALGORITHM = KEY_ALGORITHM): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key as unknown as webcrypto.CryptoKey));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
}

/** A positive 128-bit serial (RFC 5280 section 4.1.2.2). */
function serialNumber(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');
}

function validity(): { notBefore: Date; notAfter: Date } {
  const notBefore = new Date(Date.now() - BACKDATE_MS);
  return { notBefore, notAfter: new Date(notBefore.getTime() + VALIDITY_MS) };
}
