/**
 * The lab's DNS, run inside the lab namespace: an authoritative nsd serving zones built from
 * declarative records, some of them DNSSEC-signed with ldns-keygen/ldns-signzone, and a
 * validating unbound that trusts the signed zones' keys. The namespace's resolv.conf names the
 * resolver, so glibc, Node's `dns`, Erlang and libunbound all ask it.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeScratchDir, removeScratchDir, startDaemon, waitForListeners, type Daemon } from './process.ts';

const run = promisify(execFile);

/** The validating resolver; the lab namespace's resolv.conf points here. */
export const LAB_RESOLVER_ADDRESS = '127.0.0.53';
/** The authoritative server; only the resolver talks to it. */
export const LAB_AUTHORITY_ADDRESS = '127.0.0.2';

const DNS_PORT = 53;
const TTL = 60;
/** RFC 8624 section 3.1: ECDSAP256SHA256 is a MUST for signers and validators. */
const KEY_ALGORITHM = 'ECDSAP256SHA256';

export type LabRecord =
  | { name: string; type: 'A' | 'AAAA'; address: string }
  | { name: string; type: 'CNAME'; target: string }
  | { name: string; type: 'TXT'; text: string }
  /** RFC 2782; a target of "." means the service is decidedly not available. */
  | { name: string; type: 'SRV'; priority?: number; weight?: number; port: number; target: string }
  /** RFC 6698 section 2.1; `data` is the certificate association data in hex */
  | { name: string; type: 'TLSA'; usage: number; selector: number; matchingType: number; data: string };

export interface LabZone {
  /** e.g. "test" or "sec.test" */
  name: string;
  /** sign with DNSSEC and make the resolver trust its key */
  signed?: boolean;
  /**
   * with `signed`: alter the signatures over the zone's records (not over its keys) after
   * signing, so the validating resolver finds those answers bogus and answers SERVFAIL
   */
  brokenSignatures?: boolean;
  /** owner names are absolute (a trailing dot is optional) and must lie inside the zone */
  records: LabRecord[];
}

export interface LabDns {
  resolver: string;
  /** DS records of the signed zones, as the resolver's trust anchors */
  trustAnchors: string;
  /** the same in a file, for validators of their own (e.g. Prosody's libunbound) */
  trustAnchorFile: string;
  stop(): Promise<void>;
}

