/**
 * A federating Prosody 0.12 for the federation benchmark, as a child process inside the lab
 * namespace (https://prosody.im/doc/s2s): plain TCP clients (c2s_require_encryption = false), or
 * STARTTLS required of them when the run has client TLS on (load/tls-mode.ts; each host's certificate),
 * s2s with STARTTLS required (and direct TLS, XEP-0368, on its own port), certificates checked against the lab CA (SASL EXTERNAL through
 * mod_s2s_auth_certs when valid, else mod_dialback), DNS through the namespace's resolver, log
 * level warn. With `debianLimits`, mod_limits is loaded with Debian's default rates (c2s 10kb/s,
 * s2sin 30kb/s, as /etc/prosody/prosody.cfg.lua of the prosody package sets them). Hosts without a CA certificate get a self-signed one, so their links use
 * dialback. Accounts: `prosodyctl register` once per host, the rest copies of that file (a SCRAM
 * verifier does not depend on the username, RFC 5802 section 3).
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { selfSigned, writeCertificateFiles } from '../../test/support/lab/ca.ts';
import { benchTls } from '../load/tls-mode.ts';
import { startDaemon, waitForListener } from '../servers/daemon.ts';
import { C2S_PORT, S2S_DIRECT_TLS_PORT, S2S_PORT, type FederationHost, type FederationPeer, type FederationPeerOptions } from './peer.ts';

const run = promisify(execFile);
const MODULES = ['roster', 'saslauth', 'tls', 'dialback', 'disco', 'ping'];
/** mod_limits settings of Debian's prosody.cfg.lua (prosody 0.12.3-1+deb12u1) */
export const DEBIAN_LIMITS = { c2s: '10kb/s', s2sin: '30kb/s' };

export async function startProsodyPeer(options: FederationPeerOptions): Promise<FederationPeer> {
  const dir = await mkdtemp(join(tmpdir(), 'prosody-fed-bench-'));
  try {
    await mkdir(join(dir, 'data'), { mode: 0o700 });
    await mkdir(join(dir, 'certs'));
    const hosts = await Promise.all(options.hosts.map(async (host) => (host.certFile !== undefined ? host : { ...host, ...writeCertificateFiles(dir, host.domain, await selfSigned(host.domain)) })));
    // The direct TLS port picks certificates by SNI from the certificates directory, by host name.
    for (const host of hosts) {
      await copyFile(host.certFile!, join(dir, 'certs', `${host.domain}.crt`));
      await copyFile(host.keyFile!, join(dir, 'certs', `${host.domain}.key`));
    }
    const configFile = join(dir, 'prosody.cfg.lua');
    await writeFile(configFile, prosodyConfig(dir, options, hosts));
    await Promise.all(hosts.map((host) => registerUsers(dir, configFile, host, options.password)));
    const daemon = startDaemon(options.name, 'prosody', ['-F', '--config', configFile], { cwd: dir, outputFile: join(dir, 'prosody.out') });
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
      software: 'prosody',
      pid: daemon.pid,
      address: options.address,
      outputFile: join(dir, 'prosody.log'),
      async stop() {
        await daemon.stop();
        if (options.keepLogIn !== undefined) await copyFile(join(dir, 'prosody.log'), join(options.keepLogIn, `${options.name}.log`)).catch(() => {});
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

async function registerUsers(dir: string, configFile: string, host: FederationHost, password: string): Promise<void> {
  const [first, ...others] = host.usernames;
  if (first === undefined) return;
  await run('prosodyctl', ['--config', configFile, 'register', first, host.domain, password], { cwd: dir });
  // Prosody escapes the host directory's name: every character outside [a-z0-9] as %xx.
  const accounts = join(dir, 'data', host.domain.replace(/[^a-z0-9]/g, (char) => `%${char.charCodeAt(0).toString(16).padStart(2, '0')}`), 'accounts');
  const files = await readdir(accounts);
  if (!files.includes(`${first}.dat`)) throw new Error(`prosodyctl register did not create ${accounts}/${first}.dat`);
  for (const username of others) await copyFile(join(accounts, `${first}.dat`), join(accounts, `${username}.dat`));
}

function prosodyConfig(dir: string, options: FederationPeerOptions, hosts: FederationHost[]): string {
  const lua = (value: string) => JSON.stringify(value);
  const virtualHosts = hosts.map((host) => `VirtualHost ${lua(host.domain)}\n  ssl = { certificate = ${lua(host.certFile!)}, key = ${lua(host.keyFile!)} }\n`);
  return `-- Generated for one federation benchmark run.
run_as_root = true
pidfile = ${lua(join(dir, 'prosody.pid'))}
data_path = ${lua(join(dir, 'data'))}
certificates = ${lua(join(dir, 'certs'))}
log = { { levels = { min = ${lua(options.logLevel ?? 'warn')} }, to = "file", filename = ${lua(join(dir, 'prosody.log'))} } }
interfaces = { ${lua(options.address)} }
local_interfaces = { ${lua(options.address)} }
c2s_ports = { ${C2S_PORT} }
s2s_ports = { ${S2S_PORT} }
c2s_direct_tls_ports = { }
s2s_direct_tls_ports = { ${S2S_DIRECT_TLS_PORT} }
modules_enabled = { ${[...MODULES, ...(options.debianLimits ? ['limits'] : [])].map(lua).join(', ')} }
${options.debianLimits ? `limits = { c2s = { rate = ${lua(DEBIAN_LIMITS.c2s)} }; s2sin = { rate = ${lua(DEBIAN_LIMITS.s2sin)} } }` : ''}
authentication = "internal_hashed"
default_iteration_count = 4096
storage = "internal"
c2s_require_encryption = ${benchTls()}
s2s_require_encryption = true
s2s_secure_auth = false
ssl = { cafile = ${lua(options.caFile)} }
-- "test." is a locally served NXDOMAIN zone in libunbound (RFC 6761); let it through.
unbound = { options = { ["local-zone:"] = "test. transparent" } }
${virtualHosts.join('')}`;
}
