/**
 * A TCP relay (on 127.0.0.1 unless told) in front of a server port, for tests of networks that go away
 * silently. `freeze()` stops forwarding, in both directions, on every connection open at that
 * moment: the relay reads nothing more from either socket and keeps both open, so neither end
 * sees a close, as when a phone leaves Wi-Fi and its packets are dropped. What was in flight
 * stays in the kernel buffers. Connections made after `freeze()` pass normally. `cut()` then
 * resets the frozen connections on both sides, as a router that lost the connection's state.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  upstream: Socket;
  frozen: boolean;
}

export class FreezingRelay {
  readonly port: number;
  #server: Server;
  #pairs = new Set<Pair>();

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  /** Starts relaying connections to `targetHost`:`targetPort`, listening on `listen` (a port the system picks on 127.0.0.1 by default). */
  static async start(targetPort: number, { targetHost = '127.0.0.1', listen = { host: '127.0.0.1', port: 0 } } = {}): Promise<FreezingRelay> {
    let relay: FreezingRelay | undefined;
    const server = createServer({ allowHalfOpen: true }, (client) => relay!.#accept(client, targetHost, targetPort));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the relay has no TCP address');
    relay = new FreezingRelay(server, address.port);
    return relay;
  }

  /** connections currently relayed, frozen ones included */
  get connections(): number {
    return this.#pairs.size;
  }

  /** connections frozen and still held open */
  get frozen(): number {
    return [...this.#pairs].filter((pair) => pair.frozen).length;
  }

  #accept(client: Socket, targetHost: string, targetPort: number): void {
    client.pause();
    const upstream = connect({ port: targetPort, host: targetHost, allowHalfOpen: true });
    const pair: Pair = { client, upstream, frozen: false };
    this.#pairs.add(pair);
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk: Buffer) => {
        if (!pair.frozen) to.write(chunk);
      });
      from.on('end', () => {
        if (!pair.frozen) to.end();
      });
      from.on('close', () => {
        if (!pair.frozen) to.destroy();
        if (client.destroyed && upstream.destroyed) this.#pairs.delete(pair);
      });
      from.on('error', () => {});
    };
    forward(client, upstream);
    forward(upstream, client);
    upstream.once('connect', () => client.resume());
  }

  /** Stops forwarding on every open connection, silently and for good. Returns how many were frozen. */
  freeze(): number {
    let count = 0;
    for (const pair of this.#pairs) {
      if (pair.frozen) continue;
      pair.frozen = true;
      // Reading nothing more leaves the bytes in the kernel buffers, where the sender's window
      // fills as on a network that drops every packet; neither side sees a close.
      pair.client.pause();
      pair.upstream.pause();
      count++;
    }
    return count;
  }

  /** Resets both sides of every frozen connection (TCP RST): what they held is lost. Returns how many were cut. */
  cut(): number {
    let count = 0;
    for (const pair of this.#pairs) {
      if (!pair.frozen) continue;
      pair.client.resetAndDestroy();
      pair.upstream.resetAndDestroy();
      this.#pairs.delete(pair);
      count++;
    }
    return count;
  }

  /** Destroys every connection and stops listening. */
  async close(): Promise<void> {
    for (const pair of this.#pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.#pairs.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
