/**
 * Just enough DER (X.690) to read certificate extensions without a full ASN.1 library: the
 * TLV walk, object identifiers, and the extension list of a certificate (RFC 5280 section 4.1).
 */

export interface Tlv {
  tag: number;
  /** first byte of the contents */
  start: number;
  /** one past the last byte of the contents */
  end: number;
  /** where the next element begins */
  next: number;
}

/** X.690 section 8.1 with DER's definite lengths; single-byte tags are all certificates use here. */
export function readTlv(der: Buffer, offset: number, limit = der.length): Tlv {
  if (offset + 2 > limit) throw new Error('truncated DER');
  const tag = der[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new Error('multi-byte DER tags are not expected here');
  let length = der[offset + 1]!;
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4 || start + count > limit) throw new Error('bad DER length');
    length = 0;
    for (let index = 0; index < count; index++) length = length * 256 + der[start + index]!;
    start += count;
  }
  const end = start + length;
  if (end > limit) throw new Error('truncated DER');
  return { tag, start, end, next: end };
}

/** X.690 section 8.19: the first byte holds two arcs, then base-128 arcs with continuation bits. */
export function objectIdentifier(contents: Buffer): string {
  const arcs: number[] = [];
  let value = 0;
  for (const byte of contents) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      if (arcs.length === 0) {
        const first = Math.min(2, Math.floor(value / 40));
        arcs.push(first, value - first * 40);
      } else {
        arcs.push(value);
      }
      value = 0;
    }
  }
  return arcs.join('.');
}

export interface CertificateExtension {
  oid: string;
  critical: boolean;
  /** the DER inside extnValue */
  value: Buffer;
}

/**
 * The extensions of a DER certificate: Certificate { tbsCertificate { ..., [3] EXPLICIT
 * Extensions } }, each Extension { extnID OID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET
 * STRING } (RFC 5280 section 4.1). Throws on malformed input.
 */
export function certificateExtensions(der: Buffer): CertificateExtension[] {
  const certificate = readTlv(der, 0);
  const tbs = readTlv(der, certificate.start, certificate.end);
  if (certificate.tag !== 0x30 || tbs.tag !== 0x30) throw new Error('not a certificate');
  const found: CertificateExtension[] = [];
  for (let offset = tbs.start; offset < tbs.end; ) {
    const field = readTlv(der, offset, tbs.end);
    offset = field.next;
    if (field.tag !== 0xa3) continue;
    const extensions = readTlv(der, field.start, field.end);
    for (let at = extensions.start; at < extensions.end; ) {
      const extension = readTlv(der, at, extensions.end);
      at = extension.next;
      const id = readTlv(der, extension.start, extension.end);
      if (id.tag !== 0x06) throw new Error('extension without an extnID');
      let value = readTlv(der, id.next, extension.end);
      let critical = false;
      if (value.tag === 0x01) {
        critical = der[value.start] !== 0;
        value = readTlv(der, value.next, extension.end);
      }
      if (value.tag !== 0x04) throw new Error('extension value is not an OCTET STRING');
      found.push({ oid: objectIdentifier(der.subarray(id.start, id.end)), critical, value: der.subarray(value.start, value.end) });
    }
  }
  return found;
}
