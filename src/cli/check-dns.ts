/**
 * `trellis check dns`: how clients and other servers find each hosted domain, asked of the
 * resolvers the server uses (`dns.servers`, else the system's):
 *   - client and server SRV records, STARTTLS and direct TLS (RFC 6120 section 3.2.1, XEP-0368),
 *     with the A/AAAA records of their targets, or of the domain itself without SRV records;
 *   - whether the ports they name are the ones the listeners use;
 *   - DNSSEC status of the server SRV records, through the validating resolvers of
 *     `s2s.delegation.resolvers` when configured (src/delegation/secure-resolver.ts);
 *   - the domain's POSH document (RFC 7711), and whether it lists the configured certificate;
 * then one sentence of what a remote server will conclude.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { HostConfig, TrellisConfig } from '../config/types.ts';
import { createSecureResolver } from '../delegation/secure-resolver.ts';
import { poshMatches, poshUrl } from '../delegation/posh-document.ts';
import { fetchHttps } from '../delegation/posh-fetch.ts';
import { PoshVerifier } from '../delegation/posh.ts';
import { createDnsLookup, resolveServerTargets, type DnsLookup, type ServerTarget } from '../net/dns.ts';
import { isNoRecords } from '../net/dns-query.ts';
import type { Finding } from './check-certs.ts';

const CLIENT_PORT = 5222;
const POSH_TIMEOUT_MS = 5000;

export async function dnsFindings(config: TrellisConfig): Promise<Finding[]> {
  const lookup = createDnsLookup({ servers: [...config.dns.servers], timeoutMs: config.dns.timeout * 1000, cacheEntries: 0 });
  const secure = config.s2s.delegation.resolvers.length > 0 ? createSecureResolver({ servers: config.s2s.delegation.resolvers, timeoutMs: config.s2s.delegation.resolver_timeout * 1000 }) : undefined;
  const posh = new PoshVerifier({ timeoutMs: POSH_TIMEOUT_MS, cacheEntries: 0 });
  const results = await Promise.all(config.hosts.map((host) => hostDnsFindings(host, config, lookup, secure, posh)));
  return results.flat();
}

async function hostDnsFindings(
  host: HostConfig,
  config: TrellisConfig,
  lookup: DnsLookup,
  secure: ReturnType<typeof createSecureResolver> | undefined,
  posh: PoshVerifier,
): Promise<Finding[]> {
  const domain = host.domain;
  const findings: Finding[] = [];
  const add = (level: Finding['level'], message: string): void => void findings.push({ level, domain, message });

  // Clients: _xmpp-client._tcp and _xmpps-client._tcp, else the domain's addresses on 5222.
  const clientRecords = await Promise.all([clientSrv(lookup, `_xmpp-client._tcp.${domain}`), clientSrv(lookup, `_xmpps-client._tcp.${domain}`)]);
  const [starttlsClients, directClients] = clientRecords;
  for (const [records, name, listener] of [
    [starttlsClients, `_xmpp-client._tcp.${domain}`, config.listeners.c2s],
    [directClients, `_xmpps-client._tcp.${domain}`, config.listeners.c2s_direct_tls],
  ] as const) {
    if (records === 'failed') add('error', `SRV ${name}: the query failed (no answer, or SERVFAIL)`);
    else if (records.length > 0) {
      add('ok', `SRV ${name}: ${records.map((record) => `${record.name}:${record.port}`).join(', ')}`);
      portCheck(add, name, records, listener, listener === config.listeners.c2s ? 'listeners.c2s' : 'listeners.c2s_direct_tls');
    }
  }
  if (starttlsClients !== 'failed' && directClients !== 'failed' && starttlsClients.length + directClients.length === 0) {
    const addresses = await addressesOf(lookup, domain);
    if (addresses.length > 0) add('warning', `no client SRV records (_xmpp-client._tcp, _xmpps-client._tcp): clients try ${domain}:${CLIENT_PORT} at ${addresses.join(', ')}`);
    else add('error', `no client SRV records and no A/AAAA records for ${domain}: clients cannot find the server`);
  }

  // Servers: what src/s2s does for a peer is what a peer does for us (RFC 6120 section 3.2, XEP-0368).
  const resolution = await resolveServerTargets(domain, lookup);
  let conclusion: string;
  if (resolution.kind === 'not-found') {
    const why = { 'no-service': 'its SRV record says the service is not available (target ".")', 'no-address': 'it has no server SRV records and no A/AAAA records', 'dns-failure': 'the DNS queries failed' }[resolution.reason];
    add('error', `remote servers cannot reach ${domain}: ${why}`);
    conclusion = `A remote server will bounce stanzas to ${domain} with remote-server-not-found: ${why}.`;
  } else {
    for (const target of resolution.targets) add('ok', `${resolution.fromSrv ? 'SRV' : 'no server SRV records; A/AAAA of the domain'}: ${describeTarget(target)}`);
    for (const directTls of [false, true]) {
      const targets = resolution.targets.filter((target) => target.directTls === directTls);
      if (resolution.fromSrv && targets.length > 0) portCheck(add, directTls ? `_xmpps-server._tcp.${domain}` : `_xmpp-server._tcp.${domain}`, targets.map((target) => ({ name: target.host, port: target.port })), directTls ? config.listeners.s2s_direct_tls : config.listeners.s2s, directTls ? 'listeners.s2s_direct_tls' : 'listeners.s2s');
    }
    const first = resolution.targets[0]!;
    conclusion = `A remote server will connect to ${first.host}:${first.port} (${first.addresses.join(', ')}) with ${first.directTls ? 'direct TLS' : 'STARTTLS'}, expect a certificate for ${domain}, and fall back to dialback if it does not trust it.`;
  }

  // DNSSEC of the server SRV record, as a validating peer sees it.
  if (secure === undefined) add('ok', 'DNSSEC not checked: s2s.delegation.resolvers names no validating resolver');
  else {
    const answer = await secure.srv(`_xmpp-server._tcp.${domain}`);
    if (answer.status === 'bogus' || answer.status === 'failed') add('error', `DNSSEC: _xmpp-server._tcp.${domain} is ${answer.status}${answer.reason ? ` (${answer.reason})` : ''}: validating servers cannot resolve it`);
    else add('ok', `DNSSEC: _xmpp-server._tcp.${domain} is ${answer.status === 'nxdomain' ? 'absent' : answer.status}${answer.status === 'secure' ? ' (signed and validated)' : ''}`);
  }

  // POSH (RFC 7711): optional; when published it must be usable and list the certificate we present.
  const url = poshUrl(domain);
  const published = await fetchHttps(url, { timeoutMs: POSH_TIMEOUT_MS, maxBytes: 64 * 1024, maxRedirects: 10 });
  const document = published.kind === 'ok' ? await posh.lookup(domain) : undefined;
  if (published.kind === 'not-found') add('ok', `POSH: no document published at ${url} (optional)`);
  else if (published.kind === 'error') add('ok', `POSH: no document fetched (optional): ${published.reason}`);
  else if (document?.kind !== 'fingerprints') add('warning', `POSH: the document at ${url} is unusable: ${document?.kind === 'invalid' ? document.reason : 'it vanished while read'}`);
  else {
    const certificate = configuredLeaf(host, config);
    if (certificate === undefined) add('ok', `POSH: document at ${document.url}`);
    else if (poshMatches(document.fingerprints, certificate.raw)) add('ok', `POSH: ${document.url} lists the configured certificate`);
    else add('error', `POSH: ${document.url} does not list the configured certificate; publish the output of trellis posh ${domain}`);
  }
  add('ok', conclusion);
  return findings;
}

type SrvList = { name: string; port: number }[];

async function clientSrv(lookup: DnsLookup, name: string): Promise<SrvList | 'failed'> {
  try {
    return (await lookup.resolveSrv(name)).map((record) => ({ name: record.name.replace(/\.$/, ''), port: record.port })).filter((record) => record.name !== '' && record.name !== '.');
  } catch (error) {
    return isNoRecords(error) ? [] : 'failed';
  }
}

async function addressesOf(lookup: DnsLookup, host: string): Promise<string[]> {
  const answers = await Promise.allSettled([lookup.resolve4(host), lookup.resolve6(host)]);
  return answers.flatMap((answer) => (answer.status === 'fulfilled' ? answer.value : []));
}

function portCheck(add: (level: Finding['level'], message: string) => void, name: string, records: SrvList, listener: { enabled: boolean; port: number }, key: string): void {
  if (!listener.enabled) add('warning', `SRV ${name} is published but ${key} is not enabled`);
  for (const record of records) {
    if (listener.enabled && record.port !== listener.port) add('warning', `SRV ${name} names port ${record.port}, but ${key}.port is ${listener.port} (fine only behind a port forward)`);
  }
}

function describeTarget(target: ServerTarget): string {
  return `${target.host}:${target.port} ${target.directTls ? 'direct TLS' : 'STARTTLS'} at ${target.addresses.join(', ')}`;
}

function configuredLeaf(host: HostConfig, config: TrellisConfig): X509Certificate | undefined {
  const files = host.tls ?? config.tls;
  if (!files) return undefined;
  try {
    return new X509Certificate(readFileSync(files.certificate));
  } catch {
    return undefined;
  }
}
