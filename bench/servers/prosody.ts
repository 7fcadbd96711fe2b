/**
 * Prosody from Debian as a child process (`prosody -F`, as root with run_as_root), with its
 * own configuration, data and log in a scratch directory, listening on one address only.
 * Installed with apt-get when missing. Configuration reference: https://prosody.im/doc/configure.
 *
 * Deltas from a stock Prosody 0.12 (each in `settings` of the result):
 * - c2s_require_encryption = false, no mod_tls: plain TCP, SCRAM offered without TLS (PLAIN is not);
 * - the modules matching Trellis's feature modules, and no others (no carbons, pep, smacks...);
 * - mod_limits not loaded: no c2s rate limit or shaping (Debian's sample configuration loads it
 *   with `limits = { c2s = { rate = "10kb/s" } }`);
 * - default_iteration_count = 4096 (PBKDF2 iterations of new SCRAM verifiers; default 10000);
 * - s2s and its port off (the benchmark is client traffic only; Trellis has no s2s listener);
 * - network_settings.tcp_backlog = 1024 (default 128; hundreds of clients connecting at once overflow it);
 * - log level warn, to a file.
 */
import { execFile, execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { benchCertificate, benchTls } from '../load/tls-mode.ts';
import { startDaemon, waitForListener } from './daemon.ts';
import { ensureProsodyInstalled } from './prosody-install.ts';
import type { ServerOptions, ServerUnderTest } from './server-under-test.ts';

const run = promisify(execFile);
/** Trellis's feature modules, by their Prosody counterparts; blocklist is the one on the message path. */
const MODULES = ['roster', 'saslauth', 'disco', 'ping', 'version', 'vcard', 'private', 'blocklist', 'register'];
const MODULES_DISABLED = ['s2s', 's2s_auth_certs'];

export async function startProsody(options: ServerOptions): Promise<ServerUnderTest> {
  await ensureProsodyInstalled();
  const dir = await mkdtemp(join(tmpdir(), 'prosody-bench-'));
  const configFile = join(dir, 'prosody.cfg.lua');
  try {
    await mkdir(join(dir, 'data'), { mode: 0o700 });
    // Prosody indexes a certificate directory on start even when TLS is not used.
    await mkdir(join(dir, 'certs'));
    await writeFile(configFile, prosodyConfig(dir, options));
    await registerUsers(dir, configFile, options);
    await writeRosters(dir, options);
    const daemon = startDaemon('prosody', 'prosody', ['-F', '--config', configFile], { cwd: dir, outputFile: join(dir, 'prosody.out') });
    try {
      await waitForListener(daemon, options.address, options.port);
    } catch (error) {
      await daemon.stop();
      throw error;
    }
    return {
      name: 'prosody',
      version: `Prosody ${debianVersion('prosody')} (Debian) on Lua ${debianVersion('lua5.4')}, network_backend epoll (the 0.12 default)`,
      pid: daemon.pid,
      settings: [
        `interfaces = { "${options.address}" }, c2s_ports = { ${options.port} }`,
        benchTls()
          ? 'mod_tls loaded, c2s_require_encryption = true, ssl = { certificate, key } the benchmark certificate (the clients offer TLS 1.3 and one suite only)'
          : 'c2s_require_encryption = false; mod_tls not loaded (SCRAM offered on plain TCP, PLAIN is not)',
        `modules_enabled = { ${MODULES.map((name) => `"${name}"`).join(', ')} } (presence, message, iq, c2s, offline load automatically; allow_registration stays false)`,
        `modules_disabled = { ${MODULES_DISABLED.map((name) => `"${name}"`).join(', ')} }; s2s_ports = { }`,
        'mod_limits not loaded: no c2s rate limit or traffic shaping',
        `authentication = "internal_hashed", default_iteration_count = ${options.scramIterations}`,
        'storage = "internal" in a fresh data_path',
        'network_settings = { tcp_backlog = 1024 } (default 128): room for hundreds of clients connecting at once',
        'log: warn and above, to a file',
        ...(options.muc ? [`Component "conference.${options.domain}" "muc" with its defaults (no occupant limit in 0.12; rooms locked until configured, history 20)`] : []),
      ],
      async stop() {
        await daemon.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * `prosodyctl register` creates the first account; the others get a copy of its account file.
 * A SCRAM verifier does not depend on the username (RFC 5802 section 3), so with one password
 * the copies are valid, and 1000 users take a moment instead of 1000 prosodyctl runs.
 */
async function registerUsers(dir: string, configFile: string, options: ServerOptions): Promise<void> {
  const [first, ...others] = options.usernames;
  if (first === undefined) return;
  await run('prosodyctl', ['--config', configFile, 'register', first, options.domain, options.password], { cwd: dir });
  // The only host directory (its name is the domain, escaped the way Prosody does).
  const [hostEntry] = await readdir(join(dir, 'data'));
  const hostDir = join(dir, 'data', hostEntry ?? '', 'accounts');
  const files = await readdir(hostDir);
  if (!files.includes(`${first}.dat`)) throw new Error(`prosodyctl register did not create ${hostDir}/${first}.dat (found: ${files.join(', ')})`);
  for (const username of others) {
    if (!/^[a-z0-9]+$/.test(username)) throw new Error(`benchmark usernames are lowercase letters and digits, not "${username}"`);
    await copyFile(join(hostDir, `${first}.dat`), join(hostDir, `${username}.dat`));
  }
}

/**
 * Rosters in Prosody's file storage (data/<host>/roster/<user>.dat, a Lua chunk returning the
 * roster table, read by core/rostermanager.lua): the `false` key holds the roster version and
 * pending requests, every other key a contact's bare JID with its subscription.
 */
async function writeRosters(dir: string, options: ServerOptions): Promise<void> {
  if (!options.rosters?.length) return;
  const [hostEntry] = await readdir(join(dir, 'data'));
  const rosterDir = join(dir, 'data', hostEntry ?? '', 'roster');
  await mkdir(rosterDir, { recursive: true });
  for (const { owner, contacts } of options.rosters) {
    const items = contacts.map((contact) => `  [${JSON.stringify(`${contact}@${options.domain}`)}] = { subscription = "both", groups = {} };\n`);
    await writeFile(join(rosterDir, `${owner}.dat`), `return {\n  [false] = { version = 1, pending = {} };\n${items.join('')}};\n`);
  }
}

function debianVersion(name: string): string | undefined {
  try {
    return execFileSync('dpkg-query', ['-W', '-f', '${Version}', name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

function prosodyConfig(dir: string, options: ServerOptions): string {
  const lua = (value: string) => JSON.stringify(value);
  const list = (values: string[]) => `{ ${values.map(lua).join(', ')} }`;
  return `-- Generated for one benchmark run.
run_as_root = true
pidfile = ${lua(join(dir, 'prosody.pid'))}
data_path = ${lua(join(dir, 'data'))}
certificates = ${lua(join(dir, 'certs'))}
log = { { levels = { min = "warn" }, to = "file", filename = ${lua(join(dir, 'prosody.log'))} } }
interfaces = { ${lua(options.address)} }
local_interfaces = { ${lua(options.address)} }
c2s_ports = { ${options.port} }
c2s_direct_tls_ports = { }
s2s_ports = { }
s2s_direct_tls_ports = { }
modules_enabled = ${list(benchTls() ? [...MODULES, 'tls'] : MODULES)}
modules_disabled = ${list(MODULES_DISABLED)}
authentication = "internal_hashed"
default_iteration_count = ${options.scramIterations}
storage = "internal"
c2s_require_encryption = ${benchTls()}
${tlsLua(options.domain)}network_settings = { tcp_backlog = 1024 }
VirtualHost ${lua(options.domain)}
${options.muc ? `Component ${lua(`conference.${options.domain}`)} "muc"\n` : ''}`;
}

/** The benchmark certificate when the run has TLS on (../load/tls-mode.ts). */
function tlsLua(domain: string): string {
  if (!benchTls()) return '';
  const { certificate, key } = benchCertificate(domain);
  return `ssl = { certificate = ${JSON.stringify(certificate)}, key = ${JSON.stringify(key)} }\n`;
}
