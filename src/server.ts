/**
 * The composition root: storage, certificates, hosts, router and listeners, wired once from a
 * resolved configuration. `startServer` is what `trellis start` and the tests call.
 */
import { C2sService } from './c2s/listener.ts';
import type { TrellisConfig } from './config/types.ts';
import { MODULE_NAMES } from './config/types.ts';
import { FEATURE_MODULES } from './modules/index.ts';
import type { BoundAddress } from './net/listener.ts';
import { ensureSelfSignedCertificate } from './net/self-signed.ts';
import { TlsContextStore } from './net/tls-contexts.ts';
import { Host } from './router/host.ts';
import { Router } from './router/router.ts';
import { SessionRegistry } from './router/sessions.ts';
import { openStorage } from './storage/open.ts';
import type { Storage } from './storage/types.ts';
import type { Logger } from './util/log.ts';

export interface TrellisServer {
  readonly config: TrellisConfig;
  readonly storage: Storage;
  readonly router: Router;
  readonly c2s: C2sService;
  readonly listening: { c2s: BoundAddress[]; c2sDirectTls: BoundAddress[] };
  close(): Promise<void>;
}

export async function startServer(config: TrellisConfig, logger: Logger): Promise<TrellisServer> {
  const storage = await openStorage(config.storage, config.data_dir);
  try {
    const tls = await loadCertificates(config, logger);
    const router = new Router(new SessionRegistry(), logger);
    for (const hostConfig of config.hosts) {
      const host = new Host(hostConfig);
      for (const name of MODULE_NAMES) {
        if (!hostConfig.modules_disabled.includes(name)) FEATURE_MODULES[name]?.({ host, router, storage, config, logger: logger.child({ host: host.domain, module: name }) });
      }
      router.addHost(host);
    }
    const c2s = new C2sService({ config: config.c2s, router, storage, tls, logger });
    let bound;
    try {
      bound = await c2s.listen(config.listeners.c2s, config.listeners.c2s_direct_tls);
    } catch (error) {
      await c2s.close();
      throw error;
    }
    for (const address of bound.starttls) logger.info('listening for clients (STARTTLS)', { address: formatAddress(address) });
    for (const address of bound.directTls) logger.info('listening for clients (direct TLS)', { address: formatAddress(address) });
    logger.info('serving hosts', { hosts: config.hosts.map((host) => host.domain).join(','), storage: storage.driver });
    return {
      config,
      storage,
      router,
      c2s,
      listening: { c2s: bound.starttls, c2sDirectTls: bound.directTls },
      async close() {
        await c2s.close();
        await storage.close();
        logger.info('server stopped');
      },
    };
  } catch (error) {
    await storage.close();
    throw error;
  }
}

/** Loads each host's certificate, generating a self-signed one where none is configured. */
async function loadCertificates(config: TrellisConfig, logger: Logger): Promise<TlsContextStore> {
  const store = new TlsContextStore();
  for (const host of config.hosts) {
    let files = host.tls ?? config.tls;
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
  return store;
}

function formatAddress(address: BoundAddress): string {
  return address.address.includes(':') ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
}
