/**
 * Real clients for the group-chat tests: slixmpp with its XEP-0045 plugin
 * (test/clients/muc_driver.py) and @xmpp/client sending the MUC stanzas as XML.
 */
import { join } from 'node:path';
import { startDriver, type ClientDriver } from './client-driver.ts';
import type { TestServer } from './server.ts';

const DRIVER = join(import.meta.dirname, '..', 'clients', 'muc_driver.py');

/** `jid` may carry a resource; resolves once the session started. */
export function startSlixmppMuc(server: TestServer, jid: string, password: string): Promise<ClientDriver> {
  const domain = jid.replace(/^[^@]*@/, '').replace(/\/.*$/, '');
  return startDriver(`slixmpp (MUC) ${jid}`, '/usr/bin/python3', [DRIVER, jid, password, '127.0.0.1', String(server.port), server.certificateFile(domain)]);
}
