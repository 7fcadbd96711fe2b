import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { prepareDomain } from '../jid/jid.ts';
import type { ComponentConfig, FederationLevel, HostConfig, HostSettings, S2sConfig, S2sHostStreamsConfig, StorageConfig, TlsFiles, TrellisConfig } from './types.ts';
import { prepareDomainPattern } from './schema.ts';
import type { ConfigProblem } from './validate.ts';
import { entryPath } from './describe.ts';
import { deepFreeze } from './freeze.ts';
import { resolvePeering, resolvePeeringGroups, type ValidatedPeeringRule } from './peering.ts';
import { checkLinkRoutes, resolveLinks, type ValidatedLink } from './links.ts';
import { resolveSecurityLabels, type ValidatedSecurityLabels } from './security-labels.ts';

/** What the validator hands over: the YAML shape with defaults filled, hosts still keyed by domain as written. */
export type ValidatedConfig = Omit<TrellisConfig, 'source' | 'hosts' | 's2s' | 'components' | 'links'> & {
  components: Record<string, { secret: string }>;
  links: Record<string, ValidatedLink>;
  hosts: Record<string, { tls?: TlsFiles } & Partial<HostSettings>>;
  s2s: Omit<S2sConfig, 'peers' | 'peering' | 'peering_groups' | 'security_labels'> & {
    security_labels?: ValidatedSecurityLabels;
    peers: Record<string, { level: FederationLevel }>;
    peering: Record<string, ValidatedPeeringRule>;
    peering_groups: Record<string, { members: readonly string[] }>;
  };
};

export interface ResolveOptions {
  /** the config file, recorded as `source` */
  file?: string;
  /** directory that relative data_dir and TLS paths resolve against */
  baseDir: string;
}

export interface ResolveResult {
  config: TrellisConfig;
  problems: ConfigProblem[];
}

/**
 * Applies what reaches outside the YAML: domains are prepared, paths become absolute and TLS
 * files must be readable. Expects input that validated.
 * The returned config is deeply frozen; it is only meaningful when `problems` is empty.
 */
export function resolveConfig(validated: ValidatedConfig, options: ResolveOptions): ResolveResult {
  const problems: ConfigProblem[] = [];
  const dataDir = path.resolve(options.baseDir, validated.data_dir);
  const tlsFiles = (tls: TlsFiles | undefined, at: string) => resolveTls(tls, at, options.baseDir, problems);
  const config: TrellisConfig = {
    ...(options.file === undefined ? {} : { source: path.resolve(options.file) }),
    mode: validated.mode,
    data_dir: dataDir,
    log: validated.log,
    listeners: validated.listeners,
    storage: resolveStorage(validated.storage, dataDir),
    ...(validated.tls === undefined ? {} : { tls: tlsFiles(validated.tls, 'tls') }),
    tls_settings: validated.tls_settings,
    ...(validated.cluster === undefined ? {} : { cluster: validated.cluster }),
    c2s: validated.c2s,
    s2s: resolveS2s(validated.s2s, options.baseDir, problems, Object.keys(validated.hosts).map((key) => prepareDomain(key))),
    limits: validated.limits,
    dns: validated.dns,
    admin: { ...validated.admin, socket: path.resolve(dataDir, validated.admin.socket) },
    component: validated.component,
    components: resolveComponents(validated.components, validated.hosts, problems),
    links: resolveLinks(validated.links, options.baseDir, (file, at) => checkReadable(file, at, problems), problems),
    http: validated.http,
    ...pickSettings(validated),
    hosts: resolveHosts(validated.hosts, pickSettings(validated), tlsFiles),
  };
  checkLinkRoutes(config.s2s.peering, config.links, config.s2s.enabled, problems);
  if (config.mode === 'edge') checkEdge(config, problems);
  return { config: deepFreeze(config), problems };
}

/**
 * An edge (docs/peering.md, "Edge servers") only relays between servers: it federates, and has
 * nothing local that would need a client or a component.
 */
function checkEdge(config: TrellisConfig, problems: ConfigProblem[]): void {
  if (!config.s2s.enabled) problems.push({ path: 's2s.enabled', message: 'an edge (mode: edge) only relays between servers: federation must be on' });
  if (config.components.length > 0) problems.push({ path: 'components', message: 'an edge (mode: edge) serves no components: run them on a server behind it' });
  if (!config.s2s.peering.some((rule) => rule.via !== undefined || rule.link !== undefined || rule.route === 'direct')) {
    problems.push({ path: 's2s.peering', message: 'an edge (mode: edge) relays only to the domains its rules route (route: direct, via or link), and no rule routes any' });
  }
}

function resolveS2s(s2s: ValidatedConfig['s2s'], baseDir: string, problems: ConfigProblem[], hosted: readonly string[]): S2sConfig {
  const readableFiles = (files: readonly string[], at: string) =>
    files.map((file, index) => {
      const absolute = path.resolve(baseDir, file);
      checkReadable(absolute, `${at}[${index}]`, problems);
      return absolute;
    });
  const peers = Object.entries(s2s.peers).map(([pattern, peer]) => ({ domain: prepareDomainPattern(pattern), level: peer.level }));
  const { delegation } = s2s;
  const groups = resolvePeeringGroups(s2s.peering_groups, problems);
  const peering = resolvePeering(s2s.peering, new Set(hosted), peers.map((peer) => peer.domain), groups, problems);
  const { security_labels: labels, ...rest } = s2s;
  const securityLabels = resolveSecurityLabels(labels, peering, groups, problems);
  return {
    ...rest,
    ...(securityLabels === undefined ? {} : { security_labels: securityLabels }),
    ca_files: readableFiles(s2s.ca_files, 's2s.ca_files'),
    peers,
    peering,
    peering_groups: groups,
    delegation: { ...delegation, posh: { ...delegation.posh, ca_files: readableFiles(delegation.posh.ca_files, 's2s.delegation.posh.ca_files') } },
    host_streams: resolveHostStreams(s2s.host_streams, baseDir, problems, hosted),
  };
}

