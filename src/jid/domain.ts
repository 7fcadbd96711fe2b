import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';
import { BoundedCache } from './bounded-cache.ts';
import { checkPartLength, checkRawLength, JidMalformedError } from './errors.ts';

const domainCache = new BoundedCache<string>(10_000);

/** RFC 1035 section 2.3.4 / RFC 5890 section 2.3.2.1: octet limits of DNS names. */
const MAX_LABEL_OCTETS = 63;
const MAX_NAME_OCTETS = 253;
/** STD3 letter-digit-hyphen label (RFC 1123 section 2.1, RFC 5891 section 4.2.3.1). */
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/**
 * IPv6 literal in brackets (RFC 7622 section 3.2), canonicalized by the URL serializer:
 * lowercase hex with the longest zero run compressed (RFC 5952 section 4).
 */
function prepareIpv6Literal(s: string): string {
  const address = s.slice(1, -1);
  if (!isIPv6(address) || address.includes('%')) throw new JidMalformedError(`domainpart ${s} is not a valid IPv6 literal`);
  return new URL(`http://${s}/`).hostname;
}

/**
 * Validates a DNS domain with UTS #46 processing (url.domainToASCII) and returns its canonical
 * form. The canonical form is the U-label form: UTS #46 mapping already lowercases and
 * applies NFC, so `EXAMPLE.com`, `example.com.`, an A-label (`xn--...`) and the matching
 * U-label all give the same string, which is what JIDs are compared by (RFC 7622 section 3.2.2
 * asks for the IDNA2008 U-label form for comparison).
 */
function prepareDnsDomain(s: string): string {
  const ascii = domainToASCII(s);
  if (ascii === '') throw new JidMalformedError(`domainpart ${s} is not a valid domain name`);
  // The URL host parser reads numeric names such as "1.2.3" or "0x7f.1" as IPv4 addresses.
  if (isIPv4(ascii)) throw new JidMalformedError(`domainpart ${s} is neither a dotted-quad IPv4 address nor a domain name`);
  if (ascii.length > MAX_NAME_OCTETS) throw new JidMalformedError(`domainpart is longer than ${MAX_NAME_OCTETS} octets in ASCII form`);
  for (const label of ascii.split('.')) {
    if (label.length === 0) throw new JidMalformedError(`domainpart ${s} has an empty label`);
    if (label.length > MAX_LABEL_OCTETS) throw new JidMalformedError(`domainpart label ${label} is longer than ${MAX_LABEL_OCTETS} octets`);
    if (!LDH_LABEL.test(label)) throw new JidMalformedError(`domainpart label ${label} contains characters not allowed in host names`);
  }
  const unicode = domainToUnicode(ascii);
  // An A-label that does not decode is left as is by domainToUnicode; a valid one round-trips.
  if (unicode.split('.').some((label) => label.startsWith('xn--')) || domainToASCII(unicode) !== ascii) {
    throw new JidMalformedError(`domainpart ${s} contains an invalid A-label`);
  }
  return unicode;
}

/** Domainpart preparation (RFC 7622 section 3.2). */
export function prepareDomain(s: string): string {
  const cached = domainCache.get(s);
  if (cached !== undefined) return cached;
  checkRawLength(s, 'domainpart');
  // RFC 7622 section 3.2: a single trailing dot is removed before any other processing.
  const withoutDot = s.endsWith('.') ? s.slice(0, -1) : s;
  if (withoutDot.length === 0) throw new JidMalformedError('domainpart is empty');
  let prepared: string;
  if (withoutDot.startsWith('[') && withoutDot.endsWith(']')) prepared = prepareIpv6Literal(withoutDot);
  else if (isIPv4(withoutDot)) prepared = withoutDot;
  else prepared = prepareDnsDomain(withoutDot);
  checkPartLength(prepared, 'domainpart');
  domainCache.set(s, prepared);
  return prepared;
}
