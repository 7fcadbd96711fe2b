/**
 * A federating ejabberd 23.01 (Debian) for the federation benchmark, run as root straight from
 * `erl` inside the lab namespace (test/support/lab/ejabberd-erl.ts). Settings, against ejabberd's
 * defaults (https://docs.ejabberd.im/admin/configuration/):
 * - c2s on plain TCP, `starttls: false` and `starttls_required: false` (SCRAM is offered without
 *   it), or both true when the run has client TLS on (load/tls-mode.ts; the host's certificate
 *   from `certfiles`);
 * - s2s: `s2s_use_starttls: required` on port 5269, and a second `ejabberd_s2s_in` listener with
 *   `tls: true` on 5270 for direct TLS (XEP-0368); outgoing links look up `_xmpps-server._tcp`
 *   and `_xmpp-server._tcp` SRV records and try the direct TLS targets first (xmpp_stream_out);
 * - `certfiles`: every host's certificate and key. ejabberd_pkix maps each DNS name in them to its
 *   file, and the certificate is picked by the stream's `to` after STARTTLS and by SNI on direct
 *   TLS. Hosts without a lab CA certificate get a self-signed one, so their links use dialback
 *   (mod_s2s_dialback, XEP-0220);
 * - `s2s_cafile` (and `ca_file`): the lab CA only, so SASL EXTERNAL (XEP-0178) succeeds only for a
 *   peer whose certificate is valid for its domain. ejabberd offers EXTERNAL on every TLS stream
 *   and checks the certificate on `<auth/>` (xmpp_stream_in); a refused peer goes on with
 *   dialback on the same stream, and so does ejabberd when a peer refuses it (mod_s2s_dialback).
 *   With mod_s2s_dialback loaded, ejabberd does not check the certificate of a server it connects
 *   to (its `s2s_out_tls_verify` hook says no for every domain its `access` rule allows);
 * - no rate limits: `shaper: none` on every listener (no `shaper_rules` at all, so none comes
 *   back after authentication), `max_fsm_queue` 1000000 on the listeners and globally (outgoing
 *   s2s queues take the global one; default 10000), listen backlog 1024 (default 5);
 * - `TCP_NODELAY` on outgoing s2s sockets: ejabberd_listener sets `{nodelay, true}` on the sockets
 *   it accepts, but xmpp_stream_out connects without it, so on a warm link a lone stanza waits for
 *   the peer's delayed ACK (about 40 ms on Linux). The kernel application's
 *   `inet_default_connect_options` (ERTS kernel(6)) adds it to every gen_tcp connect;
 * - DNS: SRV lookups through inet_res, told to ask the lab resolver by an inetrc; address lookups
 *   go through getaddrinfo and the namespace's resolv.conf, which names the same resolver;
 * - `loglevel` from the options, warning by default;
 * - accounts over mod_http_api's `register` command on the same address.
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSigned, writeCertificateFiles } from '../../test/support/lab/ca.ts';
import { erlangIpv4, prepareEjabberdErl } from '../../test/support/lab/ejabberd-erl.ts';
import { benchTls } from '../load/tls-mode.ts';
import { startDaemon, waitForListener } from '../servers/daemon.ts';
import { ensureDebianPackage } from '../servers/debian-package.ts';
import { callEjabberdApi, EJABBERD_API_PORT, ejabberdApiConfig, LISTEN_BACKLOG, MAX_FSM_QUEUE } from '../servers/ejabberd.ts';
import { C2S_PORT, S2S_DIRECT_TLS_PORT, S2S_PORT, type FederationHost, type FederationPeer, type FederationPeerOptions } from './peer.ts';

const MODULES = ['mod_roster', 'mod_disco', 'mod_ping', 'mod_s2s_dialback', 'mod_http_api'];
/** ejabberd's names for the benchmark's log levels */
const LOG_LEVELS = { warn: 'warning', info: 'info', debug: 'debug' } as const;
/** Mnesia and a few dozen hosts' modules take a while to start on a busy machine. */
const START_TIMEOUT_MS = 60_000;
/** see the file comment: Nagle's algorithm off on the connections ejabberd opens */
const ERL_FLAGS = ['-kernel', 'inet_default_connect_options', '[{nodelay,true}]'];