export async function startLabDns(zones: LabZone[]): Promise<LabDns> {
  const dir = makeScratchDir('dns');
  const daemons: Daemon[] = [];
  const stop = async () => {
    await Promise.all(daemons.map((daemon) => daemon.stop()));
    removeScratchDir(dir);
  };
  try {
    const keys = await generateKeys(dir, zones.filter((zone) => zone.signed === true));
    for (const zone of zones) {
      const file = join(dir, `${fqdn(zone.name)}zone`);
      writeFileSync(file, zoneText(zone, zones, keys));
      const key = keys.get(zone.name);
      if (key !== undefined) await run('ldns-signzone', ['-f', `${file}.signed`, file, key.zsk, key.ksk], { cwd: dir });
      if (key !== undefined && zone.brokenSignatures) writeFileSync(`${file}.signed`, breakSignatures(readFileSync(`${file}.signed`, 'utf8')));
    }
    const trustAnchors = [...keys.values()].map((key) => key.ds).join('');
    const trustAnchorFile = join(dir, 'trust-anchors');
    writeFileSync(trustAnchorFile, trustAnchors);
    writeFileSync(join(dir, 'nsd.conf'), nsdConfig(dir, zones, keys));
    writeFileSync(join(dir, 'unbound.conf'), unboundConfig(dir, zones, keys.size > 0 ? trustAnchorFile : undefined));

    const nsd = startDaemon('nsd', 'nsd', ['-d', '-c', join(dir, 'nsd.conf')], { outputFile: join(dir, 'nsd.out') });
    daemons.push(nsd);
    const unbound = startDaemon('unbound', 'unbound', ['-d', '-c', join(dir, 'unbound.conf')], { outputFile: join(dir, 'unbound.out') });
    daemons.push(unbound);
    await Promise.all([
      waitForListeners(nsd, [{ address: LAB_AUTHORITY_ADDRESS, port: DNS_PORT }], { logFile: join(dir, 'nsd.log') }),
      waitForListeners(unbound, [{ address: LAB_RESOLVER_ADDRESS, port: DNS_PORT }]),
    ]);
    return { resolver: LAB_RESOLVER_ADDRESS, trustAnchors, trustAnchorFile, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

interface ZoneKeys {
  /** base names for ldns-signzone */
  zsk: string;
  ksk: string;
  /** the KSK's DS record in zone-file syntax */
  ds: string;
}

async function generateKeys(dir: string, zones: LabZone[]): Promise<Map<string, ZoneKeys>> {
  const keys = new Map<string, ZoneKeys>();
  await Promise.all(zones.map(async (zone) => {
    const keygen = async (...flags: string[]) => {
      const { stdout } = await run('ldns-keygen', ['-a', KEY_ALGORITHM, ...flags, fqdn(zone.name)], { cwd: dir });
      return stdout.trim();
    };
    const [zsk, ksk] = await Promise.all([keygen(), keygen('-k')]);
    // ldns-keygen writes the DS of every key it makes; only the KSK's is published.
    const ds = readFileSync(join(dir, `${ksk}.ds`), 'utf8');
    keys.set(zone.name, { zsk, ksk, ds: ds.endsWith('\n') ? ds : `${ds}\n` });
  }));
  return keys;
}

function zoneText(zone: LabZone, all: LabZone[], keys: Map<string, ZoneKeys>): string {
  const origin = fqdn(zone.name);
  const nameServer = `ns.${origin}`;
  const lines = [
    `$ORIGIN ${origin}`,
    `$TTL ${TTL}`,
    `@ IN SOA ${nameServer} hostmaster.${origin} 1 3600 600 86400 ${TTL}`,
    `@ IN NS ${nameServer}`,
    `${nameServer} IN A ${LAB_AUTHORITY_ADDRESS}`,
  ];
  // Delegations (with glue, and DS for signed children) to the lab zones directly below this one.
  for (const child of all) {
    if (child === zone || parentZone(child, all) !== zone) continue;
    const childOrigin = fqdn(child.name);
    lines.push(`${childOrigin} IN NS ns.${childOrigin}`, `ns.${childOrigin} IN A ${LAB_AUTHORITY_ADDRESS}`);
    const ds = keys.get(child.name)?.ds;
    if (ds !== undefined) lines.push(ds.trim());
  }
  for (const record of zone.records) {
    const owner = fqdn(record.name);
    if (owner !== origin && !owner.endsWith(`.${origin}`)) throw new Error(`${record.name} is outside zone ${zone.name}`);
    lines.push(`${owner} IN ${record.type} ${recordData(record)}`);
  }
  return `${lines.join('\n')}\n`;
}

function recordData(record: LabRecord): string {
  switch (record.type) {
    case 'A':
    case 'AAAA':
      return record.address;
    case 'CNAME':
      return fqdn(record.target);
    case 'TXT':
      return JSON.stringify(record.text);
    case 'SRV':
      return `${record.priority ?? 0} ${record.weight ?? 0} ${record.port} ${fqdn(record.target)}`;
    case 'TLSA':
      return `${record.usage} ${record.selector} ${record.matchingType} ${record.data}`;
  }
}

/**
 * Flips a bit in the signature field (the last, base64) of every RRSIG in a zone signed by
 * ldns-signzone, except those over DNSKEY: the keys still validate, the data does not.
 */
function breakSignatures(signed: string): string {
  return signed
    .split('\n')
    .map((line) => {
      // owner, TTL, class, type, then the RRSIG fields with the covered type first
      const fields = line.trim().split(/\s+/);
      if (fields[3] !== 'RRSIG' || fields[4] === 'DNSKEY') return line;
      const signature = Buffer.from(fields[fields.length - 1]!, 'base64');
      signature[0] = signature[0]! ^ 0x01;
      return [...fields.slice(0, -1), signature.toString('base64')].join('\t');
    })
    .join('\n');
}

/** The closest lab zone strictly enclosing `zone`. */
function parentZone(zone: LabZone, all: LabZone[]): LabZone | undefined {
  const name = fqdn(zone.name);
  return all
    .filter((other) => other !== zone && name.endsWith(`.${fqdn(other.name)}`))
    .sort((a, b) => b.name.length - a.name.length)[0];
}

function nsdConfig(dir: string, zones: LabZone[], keys: Map<string, ZoneKeys>): string {
  // nsd.conf(5): an empty database keeps zones in memory only; an empty username and chroot
  // keep it from dropping privileges or leaving the scratch directory.
  const zoneBlocks = zones.map((zone) => {
    const file = `${fqdn(zone.name)}zone${keys.has(zone.name) ? '.signed' : ''}`;
    return `zone:\n  name: "${fqdn(zone.name)}"\n  zonefile: "${join(dir, file)}"\n`;
  });
  return `server:
  ip-address: ${LAB_AUTHORITY_ADDRESS}
  port: ${DNS_PORT}
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "${dir}"
  database: ""
  zonelistfile: "${join(dir, 'zone.list')}"
  xfrdfile: "${join(dir, 'xfrd.state')}"
  xfrdir: "${dir}"
  pidfile: "${join(dir, 'nsd.pid')}"
  logfile: "${join(dir, 'nsd.log')}"
  verbosity: 1
remote-control:
  control-enable: no
${zoneBlocks.join('')}`;
}

function unboundConfig(dir: string, zones: LabZone[], trustAnchorFile: string | undefined): string {
  // unbound.conf(5). "test." is a locally served NXDOMAIN zone by default (RFC 6761 section 6.2);
  // nodefault lifts that. do-not-query-localhost must be off for a 127.x authority.
  const stubs = zones.map((zone) => `stub-zone:\n  name: "${fqdn(zone.name)}"\n  stub-addr: ${LAB_AUTHORITY_ADDRESS}\n`);
  const localZones = [...new Set(zones.map((zone) => topLabel(zone.name)))].map((label) => `  local-zone: "${label}." nodefault\n`);
  return `server:
  interface: ${LAB_RESOLVER_ADDRESS}
  port: ${DNS_PORT}
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "${dir}"
  pidfile: "${join(dir, 'unbound.pid')}"
  use-syslog: no
  logfile: ""
  verbosity: 1
  val-log-level: 2
  num-threads: 1
  do-ip6: no
  do-not-query-localhost: no
  access-control: 127.0.0.0/8 allow
  module-config: "validator iterator"
${trustAnchorFile !== undefined ? `  trust-anchor-file: "${trustAnchorFile}"\n` : ''}${localZones.join('')}remote-control:
  control-enable: no
${stubs.join('')}`;
}

function fqdn(name: string): string {
  return name.endsWith('.') ? name : `${name}.`;
}

function topLabel(name: string): string {
  return fqdn(name).split('.').slice(-2)[0] ?? name;
}

