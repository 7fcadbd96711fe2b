/**
 * What Node itself holds before any server code runs, for the start-up memory scenario:
 *
 *   node bench/servers/node-floor-server.mjs idle ADDRESS C2S_PORT
 *   node bench/servers/node-floor-server.mjs tls ADDRESS C2S_PORT S2S_PORT CERTIFICATE KEY DATA_DIR
 *
 * `idle` listens on one port and does nothing else. `tls` does the least that any XMPP server
 * on Node with TLS and SQLite storage must: it loads Node's TLS, crypto and SQLite modules, makes
 * a TLS context from the certificate and key (RFC 6120 section 5: TLS is mandatory to
 * implement), opens an SQLite database in DATA_DIR with one table, and listens for clients and
 * for servers. Neither reads from its connections. Plain JavaScript: Node's type stripping would
 * add its own memory to the floor.
 */
import { createServer } from 'node:net';

const [kind, address, c2sPort, s2sPort, certificate, key, dataDir] = process.argv.slice(2);
const usage = 'usage: node-floor-server.mjs idle ADDRESS C2S_PORT | tls ADDRESS C2S_PORT S2S_PORT CERTIFICATE KEY DATA_DIR\n';
if (!address || !c2sPort || (kind !== 'idle' && kind !== 'tls') || (kind === 'tls' && !(s2sPort && certificate && key && dataDir))) {
  process.stderr.write(usage);
  process.exit(2);
}

/** Held for the life of the process, as a server holds them. */
const held = [];
if (kind === 'tls') {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { createSecureContext } = await import('node:tls');
  const { DatabaseSync } = await import('node:sqlite');
  held.push(createSecureContext({ cert: readFileSync(certificate), key: readFileSync(key), minVersion: 'TLSv1.2' }));
  const database = new DatabaseSync(join(dataDir, 'floor.sqlite'));
  database.exec('PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS accounts (domain TEXT, local TEXT, data TEXT, PRIMARY KEY (domain, local))');
  held.push(database);
  held.push(createServer(() => {}).listen(Number(s2sPort), address));
}
held.push(createServer(() => {}).listen(Number(c2sPort), address));
