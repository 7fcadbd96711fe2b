/**
 * Just enough DER (X.690) to write a certificate: definite-length TLVs and the few universal
 * types RFC 5280 uses. Its reading counterpart is s2s/der.ts.
 */

/** X.690 section 8.1: identifier, definite length (short form below 128, else long form), contents. */
export function tlv(tag: number, ...contents: Buffer[]): Buffer {
  const body = Buffer.concat(contents);
  const length = body.length;
  if (length < 0x80) return Buffer.concat([Buffer.from([tag, length]), body]);
  const lengthBytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) lengthBytes.unshift(rest & 0xff);
  return Buffer.concat([Buffer.from([tag, 0x80 | lengthBytes.length, ...lengthBytes]), body]);
}

export const sequence = (...items: Buffer[]): Buffer => tlv(0x30, ...items);
export const set = (...items: Buffer[]): Buffer => tlv(0x31, ...items);
export const octetString = (contents: Buffer): Buffer => tlv(0x04, contents);
export const utf8String = (text: string): Buffer => tlv(0x0c, Buffer.from(text, 'utf8'));
export const booleanTrue = (): Buffer => tlv(0x01, Buffer.from([0xff]));
/** A context-specific tag: constructed for EXPLICIT tagging, primitive for an IMPLICIT one of a primitive type. */
export const contextTag = (number: number, constructed: boolean, ...contents: Buffer[]): Buffer => tlv(0x80 | (constructed ? 0x20 : 0) | number, ...contents);

/** X.690 section 8.3: a non-negative integer from its big-endian bytes, minimal and with a 0 byte where the top bit is set. */
export function unsignedInteger(bytes: Buffer): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const minimal = bytes.subarray(start);
  return tlv(0x02, minimal[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal);
}

/** X.690 section 8.6: a bit string, its first contents byte the number of unused bits in the last. */
export const bitString = (contents: Buffer, unusedBits = 0): Buffer => tlv(0x03, Buffer.from([unusedBits]), contents);

/** X.690 section 8.19: the first two arcs in one value, each arc base 128 with continuation bits. */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const values = [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)];
  const bytes: number[] = [];
  for (const value of values) {
    const group = [value & 0x7f];
    for (let rest = Math.floor(value / 128); rest > 0; rest = Math.floor(rest / 128)) group.unshift(0x80 | (rest & 0x7f));
    bytes.push(...group);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/**
 * RFC 5280 section 4.1.2.5: UTCTime (YYMMDDHHMMSSZ) through 2049, GeneralizedTime
 * (YYYYMMDDHHMMSSZ) from 2050, both in UTC with whole seconds.
 */
export function time(date: Date): Buffer {
  const digits = date.toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:T]/g, '');
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii')) : tlv(0x18, Buffer.from(digits, 'ascii'));
}
