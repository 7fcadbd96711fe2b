/**
 * The HTTP listener and what it serves (docs/web.md): WebSocket clients (RFC 7395), host-meta
 * discovery (XEP-0156), invitations' landing pages (XEP-0401) and the files of the upload
 * services (XEP-0363). Made before the
 * service hosts, which register their upload services with it, and listening once the client
 * service exists.
 */
import type { C2sService } from './c2s/listener.ts';
import { hostMetaRoutes } from './c2s/host-meta.ts';
import type { TrellisConfig } from './config/types.ts';
import { HttpListener } from './net/http-listener.ts';
import { lazyRoutes } from './net/lazy-routes.ts';
import { invitePageRoute } from './modules/register/invite-page.ts';
import type { BoundAddress } from './net/listener.ts';
import type { TlsContextStore } from './net/tls-contexts.ts';
import type { Router } from './router/router.ts';
import type { Storage } from './storage/types.ts';
import { UploadRegistry, uploadSecret } from './upload/registry.ts';
import type { Logger, RefusalLog } from './util/log.ts';

export interface Web {
  readonly http: HttpListener;
  readonly uploads: UploadRegistry;
  /** Serves WebSocket clients, host-meta and uploads, and starts listening. */
  listen(c2s: C2sService, router: Router, tls: TlsContextStore): Promise<BoundAddress[]>;
  close(): Promise<void>;
}

/** The HTTP side of the server, or undefined when `http.enabled` is false. */
export async function prepareWeb(config: TrellisConfig, storage: Storage, logger: Logger, refusals: RefusalLog): Promise<Web | undefined> {
  if (!config.http.enabled) return undefined;
  const httpLogger = logger.child({ component: 'http' });
  const http = new HttpListener(config.http, httpLogger, refusals);
  const uploads = new UploadRegistry(await uploadSecret(storage), (domain) => http.baseUrl(domain));
  return {
    http,
    uploads,
    async listen(c2s, router, tls) {
      const websocket = config.http.websocket;
      // Loaded at the first WebSocket client: the WebSocket library is a dozen modules a server without one never needs.
      const webSocketRoute = async () => [(await import('./c2s/websocket.ts')).webSocketRoute({ config: config.http, c2s, maxStanzaBytes: config.c2s.limits.max_stanza_bytes, logger: httpLogger })];
      if (websocket.enabled) for (const route of lazyRoutes('upgrade', [websocket.path], webSocketRoute, httpLogger)) http.route(route);
      const hosted = (domain: string) => router.hosts.has(domain) && router.hosts.get(domain)!.service === undefined;
      const webSocketUrl = (domain: string) => (websocket.enabled ? http.baseUrl(domain).replace(/^http/, 'ws') + websocket.path : undefined);
      for (const route of hostMetaRoutes({ hosted, webSocketUrl })) http.route(route);
      http.route(invitePageRoute(storage, hosted));
      http.route(uploads.route());
      return http.listen(tls);
    },
    async close() {
      await http.close();
      uploads.close();
    },
  };
}
