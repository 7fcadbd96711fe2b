/**
 * Configuration reload without a restart (`trellis reload`, SIGHUP): the file is read again and
 * the hosts, external components, links and the peering policy follow it. Added hosts start with their modules and certificates, removed hosts stop
 * accepting streams and their sessions end with host-gone (RFC 6120 section 4.9.3.5), changed
 * hosts are rebuilt. The peering policy (src/policy) is compiled anew and swapped in at once:
 * server connections it still allows stay up, the others end with policy-violation. A
 * configuration that does not load leaves the running one untouched.
 */
import { ConfigError, loadConfig } from './config/load.ts';
import type { ComponentService } from './component/service.ts';
import type { LinkChanges, LinkService } from './links/service.ts';
import type { Limits } from './limits/limits.ts';
import type { AbuseList } from './policy/abuse-list.ts';
import { PolicySnapshot } from './policy/snapshot.ts';
import type { HostConfig, TrellisConfig } from './config/types.ts';
import type { CertificateRefresh, TlsContextStore } from './net/tls-contexts.ts';
import type { ModuleContext } from './modules/context.ts';
import type { Host } from './router/host.ts';
import type { Router } from './router/router.ts';
import type { Storage } from './storage/types.ts';
import type { Logger } from './util/log.ts';
import { buildHost, configuredCertificate, loadHostCertificate } from './server-hosts.ts';
import { syncServiceHosts } from './services/service-hosts.ts';
import type { UploadRegistry } from './upload/registry.ts';

export type ReloadOutcome =
  | {
      ok: true;
      added: string[];
      removed: string[];
      changed: string[];
      /** the top-level sections whose file settings differ from those the server runs with (only a restart applies them) */
      needRestart: string[];
      /** each such setting, by key path, as it runs and as the file has it */
      restartPending: RestartPending[];
      /** certificate files read again: renewed ones serve new connections, refused ones left the old certificate in use */
      certificates: CertificateRefresh;
      /** external components added, removed, or with a new secret (src/component) */
      components: ComponentChanges;
      /** links added, removed, or reopened with new settings (src/links) */
      links: LinkChanges;
    }
  | { ok: false; refused: 'no-config-file' | 'config-error' | 'apply-failed'; error: string };

export interface RestartPending {
  key: string;
  running: unknown;
  file: unknown;
}

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
  /** asks its connections again once a new policy is in force */
  s2s?: { enforcePolicy(): number };
  /** the run-time bans and blocks every policy snapshot consults */
  abuse?: AbuseList;
  /** follows `components` and `component` (src/component) */
  components?: ComponentService;
  /** follows `links` (src/links) */
  links?: LinkService;
  /** the upload services' registry, when the HTTP listener runs (src/upload) */
  uploads?: UploadRegistry;
  /** the HTTP listener, for the hosts a reload adds (src/server-hosts.ts) */
  web?: ModuleContext['web'];
}

/** Top-level keys whose changes only a restart applies (the IM settings reach the hosts through inheritance). */
const RESTART_KEYS = ['data_dir', 'log', 'listeners', 'storage', 'c2s', 's2s', 'dns', 'admin', 'tls_settings', 'component', 'components', 'http'] as const;

/** Keys of `s2s` that are peering policy: a reload applies them (src/policy/snapshot.ts). */
const S2S_POLICY_KEYS = ['min_level', 'peers', 'peering', 'peering_groups', 'security_labels', 'access'] as const;

