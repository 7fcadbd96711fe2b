/**
 * `trellis check certs`: what clients and other servers will make of each hosted domain's
 * certificate, read from the files the configuration names (no server needs to run):
 *   - the files hold a certificate and a private key, in that order, and the key is the certificate's;
 *   - the certificate names the domain and its service subdomains (RFC 6125 section 6, RFC 6120
 *     section 13.7.1.2: clients check the domain, servers too where they authenticate us by it);
 *   - the chain in the file leads to a trusted CA (s2s.ca_files, and the public roots with
 *     s2s.use_system_ca), as a remote server checks it (src/s2s/certificate-trust.ts);
 *   - it is valid now, with a warning two weeks before it expires;
 *   - its extended key usage allows serverAuth (clients and servers we accept) and clientAuth
 *     (what servers that check it expect of the certificate we present when we connect).
 * Each finding names the configuration key it comes from.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { HostConfig, TlsFiles, TrellisConfig } from '../config/types.ts';
import { certificateIdentities, certificateMatchesDomain } from '../s2s/certificate-identity.ts';
import { loadTrustAnchors, verifyCertificateChain } from '../s2s/certificate-trust.ts';
import { serviceSpecs } from '../services/service-hosts.ts';

export interface Finding {
  level: 'error' | 'warning' | 'ok';
  /** the domain the finding is about */
  domain: string;
  message: string;
}

/** Warn this many days before a certificate expires. */
export const EXPIRY_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;
const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
const ANY_PURPOSE = '2.5.29.37.0';

/** The findings for every hosted domain, in configuration order. */
export async function certificateFindings(config: TrellisConfig, now = new Date()): Promise<Finding[]> {
  const anchors = await loadTrustAnchors(config.s2s.ca_files, config.s2s.use_system_ca);
  return config.hosts.flatMap((host) => hostFindings(host, config, anchors, now));
}

function hostFindings(host: HostConfig, config: TrellisConfig, anchors: X509Certificate[], now: Date): Finding[] {
  const domain = host.domain;
  const findings: Finding[] = [];
  const add = (level: Finding['level'], message: string): void => void findings.push({ level, domain, message });
  const files = host.tls ?? config.tls;
  const key = host.tls ? `hosts[${JSON.stringify(domain)}].tls` : 'tls';
  if (!files) {
    const generated = join(config.data_dir, 'certs', `${domain}.crt`);
    add('warning', `no certificate configured (hosts[${JSON.stringify(domain)}].tls or tls): the server uses a self-signed one${existsSync(generated) ? ` (${generated})` : ''} that clients and servers do not trust`);
    return findings;
  }
  const loaded = readPair(files, key);
  if ('error' in loaded) {
    add('error', loaded.error);
    return findings;
  }
  const { chain, privateKey } = loaded;
  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(privateKey)) add('error', `${key}.key: ${files.key} is not the key of the certificate in ${key}.certificate (${files.certificate})`);
  else add('ok', `the key in ${files.key} matches the certificate`);

  const identities = certificateIdentities(leaf);
  const names = [...identities.dnsIds, ...identities.xmppAddrs, ...identities.srvIds].join(', ') || identities.commonNames.join(', ') || 'no name';
  const namesDomain = certificateMatchesDomain(identities, domain, 'xmpp-client') || certificateMatchesDomain(identities, domain, 'xmpp-server');
  if (!namesDomain) add('error', `${key}.certificate: ${files.certificate} is a certificate for ${names}, not for ${domain}`);
  else add('ok', `the certificate names ${domain}`);
  for (const service of namesDomain ? serviceSpecs(host, config) : []) {
    if (certificateMatchesDomain(identities, service.domain, 'xmpp-server')) add('ok', `the certificate names the ${service.kind} service ${service.domain}`);
    else add('warning', `${key}.certificate does not name the ${service.kind} service ${service.domain} (it names ${names}): servers that authenticate by certificate refuse it, others use dialback`);
  }

  const selfSigned = leaf.checkIssued(leaf) && leaf.verify(leaf.publicKey);
  // Expiry is its own finding below; the chain is judged at a moment the certificate is valid.
  const validNow = leaf.validFromDate <= now && now <= leaf.validToDate;
  const verdict = verifyCertificateChain(chain, anchors, validNow ? now : new Date(leaf.validFromDate.getTime() + 1000));
  if (verdict.trusted) add('ok', `the chain leads to a trusted CA`);
  else if (selfSigned) add('warning', `${key}.certificate is self-signed: clients must be told to trust it, and servers authenticate us with dialback instead`);
  else add('error', `${key}.certificate: the chain in ${files.certificate} does not lead to a trusted CA (${verdict.reason}); put the intermediate certificates after the certificate in the file${config.s2s.use_system_ca ? '' : ', or name the CA in s2s.ca_files'}`);

  const daysLeft = Math.floor((leaf.validToDate.getTime() - now.getTime()) / DAY_MS);
  if (leaf.validFromDate > now) add('error', `${key}.certificate is not valid before ${leaf.validFromDate.toISOString()}`);
  else if (daysLeft < 0) add('error', `${key}.certificate expired on ${leaf.validToDate.toISOString()}`);
  else if (daysLeft < EXPIRY_WARNING_DAYS) add('warning', `${key}.certificate expires in ${daysLeft} day${daysLeft === 1 ? '' : 's'} (${leaf.validToDate.toISOString()}): renew it, then run trellis reload`);
  else add('ok', `valid until ${leaf.validToDate.toISOString()} (${daysLeft} days)`);

  // X509Certificate#keyUsage lists the extended key usages; undefined when the extension is absent (any purpose).
  const purposes = leaf.keyUsage;
  if (purposes !== undefined && !purposes.includes(ANY_PURPOSE)) {
    if (!purposes.includes(SERVER_AUTH)) add('error', `${key}.certificate does not allow serverAuth: clients and servers refuse it`);
    else if (!purposes.includes(CLIENT_AUTH)) add('warning', `${key}.certificate allows serverAuth but not clientAuth: servers that check the purpose of the certificate we present when we connect to them fall back to dialback`);
    else add('ok', 'extended key usage: serverAuth and clientAuth');
  } else {
    add('ok', 'extended key usage: any');
  }
  return findings;
}

