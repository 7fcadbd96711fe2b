/**
 * A federating Trellis for the federation benchmark, as a child process inside the lab
 * namespace: c2s on plain TCP (the benchmark clients never start TLS), s2s with STARTTLS on
 * port 5269 and direct TLS (XEP-0368) on 5270, peers' certificates checked against the lab CA only, the lab resolver for DNS.
 * Hosts with a certificate file authenticate with SASL EXTERNAL (XEP-0178); hosts without one
 * get Trellis's generated self-signed certificate, so their links fall back to dialback
 * (XEP-0220) over TLS. Accounts are written through the storage API before it starts.
 */
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeStoredCredentials } from '../../src/auth/scram.ts';
import { openStorage } from '../../src/storage/open.ts';
import { startDaemon, waitForListener } from '../servers/daemon.ts';
import { C2S_PORT, S2S_DIRECT_TLS_PORT, S2S_PORT, type FederationPeer, type FederationPeerOptions } from './peer.ts';

const REPO = join(import.meta.dirname, '..', '..');

export async function startTrellisPeer(options: FederationPeerOptions): Promise<FederationPeer> {
  const dir = await mkdtemp(join(tmpdir(), 'trellis-fed-bench-'));
  try {
    const configFile = join(dir, 'trellis.yaml');
    await writeFile(configFile, trellisYaml(dir, options));
    const storage = await openStorage({ driver: 'sqlite', sqlite_file: 'trellis.sqlite' }, dir);
    try {
      const credentials = makeStoredCredentials(options.password, 4096);
      for (const host of options.hosts) for (const username of host.usernames) await storage.accounts.create(host.domain, username, credentials);
    } finally {
      await storage.close();
    }
    const daemon = startDaemon(options.name, join(REPO, 'bin/trellis'), ['start', '--config', configFile], { cwd: dir, outputFile: join(dir, 'trellis.out') });
    try {
      await waitForListener(daemon, options.address, C2S_PORT);
      await waitForListener(daemon, options.address, S2S_PORT);
      await waitForListener(daemon, options.address, S2S_DIRECT_TLS_PORT);
    } catch (error) {
      await daemon.stop();
      throw error;
    }
    return {
      name: options.name,
      software: 'trellis',
      pid: daemon.pid,
      address: options.address,
      outputFile: daemon.outputFile,
      async stop() {
        await daemon.stop();
        if (options.keepLogIn !== undefined) await copyFile(daemon.outputFile, join(options.keepLogIn, `${options.name}.log`)).catch(() => {});
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
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
  require_tls: false
  sasl_mechanisms: [SCRAM-SHA-1, SCRAM-SHA-256]
  scram_iterations: 4096${rate}
# Every benchmark client connects from the load generator's one address, and they log in at once.
limits: { c2s_per_address: 0, c2s_unauthenticated: 0 }
# The benchmark users write to each other without rosters: no limit on messages from strangers.
strangers: { max_messages: 0 }
s2s:
  min_level: encrypted${rate}
  ca_files: [${JSON.stringify(options.caFile)}]
  use_system_ca: false
dns: { servers: [${JSON.stringify(options.resolver)}] }
hosts:
${hosts.join('\n')}
`;
}
