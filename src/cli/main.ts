/**
 * `trellis`: start the server and manage accounts.
 *   trellis start [--config FILE]
 *   trellis reload [--config FILE]
 *   trellis adduser JID [--password PW]     (else read from the terminal or stdin)
 *   trellis passwd JID [--password PW]
 *   trellis deluser JID
 *   trellis invite DOMAIN|JID [--expires DAYS]
 *   trellis invites list [DOMAIN] | trellis invites revoke TOKEN
 *   trellis users list [DOMAIN]
 *   trellis import PATH... [--host DOMAIN] [--skip-existing] [--dry-run] [--max-element-bytes N]
 *   trellis export DIR [--host DOMAIN]
 *   trellis sessions [list] [--json] | sessions kick JID [--reason R]
 *   trellis check [config|certs|dns] [--config FILE]
 *   trellis status [--json] [--config FILE]
 *   trellis s2s [list] [--json] [--config FILE]
 *   trellis s2s close ID [--config FILE]
 *   trellis s2s revoke LOCAL REMOTE [--config FILE]
 *   trellis s2s block DOMAIN [--reason R] | unblock DOMAIN | blocked [--json]
 *   trellis ban ADDRESS[/PREFIX] [--reason R] | ban list [--json]
 *   trellis unban ADDRESS[/PREFIX]
 *   trellis posh [DOMAIN] [--expires SECONDS] [--reference URL] [--config FILE]
 *   trellis policy explain --from A --to B [--stanza FILE] [--config FILE]
 *   trellis audit [--since T] [--rule PREFIX] [--verdict V] [--limit N] [--json] | audit alerts [--json]
 *   trellis compliance JID [--password PW] [--json] [--config FILE]
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/load.ts';
import { createLogger } from '../util/log.ts';
import { settleHeapWhenQuiet } from '../util/settle-heap.ts';
import { resumeOptimizingCompilers } from '../util/optimizing-compilers.ts';
import { startServer } from '../server.ts';
import { loadCliConfig } from './config.ts';
import { inspectPidFile, pidFilePath, removePidFile, removeStalePidFile, writePidFile } from './pid-file.ts';

// The other commands' modules are imported when their command runs, so that a running server
// does not keep them (and what they import) in memory (docs/performance.md, "Memory at start").

const USAGE = `Usage: trellis <command> [options]

Commands:
  start                  run the server
  reload                 make the running server re-read its configuration file (hosts added,
                         removed or changed take effect without a restart; same as SIGHUP)
  adduser JID            create an account (asks for the password, or --password)
  passwd JID             set an account's password
  deluser JID            delete an account and everything stored for it; its live sessions end
                         with <not-authorized/> (through the running server when one answers)
  invite DOMAIN|JID      an invitation to register one account there (the JID's username, or any),
                         printed as the xmpp: URI to hand out (and its web page); good for
                         registration.invite_days, or --expires DAYS (docs/admin-commands.md)
  invites list [DOMAIN]  the invitations still good (administrators' and accounts'), one a line:
                         token, domain, what it does, until when
  invites revoke TOKEN   withdraws an invitation, named by its token, its xmpp: link or its page
  users list [DOMAIN]    the accounts of every hosted domain, or of one, one JID a line
  import PATH...         accounts with their passwords or SCRAM keys, rosters, vCards, private XML
                         and offline messages from XEP-0227 files (ejabberdctl export_piefxis,
                         prosody-migrator, trellis export): each PATH a file or a directory of them;
                         refused before anything is written when a file is not valid or an account
                         exists (--skip-existing leaves those as they are); --dry-run only checks;
                         --host DOMAIN imports one host (docs/migrating.md)
  export DIR             the same data of every hosted domain (or --host DOMAIN) into a new
                         directory: DIR/server-data.xml and one file per host
  sessions [list]        the running server's client sessions: JID, address, TLS, since, idle
  sessions kick JID      end a session (user@domain/resource) or all of an account's
                         (user@domain) with <policy-violation/>; --reason R is its text
  check [PART]           what is wrong with this installation; exit code 1 on errors (for monitoring):
    check config         the configuration file, and the certificate files it names
    check certs          each host's certificate: names (domain, service subdomains), key, chain,
                         expiry (warning 14 days ahead), key usage
    check dns            each host's client and server SRV records (STARTTLS, direct TLS), addresses,
                         DNSSEC, POSH, and what a remote server will conclude
  status                 the running server: version, uptime, hosts, listeners, connection counts
  s2s [list]             the running server's server-to-server connections, one per line: id,
                         direction, remote domain, host and address, TLS, certificate,
                         authentication, federation level, names proven, domain pairs carried,
                         idle time; then each domain pair with the connections that carry it
                         and how each proved it (docs/admin.md)
  s2s close ID           close one server connection; a unique prefix of its id is enough
  s2s revoke LOCAL REMOTE
                         stop accepting stanzas from REMOTE to LOCAL on the connections where
                         its server asked for pairs one by one; its other pairs keep flowing
  s2s block DOMAIN       refuse federation with a remote domain both ways, close its connections
                         and bounce stanzas to it (kept across restarts; --reason R is shown)
  s2s unblock DOMAIN     lift a block
  s2s blocked            the blocked domains
  ban ADDRESS[/PREFIX]   refuse client and server connections from an address or CIDR range and
                         close those open now (kept across restarts; --reason R is shown)
  ban list               the banned addresses and ranges
  unban ADDRESS[/PREFIX] lift a ban
  posh [DOMAIN]          the POSH documents (RFC 7711) to publish for each hosted domain, or one:
                         the fingerprints of the certificate it presents and the URL to publish
                         them at; --reference URL prints one fingerprints document to publish at
                         URL and, for each domain, a reference to it (docs/federation.md)
  policy explain --from A --to B [--stanza FILE]
                         what the configuration's peering policy decides for stanzas from A to B
                         (JIDs or domains, one of them hosted here): the route, the connection,
                         the level required, each with the key of the rule that decides; with
                         --stanza, each check on the stanza in FILE and what would cross
                         (docs/peering.md)
  audit                  the peering rules' audit trail, newest first: refusals (and folding,
                         with s2s.peering_audit.record_actions); --since T, --rule PREFIX,
                         --verdict refuse|drop|transform, --limit N (default 100)
  audit alerts           the alerts (refusals) since the server started, at most the last 100
  compliance JID         log in to the running server as JID (an existing account) and check it
                         against the XEP-0479 Advanced Server level for Core, IM and Mobile: one
                         row per requirement with what was seen; exit code 1 when one is not met
                         (docs/compliance.md)

  reload, status, sessions, s2s, ban, unban and audit ask the running server through its admin API socket (admin.socket, by default
  <data_dir>/admin.sock); they fail with exit code 1 when no server answers there.

Options:
  -c, --config FILE      configuration file (default: ./trellis.yaml, else built-in defaults)
  -p, --password PW      password for adduser/passwd/compliance (else asked on the terminal or read from stdin)
  -r, --reason R         ban and s2s block: why, shown in lists and in what refused peers are told;
                         sessions kick: the text of the stream error
      --host DOMAIN      import, export: one hosted domain only
      --skip-existing    import: leave accounts that exist here as they are and import the others
      --dry-run          import: check the files and say what would be imported, writing nothing
      --max-element-bytes N
                         import: the largest user (or host written inline) read at once
                         (default 67108864)
      --json             status, sessions, s2s, ban list, s2s blocked, audit, compliance: print the admin API's JSON instead of a table
      --expires N        posh: seconds other servers may keep the documents (default 604800, a week);
                         invite: days the invitation stays good (default registration.invite_days)
      --reference URL    posh: publish the fingerprints once at this https URL and refer to it
      --from A, --to B   policy explain: the sender's and the recipient's JID or domain
      --stanza FILE      policy explain: a file with one stanza to judge
      --since T          audit: records from this time on (2026-01-31T12:00:00Z)
      --rule PREFIX      audit: records of rules whose key path starts with PREFIX
      --verdict V        audit: refuse, drop or transform
      --limit N          audit: at most N records (1 to 1000)
  -h, --help             show this help

Examples:
  trellis start
  trellis adduser alice@localhost
  trellis check config --config /etc/trellis/trellis.yaml
  trellis import /var/backups/ejabberd/20260101-120000.xml --dry-run
  trellis export /var/backups/trellis-accounts
  trellis s2s --config /etc/trellis/trellis.yaml
  trellis s2s close 3f2a
  trellis s2s revoke example.com spam.example
  trellis ban 203.0.113.0/24 --reason "password guessing"
  trellis s2s block spam.example
  trellis posh example.com --expires 86400
  trellis policy explain --from alice@example.com --to partner.example
  trellis audit --rule 's2s.peering["partner.example"]' --limit 20
`;

/** the commands `main` knows (its switch below) */
const COMMANDS = new Set(['start', 'reload', 'adduser', 'passwd', 'deluser', 'invite', 'invites', 'users', 'import', 'export', 'sessions', 'check', 'status', 's2s', 'ban', 'unban', 'posh', 'policy', 'audit', 'compliance']);

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      password: { type: 'string', short: 'p' },
      help: { type: 'boolean', short: 'h' },
      json: { type: 'boolean' },
      reason: { type: 'string', short: 'r' },
      expires: { type: 'string' },
      reference: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      stanza: { type: 'string' },
      since: { type: 'string' },
      rule: { type: 'string' },
      verdict: { type: 'string' },
      limit: { type: 'string' },
      host: { type: 'string' },
      'skip-existing': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      'max-element-bytes': { type: 'string' },
    },
  });
  const [command, ...rest] = positionals;
  // An unknown command is an error even with --help, so that a script can tell whether it exists.
  if (command !== undefined && command !== 'help' && !COMMANDS.has(command)) return usageError(`unknown command "${command}"`);
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (command === 'start') return start(values.config);
  resumeOptimizingCompilers();
  switch (command) {
    case 'reload': {
      let config;
      try {
        config = await loadCliConfig(values.config);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        process.stderr.write(`trellis: configuration error; nothing was reloaded, the running server keeps its configuration\n${error.message}\n`);
        return 1;
      }
      const { reloadServer } = await import('./reload.ts');
      return reloadServer(config);
    }
    case 'adduser':
    case 'passwd':
    case 'deluser': {
      const jid = rest[0];
      if (!jid) return usageError(`${command} needs a JID, for example: trellis ${command} alice@localhost`);
      const config = await loadCliConfig(values.config);
      const { addUser, changePassword, deleteUser } = await import('./accounts.ts');
      if (command === 'adduser') return addUser(config, jid, values.password);
      if (command === 'passwd') return changePassword(config, jid, values.password);
      return deleteUser(config, jid);
    }
    case 'invite': {
      const target = rest[0];
      if (!target) return usageError('invite needs a hosted domain or an account, for example: trellis invite localhost, or trellis invite juliet@localhost');
      const { inviteUser } = await import('./accounts.ts');
      return inviteUser(await loadCliConfig(values.config), target, values.expires);
    }
    case 'compliance': {
      const jid = rest[0];
      if (!jid) return usageError('compliance needs the JID of an account to log in as, for example: trellis compliance alice@localhost');
      const { compliance } = await import('./compliance.ts');
      return compliance(await loadCliConfig(values.config), jid, values.password, values.json === true);
    }
    case 'check': {
      const part = rest[0];
      const { CHECK_PARTS, runChecks } = await import('./check.ts');
      if (part !== undefined && !(CHECK_PARTS as readonly string[]).includes(part)) return usageError(`unknown check "${part}"; use: trellis check [config|certs|dns]`);
      return runChecks(await loadCliConfig(values.config), part === undefined ? CHECK_PARTS : [part as (typeof CHECK_PARTS)[number]]);
    }
    case 'status': {
      const { showStatus } = await import('./status.ts');
      return showStatus(await loadCliConfig(values.config), values.json ?? false);
    }
    case 'invites': {
      const { listInvitations, revokeInvitation } = await import('./accounts.ts');
      if (rest[0] === 'list') return listInvitations(await loadCliConfig(values.config), rest[1]);
      if (rest[0] === 'revoke' && rest[1] !== undefined) return revokeInvitation(await loadCliConfig(values.config), rest[1]);
      return usageError('did you mean: trellis invites list [DOMAIN], or trellis invites revoke TOKEN');
    }
    case 'users': {
      if (rest[0] !== 'list') return usageError('did you mean: trellis users list [DOMAIN]');
      const { listUsers } = await import('./accounts.ts');
      return listUsers(await loadCliConfig(values.config), rest[1]);
    }
    case 'import': {
      if (rest.length === 0) return usageError('import needs a file or directory, for example: trellis import /var/backups/ejabberd/20260101-120000.xml');
      const { importAccounts } = await import('./piefxis.ts');
      return importAccounts(await loadCliConfig(values.config), rest, {
        ...(values.host === undefined ? {} : { host: values.host }),
        skipExisting: values['skip-existing'] ?? false,
        dryRun: values['dry-run'] ?? false,
        ...(values['max-element-bytes'] === undefined ? {} : { maxElementBytes: values['max-element-bytes'] }),
      });
    }
    case 'export': {
      if (rest.length !== 1) return usageError('export needs one directory to write into, for example: trellis export /var/backups/trellis-accounts');
      const { exportAccounts } = await import('./piefxis.ts');
      return exportAccounts(await loadCliConfig(values.config), rest[0]!, values.host);
    }
    case 'sessions': {
      const [action = 'list', jid] = rest;
      const { kickSession, listSessions } = await import('./sessions.ts');
      if (action === 'list') return listSessions(await loadCliConfig(values.config), values.json ?? false);
      if (action !== 'kick') return usageError(`unknown sessions action "${action}"; use: trellis sessions [list] or sessions kick JID`);
      if (!jid) return usageError('sessions kick needs a JID: user@domain/resource for one session, user@domain for all of an account');
      return kickSession(await loadCliConfig(values.config), jid, values.reason);
    }
    case 's2s': {
      const [action = 'list', id] = rest;
      const { closeS2s, listS2s, revokeS2sPair } = await import('./s2s.ts');
      const { blockDomain, listBlockedDomains, unblockDomain } = await import('./abuse.ts');
      if (action === 'list') return listS2s(await loadCliConfig(values.config), values.json ?? false);
      if (action === 'blocked') return listBlockedDomains(await loadCliConfig(values.config), values.json ?? false);
      if (action === 'block' || action === 'unblock') {
        if (!id) return usageError(`s2s ${action} needs a domain, for example: trellis s2s ${action} spam.example`);
        const config = await loadCliConfig(values.config);
        return action === 'block' ? blockDomain(config, id, values.reason) : unblockDomain(config, id);
      }
      if (action === 'revoke') {
        const remote = rest[2];
        if (!id || !remote) return usageError('s2s revoke needs the local and the remote domain, for example: trellis s2s revoke example.com spam.example');
        return revokeS2sPair(await loadCliConfig(values.config), id, remote);
      }
      if (action !== 'close') return usageError(`unknown s2s action "${action}"; use: trellis s2s [list], close ID, revoke LOCAL REMOTE, block DOMAIN, unblock DOMAIN or blocked`);
      if (!id) return usageError('s2s close needs a connection id (or a unique prefix of it), as shown by: trellis s2s');
      return closeS2s(await loadCliConfig(values.config), id);
    }
    case 'ban': {
      const [target] = rest;
      const { ban, listBans } = await import('./abuse.ts');
      if (target === undefined) return usageError('ban needs an address or range, for example: trellis ban 203.0.113.7, or: trellis ban list');
      if (target === 'list') return listBans(await loadCliConfig(values.config), values.json ?? false);
      return ban(await loadCliConfig(values.config), target, values.reason);
    }
    case 'unban': {
      const [target] = rest;
      const { unban } = await import('./abuse.ts');
      if (target === undefined) return usageError('unban needs an address or range as shown by: trellis ban list');
      return unban(await loadCliConfig(values.config), target);
    }
    case 'audit': {
      const config = await loadCliConfig(values.config);
      const { listAlerts, listAudit } = await import('./audit.ts');
      if (rest[0] === 'alerts') return listAlerts(config, values.json ?? false);
      if (rest.length > 0) return usageError(`did you mean: trellis audit, or: trellis audit alerts`);
      return listAudit(config, { since: values.since, rule: values.rule, verdict: values.verdict, limit: values.limit }, values.json ?? false);
    }
    case 'posh': {
      const { printPosh } = await import('./posh.ts');
      return printPosh(await loadCliConfig(values.config), {
        ...(rest[0] === undefined ? {} : { domain: rest[0] }),
        ...(values.expires === undefined ? {} : { expires: values.expires }),
        ...(values.reference === undefined ? {} : { reference: values.reference }),
      });
    }
    case 'policy': {
      if (rest[0] !== 'explain') return usageError('did you mean: trellis policy explain --from A --to B');
      if (values.from === undefined || values.to === undefined) return usageError('policy explain needs --from and --to, for example: trellis policy explain --from alice@example.com --to partner.example');
      const { explainPolicy } = await import('./policy.ts');
      return explainPolicy(await loadCliConfig(values.config), values.from, values.to, values.stanza);
    }
    default:
      return usageError(`unknown command "${command}"`);
  }
}

