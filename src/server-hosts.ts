/**
 * Setting up one hosted domain: its certificate and its Host with the feature modules it
 * enables. Used at start and again when a reload adds or changes a host.
 */
import type { HostConfig, TlsFiles, TrellisConfig } from './config/types.ts';
import { MODULE_NAMES } from './config/types.ts';
import { FEATURE_MODULES } from './modules/index.ts';
import { ensureSelfSignedCertificate } from './net/self-signed.ts';
import type { TlsContextStore } from './net/tls-contexts.ts';
import type { ModuleContext } from './modules/context.ts';
import { Host } from './router/host.ts';
import type { Router } from './router/router.ts';
import type { Storage } from './storage/types.ts';
import type { Logger } from './util/log.ts';

export interface HostSetupContext {
  router: Router;
  storage: Storage;
  /** the configuration the host comes from */
  config: TrellisConfig;
  logger: Logger;
  /** the HTTP listener, when the server has one: modules hand out addresses on it */
  web?: ModuleContext['web'];
}

/** A Host with every module its configuration does not disable (DESIGN: hosts are contexts). */
export function buildHost(hostConfig: HostConfig, { router, storage, config, logger, web }: HostSetupContext): Host {
  const host = new Host(hostConfig);
  for (const name of MODULE_NAMES) {
    if (!hostConfig.modules_disabled.includes(name)) FEATURE_MODULES[name]?.({ host, router, storage, config, logger: logger.child({ host: host.domain, module: name }), ...(web ? { web } : {}) });
  }
  return host;
}

/** The certificate files a host uses: its own, else the default, else none (a self-signed one is generated). */
export function configuredCertificate(host: HostConfig, config: TrellisConfig): TlsFiles | undefined {
  return host.tls ?? config.tls;
}

/** Loads a host's certificate into the store, generating a self-signed one where none is configured. */
export async function loadHostCertificate(store: TlsContextStore, host: HostConfig, config: TrellisConfig, logger: Logger): Promise<void> {
  let files = configuredCertificate(host, config);
  if (!files) {
    const generated = await ensureSelfSignedCertificate(host.domain, config.data_dir);
    files = generated.files;
    if (generated.created) {
      logger.warn('generated a self-signed certificate; clients will not trust it until you configure a real one (hosts.<domain>.tls)', { host: host.domain, certificate: files.certificate });
    } else {
      logger.info('using the self-signed certificate', { host: host.domain, certificate: files.certificate });
    }
  }
  store.add(host.domain, files);
}
