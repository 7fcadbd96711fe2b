/**
 * What the XEP-0227 import tests share: a Trellis configuration for imported hosts, and a real
 * client (slixmpp, test/clients/im_driver.py) logging in with one SASL mechanism, as users of
 * the old server do with their old passwords.
 */
import { join } from 'node:path';
import { startDriver, type ClientDriver } from './client-driver.ts';

const DRIVER = join(import.meta.dirname, '..', 'clients', 'im_driver.py');

/** The configuration file of a Trellis serving `hosts`, data in `dataDir`, a client listener on a port the system picks. */
export function importConfig(dataDir: string, hosts: readonly string[], address = '127.0.0.1'): string {
  return `data_dir: ${dataDir}
listeners:
  c2s: { addresses: ["${address}"], port: 0 }
  s2s: { enabled: false }
http: { enabled: false }
c2s: { scram_iterations: 4096, auth_failure_delay: 10 }
hosts:
${hosts.map((host) => `  ${host}: {}\n`).join('')}`;
}

export type Mechanism = 'SCRAM-SHA-1-PLUS' | 'SCRAM-SHA-256-PLUS' | 'PLAIN';

/** slixmpp logged in to `address:port` over STARTTLS with `mechanism`, the certificate checked against `caFile`. */
export function loginWith(address: string, port: number, caFile: string, jid: string, password: string, mechanism: Mechanism): Promise<ClientDriver> {
  return startDriver(`slixmpp ${jid} (${mechanism})`, '/usr/bin/python3', [DRIVER, jid, password, address, String(port), caFile, mechanism]);
}

/** The roster a client fetched, as `jid: subscription [groups]` lines, sorted. */
export function rosterLines(result: Record<string, unknown>): string[] {
  const items = result.items as Record<string, { name: string; subscription: string; ask?: string; groups: string[] }>;
  return Object.entries(items)
    .map(([jid, item]) => `${jid} ${item.subscription}${item.name === '' ? '' : ` "${item.name}"`} [${[...item.groups].sort().join(',')}]`)
    .sort();
}
