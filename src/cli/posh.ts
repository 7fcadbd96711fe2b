/**
 * `trellis posh`: the POSH documents (RFC 7711) an operator publishes so that other servers can
 * verify the certificate a hosted domain presents, even when it does not name the domain (a
 * hosting provider's certificate) or is self-signed.
 *   - without --reference: each domain's fingerprints document, to publish on the domain's own
 *     web server at https://<domain>/.well-known/posh/xmpp-server.json (section 3.1);
 *   - with --reference URL: one fingerprints document for every certificate involved, to publish
 *     at URL, and for each domain a reference document pointing there (section 3.2).
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostConfig, TrellisConfig } from '../config/types.ts';
import { fingerprintsDocument, poshUrl, referenceDocument } from '../delegation/posh-document.ts';
import { prepareDomain } from '../jid/jid.ts';
import { configuredCertificate } from '../server-hosts.ts';
import { hostedDomain } from './accounts.ts';

/** A week, as in RFC 7711's examples: long enough to ride out an outage of the web server, short enough to change certificates. */
export const DEFAULT_POSH_EXPIRES = 604_800;

export interface DomainCertificate {
  domain: string;
  /** DER of the leaf certificate the domain presents */
  der: Buffer;
}

export interface PublishedDocument {
  /** where to publish it */
  url: string;
  /** the JSON document */
  body: string;
  /** what it covers, for the operator */
  note: string;
}

/** The documents to publish, in order. Throws when the reference URL is not https. */
export function poshDocuments(certificates: readonly DomainCertificate[], expires: number, reference?: string): PublishedDocument[] {
  if (reference === undefined) {
    return certificates.map(({ domain, der }) => ({ url: poshUrl(domain), body: fingerprintsDocument([der], expires), note: `fingerprints of the certificate of ${domain}` }));
  }
  let url: URL;
  try {
    url = new URL(reference);
  } catch {
    throw new Error(`--reference ${JSON.stringify(reference)} is not a URL`);
  }
  // RFC 7711 section 3.2: the reference is followed over https only
  if (url.protocol !== 'https:') throw new Error(`--reference must be an https URL, not ${reference}`);
  const distinct = [...new Map(certificates.map(({ der }) => [der.toString('base64'), der])).values()];
  const domains = certificates.map(({ domain }) => domain).join(', ');
  return [
    { url: url.href, body: fingerprintsDocument(distinct, expires), note: `fingerprints of the certificate${distinct.length === 1 ? '' : 's'} of ${domains}` },
    ...certificates.map(({ domain }) => ({ url: poshUrl(domain), body: referenceDocument(url.href, expires), note: `${domain} refers to ${url.href}` })),
  ];
}

export interface PoshCommandOptions {
  domain?: string;
  expires?: string;
  reference?: string;
}

export async function printPosh(config: TrellisConfig, options: PoshCommandOptions): Promise<number> {
  const expires = parseExpires(options.expires);
  const hosts = options.domain === undefined ? config.hosts : [hostedDomain(config, prepareDomain(options.domain))];
  const certificates = await Promise.all(hosts.map((host) => domainCertificate(host, config)));
  const lines = poshDocuments(certificates, expires, options.reference).map(({ url, body, note }) => `# ${note}\n# publish at ${url} (Content-Type: application/json)\n${body}\n`);
  process.stdout.write(lines.join('\n'));
  return 0;
}

/** RFC 7711 section 3.1: a positive number of seconds (0 would mark the document invalid). */
function parseExpires(text: string | undefined): number {
  if (text === undefined) return DEFAULT_POSH_EXPIRES;
  const seconds = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(seconds) || seconds <= 0) throw new Error(`--expires must be a positive number of seconds, not ${JSON.stringify(text)}`);
  return seconds;
}

/** The configured certificate, else the self-signed one the server generated (src/net/self-signed.ts). */
async function domainCertificate(host: HostConfig, config: TrellisConfig): Promise<DomainCertificate> {
  const file = configuredCertificate(host, config)?.certificate ?? join(config.data_dir, 'certs', `${host.domain}.crt`);
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch (error) {
    const hint = configuredCertificate(host, config) ? '' : `; configure hosts.${host.domain}.tls, or start the server once to generate a self-signed certificate`;
    throw new Error(`cannot read the certificate of ${host.domain} (${file}): ${(error as Error).message}${hint}`);
  }
  // the leaf comes first in a chain file
  const leaf = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(pem);
  try {
    if (!leaf) throw new Error('no PEM certificate found');
    return { domain: host.domain, der: Buffer.from(new X509Certificate(leaf[0]).raw) };
  } catch (error) {
    throw new Error(`${file} (the certificate of ${host.domain}): ${(error as Error).message}`);
  }
}
