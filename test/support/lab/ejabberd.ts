/**
 * A private ejabberd 23.01 inside the lab namespace, run straight from `erl` (ejabberd-erl.ts)
 * with no Erlang distribution at all: accounts are added and state is read over its HTTP API on
 * the lab address. Configuration reference: https://docs.ejabberd.im/admin/configuration/.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { prepareEjabberdErl } from './ejabberd-erl.ts';
import { makeScratchDir, removeScratchDir, startDaemon, tail, waitForListeners, type Daemon } from './process.ts';
import { C2S_PORT, S2S_PORT, type PeerOptions, type RunningPeer, type S2sConnection } from './peer.ts';

/** ejabberd_http with mod_http_api, reachable from 127.0.0.0/8 only */
const HTTP_API_PORT = 5280;

export async function startEjabberd(options: PeerOptions): Promise<RunningPeer> {
  const dir = makeScratchDir('ejabberd');
  const logDir = join(dir, 'log');
  const logFile = join(logDir, 'ejabberd.log');
  const configFile = join(dir, 'ejabberd.yml');
  mkdirSync(logDir);
  writeFileSync(configFile, ejabberdConfig(options));
  // inet configuration (ERTS "Inet Configuration"): resolve through the namespace's resolv.conf.
  const erl = prepareEjabberdErl({ dir, configFile, logFile, inetrc: ['{lookup, [file, dns]}', '{resolv_conf, "/etc/resolv.conf"}'] });

  let daemon: Daemon | undefined;
  const api = async (command: string, body: Record<string, string>) => {
    const response = await fetch(`http://${options.address}:${HTTP_API_PORT}/api/${command}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`ejabberd API ${command} failed with ${response.status}: ${text}\n${tail(logFile)}`);
    return text;
  };
  try {
    daemon = startDaemon('ejabberd', erl.command, erl.args, erl.options);
    await waitForListeners(daemon, [C2S_PORT, S2S_PORT, HTTP_API_PORT].map((port) => ({ address: options.address, port })), { logFile });
    for (const { user, domain, password } of options.users ?? []) await api('register', { user, host: domain, password });
  } catch (error) {
    await daemon?.stop();
    removeScratchDir(dir);
    throw error;
  }
  const running = daemon;
  return {
    name: 'ejabberd',
    address: options.address,
    logFile,
    s2sConnections: async () => parseS2sLog(readFileSync(logFile, 'utf8')),
    async stop() {
      await running.stop(10_000);
      removeScratchDir(dir);
    },
  };
}

/** `Accepted inbound/outbound s2s <mechanism> authentication <from> -> <to>` lines of the log. */
const ACCEPTED = /Accepted (inbound|outbound) s2s (\S+) authentication (\S+) -> (\S+)/;

/**
 * ejabberd has no command listing s2s connections with their authentication, so the lab reads
 * its info-level log: every accepted authentication is one connection.
 */
export function parseS2sLog(log: string): S2sConnection[] {
  const connections: S2sConnection[] = [];
  for (const line of log.split('\n')) {
    const match = ACCEPTED.exec(line);
    if (match === null) continue;
    const [, direction, mechanism, from, to] = match;
    const incoming = direction === 'inbound';
    connections.push({
      direction: incoming ? 'incoming' : 'outgoing',
      localDomain: incoming ? to! : from!,
      remoteDomain: incoming ? from! : to!,
      // The log names the socket kind of the connection: tls or tcp.
      encrypted: /\(tls\|/.test(line),
      authentication: mechanism!.toUpperCase() === 'EXTERNAL' ? 'sasl-external' : mechanism!.toLowerCase() === 'dialback' ? 'dialback' : 'none',
    });
  }
  return connections;
}

function ejabberdConfig(options: PeerOptions): string {
  const yaml = (value: string) => JSON.stringify(value);
  const certfiles = options.domains.flatMap(({ certFile, keyFile }) => [certFile, keyFile]);
  // Without mod_s2s_dialback the only way to authenticate a peer is SASL EXTERNAL with a valid
  // certificate, which is what s2s_secure_auth means for Prosody.
  const dialback = options.dialback !== false && options.s2sSecureAuth !== true;
  return `# Generated for one lab run.
hosts: [${options.domains.map(({ domain }) => yaml(domain)).join(', ')}]
loglevel: info
log_rotate_count: 0
hide_sensitive_log_data: false
certfiles: [${certfiles.map(yaml).join(', ')}]
ca_file: ${yaml(options.caFile)}
s2s_cafile: ${yaml(options.caFile)}
s2s_use_starttls: ${options.requireEncryption === false ? 'optional' : 'required'}
s2s_access: s2s
auth_method: internal
auth_password_format: scram
default_db: mnesia
listen:
  - port: ${C2S_PORT}
    ip: ${yaml(options.address)}
    module: ejabberd_c2s
    starttls_required: true
  - port: ${S2S_PORT}
    ip: ${yaml(options.address)}
    module: ejabberd_s2s_in
  - port: ${HTTP_API_PORT}
    ip: ${yaml(options.address)}
    module: ejabberd_http
    request_handlers:
      /api: mod_http_api
acl:
  loopback:
    ip: [127.0.0.0/8]
access_rules:
  s2s:
    allow: all
api_permissions:
  "lab administration":
    from: [mod_http_api]
    who:
      ip: 127.0.0.0/8
    what: ["*"]
modules:
  mod_disco: {}
  mod_http_api: {}
  mod_ping: {}
  mod_roster: {}
${dialback ? '  mod_s2s_dialback: {}\n' : ''}${options.muc === undefined ? '' : `  mod_muc:\n    hosts: [${yaml(options.muc)}]\n    access_create: all\n`}`;
}
