/**
 * Starts test/clients/im_driver.py: slixmpp (Debian python3-slixmpp) logged in over STARTTLS
 * with SCRAM, verifying the server's generated certificate for the account's domain.
 */
import { join } from 'node:path';
import { startDriver, type ClientDriver } from './client-driver.ts';
import type { TestServer } from './server.ts';

const DRIVER = join(import.meta.dirname, '..', 'clients', 'im_driver.py');

/** `jid` may carry a resource; resolves once the session started. */
export function startSlixmpp(server: TestServer, jid: string, password: string): Promise<ClientDriver> {
  const domain = jid.replace(/^[^@]*@/, '').replace(/\/.*$/, '');
  return startDriver(`slixmpp ${jid}`, '/usr/bin/python3', [DRIVER, jid, password, '127.0.0.1', String(server.port), server.certificateFile(domain)]);
}