/** The host's name defaults to the first hosted domain; a name no host serves needs a certificate of its own. */
function resolveHostStreams(settings: S2sHostStreamsConfig, baseDir: string, problems: ConfigProblem[], hosted: readonly string[]): S2sHostStreamsConfig {
  const name = settings.name ?? hosted[0];
  const tls = resolveTls(settings.tls, 's2s.host_streams.tls', baseDir, problems);
  if (settings.enabled && name !== undefined && !hosted.includes(name) && tls === undefined) {
    problems.push({ path: 's2s.host_streams.tls', message: `${name} is not a hosted domain: give the certificate that proves it` });
  }
  return { enabled: settings.enabled, ...(name === undefined ? {} : { name }), ...(tls === undefined ? {} : { tls }) };
}

/** Components by domain; a domain that is also hosted would have two owners. */
function resolveComponents(components: ValidatedConfig['components'], hosts: ValidatedConfig['hosts'], problems: ConfigProblem[]): ComponentConfig[] {
  const hosted = new Set(Object.keys(hosts).map((key) => prepareDomain(key)));
  return Object.entries(components).map(([key, { secret }]) => {
    const domain = prepareDomain(key);
    if (hosted.has(domain)) problems.push({ path: entryPath('components', key), message: `${domain} is a hosted domain (hosts); a component serves a domain of its own` });
    return { domain, secret };
  });
}

function resolveStorage(storage: StorageConfig, dataDir: string): StorageConfig {
  return { ...storage, sqlite_file: path.resolve(dataDir, storage.sqlite_file) };
}

function resolveHosts(
  hosts: ValidatedConfig['hosts'],
  defaults: HostSettings,
  tlsFiles: (tls: TlsFiles | undefined, at: string) => TlsFiles | undefined,
): HostConfig[] {
  return Object.entries(hosts).map(([key, host]) => {
    const domain = prepareDomain(key);
    const tls = tlsFiles(host.tls, `${entryPath('hosts', key)}.tls`);
    const settings = inheritSettings(defaults, host);
    return tls === undefined ? { domain, ...settings } : { domain, tls, ...settings };
  });
}

/** The IM settings (hosts inherit them) out of the top-level configuration. */
export function pickSettings(config: HostSettings): HostSettings {
  const { modules_disabled, roster, offline, strangers, registration, version, disco, motd, admins, contact_addresses, foreign_access, muc, pep, pubsub, mam, push, upload, external_services } = config;
  return { modules_disabled, roster, offline, strangers, registration, version, disco, motd, admins, contact_addresses, foreign_access, muc, pep, pubsub, mam, push, upload, external_services };
}

/**
 * A host's settings: each key it writes overrides the top-level value, field by field, except
 * `admins`, which adds to the top-level list (the server's administrators administer every host).
 */
function inheritSettings(defaults: HostSettings, host: Partial<HostSettings>): HostSettings {
  return {
    modules_disabled: host.modules_disabled ?? defaults.modules_disabled,
    roster: { ...defaults.roster, ...host.roster },
    offline: { ...defaults.offline, ...host.offline },
    strangers: { ...defaults.strangers, ...host.strangers },
    registration: { ...defaults.registration, ...host.registration },
    version: { ...defaults.version, ...host.version },
    disco: { ...defaults.disco, ...host.disco },
    motd: { ...defaults.motd, ...host.motd },
    admins: [...new Set([...defaults.admins, ...(host.admins ?? [])])],
    contact_addresses: { ...defaults.contact_addresses, ...host.contact_addresses },
    foreign_access: { ...defaults.foreign_access, ...host.foreign_access },
    muc: { ...defaults.muc, ...host.muc },
    pep: { ...defaults.pep, ...host.pep },
    pubsub: { ...defaults.pubsub, ...host.pubsub },
    mam: { ...defaults.mam, ...host.mam },
    push: { ...defaults.push, ...host.push },
    upload: { ...defaults.upload, ...host.upload },
    external_services: { ...defaults.external_services, ...host.external_services },
  };
}

function resolveTls(tls: TlsFiles | undefined, at: string, baseDir: string, problems: ConfigProblem[]): TlsFiles | undefined {
  if (tls === undefined) return undefined;
  const certificate = path.resolve(baseDir, tls.certificate);
  const key = path.resolve(baseDir, tls.key);
  checkReadable(certificate, `${at}.certificate`, problems);
  checkReadable(key, `${at}.key`, problems);
  return { certificate, key };
}

function checkReadable(file: string, at: string, problems: ConfigProblem[]): void {
  try {
    if (statSync(file).isDirectory()) {
      problems.push({ path: at, message: `expected a readable file, but ${JSON.stringify(file)} is a directory` });
      return;
    }
    accessSync(file, constants.R_OK);
  } catch (error) {
    problems.push({ path: at, message: `cannot read ${JSON.stringify(file)}: ${reasonOf(error)}` });
  }
}

function reasonOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  return (error as Error).message;
}
