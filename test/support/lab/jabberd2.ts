/**
 * A private jabberd2 2.7 inside the lab namespace. jabberd2 is four processes (router, session
 * manager, c2s, s2s) that talk to each other through the router; each gets its own XML config
 * in a scratch directory, logs to stdout, and stores accounts and rosters in one SQLite file
 * (the schema Debian ships in /usr/share/doc/jabberd2). Its s2s does STARTTLS and dialback only
 * (no SASL EXTERNAL), with one certificate for all its domains.
 * Configuration reference: the commented files in /etc/jabberd2.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { gunzipSync } from 'node:zlib';
import { makeScratchDir, removeScratchDir, startDaemon, waitForListeners, type Daemon } from './process.ts';
import { C2S_PORT, S2S_PORT, type PeerOptions, type RunningPeer, type S2sConnection } from './peer.ts';

const SCHEMA = '/usr/share/doc/jabberd2/db-setup.sqlite.gz';
const MODULES = '/usr/lib/x86_64-linux-gnu/jabberd2';
/** the router's component port, on the peer's own address */
const ROUTER_PORT = 5347;
const ROUTER_SECRET = 'lab-router-secret';

type Component = 'router' | 'sm' | 'c2s' | 's2s';

export async function startJabberd2(options: PeerOptions): Promise<RunningPeer> {
  const dir = makeScratchDir('jabberd2');
  const database = join(dir, 'jabberd2.db');
  const domain = options.domains[0];
  if (domain === undefined) throw new Error('jabberd2 needs a domain');
  // One PEM file with the certificate chain and the key, as SSL_CTX_use_certificate_chain_file
  // and jabberd2's pemfile want it.
  const pemFile = join(dir, 'server.pem');
  writeFileSync(pemFile, readFileSync(domain.certFile, 'utf8').trim() + '\n' + readFileSync(domain.keyFile, 'utf8').trim() + '\n', { mode: 0o600 });
  createDatabase(database, options);
  const configs: Record<Component, string> = {
    router: routerConfig(dir, options),
    sm: smConfig(dir, database, options),
    c2s: c2sConfig(dir, database, pemFile, options),
    s2s: s2sConfig(dir, pemFile, options),
  };
  writeFileSync(join(dir, 'router-users.xml'), `<users><user><name>jabberd</name><secret>${ROUTER_SECRET}</secret></user></users>\n`);
  writeFileSync(join(dir, 'router-filter.xml'), '<filter></filter>\n');

  const daemons: Daemon[] = [];
  const logFile = join(dir, 'jabberd2.log');
  try {
    const start = (component: Component) => {
      const configFile = join(dir, `${component}.xml`);
      writeFileSync(configFile, configs[component]);
      const daemon = startDaemon(`jabberd2-${component}`, `/usr/sbin/jabberd2-${component}`, ['-c', configFile], { outputFile: logFile, cwd: dir });
      daemons.push(daemon);
      return daemon;
    };
    await waitForListeners(start('router'), [{ address: options.address, port: ROUTER_PORT }], { logFile });
    const [sm, c2s, s2s] = (['sm', 'c2s', 's2s'] as const).map(start);
    await waitForListeners(c2s!, [{ address: options.address, port: C2S_PORT }], { logFile });
    await waitForListeners(s2s!, [{ address: options.address, port: S2S_PORT }], { logFile });
    // The session manager says so once the router has bound its domains.
    for (const { domain: name } of options.domains) await waitForLog(logFile, new RegExp(`^.* ${name.replaceAll('.', '\\.')} ready for sessions$`, 'm'), sm!);
  } catch (error) {
    await stopAll(daemons);
    removeScratchDir(dir);
    throw error;
  }
  return {
    name: 'jabberd2',
    address: options.address,
    logFile,
    s2sConnections: async () => parseS2sLog(readFileSync(logFile, 'utf8')),
    async stop() {
      await stopAll(daemons);
      removeScratchDir(dir);
    },
  };
}

