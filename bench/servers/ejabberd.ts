/**
 * ejabberd from Debian as a child process, run as root straight from `erl` with no Erlang
 * distribution, its own configuration, Mnesia spool and log in a scratch directory
 * (test/support/lab/ejabberd-erl.ts). Accounts are created over its HTTP API on the benchmark
 * address. Installed with apt-get when missing.
 * Configuration reference: https://docs.ejabberd.im/admin/configuration/.
 *
 * Deltas from Debian's /etc/ejabberd/ejabberd.yml (each in `settings` of the result):
 * - one c2s listener on the benchmark address, `starttls: false`, `starttls_required: false`
 *   (plain TCP; SCRAM is offered without TLS), `shaper: none` (Debian shapes every client to
 *   3000 bytes/s), `max_fsm_queue: 1000000` (default 10000 stanzas queued per session),
 *   `backlog: 1024` (default 5, which overflows when hundreds of clients connect at once);
 * - `shaper_rules: c2s_shaper: none` for all, so no rule brings the shaper back;
 * - the modules matching Trellis's feature modules (mod_privacy because mod_blocking needs it,
 *   mod_http_api to create accounts), no others (no carbons, pubsub, stream management, MAM);
 * - no s2s listener, no TLS certificates, log level warning.
 * SCRAM iterations are not configurable in ejabberd 23.01: its verifiers use 4096, like the others.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareEjabberdErl } from '../../test/support/lab/ejabberd-erl.ts';
import { ensureDebianPackage, debianVersion } from './debian-package.ts';
import { benchCertificate, benchTls } from '../load/tls-mode.ts';
import { startDaemon, waitForListener } from './daemon.ts';
import type { ServerOptions, ServerUnderTest } from './server-under-test.ts';

/** mod_http_api, on the benchmark address only */
export const EJABBERD_API_PORT = 52280;
/** stanzas queued per session before ejabberd closes it; its default is 10000 */
export const MAX_FSM_QUEUE = 1_000_000;
/** ejabberd's listeners accept with a backlog of 5 by default, which drops connections when hundreds log in at once */
export const LISTEN_BACKLOG = 1024;
const MODULES = ['mod_roster', 'mod_disco', 'mod_ping', 'mod_version', 'mod_vcard', 'mod_private', 'mod_privacy', 'mod_blocking', 'mod_offline', 'mod_register', 'mod_http_api'];
/** registrations in flight over the HTTP API */
const REGISTER_CONCURRENCY = 16;

