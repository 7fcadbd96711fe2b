/**
 * TLSA records (RFC 6698 section 2.1, mnemonics from RFC 7218) and matching one against a
 * certificate: which part of it (selector), compared how (matching type).
 */
import { createHash, type X509Certificate } from 'node:crypto';
import type { TlsaRecord } from './secure-resolver.ts';

/** RFC 7218 section 2.1 */
export const TLSA_USAGE = { PKIX_TA: 0, PKIX_EE: 1, DANE_TA: 2, DANE_EE: 3 } as const;
/** RFC 7218 section 2.2 */
export const TLSA_SELECTOR = { CERT: 0, SPKI: 1 } as const;
/** RFC 7218 section 2.3 */
export const TLSA_MATCHING = { FULL: 0, SHA2_256: 1, SHA2_512: 2 } as const;

/**
 * The TLSA owner name for a server reached through SRV (RFC 7673 section 3.3): the SRV target's
 * port and the target host, e.g. `_5269._tcp.xmpp1.hosting.example.net`.
 */
export function tlsaQueryName(target: string, port: number): string {
  return `_${port}._tcp.${target.toLowerCase().replace(/\.$/, '')}`;
}

/**
 * RFC 7671 section 4.1 (updating RFC 6698): records with an unknown usage, selector or matching
 * type are unusable and ignored; a set with none left is treated as having no TLSA records.
 * A digest of the wrong length can never match and is unusable too (RFC 7671 section 10.1).
 */
export function isUsableTlsa(record: TlsaRecord): boolean {
  if (record.usage < 0 || record.usage > 3 || (record.selector !== 0 && record.selector !== 1)) return false;
  if (record.matchingType === TLSA_MATCHING.SHA2_256) return record.data.length === 32;
  if (record.matchingType === TLSA_MATCHING.SHA2_512) return record.data.length === 64;
  return record.matchingType === TLSA_MATCHING.FULL && record.data.length > 0;
}

/** RFC 6698 section 2.1.3: the bytes a selector picks from a certificate. */
export function selectedBytes(certificate: X509Certificate, selector: number): Buffer {
  if (selector === TLSA_SELECTOR.CERT) return Buffer.from(certificate.raw);
  return certificate.publicKey.export({ type: 'spki', format: 'der' });
}

/** RFC 6698 section 2.1.4: the association data for those bytes under a matching type. */
export function associationData(bytes: Buffer, matchingType: number): Buffer {
  if (matchingType === TLSA_MATCHING.SHA2_256) return createHash('sha256').update(bytes).digest();
  if (matchingType === TLSA_MATCHING.SHA2_512) return createHash('sha512').update(bytes).digest();
  return bytes;
}

/** Whether the record's selector and matching type, applied to the certificate, give its data. */
export function tlsaMatchesCertificate(record: TlsaRecord, certificate: X509Certificate): boolean {
  if (!isUsableTlsa(record)) return false;
  return associationData(selectedBytes(certificate, record.selector), record.matchingType).equals(record.data);
}

/** The TLSA record that matches a certificate under the given fields (what an operator would publish; tests build theirs with it). */
export function tlsaRecordFor(certificate: X509Certificate, usage: number, selector: number, matchingType: number): TlsaRecord {
  return { usage, selector, matchingType, data: associationData(selectedBytes(certificate, selector), matchingType) };
}