async function stopAll(daemons: Daemon[]): Promise<void> {
  // The router last, so that the components do not spend their retries reconnecting to it.
  await Promise.all(daemons.filter((daemon) => daemon.name !== 'jabberd2-router').map((daemon) => daemon.stop()));
  await Promise.all(daemons.map((daemon) => daemon.stop()));
}

async function waitForLog(logFile: string, pattern: RegExp, daemon: Daemon, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (pattern.test(readFileSync(logFile, 'utf8'))) return;
    if (daemon.hasExited()) throw new Error(`${daemon.name} exited (${await daemon.exited})\n${readFileSync(logFile, 'utf8')}`);
    if (Date.now() > deadline) throw new Error(`${daemon.name} did not log ${pattern}\n${readFileSync(logFile, 'utf8')}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function createDatabase(file: string, options: PeerOptions): void {
  const db = new DatabaseSync(file);
  try {
    db.exec(gunzipSync(readFileSync(SCHEMA)).toString('utf8'));
    // c2s's sqlite authreg with <plaintext/> passwords: realm is the domain.
    const insert = db.prepare('INSERT INTO "authreg" ("username", "realm", "password") VALUES (?, ?, ?)');
    for (const { user, domain, password } of options.users ?? []) insert.run(user, domain, password);
  } finally {
    db.close();
  }
}

/**
 * The s2s component logs each route it has authenticated, by dialback (the only way it has):
 * "[fd] [addr, port=N] outgoing route 'local/remote' is now valid TLS", the same for incoming;
 * the stream's flags (TLS, compression) end the line.
 */
const ROUTE = /(incoming|outgoing) route '([^'/]+)\/([^']+)' is now valid(.*)$/;

export function parseS2sLog(log: string): S2sConnection[] {
  const connections: S2sConnection[] = [];
  for (const line of log.split('\n')) {
    const match = ROUTE.exec(line);
    if (match === null) continue;
    const [, direction, local, remote, flags] = match;
    connections.push({
      direction: direction === 'incoming' ? 'incoming' : 'outgoing',
      localDomain: local!,
      remoteDomain: remote!,
      encrypted: /\bTLS\b/.test(flags!),
      authentication: 'dialback',
    });
  }
  return connections;
}

const routerSection = (options: PeerOptions) => `  <router>
    <ip>${options.address}</ip>
    <port>${ROUTER_PORT}</port>
    <user>jabberd</user>
    <pass>${ROUTER_SECRET}</pass>
    <retry><init>10</init><lost>3</lost><sleep>1</sleep></retry>
  </router>
  <log type='stdout'/>`;

function routerConfig(dir: string, options: PeerOptions): string {
  return `<router>
  <id>router</id>
  <pidfile>${join(dir, 'router.pid')}</pidfile>
  <log type='stdout'/>
  <local>
    <ip>${options.address}</ip>
    <port>${ROUTER_PORT}</port>
    <users>${join(dir, 'router-users.xml')}</users>
    <secret>${ROUTER_SECRET}</secret>
  </local>
  <check><interval>60</interval><keepalive>0</keepalive></check>
  <io><max_fds>1024</max_fds><limits><bytes>0</bytes><connects>0</connects></limits><access><order>allow,deny</order></access></io>
  <aliases></aliases>
  <aci>
    <acl type='all'><user>jabberd</user></acl>
    <filter>${join(dir, 'router-filter.xml')}</filter>
  </aci>
</router>
`;
}

function smConfig(dir: string, database: string, options: PeerOptions): string {
  const chain = (id: string, modules: string[]) => `    <chain id='${id}'>${modules.map((module) => `<module>${module}</module>`).join('')}</chain>`;
  return `<sm>
  <id>${options.domains[0]!.domain}</id>
  <pidfile>${join(dir, 'sm.pid')}</pidfile>
${routerSection(options)}
  <local>${options.domains.map(({ domain }) => `<id>${domain}</id>`).join('')}</local>
  <storage>
    <path>${MODULES}</path>
    <driver>sqlite</driver>
    <sqlite><dbname>${database}</dbname><busy-timeout>2000</busy-timeout></sqlite>
  </storage>
  <modules>
    <path>${MODULES}</path>
${chain('sess-start', ['status'])}
${chain('sess-end', ['status', 'iq-last'])}
${chain('in-sess', ['validate', 'status', 'privacy', 'roster', 'iq-vcard', 'iq-ping', 'iq-private', 'disco', 'offline', 'presence', 'deliver'])}
${chain('out-sess', [])}
${chain('in-router', ['session', 'validate', 'presence', 'privacy'])}
${chain('out-router', ['privacy'])}
${chain('pkt-sm', ['iq-last', 'iq-ping', 'iq-time', 'iq-version', 'disco', 'status', 'presence'])}
${chain('pkt-user', ['roster', 'presence', 'disco', 'iq-vcard', 'deliver', 'offline', 'iq-last'])}
${chain('pkt-router', ['session', 'disco'])}
${chain('user-load', ['active', 'roster', 'privacy'])}
${chain('user-unload', [])}
${chain('user-create', ['active'])}
${chain('user-delete', ['active', 'offline', 'privacy', 'roster', 'status', 'iq-last', 'iq-private', 'iq-vcard'])}
${chain('disco-extend', ['iq-version'])}
  </modules>
  <discovery>
    <identity><category>server</category><type>im</type><name>jabberd2 lab</name></identity>
  </discovery>
  <user><auto-create/></user>
</sm>
`;
}

function c2sConfig(dir: string, database: string, pemFile: string, options: PeerOptions): string {
  const ids = options.domains.map(({ domain }) => `<id pemfile='${pemFile}' require-starttls='yes'>${domain}</id>`).join('\n    ');
  return `<c2s>
  <id>c2s</id>
  <pidfile>${join(dir, 'c2s.pid')}</pidfile>
${routerSection(options)}
  <local>
    ${ids}
    <ip>${options.address}</ip>
    <port>${C2S_PORT}</port>
  </local>
  <io>
    <max_fds>1024</max_fds>
    <limits><bytes>0</bytes><stanzas>0</stanzas><connects>0</connects><stanzasize>65535</stanzasize></limits>
    <access><order>allow,deny</order></access>
    <check><interval>0</interval><idle>0</idle><keepalive>0</keepalive></check>
  </io>
  <authreg>
    <path>${MODULES}</path>
    <module>sqlite</module>
    <mechanisms><traditional><plain/></traditional><sasl><plain/></sasl></mechanisms>
    <ssl-mechanisms><traditional><plain/></traditional><sasl><plain/></sasl></ssl-mechanisms>
    <sqlite><dbname>${database}</dbname><busy-timeout>2000</busy-timeout><password_type><plaintext/></password_type></sqlite>
  </authreg>
</c2s>
`;
}

function s2sConfig(dir: string, pemFile: string, options: PeerOptions): string {
  return `<s2s>
  <id>s2s</id>
  <pidfile>${join(dir, 's2s.pid')}</pidfile>
${routerSection(options)}
  <local>
    <ip>${options.address}</ip>
    <port>${S2S_PORT}</port>
    <secret>lab-dialback-secret</secret>
    <pemfile>${pemFile}</pemfile>
    <cachain>${options.caFile}</cachain>
  </local>
  <io><max_fds>1024</max_fds><limits><stanzasize>65535</stanzasize></limits></io>
  <check><interval>5</interval><queue>60</queue><retry>300</retry><idle>86400</idle><keepalive>0</keepalive><dnscache>300</dnscache></check>
  <lookup><srv>xmpp-server</srv><min-ttl>30</min-ttl><max-ttl>86400</max-ttl><bad-host-timeout>0</bad-host-timeout></lookup>
  <out-conn-reuse/>
  <security>${options.requireEncryption === false ? '' : '<require_tls/>'}</security>
</s2s>
`;
}
