/**
 * A TCP relay that holds every chunk for a fixed time in each direction: a link with a known
 * round-trip time between two servers on one machine (the kernel's netem is not available
 * everywhere). TLS and XMPP pass through unchanged; chunks keep their order. With 0 ms it only
 * moves bytes (bench/hops/forwarder.ts).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

export interface DelayProxy {
  stop(): Promise<void>;
}

export async function startDelayProxy(listen: { address: string; port: number }, target: { address: string; port: number }, oneWayMs: number): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const relay = (from: Socket, to: Socket) => {
    if (oneWayMs === 0) from.pipe(to); // nothing to hold: Node's pipe, with its backpressure
    else {
      from.on('data', (chunk: Buffer) => setTimeout(() => to.writable && to.write(chunk), oneWayMs));
      from.on('end', () => setTimeout(() => to.end(), oneWayMs));
    }
    from.on('error', () => to.destroy());
    from.on('close', () => setTimeout(() => to.destroy(), oneWayMs + 1));
  };
  const server: Server = createServer((client) => {
    const upstream = connect({ host: target.address, port: target.port });
    for (const socket of [client, upstream]) {
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    relay(client, upstream);
    relay(upstream, client);
  });
  server.listen(listen.port, listen.address);
  await once(server, 'listening');
  return {
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
