/**
 * Starts test/clients/xmppjs-driver.ts: @xmpp/client in its own process (it reads
 * NODE_EXTRA_CA_CERTS at startup), logged in over STARTTLS with SCRAM and verifying the
 * server's generated certificate for the account's domain.
 */
import { join } from 'node:path';
import { startDriver, type ClientDriver } from './client-driver.ts';
import type { TestServer } from './server.ts';

const DRIVER = join(import.meta.dirname, '..', 'clients', 'xmppjs-driver.ts');

export function startXmppjs(server: TestServer, username: string, domain: string, password: string, resource = 'xmppjs'): Promise<ClientDriver> {
  return startDriver(`@xmpp/client ${username}@${domain}/${resource}`, process.execPath, [DRIVER, username, domain, password, String(server.port), resource], {
    NODE_EXTRA_CA_CERTS: server.certificateFile(domain),
  });
}

/** The same client over its WebSocket transport (RFC 7395), connecting to `url` (wss://...). */
export function startXmppjsWebSocket(server: TestServer, url: string, username: string, domain: string, password: string, resource = 'xmppjs-ws'): Promise<ClientDriver> {
  return startDriver(`@xmpp/client (WebSocket) ${username}@${domain}/${resource}`, process.execPath, [DRIVER, username, domain, password, url, resource], {
    NODE_EXTRA_CA_CERTS: server.certificateFile(domain),
  });
}
