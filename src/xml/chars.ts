/**
 * Character classes for the byte-level XML scanner.
 *
 * The scanner works on UTF-8 bytes that have already been validated as UTF-8 (see
 * utf8.ts), so bytes >= 0x80 always belong to a complete, valid multi-byte sequence.
 */

/** XML 1.0 section 2.2: Char ::= #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF] */
export function isXmlChar(code: number): boolean {
  if (code >= 0x20) return code <= 0xd7ff || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
  return code === 0x09 || code === 0x0a || code === 0x0d;
}

/** XML 1.0 section 2.3: S ::= (#x20 | #x9 | #xD | #xA)+ */
export function isWhitespaceByte(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x09 || byte === 0x0d;
}

/** Bytes that stop the fast text scan: markup, references, line ends, U+FFFE/U+FFFF leads and C0 controls. */
export const TEXT_STOP = new Uint8Array(256);
/** Bytes that stop the fast attribute value scan: both quotes, `<`, `&`, whitespace to normalize, controls. */
export const ATTR_STOP = new Uint8Array(256);
/** Bytes that stop the fast CDATA scan. */
export const CDATA_STOP = new Uint8Array(256);
/** Bytes allowed to start a name (ASCII part of NameStartChar; all non-ASCII bytes pass and are checked later). */
export const NAME_START = new Uint8Array(256);
/** Bytes allowed inside a name (ASCII part of NameChar; all non-ASCII bytes pass and are checked later). */
export const NAME_CHAR = new Uint8Array(256);

for (let byte = 0; byte < 0x20; byte++) {
  if (byte !== 0x09 && byte !== 0x0a) {
    TEXT_STOP[byte] = 1;
    CDATA_STOP[byte] = 1;
  }
  ATTR_STOP[byte] = 1;
}
for (const char of '<&>]') TEXT_STOP[char.charCodeAt(0)] = 1;
for (const char of '<&"\'') ATTR_STOP[char.charCodeAt(0)] = 1;
CDATA_STOP[0x5d] = 1; // ]
CDATA_STOP[0x3e] = 1; // >
// 0xEF leads U+F000..U+FFFF, which includes the non-characters U+FFFE and U+FFFF.
TEXT_STOP[0xef] = 1;
ATTR_STOP[0xef] = 1;
CDATA_STOP[0xef] = 1;

for (let byte = 0x80; byte < 0x100; byte++) {
  NAME_START[byte] = 1;
  NAME_CHAR[byte] = 1;
}
for (let byte = 0x41; byte <= 0x5a; byte++) {
  NAME_START[byte] = 1;
  NAME_START[byte + 0x20] = 1;
}
NAME_START[0x5f] = 1; // _
NAME_START[0x3a] = 1; // :
NAME_CHAR.set(NAME_START.subarray(0, 0x80));
for (let byte = 0x30; byte <= 0x39; byte++) NAME_CHAR[byte] = 1;
NAME_CHAR[0x2d] = 1; // -
NAME_CHAR[0x2e] = 1; // .

/** True for the 3-byte UTF-8 encodings of U+FFFE and U+FFFF (EF BF BE, EF BF BF), which are not XML Chars. */
export function isNonCharacterAt(bytes: Uint8Array, index: number): boolean {
  return bytes[index + 1] === 0xbf && (bytes[index + 2] & 0xfe) === 0xbe;
}

/**
 * XML 1.0 section 2.3 Name, including the non-ASCII NameStartChar and NameChar ranges.
 * Only used for names containing non-ASCII characters; the single character class keeps it linear.
 */
const NON_ASCII_NAME =
  /^[:A-Z_a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\u{10000}-\u{EFFFF}][:A-Z_a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\u{10000}-\u{EFFFF}\-.0-9\u00B7\u0300-\u036F\u203F\u2040]*$/u;

export function isXmlName(name: string): boolean {
  return NON_ASCII_NAME.test(name);
}

/** Number of bytes the code point takes in UTF-8. */
export function utf8Length(code: number): number {
  return code < 0x80 ? 1 : code < 0x800 ? 2 : code < 0x10000 ? 3 : 4;
}