async function start(configFile: string | undefined): Promise<number> {
  const config = await loadCliConfig(configFile);
  const logger = createLogger({ level: config.log.level, format: config.log.format });
  logger.info('starting Trellis', { config: config.source ?? 'built-in defaults', data_dir: config.data_dir, node: process.version });
  const pidFile = inspectPidFile(config.data_dir);
  if (pidFile.kind === 'running') {
    process.stderr.write(`trellis: a server already runs with data_dir ${config.data_dir} (pid ${pidFile.pid}); stop it first\n`);
    return 1;
  }
  if (pidFile.kind === 'stale') {
    // Left behind by a server that did not shut down (a crash, kill -9, a power cut).
    logger.info('removing a stale pid file', { path: pidFilePath(config.data_dir), reason: pidFile.reason });
    removeStalePidFile(config.data_dir);
  }
  const server = await startServer(config, logger);
  process.on('SIGHUP', () => {
    logger.info('SIGHUP received');
    void server.reload();
  });
  writePidFile(config.data_dir);
  const firstHost = config.hosts[0]!.domain;
  if (config.mode === 'edge') logger.info(`ready; an edge relaying as ${firstHost}: see the pairs with ./bin/trellis s2s${config.source ? ` --config ${config.source}` : ''}`);
  else logger.info(`ready; add a user with: ./bin/trellis adduser alice@${firstHost}${config.source ? ` --config ${config.source}` : ''}`);
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      logger.info('shutting down', { signal });
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  resumeOptimizingCompilers();
  const stopSettling = settleHeapWhenQuiet(logger);
  await stopped;
  stopSettling();
  await server.close();
  removePidFile(config.data_dir);
  return 0;
}

function usageError(message: string): number {
  process.stderr.write(`trellis: ${message}\n\n${USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigError) process.stderr.write(`trellis: configuration error\n${error.message}\n`);
    else process.stderr.write(`trellis: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
