/**
 * Trellis as a child process (`bin/trellis start`) with a generated configuration:
 * a fresh data directory, one host, plain TCP clients allowed, SQLite, log level warn.
 * Accounts (and rosters, when asked) are written through the storage API before the server starts; they share one
 * verifier (same password, same salt), which costs one key derivation for any number of users.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeStoredCredentials } from '../../src/auth/scram.ts';
import { openStorage } from '../../src/storage/open.ts';
import { benchCertificate, benchTls } from '../load/tls-mode.ts';
import { startDaemon, waitForListener } from './daemon.ts';
import type { ServerOptions, ServerUnderTest } from './server-under-test.ts';

const REPO = join(import.meta.dirname, '..', '..');

export async function startTrellis(options: ServerOptions): Promise<ServerUnderTest> {
  const dir = await mkdtemp(join(tmpdir(), 'trellis-bench-'));
  const configFile = join(dir, 'trellis.yaml');
  const settings = [
    `listeners.c2s: ${options.address}:${options.port}; every other listener (direct TLS, s2s) off`,
    benchTls()
      ? 'c2s.require_tls: true (the default) with the benchmark certificate (tls: certificate, key); tls_settings.min_version: TLSv1.3'
      : 'c2s.require_tls: false (SCRAM offered on plain TCP; the clients never start TLS)',
    'c2s.sasl_mechanisms: [SCRAM-SHA-1, SCRAM-SHA-256]',
    `c2s.scram_iterations: ${options.scramIterations}`,
    'limits.c2s_per_address: 0, limits.c2s_unauthenticated: 0 (every client comes from the load generator\'s address and they log in at once)',
    'limits.max_open_files_percent: 100 (the default 90 refuses new clients at 18,000 descriptors of the 20,000 a process may open here; the scale run holds 19,000 sessions, and Prosody and ejabberd have no such guard)',
    'c2s.keepalive.interval: 0 (default 25 s: pings a silent client and drops it after 15 s more; the benchmark clients do not answer pings, and Prosody and ejabberd as configured here send none)',
    'c2s.rate lifted (Prosody runs these scenarios without mod_limits; bench/flood.ts measures the rates)',
    'log.level: warn',
    'storage: sqlite in a fresh data_dir',
    options.archive
      ? 'message archives on (the default): every message archived for its sender and its recipient'
      : 'modules_disabled: [mam] (Prosody and ejabberd run here without mod_mam; messaging --archive keeps the archive on)',
    ...(options.muc ? [`muc.max_occupants: ${options.muc.maxOccupants} (default 500); the service at conference.${options.domain} is on by default`] : []),
    `started by bin/trellis (Node options --max-semi-space-size=16 --heap-growing-percent=50)${process.env.TRELLIS_NODE_OPTIONS ? `, TRELLIS_NODE_OPTIONS=${process.env.TRELLIS_NODE_OPTIONS}` : ''}`,
  ];
  try {
    await writeFile(configFile, trellisYaml(dir, options));
    const storage = await openStorage({ driver: 'sqlite', sqlite_file: 'trellis.sqlite' }, dir);
    try {
      const credentials = makeStoredCredentials(options.password, options.scramIterations);
      for (const username of options.usernames) await storage.accounts.create(options.domain, username, credentials);
      for (const { owner, contacts } of options.rosters ?? []) {
        for (const contact of contacts) {
          await storage.rosters.setItem(options.domain, owner, { jid: `${contact}@${options.domain}`, subscription: 'both', askOut: false, askIn: false, approved: false, groups: [] });
        }
      }
    } finally {
      await storage.close();
    }
    const profiling = options.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`];
    return await launchTrellis(dir, configFile, options.address, options.port, settings, [...profiling, process.env.TRELLIS_NODE_OPTIONS ?? ''].join(' '));
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Runs bin/trellis (the launcher operators use, with its Node options) on a configuration file in
 * `dir`, waits for its client listener and returns it; stopping it removes `dir`.
 */
export async function launchTrellis(dir: string, configFile: string, address: string, port: number, settings: string[], nodeOptions = process.env.TRELLIS_NODE_OPTIONS ?? ''): Promise<ServerUnderTest> {
  const daemon = startDaemon('trellis', join(REPO, 'bin/trellis'), ['start', '--config', configFile], {
    cwd: dir,
    outputFile: join(dir, 'trellis.out'),
    env: { ...process.env, TRELLIS_NODE_OPTIONS: nodeOptions },
  });
  try {
    await waitForListener(daemon, address, port);
  } catch (error) {
    await daemon.stop();
    throw error;
  }
  const version = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')).version as string;
  return {
    name: 'trellis',
    version: `Trellis ${version} on Node ${process.version}`,
    pid: daemon.pid,
    settings,
    async stop() {
      await daemon.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function trellisYaml(dir: string, options: ServerOptions): string {
  return `# Generated for one benchmark run.
data_dir: ${JSON.stringify(dir)}
log: { level: warn }
listeners:
  c2s: { addresses: [${JSON.stringify(options.address)}], port: ${options.port} }
  c2s_direct_tls: { enabled: false }
  s2s: { enabled: false }
  s2s_direct_tls: { enabled: false }
http: { enabled: false }
storage: { driver: sqlite, sqlite_file: trellis.sqlite }
${tlsYaml(options.domain)}c2s:
  require_tls: ${benchTls()}
  sasl_mechanisms: [SCRAM-SHA-1, SCRAM-SHA-256]
  scram_iterations: ${options.scramIterations}
  keepalive: { interval: 0 }
  rate: { bytes_per_second: 1073741824, burst_bytes: 1073741824, stanzas_per_second: 10000000, burst_stanzas: 10000000 }
# Every benchmark client connects from the load generator's one address, and they log in at once.
# The scale run holds 19,000 sessions of the 20,000 descriptors a process may open.
limits: { c2s_per_address: 0, c2s_unauthenticated: 0, max_open_files_percent: 100 }
# The benchmark users write to each other without rosters: no limit on messages from strangers.
strangers: { max_messages: 0 }
${options.archive ? '' : '# As Prosody and ejabberd run here: without message archives.\nmodules_disabled: [mam]\n'}${options.muc ? `muc: { max_occupants: ${options.muc.maxOccupants} }\n` : ''}hosts:
  ${JSON.stringify(options.domain)}: {}
`;
}

/** The benchmark certificate and TLS 1.3 only, when the run has TLS on (../load/tls-mode.ts). */
function tlsYaml(domain: string): string {
  if (!benchTls()) return '';
  const { certificate, key } = benchCertificate(domain);
  return `tls: { certificate: ${JSON.stringify(certificate)}, key: ${JSON.stringify(key)} }\ntls_settings: { min_version: TLSv1.3 }\n`;
}