export async function startEjabberdPeer(options: FederationPeerOptions): Promise<FederationPeer> {
  await ensureDebianPackage('ejabberd', ['erl', 'ejabberdctl']);
  if (process.getuid?.() !== 0) throw new Error('the ejabberd peer runs ejabberd as root from erl; run the benchmark as root');
  const dir = await mkdtemp(join(tmpdir(), 'ejabberd-fed-bench-'));
  const logFile = join(dir, 'ejabberd.log');
  try {
    await mkdir(join(dir, 'certs'));
    const hosts = await Promise.all(
      options.hosts.map(async (host) => (host.certFile !== undefined ? host : { ...host, ...writeCertificateFiles(join(dir, 'certs'), host.domain, await selfSigned(host.domain)) })),
    );
    const configFile = join(dir, 'ejabberd.yml');
    await writeFile(configFile, ejabberdConfig(options, hosts));
    const erl = prepareEjabberdErl({ dir, configFile, logFile, erlFlags: ERL_FLAGS, inetrc: [`{nameserver, ${erlangIpv4(options.resolver)}, 53}`] });
    const daemon = startDaemon(options.name, erl.command, erl.args, erl.options);
    try {
      for (const port of [C2S_PORT, S2S_PORT, S2S_DIRECT_TLS_PORT, EJABBERD_API_PORT]) await waitForListener(daemon, options.address, port, START_TIMEOUT_MS);
      await callEjabberdApi(options.address, 'register', options.hosts.flatMap((host) => host.usernames.map((user) => ({ user, host: host.domain, password: options.password }))));
    } catch (error) {
      await daemon.stop();
      throw error;
    }
    return {
      name: options.name,
      software: 'ejabberd',
      pid: daemon.pid,
      address: options.address,
      outputFile: logFile,
      async stop() {
        await daemon.stop();
        if (options.keepLogIn !== undefined) await copyFile(logFile, join(options.keepLogIn, `${options.name}.log`)).catch(() => {});
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

function ejabberdConfig(options: FederationPeerOptions, hosts: FederationHost[]): string {
  const yaml = (value: string) => JSON.stringify(value);
  const certfiles = [...new Set(hosts.flatMap((host) => [host.certFile!, host.keyFile!]))];
  const api = ejabberdApiConfig(options.address, ['register']);
  const unlimited = `    shaper: none\n    max_fsm_queue: ${MAX_FSM_QUEUE}\n    backlog: ${LISTEN_BACKLOG}`;
  return `# Generated for one federation benchmark run.
hosts: [${hosts.map((host) => yaml(host.domain)).join(', ')}]
loglevel: ${LOG_LEVELS[options.logLevel ?? 'warn']}
log_rotate_count: 0
hide_sensitive_log_data: false
certfiles: [${certfiles.map(yaml).join(', ')}]
ca_file: ${yaml(options.caFile)}
s2s_cafile: ${yaml(options.caFile)}
s2s_use_starttls: required
auth_method: internal
auth_password_format: scram
default_db: mnesia
max_fsm_queue: ${MAX_FSM_QUEUE}
listen:
  - port: ${C2S_PORT}
    ip: ${yaml(options.address)}
    module: ejabberd_c2s
    starttls: ${benchTls()}
    starttls_required: ${benchTls()}
${unlimited}
  - port: ${S2S_PORT}
    ip: ${yaml(options.address)}
    module: ejabberd_s2s_in
${unlimited}
  - port: ${S2S_DIRECT_TLS_PORT}
    ip: ${yaml(options.address)}
    module: ejabberd_s2s_in
    tls: true
${unlimited}
${api.listener}
${api.permissions}
modules:
${MODULES.map((name) => `  ${name}: {}`).join('\n')}
`;
}
