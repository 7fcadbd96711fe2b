/**
 * A TCP relay that behaves like a slow, long link (there is no netem on this kernel): each chunk
 * waits for the link to be free, takes its transmission time at the link rate, then the one-way
 * delay, and only then reaches the other side; each direction is paced on its own. It counts
 * the bytes carried each way. The TCP handshake with the relay itself is not delayed.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface LinkShape {
  /** one-way delay in milliseconds */
  delayMs: number;
  /** bits per second */
  rate: number;
}

/** One direction of the link: chunks leave in order, one at a time, at the link rate. */
class Direction {
  bytes = 0;
  #freeAt = 0;
  readonly #shape: LinkShape;

  constructor(shape: LinkShape) {
    this.#shape = shape;
  }

  carry(chunk: Buffer, deliver: () => void): void {
    this.bytes += chunk.length;
    const start = Math.max(Date.now(), this.#freeAt);
    this.#freeAt = start + (chunk.length * 8 * 1000) / this.#shape.rate;
    setTimeout(deliver, this.#freeAt + this.#shape.delayMs - Date.now());
  }
}

export class DelayingRelay {
  readonly up: Direction;
  readonly down: Direction;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  private constructor(server: Server, shape: LinkShape) {
    this.#server = server;
    this.up = new Direction(shape);
    this.down = new Direction(shape);
  }

  /** Listens on `host` (a port the system picks) and relays to what `target()` names when a connection arrives. */
  static async start(host: string, shape: LinkShape, target: () => { host: string; port: number }): Promise<DelayingRelay> {
    let relay: DelayingRelay | undefined;
    const server = createServer((client) => relay!.#accept(client, target()));
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    relay = new DelayingRelay(server, shape);
    return relay;
  }

  get address(): string {
    const address = this.#server.address() as { address: string; port: number };
    return `${address.address}:${address.port}`;
  }

  get bytes(): number {
    return this.up.bytes + this.down.bytes;
  }

  #accept(client: Socket, target: { host: string; port: number }): void {
    const upstream = connect(target);
    for (const socket of [client, upstream]) {
      this.#sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        this.#sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => this.up.carry(chunk, () => upstream.write(chunk)));
    upstream.on('data', (chunk: Buffer) => this.down.carry(chunk, () => client.write(chunk)));
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