export async function startEjabberd(options: ServerOptions): Promise<ServerUnderTest> {
  await ensureDebianPackage('ejabberd', ['erl', 'ejabberdctl']);
  if (process.getuid?.() !== 0) throw new Error('the ejabberd benchmark runs ejabberd as root from erl; run it as root');
  const dir = await mkdtemp(join(tmpdir(), 'ejabberd-bench-'));
  const configFile = join(dir, 'ejabberd.yml');
  const logFile = join(dir, 'ejabberd.log');
  try {
    await writeFile(configFile, ejabberdConfig(options));
    // +K/+A are the defaults of OTP 25; +Q raises the port (socket) limit above any session count here.
    const erl = prepareEjabberdErl({ dir, configFile, logFile, erlFlags: ['+Q', '262144'] });
    const daemon = startDaemon('ejabberd', erl.command, erl.args, erl.options);
    try {
      await waitForListener(daemon, options.address, options.port, 60_000);
      await waitForListener(daemon, options.address, EJABBERD_API_PORT, 60_000);
      await registerUsers(options);
      await addRosterItems(options);
    } catch (error) {
      await daemon.stop();
      throw error;
    }
    return {
      name: 'ejabberd',
      version: `ejabberd ${debianVersion('ejabberd')} (Debian) on Erlang/OTP ${otpRelease()} (erlang-base ${debianVersion('erlang-base')})`,
      pid: daemon.pid,
      settings: [
        benchTls()
          ? `listen: ejabberd_c2s on ${options.address}:${options.port}, starttls: true, starttls_required: true; certfiles: the benchmark certificate and key (the clients offer TLS 1.3 and one suite only)`
          : `listen: ejabberd_c2s on ${options.address}:${options.port}, starttls: false, starttls_required: false (SCRAM offered on plain TCP)`,
        `listener backlog: ${LISTEN_BACKLOG} (default 5: logins hundreds at a time overflow it); listener shaper: none and shaper_rules c2s_shaper: none (Debian's file shapes clients to 3000 B/s); max_fsm_queue: ${MAX_FSM_QUEUE} (listener and global)`,
        `modules: ${MODULES.join(', ')} (mod_privacy is required by mod_blocking; mod_http_api creates the accounts)`,
        'auth_method: internal, auth_password_format: scram (SHA-1, 4096 iterations: fixed in 23.01)',
        'default_db: mnesia in a fresh spool; no s2s listener, no certificates; loglevel: warning',
        `erl +Q 262144 (ports), run as root with no distribution; accounts via mod_http_api "register", ${REGISTER_CONCURRENCY} in flight`,
        ...(options.muc ? [`mod_muc on conference.${options.domain}: max_users and max_users_presence ${options.muc.maxOccupants} (defaults 200 and 1000), default_room_options max_users ${options.muc.maxOccupants}, access_create all`] : []),
        ...(options.rosters?.length ? [`rosters: mod_admin_extra loaded for its "add_rosteritem" API command (subscription both), ${REGISTER_CONCURRENCY} in flight, before any client connects`] : []),
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

function registerUsers(options: ServerOptions): Promise<void> {
  return callEjabberdApi(options.address, 'register', options.usernames.map((user) => ({ user, host: options.domain, password: options.password })));
}

/** Each roster item, subscription both, through mod_admin_extra's add_rosteritem (API version 0 of 23.01: one group string). */
function addRosterItems(options: ServerOptions): Promise<void> {
  const items = (options.rosters ?? []).flatMap(({ owner, contacts }) =>
    contacts.map((contact) => ({ localuser: owner, localhost: options.domain, user: contact, host: options.domain, nick: '', group: '', subs: 'both' })),
  );
  return callEjabberdApi(options.address, 'add_rosteritem', items);
}

/**
 * POSTs one mod_http_api command per argument set to the API listener on `address`,
 * REGISTER_CONCURRENCY at a time; any failure stops the start.
 */
export async function callEjabberdApi(address: string, command: string, bodies: Record<string, string>[]): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < bodies.length) {
      const body = bodies[next++]!;
      const response = await fetch(`http://${address}:${EJABBERD_API_PORT}/api/${command}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`ejabberd API ${command} ${JSON.stringify(body)} failed with ${response.status}: ${text}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(REGISTER_CONCURRENCY, bodies.length) }, worker));
}

function otpRelease(): string | undefined {
  try {
    return execFileSync('erl', ['-noshell', '-eval', 'io:put_chars(erlang:system_info(otp_release)), halt().'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function ejabberdConfig(options: ServerOptions): string {
  const yaml = (value: string) => JSON.stringify(value);
  const api = ejabberdApiConfig(options.address, ['register', ...(options.rosters?.length ? ['add_rosteritem'] : [])]);
  return `# Generated for one benchmark run.
hosts: [${yaml(options.domain)}]
loglevel: warning
log_rotate_count: 0
auth_method: internal
auth_password_format: scram
default_db: mnesia
${benchTls() ? certfilesYaml(options.domain) : ''}max_fsm_queue: ${MAX_FSM_QUEUE}
shaper_rules:
  c2s_shaper: none
listen:
  - port: ${options.port}
    ip: ${yaml(options.address)}
    module: ejabberd_c2s
    starttls: ${benchTls()}
    starttls_required: ${benchTls()}
    shaper: none
    backlog: ${LISTEN_BACKLOG}
    max_fsm_queue: ${MAX_FSM_QUEUE}
${api.listener}
${api.permissions}
modules:
${[...MODULES, ...(options.rosters?.length ? ['mod_admin_extra'] : [])].map((name) => `  ${name}: {}`).join('\n')}
${options.muc ? mucModule(options.domain, options.muc.maxOccupants) : ''}`;
}

/** mod_muc at conference.<domain>, with room for `maxOccupants` in a room and their presence broadcast to all. */
function mucModule(domain: string, maxOccupants: number): string {
  return `  mod_muc:
    hosts: [${JSON.stringify(`conference.${domain}`)}]
    access_create: all
    max_users: ${maxOccupants}
    max_users_presence: ${maxOccupants}
    default_room_options:
      max_users: ${maxOccupants}
`;
}

/**
 * YAML for mod_http_api: its ejabberd_http listener on `address`, EJABBERD_API_PORT (an entry of
 * `listen:`), and the top-level `api_permissions` that let 127.0.0.0/8 call `commands`
 * (https://docs.ejabberd.im/developer/ejabberd-api/permissions/).
 */
export function ejabberdApiConfig(address: string, commands: string[]): { listener: string; permissions: string } {
  return {
    listener: `  - port: ${EJABBERD_API_PORT}
    ip: ${JSON.stringify(address)}
    module: ejabberd_http
    request_handlers:
      /api: mod_http_api`,
    permissions: `api_permissions:
  "benchmark accounts":
    from: [mod_http_api]
    who:
      ip: 127.0.0.0/8
    what: [${commands.map((command) => JSON.stringify(command)).join(', ')}]`,
  };
}

/** The benchmark certificate and key (../load/tls-mode.ts). */
function certfilesYaml(domain: string): string {
  const { certificate, key } = benchCertificate(domain);
  return `certfiles:\n  - ${JSON.stringify(certificate)}\n  - ${JSON.stringify(key)}\n`;
}
