/**
 * Starts test/clients/im_driver.py: slixmpp (Debian python3-slixmpp) logged in over STARTTLS
 * with SCRAM, verifying the server's generated certificate for the account's domain.
 */
import { join } from 'node:path';
import { startDriver, type ClientDriver } from './client-driver.ts';
import type { TestServer } from './server.ts';

const DRIVER = join(import.meta.dirname, '..', 'clients', 'im_driver.py');

export interface SlixmppOptions {
  /** the port to connect to instead of the server's (a relay in front of it) */
  port?: number;
  /** use stream management (XEP-0198) with resumption */
  streamManagement?: boolean;
}

/** `jid` may carry a resource; resolves once the session started. */
export function startSlixmpp(server: TestServer, jid: string, password: string, options: SlixmppOptions = {}): Promise<ClientDriver> {
  const domain = jid.replace(/^[^@]*@/, '').replace(/\/.*$/, '');
  const args = [DRIVER, jid, password, '127.0.0.1', String(options.port ?? server.port), server.certificateFile(domain)];
  return startDriver(`slixmpp ${jid}`, '/usr/bin/python3', args, options.streamManagement ? { IM_DRIVER_SM: '1' } : {});
}

const COMPONENT_DRIVER = join(import.meta.dirname, '..', 'clients', 'component_driver.py');

/**
 * Starts test/clients/component_driver.py: a slixmpp ComponentXMPP (XEP-0114) for `domain`
 * connecting to the component port; resolves once its handshake was accepted and rejects
 * with the stream error's condition when it was not.
 */
export function startSlixmppComponent(port: number, domain: string, secret: string): Promise<ClientDriver> {
  return startDriver(`component ${domain}`, '/usr/bin/python3', [COMPONENT_DRIVER, domain, secret, '127.0.0.1', String(port)]);
}

const PEP_DRIVER = join(import.meta.dirname, '..', 'clients', 'pep_driver.py');

/**
 * Starts test/clients/pep_driver.py: the slixmpp client above with entity capabilities, PEP and
 * pubsub; `interests` are the nodes it asks notifications of (`<node>+notify`) from the start.
 */
export function startSlixmppPep(server: TestServer, jid: string, password: string, interests: readonly string[] = []): Promise<ClientDriver> {
  const domain = jid.replace(/^[^@]*@/, '').replace(/\/.*$/, '');
  return startDriver(`slixmpp-pep ${jid}`, '/usr/bin/python3', [PEP_DRIVER, jid, password, '127.0.0.1', String(server.port), server.certificateFile(domain), ...interests]);
}

const UPLOAD_DRIVER = join(import.meta.dirname, '..', 'clients', 'upload_driver.py');

/** test/clients/upload_driver.py: im_driver with HTTP File Upload (XEP-0363), verifying HTTPS with the domain's certificate. */
export function startSlixmppUpload(server: TestServer, jid: string, password: string): Promise<ClientDriver> {
  const domain = jid.replace(/^[^@]*@/, '').replace(/\/.*$/, '');
  const ca = server.certificateFile(domain);
  return startDriver(`slixmpp upload ${jid}`, '/usr/bin/python3', [UPLOAD_DRIVER, jid, password, '127.0.0.1', String(server.port), ca], { SSL_CERT_FILE: ca });
}

const ADHOC_DRIVER = join(import.meta.dirname, '..', 'clients', 'adhoc_driver.py');

/** test/clients/adhoc_driver.py: im_driver with ad-hoc commands (XEP-0050) and service administration (XEP-0133). */
export function startSlixmppAdhoc(server: TestServer, jid: string, password: string): Promise<ClientDriver> {
  const domain = jid.replace(/^[^@]*@/, '').replace(/\/.*$/, '');
  return startDriver(`slixmpp adhoc ${jid}`, '/usr/bin/python3', [ADHOC_DRIVER, jid, password, '127.0.0.1', String(server.port), server.certificateFile(domain)]);
}
