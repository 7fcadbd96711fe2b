/**
 * Host activation (docs/protocols/host-activation.md): over a host-named connection, each side
 * proves a domain of the pair by signing, with that domain's own private key, a message that
 * names both domains, both sides' fresh nonces, the other domain's certificate and the
 * connection itself (RFC 9266 tls-exporter), so that a signature is good for one pair, one
 * exchange and one TLS connection only. This file holds what is pure: the bytes signed, the
 * algorithm per key type, signing and checking, and the domain certificates carried in-band.
 */
import { constants, createHash, createPrivateKey, randomBytes, sign, verify, X509Certificate, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { certificateIdentities, certificateMatchesDomain } from '../s2s/certificate-identity.ts';
import { verifyCertificateChain } from '../s2s/certificate-trust.ts';

export const NS_ACTIVATION = 'urn:xmpp:trellis:activation:0';

/** RFC 9266 section 2: the tls-exporter channel binding, 32 bytes with this label and no context (TLS 1.3). */
export const EXPORTER_LABEL = 'EXPORTER-Channel-Binding';
export const EXPORTER_LENGTH = 32;
export const NONCE_LENGTH = 32;
/** certificates accepted in one chain, and bytes in one of them */
export const MAX_CHAIN_LENGTH = 8;
export const MAX_CERTIFICATE_BYTES = 16 * 1024;

/**
 * Starts every signed message: fixed printable ASCII longer than 64 bytes, so that the bytes
 * signed can be neither a TLS 1.3 CertificateVerify input (64 spaces first) nor a TLS 1.2
 * ServerKeyExchange (its byte 65 is 0x03).
 */
export const SIGNATURE_CONTEXT = 'XMPP host activation, urn:xmpp:trellis:activation:0, a domain signs for a pair';

/** Who signs: the requester's sender domain ("proof") or the responder's target domain ("answer"). */
export type Purpose = 'proof' | 'answer';

export interface SignedFields {
  purpose: Purpose;
  /** the connection's tls-exporter value */
  channelBinding: Buffer;
  /** the nonce the signer received from the other side */
  received: Buffer;
  /** the nonce the signer sent to the other side */
  sent: Buffer;
  /** the domain whose key signs, as written in the element's `from` */
  signer: string;
  /** the other domain of the pair, as written in the element's `to` */
  other: string;
  /** the DER leaf certificate of the other domain, as the signer received it */
  otherCertificate: Buffer;
}

/**
 * The exact bytes signed: the context, 0x00, the purpose in ASCII, 0x00, the channel binding
 * (32 bytes), then received nonce, sent nonce, signer and other domain (UTF-8) each with a
 * 2-byte big-endian length, then SHA-256 of the other domain's DER certificate (32 bytes).
 */
export function signedBytes(fields: SignedFields): Buffer {
  return Buffer.concat([
    Buffer.from(SIGNATURE_CONTEXT, 'ascii'),
    Buffer.from([0]),
    Buffer.from(fields.purpose, 'ascii'),
    Buffer.from([0]),
    fields.channelBinding,
    vector(fields.received),
    vector(fields.sent),
    vector(Buffer.from(fields.signer, 'utf8')),
    vector(Buffer.from(fields.other, 'utf8')),
    createHash('sha256').update(fields.otherCertificate).digest(),
  ]);
}

function vector(bytes: Buffer): Buffer {
  if (bytes.length > 0xffff) throw new RangeError('field longer than 65535 bytes');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

export function freshNonce(): Buffer {
  return randomBytes(NONCE_LENGTH);
}

/** One algorithm per key type; the verifier requires the one that matches the certificate's key. */
export type SignatureAlgorithm = 'rsa-pss-sha256' | 'ecdsa-p256-sha256' | 'ecdsa-p384-sha384' | 'ecdsa-p521-sha512' | 'ed25519' | 'ed448';

const CURVES: Record<string, SignatureAlgorithm> = { prime256v1: 'ecdsa-p256-sha256', secp384r1: 'ecdsa-p384-sha384', secp521r1: 'ecdsa-p521-sha512' };

/** The algorithm for a key (private, or a certificate's public key); undefined for a type not supported. */
export function algorithmFor(key: KeyObject): SignatureAlgorithm | undefined {
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048 ? 'rsa-pss-sha256' : undefined;
    case 'ec':
      return CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
    case 'ed25519':
    case 'ed448':
      return key.asymmetricKeyType;
    default:
      return undefined;
  }
}

/** RSA-PSS with SHA-256, MGF1 with SHA-256 and a 32-byte salt; ECDSA signatures DER-encoded; EdDSA pure. */
interface KeyInput {
  key: KeyObject;
  padding?: number;
  saltLength?: number;
  dsaEncoding?: 'der';
}

function parameters(algorithm: SignatureAlgorithm, key: KeyObject): { digest: string | null; key: KeyInput } {
  switch (algorithm) {
    case 'rsa-pss-sha256':
      return { digest: 'sha256', key: { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } };
    case 'ecdsa-p256-sha256':
      return { digest: 'sha256', key: { key, dsaEncoding: 'der' } };
    case 'ecdsa-p384-sha384':
      return { digest: 'sha384', key: { key, dsaEncoding: 'der' } };
    case 'ecdsa-p521-sha512':
      return { digest: 'sha512', key: { key, dsaEncoding: 'der' } };
    default:
      return { digest: null, key: { key } };
  }
}

const signAsync = promisify(sign) as (digest: string | null, data: Buffer, key: KeyInput) => Promise<Buffer>;
const verifyAsync = promisify(verify) as (digest: string | null, data: Buffer, key: KeyInput, signature: Buffer) => Promise<boolean>;

/** A hosted domain's certificate chain and private key, read once per loaded certificate. */
export interface DomainCredentials {
  /** leaf first */
  chain: X509Certificate[];
  key: KeyObject;
  algorithm: SignatureAlgorithm;
}

const credentialsCache = new WeakMap<Buffer, DomainCredentials | Error>();

/**
 * The credentials in PEM files as loaded for a domain; an Error (kept, not thrown) when the key
 * does not belong to the certificate or is of a type no algorithm covers.
 */
export function domainCredentials(pem: { cert: Buffer; key: Buffer }): DomainCredentials | Error {
  const known = credentialsCache.get(pem.key);
  if (known) return known;
  let result: DomainCredentials | Error;
  try {
    const blocks = pem.cert.toString('latin1').match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
    const chain = blocks.slice(0, MAX_CHAIN_LENGTH).map((block) => new X509Certificate(block));
    const key = createPrivateKey(pem.key);
    const algorithm = algorithmFor(key);
    if (chain.length === 0) result = new Error('no certificate');
    else if (!chain[0]!.checkPrivateKey(key)) result = new Error('the key does not belong to the certificate');
    else if (!algorithm) result = new Error(`keys of type ${key.asymmetricKeyType} cannot sign here`);
    else result = { chain, key, algorithm };
  } catch (error) {
    result = error as Error;
  }
  credentialsCache.set(pem.key, result);
  return result;
}

export async function signFields(credentials: DomainCredentials, fields: SignedFields): Promise<Buffer> {
  const { digest, key } = parameters(credentials.algorithm, credentials.key);
  return signAsync(digest, signedBytes(fields), key);
}

export type SignatureCheck = { valid: true } | { valid: false; reason: string };

/** Checks a signature made with the key of `leaf` under `algorithm`, which must be the one for that key type. */
export async function checkSignature(leaf: X509Certificate, algorithm: string, signature: Buffer, fields: SignedFields): Promise<SignatureCheck> {
  const expected = algorithmFor(leaf.publicKey);
  if (!expected) return { valid: false, reason: `the certificate's key (${leaf.publicKey.asymmetricKeyType}) is not one activation signs with` };
  if (algorithm !== expected) return { valid: false, reason: `signature algorithm ${algorithm} does not fit the certificate's key (${expected})` };
  const { digest, key } = parameters(expected, leaf.publicKey);
  try {
    if (await verifyAsync(digest, signedBytes(fields), key, signature)) return { valid: true };
  } catch {
    // A malformed signature is a bad signature.
  }
  return { valid: false, reason: `the signature of ${fields.signer} does not verify` };
}

export type ChainCheck = { valid: true } | { valid: false; reason: string };

/** RFC 6125 and RFC 5280: the chain ends at a trusted CA and its leaf names `domain` (DNS-ID, SRV-ID or XmppAddr). */
export function checkDomainChain(chain: readonly X509Certificate[], domain: string, anchors: readonly X509Certificate[]): ChainCheck {
  if (chain.length === 0) return { valid: false, reason: `no certificate for ${domain}` };
  const trust = verifyCertificateChain(chain, anchors);
  if (!trust.trusted) return { valid: false, reason: `the certificate of ${domain} is not trusted: ${trust.reason}` };
  if (!certificateMatchesDomain(certificateIdentities(chain[0]!), domain, 'xmpp-server')) return { valid: false, reason: `the certificate does not name ${domain}` };
  return { valid: true };
}

/** Certificates as carried in `<certificate/>` elements: base64 DER, leaf first. */
export function encodeChain(chain: readonly X509Certificate[]): string[] {
  return chain.map((certificate) => certificate.raw.toString('base64'));
}

/** Reads `<certificate/>` texts; an Error naming what is wrong (too many, too large, unreadable). */
export function decodeChain(texts: readonly string[]): X509Certificate[] | Error {
  if (texts.length === 0) return new Error('no certificate');
  if (texts.length > MAX_CHAIN_LENGTH) return new Error(`more than ${MAX_CHAIN_LENGTH} certificates`);
  const chain: X509Certificate[] = [];
  for (const text of texts) {
    const der = decodeBase64(text);
    if (!der || der.length > MAX_CERTIFICATE_BYTES) return new Error('a certificate is not base64 DER of at most 16 KiB');
    try {
      chain.push(new X509Certificate(der));
    } catch {
      return new Error('a certificate cannot be read');
    }
  }
  return chain;
}

/** Strict base64 (RFC 4648 section 4), surrounding whitespace ignored; undefined when it is not. */
export function decodeBase64(text: string): Buffer | undefined {
  const trimmed = text.replace(/\s+/g, '');
  if (trimmed === '' || trimmed.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(trimmed)) return undefined;
  return Buffer.from(trimmed, 'base64');
}
