/**
 * `links`: named links to peer servers (docs/links.md). This file reads them into their
 * resolved form and reports what cannot work, each problem at its key path: TLS settings that
 * do not fit the transport or identity, a listener with no way to know its peer, and peering
 * rules naming a link that is not configured.
 */
import path from 'node:path';
import { entryPath } from './describe.ts';
import { parseLinkAddress } from './link-names.ts';
import { linkS2sSchema } from './schema.ts';
import type { LinkConfig, LinkS2sConfig, LinkTlsConfig, S2sPeeringRule } from './types.ts';
import { validate, type ConfigProblem } from './validate.ts';

/** A link as the validator hands it over (connect is written, or taken from the protocol). */
export type ValidatedLink = Omit<LinkConfig, 'name' | 'connect'> & { connect?: LinkConfig['connect'] };

/** Checks that a file exists and is readable, reporting it at `at` otherwise. */
export type ReadableCheck = (file: string, at: string) => void;

export function resolveLinks(links: Readonly<Record<string, ValidatedLink>>, baseDir: string, readable: ReadableCheck, problems: ConfigProblem[]): LinkConfig[] {
  return Object.entries(links).map(([name, written]) => {
    const at = entryPath('links', name);
    if (written.protocol === 's2s') return resolveS2sLink(name, written, at, baseDir, readable, problems);
    if (written.connect === undefined) problems.push({ path: `${at}.connect`, message: 'required key is missing' });
    const link = { ...written, connect: written.connect ?? 'out' };
    const { port } = parseLinkAddress(link.address);
    if (link.connect !== 'in' && port === 0) problems.push({ path: `${at}.address`, message: `connect: ${link.connect} needs the port the peer listens on` });
    if (link.connect === 'both' && link.listen === undefined) problems.push({ path: `${at}.listen`, message: 'connect: both needs the local "address:port" the peer connects to' });
    if (link.connect !== 'both' && link.listen !== undefined) problems.push({ path: `${at}.listen`, message: `connect: ${link.connect} listens on address or not at all; listen is for connect: both` });
    if (link.transport === 'tls' && link.tls === undefined) problems.push({ path: `${at}.tls`, message: 'transport: tls needs this side\'s certificate and key' });
    if (link.transport === 'tcp' && link.tls !== undefined) problems.push({ path: `${at}.tls`, message: 'transport: tcp uses no TLS; write transport: tls or remove this' });
    if (link.identity === 'certificate' && (link.transport !== 'tls' || (link.tls?.peer_certificate === undefined && link.tls?.ca_file === undefined))) {
      problems.push({ path: `${at}.identity`, message: 'identity: certificate needs transport: tls and tls.peer_certificate or tls.ca_file' });
    }
    if (link.connect !== 'out' && link.identity === 'address' && link.peer_addresses.length === 0) {
      problems.push({ path: `${at}.peer_addresses`, message: `with connect: ${link.connect} and identity: address, name the addresses the peer connects from (XEP-0361 section 4.2)` });
    }
    if (link.reconnect_max_delay < link.reconnect_initial_delay) problems.push({ path: `${at}.reconnect_max_delay`, message: 'must be at least reconnect_initial_delay' });
    const tls = link.tls === undefined ? undefined : resolveTls(link.tls, `${at}.tls`, baseDir, readable);
    return { name, ...link, ...(tls ? { tls } : {}) };
  });
}

/**
 * A link over server-to-server streams: it connects out to the peer's fixed address (the peer's
 * own streams arrive at the s2s listener), and its TLS settings must fit what it checks.
 */
function resolveS2sLink(name: string, written: ValidatedLink, at: string, baseDir: string, readable: ReadableCheck, problems: ConfigProblem[]): LinkConfig {
  if (written.connect !== undefined && written.connect !== 'out') {
    problems.push({ path: `${at}.connect`, message: 'an s2s link connects out to address; the peer\'s streams arrive at this server\'s s2s listener (listeners.s2s)' });
  }
  if (parseLinkAddress(written.address).port === 0) problems.push({ path: `${at}.address`, message: 'an s2s link needs the port the peer listens on' });
  if (written.reconnect_max_delay < written.reconnect_initial_delay) problems.push({ path: `${at}.reconnect_max_delay`, message: 'must be at least reconnect_initial_delay' });
  const s2s: LinkS2sConfig = { ...((written.s2s ?? validate(linkS2sSchema, {}).value) as LinkS2sConfig) };
  const tlsAt = `${at}.s2s.tls`;
  if (s2s.tls === 'optional' && !s2s.direct_tls) {
    if (s2s.peer_certificate !== undefined) problems.push({ path: tlsAt, message: 'a pinned peer_certificate is checked in TLS: write tls: required' });
    if (s2s.authentication === 'sasl_external') problems.push({ path: tlsAt, message: 'authentication: sasl_external needs TLS: write tls: required' });
  }
  for (const key of ['peer_certificate', 'ca_file'] as const) {
    if (s2s[key] === undefined) continue;
    s2s[key] = path.resolve(baseDir, s2s[key]);
    readable(s2s[key], `${at}.s2s.${key}`);
  }
  return { name, ...written, connect: 'out', s2s };
}

function resolveTls(tls: LinkTlsConfig, at: string, baseDir: string, readable: ReadableCheck): LinkTlsConfig {
  const resolved: LinkTlsConfig = { certificate: path.resolve(baseDir, tls.certificate), key: path.resolve(baseDir, tls.key) };
  if (tls.peer_certificate !== undefined) resolved.peer_certificate = path.resolve(baseDir, tls.peer_certificate);
  if (tls.ca_file !== undefined) resolved.ca_file = path.resolve(baseDir, tls.ca_file);
  for (const key of ['certificate', 'key', 'peer_certificate', 'ca_file'] as const) {
    const file = resolved[key];
    if (file !== undefined) readable(file, `${at}.${key}`);
  }
  return resolved;
}

/** Peering rules must name configured links; links over server-to-server streams need federation on. */
export function checkLinkRoutes(rules: readonly S2sPeeringRule[], links: readonly LinkConfig[], federates: boolean, problems: ConfigProblem[]): void {
  for (const link of links) {
    if (link.protocol === 's2s' && !federates) problems.push({ path: `${entryPath('links', link.name)}.protocol`, message: 'an s2s link uses server-to-server streams: s2s.enabled must be true (s2s.peering may reject every other domain)' });
  }
  const names = new Set(links.map((link) => link.name));
  for (const rule of rules) {
    if (rule.link !== undefined && !names.has(rule.link)) {
      problems.push({ path: `${entryPath('s2s.peering', rule.domain)}.link`, message: `no link named ${JSON.stringify(rule.link)} is configured under links` });
    }
  }
}
