/**
 * The composition root: storage, certificates, hosts, router and listeners, wired once from a
 * resolved configuration. `startServer` is what `trellis start` and the tests call.
 */
import { AdminServer } from './admin/socket-server.ts';
import { C2sService } from './c2s/listener.ts';
import type { TrellisConfig } from './config/types.ts';
import type { BoundAddress } from './net/listener.ts';
import { TlsContextStore } from './net/tls-contexts.ts';
import { Router } from './router/router.ts';
import { SessionRegistry } from './router/sessions.ts';
import { openStorage } from './storage/open.ts';
import { randomBytes } from 'node:crypto';
import { createDnsLookup } from './net/dns.ts';
import { PolicyAuditTrail } from './audit/policy-audit.ts';
import { LivePolicy, PolicySnapshot } from './policy/snapshot.ts';
import { trustAnchorsOnDemand } from './s2s/certificate-trust.ts';
import { OutputBudget } from './net/output-budget.ts';
import { S2sService } from './s2s/service.ts';
import { createDelegationChecks } from './delegation/from-config.ts';
import { shareOperations } from './cluster/operations.ts';
import { Limits } from './limits/limits.ts';
import { Refusals } from './limits/refusals.ts';
import type { Storage } from './storage/types.ts';
import type { Logger } from './util/log.ts';
import { buildHost, loadHostCertificate } from './server-hosts.ts';
import { ConfigReloader, type ReloadOutcome } from './server-reload.ts';
import { mucServices, syncServiceHosts } from './services/service-hosts.ts';
import { MucAcrossNodes } from './muc/across-nodes.ts';
import { placeRooms } from './muc/placement.ts';
import { ComponentService } from './component/service.ts';
import { LinkService } from './links/service.ts';
import { prepareWeb } from './server-web.ts';
import type { WebConsole } from './console/route.ts';
import { CONSOLE_ROUTE_PATHS } from './console/paths.ts';
import { lazyRoutes } from './net/lazy-routes.ts';

export interface TrellisServer {
  readonly config: TrellisConfig;
  readonly storage: Storage;
  readonly router: Router;
  readonly c2s: C2sService;
  readonly s2s: S2sService;
  /** connection and login limits, bans and blocks (src/limits) */
  readonly limits: Limits;
  /** external components (XEP-0114) */
  readonly components: ComponentService;
  /** links to peer servers (docs/links.md) */
  readonly links: LinkService;
  readonly listening: { c2s: BoundAddress[]; c2sDirectTls: BoundAddress[]; s2s: BoundAddress[]; s2sDirectTls: BoundAddress[]; component: BoundAddress[]; http: BoundAddress[] };
  /** the admin API's unix socket (src/admin), undefined when admin.enabled is false */
  readonly adminSocket: string | undefined;
  /** Reads the configuration file again and applies its hosts (src/server-reload.ts). */
  reload(): Promise<ReloadOutcome>;
  close(): Promise<void>;
}

