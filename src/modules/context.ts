/** What a feature module gets when it is enabled on a host. */
import type { TrellisConfig } from '../config/types.ts';
import type { Host } from '../router/host.ts';
import type { Router } from '../router/router.ts';
import type { Storage } from '../storage/types.ts';
import type { Logger } from '../util/log.ts';

export interface ModuleContext {
  /** the host the module serves; its settings are `host.config` */
  host: Host;
  router: Router;
  storage: Storage;
  /** the whole server configuration */
  config: TrellisConfig;
  logger: Logger;
  /** the HTTP listener's address for a domain, when the server has one (docs/web.md) */
  web?: { baseUrl(domain: string): string };
}

/** Registers a feature's IQ handlers and event handlers on one host. */
export type FeatureModule = (context: ModuleContext) => void;
