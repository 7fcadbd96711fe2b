/**
 * POSH documents (RFC 7711 section 3): what a domain publishes at
 * `https://<domain>/.well-known/posh/<service>.json`, either the fingerprints of the
 * certificates its servers present or a reference to such a document elsewhere.
 */
import { createHash } from 'node:crypto';

export type PoshService = 'xmpp-server' | 'xmpp-client';

/** One certificate's hashes, by the hash's textual name (RFC 7711 section 3.1). */
export type PoshFingerprint = Readonly<Record<string, string>>;

export type PoshDocument =
  /** `expires` undefined: the document does not say, so it is not cached */
  | { kind: 'fingerprints'; fingerprints: readonly PoshFingerprint[]; expires?: number }
  | { kind: 'reference'; url: string; expires?: number };

/** Hash names (IANA "Hash Function Textual Names") we compute, with node:crypto's names. */
export const POSH_HASHES: Readonly<Record<string, string>> = { 'sha-256': 'sha256', 'sha-512': 'sha512' };

/** RFC 7711 sections 3 and 8: the well-known URI of a domain's POSH document. */
export function poshUrl(domain: string, service: PoshService = 'xmpp-server'): string {
  return `https://${domain.toLowerCase().replace(/\.$/, '')}/.well-known/posh/${service}.json`;
}

/**
 * Parses and checks a document; throws an Error whose message says what is wrong.
 * - a `url` makes it a reference document (section 3.2), which must be an https URL and must
 *   not also carry fingerprints;
 * - otherwise `fingerprints` must be a non-empty array of objects mapping hash names to base64
 *   strings (section 3.1); hash names we do not know are kept and never match;
 * - `expires` is a non-negative integer of seconds; 0 means the document is invalid (section 3.1).
 */
export function parsePoshDocument(text: string): PoshDocument {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
  const document = value as Record<string, unknown>;
  const expires = parseExpires(document.expires);
  const withExpiry = expires === undefined ? {} : { expires };
  if ('url' in document) {
    if ('fingerprints' in document) throw new Error('a document with both "url" and "fingerprints"');
    if (typeof document.url !== 'string') throw new Error('"url" is not a string');
    let url: URL;
    try {
      url = new URL(document.url);
    } catch {
      throw new Error(`"url" is not a URL: ${JSON.stringify(document.url)}`);
    }
    if (url.protocol !== 'https:') throw new Error(`"url" is not an https URL: ${JSON.stringify(document.url)}`);
    return { kind: 'reference', url: url.href, ...withExpiry };
  }
  const list = document.fingerprints;
  if (!Array.isArray(list) || list.length === 0) throw new Error('"fingerprints" is missing or empty');
  const fingerprints = list.map((entry, index) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new Error(`fingerprints[${index}] is not an object`);
    const hashes = Object.entries(entry as Record<string, unknown>);
    if (hashes.length === 0) throw new Error(`fingerprints[${index}] is empty`);
    for (const [name, digest] of hashes) {
      if (typeof digest !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(digest)) throw new Error(`fingerprints[${index}]["${name}"] is not base64`);
    }
    return Object.fromEntries(hashes.map(([name, digest]) => [name.toLowerCase(), digest as string]));
  });
  return { kind: 'fingerprints', fingerprints, ...withExpiry };
}

function parseExpires(expires: unknown): number | undefined {
  if (expires === undefined) return undefined;
  if (typeof expires !== 'number' || !Number.isSafeInteger(expires) || expires < 0) throw new Error(`"expires" is not a non-negative integer: ${JSON.stringify(expires)}`);
  // RFC 7711 section 3.1: "a value of zero (0) indicates that the document is invalid"
  if (expires === 0) throw new Error('"expires" is 0, which marks the document invalid');
  return expires;
}

/** The base64 hashes of a DER certificate under each hash we know (RFC 7711 section 3.1). */
export function poshFingerprint(der: Uint8Array): PoshFingerprint {
  return Object.fromEntries(Object.entries(POSH_HASHES).map(([name, algorithm]) => [name, createHash(algorithm).update(der).digest('base64')]));
}

/**
 * RFC 7711 section 4: the certificate matches when one of its hashes, under a function we
 * support, equals an entry's value for that function. Unknown functions are skipped.
 */
export function poshMatches(fingerprints: readonly PoshFingerprint[], der: Uint8Array): boolean {
  const own = poshFingerprint(der);
  return fingerprints.some((entry) => Object.entries(entry).some(([name, digest]) => own[name] !== undefined && sameDigest(own[name], digest)));
}

/** Base64 compared as bytes, so padding differences do not matter. */
function sameDigest(a: string, b: string): boolean {
  return Buffer.from(a, 'base64').equals(Buffer.from(b, 'base64'));
}

/** The fingerprints document for some certificates (DER), as `trellis posh` prints it. */
export function fingerprintsDocument(certificates: readonly Uint8Array[], expires: number): string {
  return JSON.stringify({ fingerprints: certificates.map(poshFingerprint), expires });
}

/** The reference document pointing at a fingerprints document elsewhere (RFC 7711 section 3.2). */
export function referenceDocument(url: string, expires: number): string {
  return JSON.stringify({ url, expires });
}
