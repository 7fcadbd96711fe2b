/**
 * The identities a certificate presents, and whether they name a given XMPP domain
 * (RFC 6125 section 6, RFC 6120 section 13.7.1, RFC 7590).
 */
import { X509Certificate } from 'node:crypto';
import { domainToASCII } from 'node:url';
import { certificateExtensions, objectIdentifier, readTlv } from './der.ts';

/** All names lowercase; DNS names without a trailing dot. */
export interface CertificateIdentities {
  /** subjectAltName dNSName entries (RFC 6125 DNS-ID), wildcards kept as presented */
  dnsIds: string[];
  /** subjectAltName otherName SRVName entries (RFC 4985), e.g. "_xmpp-server.example.net" */
  srvIds: string[];
  /** subjectAltName uniformResourceIdentifier entries (RFC 6125 URI-ID) */
  uriIds: string[];
  /** subjectAltName otherName id-on-xmppAddr entries (RFC 6120 section 13.7.1.4) */
  xmppAddrs: string[];
  /** subject commonName values (RFC 6125 CN-ID) */
  commonNames: string[];
}

export type XmppService = 'xmpp-server' | 'xmpp-client';

const SUBJECT_ALT_NAME = '2.5.29.17';
/** RFC 6120 section 13.7.1.4: id-on-xmppAddr */
const ID_ON_XMPP_ADDR = '1.3.6.1.5.5.7.8.5';
/** RFC 4985 section 2: id-on-dnsSRV */
const ID_ON_DNS_SRV = '1.3.6.1.5.5.7.8.7';

/** Reads the identities of a certificate (parsed, or DER); throws when it cannot be parsed. */
export function certificateIdentities(certificate: X509Certificate | Uint8Array): CertificateIdentities {
  const parsed = certificate instanceof X509Certificate ? certificate : new X509Certificate(certificate);
  const identities: CertificateIdentities = {
    dnsIds: [],
    srvIds: [],
    uriIds: [],
    xmppAddrs: [],
    commonNames: commonNamesOf(parsed),
  };
  const subjectAltName = certificateExtensions(parsed.raw).find((extension) => extension.oid === SUBJECT_ALT_NAME)?.value;
  if (subjectAltName) readGeneralNames(subjectAltName, identities);
  return identities;
}

/** The subject's CN values, from the distinguished name as the TLS library prints it. */
function commonNamesOf(certificate: X509Certificate): string[] {
  return (certificate.subject ?? '')
    .split('\n')
    .filter((line) => line.startsWith('CN='))
    .map((line) => normalizeName(line.slice(3)));
}

/**
 * RFC 6125 section 6: does any presented identifier name `domain` for `service`? DNS-IDs
 * (a wildcard only as the whole left-most label), SRV-IDs for the same service, XmppAddrs;
 * the subject CN only when the certificate presents none of DNS-ID, SRV-ID, URI-ID or XmppAddr
 * (section 6.4.4). Comparison is on A-labels, without case (sections 6.4.1 and 6.4.2).
 */
export function certificateMatchesDomain(identities: CertificateIdentities, domain: string, service: XmppService): boolean {
  const reference = toALabels(domain);
  if (reference === undefined) return false;
  if (identities.dnsIds.some((name) => dnsNameMatches(name, reference))) return true;
  if (identities.srvIds.some((name) => srvNameMatches(name, service, reference))) return true;
  if (identities.xmppAddrs.some((name) => toALabels(name) === reference)) return true;
  const hasSubjectAltIdentity =
    identities.dnsIds.length + identities.srvIds.length + identities.uriIds.length + identities.xmppAddrs.length > 0;
  return !hasSubjectAltIdentity && identities.commonNames.some((name) => dnsNameMatches(name, reference));
}

/**
 * RFC 6125 section 6.4.3 as restricted by RFC 6120 section 13.7.1.2.1: "*" only as the complete
 * left-most label, standing for exactly one label, and never directly above a top-level label.
 */
function dnsNameMatches(presented: string, reference: string): boolean {
  if (!presented.startsWith('*.')) return toALabels(presented) === reference;
  const base = toALabels(presented.slice(2));
  if (base === undefined || !base.includes('.')) return false;
  const dot = reference.indexOf('.');
  return dot > 0 && reference.slice(dot + 1) === base;
}

/** RFC 6125 section 6.5.1: "_Service.Name" with the service and the domain both matching. */
function srvNameMatches(presented: string, service: XmppService, reference: string): boolean {
  const dot = presented.indexOf('.');
  if (dot < 0) return false;
  return presented.slice(0, dot) === `_${service}` && toALabels(presented.slice(dot + 1)) === reference;
}

/**
 * A domain name as lowercase A-labels without a trailing dot (RFC 6125 section 6.4.2, RFC 5891
 * ToASCII), or undefined when it is not a valid name.
 */
function toALabels(name: string): string | undefined {
  const trimmed = name.replace(/\.$/, '');
  const ascii = /^[\x21-\x7e]*$/.test(trimmed) ? trimmed.toLowerCase() : domainToASCII(trimmed);
  if (ascii === '' || ascii.split('.').some((label) => label === '' || label === '*')) return undefined;
  return ascii;
}

function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/**
 * GeneralNames (RFC 5280 section 4.2.1.6): dNSName [2] and uniformResourceIdentifier [6] are
 * IA5Strings; otherName [0] is { type-id OID, [0] EXPLICIT value }, where an XmppAddr value is a
 * UTF8String and an SRVName value an IA5String. Other kinds of names are not identities here.
 */
function readGeneralNames(der: Buffer, identities: CertificateIdentities): void {
  const sequence = readTlv(der, 0);
  if (sequence.tag !== 0x30 || sequence.next !== der.length) throw new Error('subjectAltName is not a SEQUENCE');
  for (let offset = sequence.start; offset < sequence.end; ) {
    const name = readTlv(der, offset, sequence.end);
    offset = name.next;
    const contents = der.subarray(name.start, name.end);
    if (name.tag === 0x82) identities.dnsIds.push(normalizeName(contents.toString('latin1')));
    else if (name.tag === 0x86) identities.uriIds.push(contents.toString('latin1'));
    else if (name.tag === 0xa0) readOtherName(der, name.start, name.end, identities);
  }
}

function readOtherName(der: Buffer, start: number, end: number, identities: CertificateIdentities): void {
  const typeId = readTlv(der, start, end);
  if (typeId.tag !== 0x06) throw new Error('otherName without a type-id');
  const wrapper = readTlv(der, typeId.next, end);
  if (wrapper.tag !== 0xa0) throw new Error('otherName without a value');
  const value = readTlv(der, wrapper.start, wrapper.end);
  const text = der.subarray(value.start, value.end);
  const oid = objectIdentifier(der.subarray(typeId.start, typeId.end));
  if (oid === ID_ON_XMPP_ADDR && value.tag === 0x0c) identities.xmppAddrs.push(normalizeName(text.toString('utf8')));
  else if (oid === ID_ON_DNS_SRV && value.tag === 0x16) identities.srvIds.push(normalizeName(text.toString('latin1')));
}

