/**
 * A process that only moves bytes: each `LISTEN=TARGET` argument (both `address:port`) accepts
 * TCP connections and pipes each to a new connection to the target, both ways, unchanged (TLS and
 * XMPP pass through). The per-hop benchmark puts two of them where the chain has its edges
 * (topology.ts, the `forwarded` case): what a process on the path costs on this machine with no
 * work of its own. Prints "ready" once every listener listens; stops on SIGTERM.
 *
 *   node bench/hops/forwarder.ts 127.0.74.2:5269=127.0.74.3:5269 127.0.74.2:5270=127.0.74.1:5269
 */
import { connect, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

function endpoint(text: string): { host: string; port: number } {
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1));
  if (colon < 1 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`not address:port: ${text}`);
  return { host: text.slice(0, colon), port };
}

const sockets = new Set<Socket>();
const servers: Server[] = [];

function track(socket: Socket): void {
  socket.setNoDelay(true);
  sockets.add(socket);
  socket.on('close', () => sockets.delete(socket));
  socket.on('error', () => socket.destroy());
}

for (const argument of process.argv.slice(2)) {
  const [listen, target] = argument.split('=').map(endpoint);
  if (listen === undefined || target === undefined) throw new Error(`expected LISTEN=TARGET: ${argument}`);
  const server = createServer((client) => {
    const upstream = connect(target);
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  server.listen(listen.port, listen.host);
  await once(server, 'listening');
  servers.push(server);
}
process.stdout.write('ready\n');

process.on('SIGTERM', () => {
  for (const socket of sockets) socket.destroy();
  for (const server of servers) server.close();
  process.exit(0);
});
