/**
 * Service hosts: domains that serve a service instead of accounts (DESIGN: routes are a table).
 * Each hosted domain gets its services at subdomains of its own (group chat at
 * `conference.<host>`, publish-subscribe at `pubsub.<host>` and, while the HTTP listener runs,
 * file upload at `upload.<host>`, unless configured otherwise), listed in its disco#items (XEP-0030) and
 * routed like any hosted domain; the router's foreign-access rules of the parent host apply.
 * No client logs in to a service host, and it runs none of the account features.
 */
import type { HostConfig, TrellisConfig } from '../config/types.ts';
import { mucServiceOf, serveMuc } from '../muc/module.ts';
import { servePubsub } from '../pubsub/module.ts';
import type { MucService } from '../muc/service.ts';
import type { TlsContextStore } from '../net/tls-contexts.ts';
import { Host, type ServiceInfo } from '../router/host.ts';
import type { Router } from '../router/router.ts';
import type { Storage } from '../storage/types.ts';
import type { Logger } from '../util/log.ts';
import { UploadFileStore } from '../upload/file-store.ts';
import { serveUpload } from '../upload/module.ts';
import type { UploadRegistry } from '../upload/registry.ts';
import { UploadService } from '../upload/service.ts';
import { resolve } from 'node:path';

export interface ServiceSpec extends ServiceInfo {
  kind: 'muc' | 'pubsub' | 'upload';
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
  /** the upload services and their HTTP route, when the HTTP listener runs */
  uploads?: UploadRegistry;
}

/** The domains of a hosted domain's services where an external component is configured instead (it serves them). */
function componentsInPlace(host: HostConfig, config: TrellisConfig): string[] {
  return SERVICE_KINDS.filter((kind) => host[kind].enabled)
    .map((kind) => `${host[kind].subdomain}.${host.domain}`)
    .filter((domain) => config.components.some((component) => component.domain === domain));
}

/** The services a hosted domain has by its configuration; a domain that is itself hosted is never a service. */
export function serviceSpecs(host: HostConfig, config: TrellisConfig): ServiceSpec[] {
  const specs: ServiceSpec[] = [];
  // An edge has no local users, so no services for them (docs/peering.md, "Edge servers").
  if (config.mode === 'edge') return specs;
  for (const kind of SERVICE_KINDS) {
    const settings = host[kind];
    if (!settings.enabled) continue;
    // File upload needs the HTTP listener that serves the files.
    if (kind === 'upload' && !config.http.enabled) continue;
    const domain = `${settings.subdomain}.${host.domain}`;
    if (config.hosts.some((other) => other.domain === domain)) continue;
    // An external component configured at that domain serves it instead (src/component).
    if (config.components.some((component) => component.domain === domain)) continue;
    // Two services configured at one subdomain: the first (group chat) serves it.
    if (specs.some((spec) => spec.domain === domain)) continue;
    specs.push({ kind, parent: host.domain, domain });
  }
  return specs;
}

/** The services a hosted domain runs itself, each under its settings' key. */
const SERVICE_KINDS = ['muc', 'pubsub', 'upload'] as const;
type ServiceKind = (typeof SERVICE_KINDS)[number];

function isServiceKind(kind: string | undefined): kind is ServiceKind {
  return (SERVICE_KINDS as readonly string[]).includes(kind ?? '');
}

/**
 * Makes the router's service hosts of `parent` follow its configuration (undefined: the host
 * is gone): new ones start, unchanged ones keep their rooms and take the new settings, changed
 * or unwanted ones stop. The parent lists them in its disco#items (`Router.servicesOf`).
 */
export async function syncServiceHosts(parent: string, hostConfig: HostConfig | undefined, context: ServiceSetupContext): Promise<{ started: string[]; stopped: string[] }> {
  const { router, config, logger } = context;
  const wanted = hostConfig ? serviceSpecs(hostConfig, config) : [];
  for (const component of hostConfig ? componentsInPlace(hostConfig, config) : []) {
    logger.info('a service is served by an external component instead of the built-in one', { host: parent, service: component, key: `components.${component}` });
  }
  const started: string[] = [];
  const stopped: string[] = [];
  for (const host of [...router.hosts.values()]) {
    const kind = host.service?.kind;
    if (!isServiceKind(kind) || host.service!.parent !== parent) continue;
    const keep = hostConfig !== undefined && wanted.some((spec) => spec.domain === host.domain && spec.kind === kind) && sameSettings(host.config, hostConfig, kind);
    if (keep) {
      host.config = hostConfig;
      continue;
    }
    router.hosts.delete(host.domain);
    if (kind === 'upload') context.uploads?.remove(host.domain);
    stopped.push(host.domain);
  }
  for (const spec of wanted) {
    if (router.hosts.get(spec.domain)?.service) continue;
    const serviceConfig = { ...hostConfig!, domain: spec.domain };
    await context.loadCertificate(context.tls, serviceConfig, config, logger);
    const host = new Host(hostConfig!, spec);
    if (spec.kind === 'pubsub') servePubsub(host, { parent, router, storage: context.storage });
    else if (spec.kind === 'upload') {
      if (!(await startUpload(host, spec, hostConfig!, context))) continue;
    } else serveMuc(host, { parent, settings: hostConfig!.muc, router, storage: context.storage, logger: logger.child({ service: spec.domain }) });
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

function sameSettings(a: HostConfig, b: HostConfig, kind: ServiceKind): boolean {
  return JSON.stringify(a[kind]) === JSON.stringify(b[kind]);
}

/** An upload service: its files' folder read, its slots and HTTP route; false when there is no HTTP listener to serve it. */
async function startUpload(host: Host, spec: ServiceSpec, hostConfig: HostConfig, context: ServiceSetupContext): Promise<boolean> {
  const uploads = context.uploads;
  if (!uploads) return false;
  const settings = hostConfig.upload;
  const logger = context.logger.child({ service: spec.domain });
  const store = new UploadFileStore(resolve(context.config.data_dir, settings.directory, spec.domain), logger);
  await store.open(settings.expire_after);
  const service = new UploadService({ domain: spec.domain, parent: spec.parent, settings, store, secret: uploads.secret, baseUrl: () => uploads.baseUrl(spec.parent), logger });
  serveUpload(host, service, spec.parent);
  uploads.add(service);
  return true;
}