export async function startServer(config: TrellisConfig, logger: Logger): Promise<TrellisServer> {
  const startedAt = Date.now();
  const storage = await openStorage(config.storage, config.data_dir);
  try {
    const tls = await loadCertificates(config, logger);
    const limits = new Limits(config.limits, storage, logger.child({ component: 'limits' }));
    await limits.load();
    const policy = new LivePolicy(new PolicySnapshot(config, limits.abuse));
    // Policy refusals are logged as the limits' are: one line per rule and peer per log_interval.
    const router = new Router(new SessionRegistry(), logger, policy, new Refusals(logger, () => limits.config.log_interval * 1000));
    const audit = new PolicyAuditTrail(storage.policyAudit, config.s2s.peering_audit, logger.child({ component: 'audit' }));
    router.policyDecisions = (record) => audit.decided(record);
    const edge = config.mode === 'edge';
    const web = edge ? undefined : await prepareWeb(config, storage, logger, limits.refusals);
    for (const hostConfig of config.hosts) router.addHost(buildHost(hostConfig, { router, storage, config, logger, web: web?.http }));
    for (const hostConfig of config.hosts) await syncServiceHosts(hostConfig.domain, hostConfig, { router, storage, config, tls, logger, loadCertificate: loadHostCertificate, uploads: web?.uploads });
    const anchors = await trustAnchorsOnDemand(config.s2s.ca_files, config.s2s.use_system_ca);
    const s2s = new S2sService({
      config: config.s2s,
      secret: await dialbackSecret(config, storage),
      get anchors() {
        return anchors();
      },
      tls,
      dns: createDnsLookup({ servers: [...config.dns.servers], timeoutMs: config.dns.timeout * 1000, cacheEntries: config.dns.cache_entries }),
      router,
      policy,
      logger,
      limits,
      output: new OutputBudget(config.s2s.output.connection_buffer, config.s2s.output.total_buffer),
      delegation: await createDelegationChecks(config.s2s.delegation),
      ...hostStreams(config, tls),
    });
    const links = new LinkService({ links: config.links, router, storage, logger, tlsSettings: config.tls_settings }, s2s);
    router.remote = links;
    const c2s = new C2sService({ config: config.c2s, router, storage, tls, logger, limits });
    // docs/cluster.md: joined before any listener opens, so every session bound here is published;
    // loaded only when configured, so a single node never loads the Redis client.
    const cluster = config.cluster === undefined ? undefined : await (await import('./cluster/start.ts')).startCluster(config.cluster, router, c2s, s2s, new MucAcrossNodes(router), logger);
    // docs/cluster.md, "Group chat": each room runs on one node; its stanzas are handed there.
    if (cluster) placeRooms(router, cluster.rooms);
    const components = new ComponentService({ config, router, tls, logger, limits, loadCertificate: loadHostCertificate });
    limits.hooks = {
      closeAddresses(covered, text) {
        let closed = 0;
        for (const connection of c2s.connections) {
          if (connection.stream.closing || !covered(connection.stream.remoteAddress)) continue;
          // A banned client's session ends for good: it may not be resumed from elsewhere.
          if (connection.session) connection.session.terminate('policy-violation', text);
          else connection.end('policy-violation', text);
          closed++;
        }
        return closed + s2s.closeFromAddresses(covered, text);
      },
      closeDomain: (domain, text) => s2s.closeDomain(domain, text),
      reopenDomain: (domain) => s2s.reopenDomain(domain),
    };
    // docs/cluster.md, "Operator commands": bans, blocks and revocations act on every node.
    if (cluster) shareOperations(router.notices, limits, s2s, logger.child({ component: 'cluster' }));
    const reloader = new ConfigReloader(config, { router, storage, tls, logger, limits, s2s, abuse: limits.abuse, components, links, uploads: web?.uploads, web: web?.http });
    let bound;
    let boundS2s = { starttls: [] as BoundAddress[], directTls: [] as BoundAddress[] };
    let boundComponent: BoundAddress[] = [];
    let boundHttp: BoundAddress[] = [];
    let admin: AdminServer | undefined;
    let operatorConsole: WebConsole | undefined;
    try {
      // An edge takes no clients (docs/peering.md, "Edge servers").
      bound = edge ? { starttls: [], directTls: [] } : await c2s.listen(config.listeners.c2s, config.listeners.c2s_direct_tls);
      if (config.s2s.enabled) boundS2s = await s2s.listen(config.listeners.s2s, config.listeners.s2s_direct_tls);
      boundComponent = await components.start(config.listeners.component);
      await links.start();
      if (web) boundHttp = await web.listen(c2s, router, tls);
      const listening = listeningNow(bound, boundS2s, components, boundHttp);
      if (cluster) cluster.addresses = [...listening.c2s.map((address) => `c2s ${formatAddress(address)}`), ...listening.s2s.map((address) => `s2s ${formatAddress(address)}`)];
      // The level in force: a reload may change it.
      const federation = () => (config.s2s.enabled ? policy.current.requirement(undefined).level : 'off');
      const operations = { reload: () => reloader.reload(), sessions: router.sessions, deleteAccount: (domain: string, username: string) => storage.accounts.delete(domain, username) };
      const sources = { startedAt, hosts: () => [...router.hosts.values()].filter((host) => host.service === undefined).map((host) => host.domain), listening, federation, c2s, s2s, limits, components, links, operations, cluster, mucServices: () => mucServices(router), traffic: router.traffic, offlineMessages: () => storage.offline.total(), audit: { store: storage.policyAudit, alerts: (after: number) => audit.alerts(after), metrics: () => audit.metrics() } };
      if (config.admin.enabled) admin = await AdminServer.start(config.admin.socket, sources, logger.child({ component: 'admin' }));
      if (web && config.http.console.enabled) {
        const consoleLogger = logger.child({ component: 'console' });
        // Loaded at its first request (src/net/lazy-routes.ts).
        const loadConsole = async () => {
          operatorConsole = (await import('./console/route.ts')).webConsole({
            settings: () => config.http.console,
            api: { admin: sources, accounts: storage.accounts, config: () => ({ peering: reloader.config.s2s.peering, links: config.links, scramIterations: config.c2s.scram_iterations }) },
            login: { credentials: (domain, username) => storage.accounts.get(domain, username), scramIterations: config.c2s.scram_iterations, throttle: limits.logins, logger: consoleLogger },
            logger: consoleLogger,
          });
          return operatorConsole.routes;
        };
        for (const route of lazyRoutes('request', CONSOLE_ROUTE_PATHS, loadConsole, consoleLogger)) web.http.route(route);
        consoleLogger.info('web console at /admin/ on the HTTPS listener', { admins: config.http.console.admins.join(' ') });
      }
    } catch (error) {
      operatorConsole?.close();
      await links.close();
      await web?.close();
      await components.close();
      await c2s.close();
      await cluster?.close();
      await s2s.close();
      await audit.close();
      throw error;
    }
    for (const address of bound.starttls) logger.info('listening for clients (STARTTLS)', { address: formatAddress(address) });
    for (const address of bound.directTls) logger.info('listening for clients (direct TLS)', { address: formatAddress(address) });
    for (const address of boundS2s.starttls) logger.info('listening for servers (STARTTLS)', { address: formatAddress(address) });
    for (const address of boundS2s.directTls) logger.info('listening for servers (direct TLS)', { address: formatAddress(address) });
    for (const address of boundHttp) logger.info(config.http.tls ? 'listening for HTTPS' : 'listening for HTTP', { address: formatAddress(address), websocket: config.http.websocket.enabled ? config.http.websocket.path : undefined });
    for (const address of boundComponent) logger.info('listening for components', { address: formatAddress(address), components: config.components.map((component) => component.domain).join(',') });
    if (edge) logger.info('running as an edge: no local accounts, no client listener; relaying between the domains s2s.peering routes', { relay_as: policy.current.relayDomain, rules: config.s2s.peering.length });
    reportFronting(policy.current.fronted, tls, logger);
    logger.info('serving hosts', { hosts: config.hosts.map((host) => host.domain).join(','), storage: storage.driver, federation: config.s2s.enabled ? config.s2s.min_level : 'off' });
    return {
      get config() {
        return reloader.config;
      },
      storage,
      router,
      c2s,
      s2s,
      limits,
      components,
      links,
      listening: listeningNow(bound, boundS2s, components, boundHttp),
      adminSocket: admin?.socketPath,
      reload: () => reloader.reload(),
      async close() {
        await admin?.close();
        operatorConsole?.close();
        await links.close();
        await web?.close();
        await components.close();
        await c2s.close();
        await cluster?.close();
        await s2s.close();
        await audit.close();
        limits.close();
        await storage.close();
        logger.info('server stopped');
      },
    };
  } catch (error) {
    await storage.close();
    throw error;
  }
}