export class ConfigReloader {
  #config: TrellisConfig;
  /** the configuration the server started with: what the restart-only sections run with */
  readonly #started: TrellisConfig;
  #context: ReloadContext;
  /** reloads run one after another */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(config: TrellisConfig, context: ReloadContext) {
    this.#config = config;
    this.#started = config;
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
    if (file === undefined) return this.#fail('no-config-file', 'the server was started without a configuration file; there is nothing to reload');
    logger.info('reloading the configuration', { config: file });
    let next: TrellisConfig;
    try {
      next = await loadConfig(file);
    } catch (error) {
      if (error instanceof ConfigError) return this.#fail('config-error', `configuration error, the running configuration is unchanged:\n${error.message}`);
      throw error;
    }
    try {
      const outcome = await this.#apply(next);
      this.#config = next;
      logger.info('configuration reloaded', { added: outcome.added.join(',') || undefined, removed: outcome.removed.join(',') || undefined, changed: outcome.changed.join(',') || undefined, components: describeChanges(outcome.components.added, outcome.components.removed, outcome.components.secretChanged), links: describeChanges(outcome.links.added, outcome.links.removed, outcome.links.changed) });
      for (const renewed of outcome.certificates.renewed) logger.info('certificate renewed', { host: renewed.domain, certificate: renewed.files.certificate, fingerprint: renewed.fingerprint, not_after: renewed.notAfter });
      for (const failed of outcome.certificates.failed) logger.error('certificate not renewed; the previous one stays in use', { host: failed.domain, certificate: failed.files.certificate, error: failed.error });
      if (outcome.needRestart.length > 0) logger.warn('these settings changed but take effect only after a restart', { keys: outcome.restartPending.map((pending) => pending.key).join(',') });
      return outcome;
    } catch (error) {
      return this.#fail('apply-failed', `reload failed, the running configuration is unchanged: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Prepares every new and changed host first, so a failure changes nothing, then swaps them in. */
  async #apply(next: TrellisConfig): Promise<ReloadOutcome & { ok: true }> {
    const { router, storage, tls, logger } = this.#context;
    // Compiled before anything changes: a snapshot that cannot be built leaves everything as it is.
    const policy = new PolicySnapshot(next, this.#context.abuse);
    const current = new Map(this.#config.hosts.map((host) => [host.domain, host]));
    const wanted = new Map(next.hosts.map((host) => [host.domain, host]));
    const added = next.hosts.filter((host) => !current.has(host.domain));
    const changed = next.hosts.filter((host) => current.has(host.domain) && !sameHost(current.get(host.domain)!, this.#config, host, next));
    const removed = [...current.keys()].filter((domain) => !wanted.has(domain));

    const built: Host[] = [];
    for (const hostConfig of [...added, ...changed]) {
      const previous = current.get(hostConfig.domain);
      if (!previous || !sameCertificate(previous, this.#config, hostConfig, next)) await loadHostCertificate(tls, hostConfig, next, logger);
      built.push(buildHost(hostConfig, { router, storage, config: next, logger, web: this.#context.web }));
    }

    // New links open before any route names them; removed ones close once none does.
    const linkPlan = await this.#context.links?.prepare(next.links);
    // Policy first, so that new hosts are judged by their own rules from their first stanza.
    router.policy.replace(policy);
    const links = (await linkPlan?.commit()) ?? { added: [], removed: [], changed: [] };
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
    const services = { router, storage, config: next, tls, logger, loadCertificate: loadHostCertificate, uploads: this.#context.uploads };
    const stoppedServices: string[] = [];
    // Components may take or give back a service host's domain: service hosts are synced around them.
    const syncServices = async () => {
      for (const hostConfig of next.hosts) await syncServiceHosts(hostConfig.domain, hostConfig, services);
      for (const domain of removed) stoppedServices.push(...(await syncServiceHosts(domain, undefined, services)).stopped);
    };
    await syncServices();
    const components = await this.#context.components?.reconfigure(next);
    await syncServices();
    for (const domain of [...removed, ...stoppedServices]) if (!router.hosts.has(domain)) tls.delete(domain);
    this.#context.limits?.configure(next.limits);
    const ended = this.#context.s2s?.enforcePolicy() ?? 0;
    if (ended > 0) logger.warn('server connections no longer allowed by the new policy were closed', { connections: ended });
    for (const host of added) logger.info('host added', { host: host.domain });
    for (const host of changed) logger.info('host settings changed; host rebuilt', { host: host.domain });

    for (const domain of components?.added ?? []) logger.info('component added', { component: domain });
    for (const domain of components?.changed ?? []) logger.info('component secret changed; it applies to the next connection', { component: domain });
    // Against what runs, not the previous file: a change reverted before a restart is no longer pending.
    const restartPending = RESTART_KEYS.flatMap((key) => differences(withoutPolicy(this.#started, key), withoutPolicy(next, key), key));
    const needRestart = RESTART_KEYS.filter((key) => restartPending.some((pending) => pending.key === key || pending.key.startsWith(`${key}.`)));
    // Certificates of hosts that stay, read again: renewed files at the same paths take effect.
    const certificates = tls.refresh();
    return {
      ok: true,
      added: added.map((host) => host.domain), removed, changed: changed.map((host) => host.domain), needRestart,
      restartPending,
      certificates,
      components: { added: components?.added ?? [], removed: components?.removed ?? [], secretChanged: components?.changed ?? [] },
      links,
    };
  }

  #fail(refused: (ReloadOutcome & { ok: false })['refused'], error: string): ReloadOutcome {
    this.#context.logger.error('configuration reload failed', { error });
    return { ok: false, refused, error };
  }
}

/** A restart key's value, without the parts a reload applies. */
function withoutPolicy(config: TrellisConfig, key: (typeof RESTART_KEYS)[number]): unknown {
  if (key !== 's2s') return config[key];
  const rest: Record<string, unknown> = { ...config.s2s };
  for (const policyKey of S2S_POLICY_KEYS) delete rest[policyKey];
  return rest;
}

/** The key paths at which two resolved configuration values differ (arrays compare whole). */
function differences(running: unknown, file: unknown, path: string): RestartPending[] {
  if (isRecord(running) && isRecord(file)) {
    const keys = [...new Set([...Object.keys(running), ...Object.keys(file)])];
    return keys.flatMap((key) => differences(running[key], file[key], `${path}.${key}`));
  }
  return JSON.stringify(running) === JSON.stringify(file) ? [] : [{ key: path, running: redacted(running, path), file: redacted(file, path) }];
}

/** Secrets (passwords, shared secrets, a connection string that may carry a password) are never reported. */
const SECRET_KEY = /(secret|password|postgres_url)$/;

function redacted(value: unknown, path: string): unknown {
  if (value === undefined || value === null) return null;
  if (SECRET_KEY.test(path)) return '(hidden)';
  if (Array.isArray(value)) return value.map((item) => redacted(item, path));
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redacted(item, `${path}.${key}`)]));
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** "+added,-removed,~changed" for the log, or undefined when nothing changed. */
function describeChanges(added: readonly string[], removed: readonly string[], changed: readonly string[]): string | undefined {
  const parts = [...added.map((name) => `+${name}`), ...removed.map((name) => `-${name}`), ...changed.map((name) => `~${name}`)];
  return parts.join(',') || undefined;
}

function sameHost(a: HostConfig, aConfig: TrellisConfig, b: HostConfig, bConfig: TrellisConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b) && sameCertificate(a, aConfig, b, bConfig);
}

function sameCertificate(a: HostConfig, aConfig: TrellisConfig, b: HostConfig, bConfig: TrellisConfig): boolean {
  return JSON.stringify(configuredCertificate(a, aConfig)) === JSON.stringify(configuredCertificate(b, bConfig));
}
