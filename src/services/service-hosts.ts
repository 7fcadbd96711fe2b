/**
 * Service hosts: domains that serve a service instead of accounts (DESIGN: routes are a table).
 * Each hosted domain gets its services at subdomains of its own (group chat at
 * `conference.<host>` unless configured otherwise), listed in its disco#items (XEP-0030) and
 * routed like any hosted domain; the router's foreign-access rules of the parent host apply.
 * No client logs in to a service host, and it runs none of the account features.
 */
import type { HostConfig, TrellisConfig } from '../config/types.ts';
import { mucServiceOf, serveMuc } from '../muc/module.ts';
import type { MucService } from '../muc/service.ts';
import type { TlsContextStore } from '../net/tls-contexts.ts';
import { Host, type ServiceInfo } from '../router/host.ts';
import type { Router } from '../router/router.ts';
import type { Storage } from '../storage/types.ts';
import type { Logger } from '../util/log.ts';

export interface ServiceSpec extends ServiceInfo {
  domain: string;
}

export interface ServiceSetupContext {
  router: Router;
  storage: Storage;
  config: TrellisConfig;
  tls: TlsContextStore;
  logger: Logger;
  /** loads (or generates) the certificate of a domain, as for hosted domains */
  loadCertificate(store: TlsContextStore, host: HostConfig, config: TrellisConfig, logger: Logger): Promise<void>;
}

/** The domain of a hosted domain's group-chat service when an external component is configured there (it serves it instead). */
function componentInPlace(host: HostConfig, config: TrellisConfig): string | undefined {
  const domain = `${host.muc.subdomain}.${host.domain}`;
  return host.muc.enabled && config.components.some((component) => component.domain === domain) ? domain : undefined;
}

/** The services a hosted domain has by its configuration; a domain that is itself hosted is never a service. */
export function serviceSpecs(host: HostConfig, config: TrellisConfig): ServiceSpec[] {
  if (!host.muc.enabled) return [];
  const domain = `${host.muc.subdomain}.${host.domain}`;
  if (config.hosts.some((other) => other.domain === domain)) return [];
  // An external component configured at that domain serves it instead (src/component).
  if (componentInPlace(host, config)) return [];
  return [{ kind: 'muc', parent: host.domain, domain }];
}

/**
 * Makes the router's service hosts of `parent` follow its configuration (undefined: the host
 * is gone): new ones start, unchanged ones keep their rooms and take the new settings, changed
 * or unwanted ones stop. The parent lists them in its disco#items (`Router.servicesOf`).
 */
export async function syncServiceHosts(parent: string, hostConfig: HostConfig | undefined, context: ServiceSetupContext): Promise<{ started: string[]; stopped: string[] }> {
  const { router, config, logger } = context;
  const wanted = hostConfig ? serviceSpecs(hostConfig, config) : [];
  const component = hostConfig && componentInPlace(hostConfig, config);
  if (component) logger.info('group chat is served by an external component instead of the built-in service', { host: parent, service: component, key: `components.${component}` });
  const started: string[] = [];
  const stopped: string[] = [];
  for (const host of [...router.hosts.values()]) {
    if (host.service?.kind !== 'muc' || host.service.parent !== parent) continue;
    const keep = hostConfig !== undefined && wanted.some((spec) => spec.domain === host.domain) && sameSettings(host.config, hostConfig);
    if (keep) {
      host.config = hostConfig;
      continue;
    }
    router.hosts.delete(host.domain);
    stopped.push(host.domain);
  }
  for (const spec of wanted) {
    if (router.hosts.get(spec.domain)?.service) continue;
    const serviceConfig = { ...hostConfig!, domain: spec.domain };
    await context.loadCertificate(context.tls, serviceConfig, config, logger);
    const host = new Host(hostConfig!, spec);
    serveMuc(host, { parent, settings: hostConfig!.muc, router, storage: context.storage, logger: logger.child({ service: spec.domain }) });
    router.addHost(host);
    started.push(spec.domain);
    logger.info('service started', { service: spec.domain, kind: spec.kind, host: parent });
  }
  return { started, stopped };
}

/** The group-chat services the router serves now (the admin API's rooms). */
export function mucServices(router: Router): MucService[] {
  return [...router.hosts.values()].flatMap((host) => mucServiceOf(host) ?? []);
}

function sameSettings(a: HostConfig, b: HostConfig): boolean {
  return JSON.stringify(a.muc) === JSON.stringify(b.muc);
}