/**
 * The dialback secret (XEP-0185 section 2): from the configuration, else generated once and
 * kept in storage so keys stay valid across restarts.
 */
async function dialbackSecret(config: TrellisConfig, storage: Storage): Promise<string> {
  if (config.s2s.dialback_secret) return config.s2s.dialback_secret;
  // Nodes of a cluster starting at once on one database keep the same one (docs/cluster.md).
  return storage.serverData.setIfAbsent('dialback_secret', randomBytes(32).toString('hex'));
}

/** Loads each host's certificate, generating a self-signed one where none is configured. */
/**
 * The domains fronted for plain peers (docs/peering.md, "Fronting a plain peer"): each is
 * authenticated with a hosted domain's certificate that names it; peers that check certificates
 * refuse one no certificate names.
 */
function reportFronting(fronted: ReadonlySet<string>, tls: TlsContextStore, logger: Logger): void {
  if (fronted.size === 0) return;
  logger.info('fronting domains for plain peers', { domains: [...fronted].join(',') });
  for (const domain of fronted) {
    if (!tls.covers(domain)) logger.warn('a fronted domain is named by no certificate of a hosted domain: peers that check certificates will refuse it (add it to the certificate of a host)', { domain });
  }
}

async function loadCertificates(config: TrellisConfig, logger: Logger): Promise<TlsContextStore> {
  const store = new TlsContextStore(config.tls_settings);
  for (const host of config.hosts) await loadHostCertificate(store, host, config, logger);
  return store;
}

/** Host-named streams (s2s.host_streams): our host's name, with its own certificate loaded when it is not a hosted domain's. */
function hostStreams(config: TrellisConfig, store: TlsContextStore): { hostName?: string } {
  const { enabled, name, tls } = config.s2s.host_streams;
  if (!enabled || name === undefined) return {};
  if (tls) store.add(name, tls);
  return { hostName: name };
}

type Bound = { starttls: BoundAddress[]; directTls: BoundAddress[] };

/** The bound addresses per listener; the component listener's as they are when read (a reload may open it). */
function listeningNow(c2s: Bound, s2s: Bound, components: ComponentService, http: BoundAddress[]): TrellisServer['listening'] {
  return {
    http,
    c2s: c2s.starttls,
    c2sDirectTls: c2s.directTls,
    s2s: s2s.starttls,
    s2sDirectTls: s2s.directTls,
    get component() {
      return components.listening;
    },
  };
}

function formatAddress(address: BoundAddress): string {
  return address.address.includes(':') ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}