/** The chain and key from the files, or an error that names the key and says what is wrong (swapped files included). */
function readPair(files: TlsFiles, key: string): { chain: X509Certificate[]; privateKey: ReturnType<typeof createPrivateKey> } | { error: string } {
  let certText: string;
  let keyText: string;
  try {
    certText = readFileSync(files.certificate, 'latin1');
    keyText = readFileSync(files.key, 'latin1');
  } catch (error) {
    return { error: `${key}: ${(error as Error).message}` };
  }
  const certBlocks = certText.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  const swapped = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(certText) && /-----BEGIN CERTIFICATE-----/.test(keyText);
  if (swapped) return { error: `${key}: certificate and key are swapped: ${key}.certificate (${files.certificate}) holds a private key and ${key}.key (${files.key}) a certificate` };
  if (certBlocks.length === 0) return { error: `${key}.certificate: ${files.certificate} holds no PEM certificate` };
  let chain: X509Certificate[];
  try {
    chain = certBlocks.map((block) => new X509Certificate(block));
  } catch (error) {
    return { error: `${key}.certificate: ${files.certificate}: ${(error as Error).message}` };
  }
  try {
    return { chain, privateKey: createPrivateKey(keyText) };
  } catch (error) {
    return { error: `${key}.key: ${files.key} holds no private key that can be read (${(error as Error).message})` };
  }
}

/** One line per finding, then a count; returns the text and whether any was an error. */
export function findingsText(findings: readonly Finding[], verbose: boolean): string {
  const width = Math.max(0, ...findings.map((finding) => finding.domain.length));
  const shown = verbose ? findings : findings.filter((finding) => finding.level !== 'ok');
  const errors = findings.filter((finding) => finding.level === 'error').length;
  const warnings = findings.filter((finding) => finding.level === 'warning').length;
  const lines = shown.map((finding) => `${finding.level.padEnd(7)}  ${finding.domain.padEnd(width)}  ${finding.message}`);
  lines.push(`${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`);
  return lines.join('\n') + '\n';
}
