/**
 * A private Prosody 0.12 inside the lab namespace: its own config, data and log in a scratch
 * directory, in the foreground (`prosody -F`), listening on one address only.
 * Configuration reference: https://prosody.im/doc/configure and https://prosody.im/doc/s2s.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeScratchDir, removeScratchDir, startDaemon, waitForListeners } from './process.ts';
import { C2S_PORT, S2S_PORT, type PeerOptions, type RunningPeer, type S2sConnection } from './peer.ts';

const run = promisify(execFile);

/** Columns asked of `s2s:show` (mod_admin_shell), which prints them separated by "|". */
const S2S_COLUMNS = 'type dir host remote secure s2s_sasl smacks smacks_queue';

export interface ProsodyOptions extends PeerOptions {
  /**
   * DS/DNSKEY records for Prosody's own libunbound to validate with, so that lookups in the
   * lab's signed zones count as secure (as DANE needs); see LabDns.trustAnchorFile.
   */
  dnssecTrustAnchorFile?: string;
  /**
   * Load mod_smacks (XEP-0198), as Debian's default config does. On s2s it is on by default
   * (`smacks_enabled_s2s`) once a stream is authenticated: it offers `<sm/>` in the features after
   * SASL EXTERNAL and enables it on its outgoing streams when the features after authentication
   * offer it; a stream authenticated with dialback sees no features after authentication.
   */
  streamManagement?: boolean;
  /**
   * Load mod_s2s_bidi (XEP-0288; shipped with Prosody 0.12 itself): it offers bidi on incoming
   * streams and asks for it on outgoing ones, once encrypted. An incoming bidi stream then
   * carries Prosody's stanzas for the reverse of the stream's own pair only (its `to` -> `from`).
   */
  bidi?: boolean;
}

/** A running Prosody, which a test may also stop (SIGSTOP), continue or kill, as a link failure. */
export interface RunningProsody extends RunningPeer {
  signal(signal: 'SIGSTOP' | 'SIGCONT' | 'SIGKILL'): void;
}

export async function startProsody(options: ProsodyOptions): Promise<RunningProsody> {
  const dir = makeScratchDir('prosody');
  const configFile = join(dir, 'prosody.cfg.lua');
  const logFile = join(dir, 'prosody.log');
  mkdirSync(join(dir, 'data'), { mode: 0o700 });
  // Prosody indexes this directory for certificates even when every host names its own.
  mkdirSync(join(dir, 'certs'));
  writeFileSync(configFile, prosodyConfig(dir, logFile, options));
  const prosodyctl = (...args: string[]) => run('prosodyctl', ['--config', configFile, ...args], { cwd: dir });

  let daemon;
  try {
    // With file storage prosodyctl can add accounts before the server runs.
    await Promise.all((options.users ?? []).map(({ user, domain, password }) => prosodyctl('register', user, domain, password)));
    daemon = startDaemon('prosody', 'prosody', ['-F', '--config', configFile], { outputFile: join(dir, 'prosody.out'), cwd: dir });
    await waitForListeners(daemon, [
      { address: options.address, port: C2S_PORT },
      { address: options.address, port: S2S_PORT },
    ], { logFile });
  } catch (error) {
    await daemon?.stop();
    removeScratchDir(dir);
    throw error;
  }
  const running = daemon;
  const signal = (name: NodeJS.Signals) => {
    if (!running.hasExited()) process.kill(running.pid, name);
  };
  return {
    name: 'prosody',
    address: options.address,
    logFile,
    async s2sConnections() {
      const { stdout } = await prosodyctl('shell', `s2s:show(nil, "${S2S_COLUMNS}")`);
      return parseS2sShow(stdout);
    },
    signal,
    async stop() {
      // A stopped process would not act on SIGTERM.
      signal('SIGCONT');
      await running.stop();
      removeScratchDir(dir);
    },
  };
}

export function parseS2sShow(output: string): S2sConnection[] {
  const connections: S2sConnection[] = [];
  for (const line of output.split('\n')) {
    const cells = line.split('|').map((cell) => cell.trim());
    const [type, dir, host, remote, secure, sasl, smacks, smacksQueue] = cells;
    if (cells.length !== 8 || !type!.startsWith('s2s')) continue;
    // Unauthenticated sessions are typed s2sin_unauthed / s2sout_unauthed. An authenticated one
    // that did not use SASL EXTERNAL used dialback; only the originating side holds a dialback
    // key, so the "dialback" column says "Not used" on the receiving side.
    const authenticated = type === 's2sin' || type === 's2sout';
    connections.push({
      direction: dir === '<->' ? 'bidirectional' : dir === '-->' ? 'outgoing' : 'incoming',
      localDomain: host!,
      remoteDomain: remote!,
      encrypted: secure !== 'insecure',
      authentication: !authenticated ? 'none' : sasl === 'Succeeded' ? 'sasl-external' : 'dialback',
      // "yes" once enabled; the queue is what this side sent and the other did not acknowledge yet.
      ...(smacks === 'yes' ? { streamManagement: { unacknowledged: Number(smacksQueue || 0) } } : {}),
    });
  }
  return connections;
}

function prosodyConfig(dir: string, logFile: string, options: ProsodyOptions): string {
  const lua = (value: string) => JSON.stringify(value);
  const modules = ['roster', 'saslauth', 'tls', 'disco', 'ping', 'admin_shell'];
  if (options.dialback !== false) modules.push('dialback');
  if (options.streamManagement === true) modules.push('smacks');
  if (options.bidi === true) modules.push('s2s_bidi');
  const hosts = options.domains.map(({ domain, certFile, keyFile }) => `
VirtualHost ${lua(domain)}
  ssl = { certificate = ${lua(certFile)}, key = ${lua(keyFile)}, cafile = ${lua(options.caFile)} }
`);
  const [first] = options.domains;
  // A component has no certificate of its own unless given one; mod_muc creates rooms for anyone, local or not.
  const muc = options.muc === undefined || first === undefined ? '' : `
Component ${lua(options.muc)} "muc"
  ssl = { certificate = ${lua(first.certFile)}, key = ${lua(first.keyFile)}, cafile = ${lua(options.caFile)} }
`;
  return `-- Generated for one lab run.
run_as_root = true
pidfile = ${lua(join(dir, 'prosody.pid'))}
data_path = ${lua(join(dir, 'data'))}
certificates = ${lua(join(dir, 'certs'))}
log = { { levels = { min = "debug" }, to = "file", filename = ${lua(logFile)} } }
interfaces = { ${lua(options.address)} }
local_interfaces = { ${lua(options.address)} }
c2s_ports = { ${C2S_PORT} }
s2s_ports = { ${S2S_PORT} }
c2s_direct_tls_ports = { }
s2s_direct_tls_ports = { }
modules_enabled = { ${modules.map(lua).join(', ')} }
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = true
s2s_require_encryption = ${options.requireEncryption !== false}
s2s_secure_auth = ${options.s2sSecureAuth === true}
ssl = { cafile = ${lua(options.caFile)} }
-- "test." is a locally served NXDOMAIN zone in libunbound too (RFC 6761); let it through.
unbound = {
  options = { ["local-zone:"] = "test. transparent" },
${options.dnssecTrustAnchorFile === undefined ? '' : `  trustfile = ${lua(options.dnssecTrustAnchorFile)},\n`}}
${hosts.join('')}${muc}`;
}
