/** TCP (and direct TLS) listeners on configured addresses; "*" means every interface. */
import { createServer, type Server, type Socket, type AddressInfo } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { ListenerTlsOptions } from './tls-contexts.ts';

export interface BoundAddress {
  address: string;
  port: number;
}

/** What a listener's owner may add to accepting. */
export interface ListenerHooks {
  /** accept() failed once listening (EMFILE when out of descriptors) */
  acceptError?: (error: NodeJS.ErrnoException) => void;
  /**
   * TLS listeners only: asked with the TCP socket before the handshake; false drops it at once,
   * so a refused peer costs no handshake.
   */
  screen?: (socket: Socket) => boolean;
}

export interface Listener {
  readonly addresses: BoundAddress[];
  close(): Promise<void>;
}

/**
 * Listens on each address; resolves when all are bound, rejects (closing any that did bind)
 * when one fails, with the address in the message.
 */
export async function listen(
  addresses: readonly string[],
  port: number,
  onConnection: (socket: Socket) => void,
  tls?: ListenerTlsOptions,
  hooks: ListenerHooks = {},
): Promise<Listener> {
  const servers: Server[] = [];
  const bound: BoundAddress[] = [];
  try {
    for (const address of expandAny(addresses)) {
      const server = tls ? tlsServer(tls, onConnection) : createServer(onConnection);
      // Once listening, an 'error' is a failed accept (EMFILE when out of descriptors).
      server.on('error', (error: NodeJS.ErrnoException) => {
        if (server.listening) hooks.acceptError?.(error);
      });
      const screen = hooks.screen;
      if (tls && screen) {
        server.on('connection', (socket: Socket) => {
          if (!screen(socket)) socket.destroy();
        });
      }
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: address.host, port, ipv6Only: address.ipv6Only }, () => {
          server.off('error', reject);
          resolve();
        });
      }).catch((error: NodeJS.ErrnoException) => {
        if (address.optional && (error.code === 'EAFNOSUPPORT' || error.code === 'EADDRNOTAVAIL')) return;
        throw new Error(`cannot listen on ${address.host}:${port}: ${error.message}`);
      });
      if (!server.listening) continue;
      servers.push(server);
      const info = server.address() as AddressInfo;
      bound.push({ address: info.address, port: info.port });
      // With port 0 every further address reuses the port the first one got.
      port = info.port;
    }
  } catch (error) {
    await Promise.all(servers.map((server) => closeServer(server)));
    throw error;
  }
  return {
    addresses: bound,
    close: async () => {
      await Promise.all(servers.map((server) => closeServer(server)));
    },
  };
}

/** A direct TLS server, handed to its options' owner so that renewed certificates reach it. */
function tlsServer(options: ListenerTlsOptions, onConnection: (socket: Socket) => void): Server {
  const server = createTlsServer(options, onConnection);
  options.attach?.(server);
  return server;
}

interface ListenAddress {
  host: string;
  ipv6Only: boolean;
  /** a missing IPv6 stack is not an error for "*" */
  optional: boolean;
}

function expandAny(addresses: readonly string[]): ListenAddress[] {
  const result: ListenAddress[] = [];
  for (const address of addresses) {
    if (address === '*') {
      result.push({ host: '0.0.0.0', ipv6Only: false, optional: false }, { host: '::', ipv6Only: true, optional: true });
    } else {
      result.push({ host: address, ipv6Only: address.includes(':'), optional: false });
    }
  }
  return result;
}

/**
 * Stops accepting connections; the port is free at once. Open connections are left to the
 * services that own them (Server#close's callback would wait for them all to end).
 */
function closeServer(server: Server): Promise<void> {
  if (server.listening) server.close();
  return Promise.resolve();
}
