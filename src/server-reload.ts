/**
 * Configuration reload without a restart (`trellis reload`, SIGHUP): the file is read again and
 * the hosts and external components follow it. Added hosts start with their modules and certificates, removed hosts stop
 * accepting streams and their sessions end with host-gone (RFC 6120 section 4.9.3.5), changed
 * hosts are rebuilt. A configuration that does not load leaves the running one untouched.
 */
import { ConfigError, loadConfig } from './config/load.ts';
import type { ComponentService } from './component/service.ts';
import type { Limits } from './limits/limits.ts';
import type { HostConfig, TrellisConfig } from './config/types.ts';
import type { TlsContextStore } from './net/tls-contexts.ts';
import type { Host } from './router/host.ts';
import type { Router } from './router/router.ts';
import type { Storage } from './storage/types.ts';
import type { Logger } from './util/log.ts';
import { buildHost, configuredCertificate, loadHostCertificate } from './server-hosts.ts';
import { syncServiceHosts } from './services/service-hosts.ts';

export type ReloadOutcome =
  | { ok: true; added: string[]; removed: string[]; changed: string[]; needRestart: string[]; components: ComponentChanges }
  | { ok: false; error: string };

/** External components (XEP-0114) a reload added or removed, or whose secret it changed. */
export interface ComponentChanges {
  added: string[];
  removed: string[];
  secretChanged: string[];
}

export interface ReloadContext {
  router: Router;
  storage: Storage;
  tls: TlsContextStore;
  logger: Logger;
  /** takes the new `limits` section at once (src/limits) */
  limits?: Limits;
  /** follows `components` and `component` (src/component) */
  components?: ComponentService;
}

/** Top-level keys whose changes only a restart applies (the IM settings reach the hosts through inheritance). */
const RESTART_KEYS = ['data_dir', 'log', 'listeners', 'storage', 'c2s', 's2s', 'dns', 'admin'] as const;

export class ConfigReloader {
  #config: TrellisConfig;
  #context: ReloadContext;
  /** reloads run one after another */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(config: TrellisConfig, context: ReloadContext) {
    this.#config = config;
    this.#context = context;
  }

  /** The configuration the server runs with now. */
  get config(): TrellisConfig {
    return this.#config;
  }

  reload(): Promise<ReloadOutcome> {
    const run = this.#queue.then(() => this.#reload());
    this.#queue = run.catch(() => {});
    return run;
  }

  async #reload(): Promise<ReloadOutcome> {
    const logger = this.#context.logger;
    const file = this.#config.source;
    if (file === undefined) return this.#fail('the server was started without a configuration file; there is nothing to reload');
    logger.info('reloading the configuration', { config: file });
    let next: TrellisConfig;
    try {
      next = await loadConfig(file);
    } catch (error) {
      if (error instanceof ConfigError) return this.#fail(`configuration error, the running configuration is unchanged:\n${error.message}`);
      throw error;
    }
    try {
      const outcome = await this.#apply(next);
      this.#config = next;
      logger.info('configuration reloaded', { added: outcome.added.join(',') || undefined, removed: outcome.removed.join(',') || undefined, changed: outcome.changed.join(',') || undefined, components: describeComponents(outcome.components) });
      if (outcome.needRestart.length > 0) logger.warn('these settings changed but take effect only after a restart', { keys: outcome.needRestart.join(',') });
      return outcome;
    } catch (error) {
      return this.#fail(`reload failed, the running configuration is unchanged: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Prepares every new and changed host first, so a failure changes nothing, then swaps them in. */
  async #apply(next: TrellisConfig): Promise<ReloadOutcome & { ok: true }> {
    const { router, storage, tls, logger } = this.#context;
    const current = new Map(this.#config.hosts.map((host) => [host.domain, host]));
    const wanted = new Map(next.hosts.map((host) => [host.domain, host]));
    const added = next.hosts.filter((host) => !current.has(host.domain));
    const changed = next.hosts.filter((host) => current.has(host.domain) && !sameHost(current.get(host.domain)!, this.#config, host, next));
    const removed = [...current.keys()].filter((domain) => !wanted.has(domain));

    const built: Host[] = [];
    for (const hostConfig of [...added, ...changed]) {
      const previous = current.get(hostConfig.domain);
      if (!previous || !sameCertificate(previous, this.#config, hostConfig, next)) await loadHostCertificate(tls, hostConfig, next, logger);
      built.push(buildHost(hostConfig, { router, storage, config: next, logger }));
    }

    for (const host of built) router.addHost(host);
    for (const domain of removed) {
      router.hosts.delete(domain);
      let ended = 0;
      for (const session of [...router.sessions.all()]) {
        if (session.jid.domain !== domain) continue;
        session.terminate('host-gone', `${domain} is no longer served here`);
        ended++;
      }
      logger.info('host removed', { host: domain, sessions_ended: ended });
    }
    // Service hosts (group chat, ...) follow their parent host, and give way to an external
    // component configured at their domain: stopped before the component takes the domain,
    // started again once a component that held it is gone.
    const services = { router, storage, config: next, tls, logger, loadCertificate: loadHostCertificate };
    const syncServices = async () => {
      for (const hostConfig of next.hosts) await syncServiceHosts(hostConfig.domain, hostConfig, services);
      for (const domain of removed) await syncServiceHosts(domain, undefined, services);
    };
    await syncServices();
    const components = await this.#context.components?.reconfigure(next);
    await syncServices();
    this.#context.limits?.configure(next.limits);
    for (const host of added) logger.info('host added', { host: host.domain });
    for (const host of changed) logger.info('host settings changed; host rebuilt', { host: host.domain });

    for (const domain of components?.added ?? []) logger.info('component added', { component: domain });
    for (const domain of components?.changed ?? []) logger.info('component secret changed; it applies to the next connection', { component: domain });
    const needRestart = RESTART_KEYS.filter((key) => JSON.stringify(this.#config[key]) !== JSON.stringify(next[key]));
    return {
      ok: true,
      added: added.map((host) => host.domain),
      removed,
      changed: changed.map((host) => host.domain),
      needRestart,
      components: { added: components?.added ?? [], removed: components?.removed ?? [], secretChanged: components?.changed ?? [] },
    };
  }

  #fail(error: string): ReloadOutcome {
    this.#context.logger.error('configuration reload failed', { error });
    return { ok: false, error };
  }
}

function describeComponents({ added, removed, secretChanged }: ComponentChanges): string | undefined {
  const parts = [...added.map((domain) => `+${domain}`), ...removed.map((domain) => `-${domain}`), ...secretChanged.map((domain) => `~${domain}`)];
  return parts.join(',') || undefined;
}

function sameHost(a: HostConfig, aConfig: TrellisConfig, b: HostConfig, bConfig: TrellisConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b) && sameCertificate(a, aConfig, b, bConfig);
}

function sameCertificate(a: HostConfig, aConfig: TrellisConfig, b: HostConfig, bConfig: TrellisConfig): boolean {
  return JSON.stringify(configuredCertificate(a, aConfig)) === JSON.stringify(configuredCertificate(b, bConfig));
}
