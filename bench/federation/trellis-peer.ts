/**
 * A federating Trellis for the federation benchmark, as a child process inside the lab
 * namespace: c2s on plain TCP, or requiring STARTTLS when the run has client TLS on
 * (load/tls-mode.ts; each host's certificate), s2s with STARTTLS on
 * port 5269 and direct TLS (XEP-0368) on 5270, peers' certificates checked against the lab CA only, the lab resolver for DNS.
 * Hosts with a certificate file authenticate with SASL EXTERNAL (XEP-0178); hosts without one
 * get Trellis's generated self-signed certificate, so their links fall back to dialback
 * (XEP-0220) over TLS. Accounts are written through the storage API before it starts.
 */
import { benchTls } from '../load/tls-mode.ts';
import { startTrellisProcess } from './trellis-process.ts';
import { C2S_PORT, S2S_DIRECT_TLS_PORT, S2S_PORT, type FederationPeer, type FederationPeerOptions } from './peer.ts';

export function startTrellisPeer(options: FederationPeerOptions): Promise<FederationPeer> {
  return startTrellisProcess({
    name: options.name,
    address: options.address,
    ports: [C2S_PORT, S2S_PORT, S2S_DIRECT_TLS_PORT],
    yaml: (dir) => trellisYaml(dir, options),
    accounts: options.hosts,
    password: options.password,
    keepLogIn: options.keepLogIn,
  });
}

function trellisYaml(dir: string, options: FederationPeerOptions): string {
  const hosts = options.hosts.map((host) =>
    host.certFile === undefined
      ? `  ${JSON.stringify(host.domain)}: {}`
      : `  ${JSON.stringify(host.domain)}:\n    tls: { certificate: ${JSON.stringify(host.certFile)}, key: ${JSON.stringify(host.keyFile)} }`,
  );
  // Throughput runs lift the read rates, as Prosody runs them without mod_limits; the flood
  // scenario keeps every server's defaults (FederationPeerOptions.debianLimits).
  const lifted = '  rate: { bytes_per_second: 1073741824, burst_bytes: 1073741824, stanzas_per_second: 10000000, burst_stanzas: 10000000 }';
  const rate = options.debianLimits ? '' : `\n${lifted}`;
  return `# Generated for one federation benchmark run.
data_dir: ${JSON.stringify(dir)}
log: { level: ${options.logLevel ?? 'warn'} }
listeners:
  c2s: { addresses: [${JSON.stringify(options.address)}], port: ${C2S_PORT} }
  c2s_direct_tls: { enabled: false }
  s2s: { addresses: [${JSON.stringify(options.address)}], port: ${S2S_PORT} }
  s2s_direct_tls: { enabled: true, addresses: [${JSON.stringify(options.address)}], port: ${S2S_DIRECT_TLS_PORT} }
http: { enabled: false }
storage: { driver: sqlite, sqlite_file: trellis.sqlite }
c2s:
  require_tls: ${benchTls()}
  sasl_mechanisms: [SCRAM-SHA-1, SCRAM-SHA-256]
  scram_iterations: 4096${rate}
# Every benchmark client connects from the load generator's one address, and they log in at once.
limits: { c2s_per_address: 0, c2s_unauthenticated: 0 }
# The benchmark users write to each other without rosters: no limit on messages from strangers.
strangers: { max_messages: 0 }
# As the Prosody and ejabberd peers run here: without message archives (XEP-0313).
modules_disabled: [mam]
s2s:
  min_level: encrypted${rate}
  ca_files: [${JSON.stringify(options.caFile)}]
  use_system_ca: false
dns: { servers: [${JSON.stringify(options.resolver)}] }
hosts:
${hosts.join('\n')}
`;
}
