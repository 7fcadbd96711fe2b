/**
 * A byte-level client for stream tests: writes exactly the XML a test gives it and collects
 * everything the server writes back, so tests can assert on the wire format.
 */
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export class RawClient {
  socket: Socket;
  received = '';
  #waiters: (() => void)[] = [];
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    this.#listen(socket);
  }

  /** `localAddress` picks the source address (127.0.0.2 is a second client on loopback). */
  static async connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawClient> {
    const socket = connect({ port, host, ...(localAddress ? { localAddress } : {}) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  /** Connects with TLS from the first byte (XEP-0368 direct TLS), ALPN "xmpp-client". */
  static async connectDirectTls(port: number, ca: Buffer, servername: string): Promise<RawClient> {
    const socket = tlsConnect({ port, host: '127.0.0.1', ca, servername, ALPNProtocols: ['xmpp-client'] });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  #listen(socket: Socket): void {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.toString('utf8');
      for (const waiter of this.#waiters.splice(0)) waiter();
    });
    socket.on('close', () => {
      for (const waiter of this.#waiters.splice(0)) waiter();
    });
    socket.on('error', () => {});
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Waits until what was received (after `from`) matches; returns the received text. */
  async waitFor(pattern: RegExp | string, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const matched = typeof pattern === 'string' ? this.received.includes(pattern) : pattern.test(this.received);
      if (matched) return this.received;
      if (this.socket.destroyed) throw new Error(`connection closed before ${pattern}; received: ${this.received}`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`timed out waiting for ${pattern}; received: ${this.received}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves when the server has closed the connection. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    await Promise.race([
      this.closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`connection still open; received: ${this.received}`)), timeoutMs).unref()),
    ]);
  }

  /**
   * Upgrades to TLS (after <proceed/>), trusting `ca` (any certificate when undefined), checking
   * the name `servername`; `identity` is a client certificate to present (a peer server's).
   */
  async startTls(ca: Buffer | undefined, servername: string, identity?: { cert: string; key: string }): Promise<void> {
    this.socket.removeAllListeners('data');
    const secure = tlsConnect({ socket: this.socket, ca, servername, rejectUnauthorized: ca !== undefined, ...identity });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', resolve);
      secure.once('error', reject);
    });
    this.received = '';
    this.socket = secure;
    this.#listen(secure);
  }

  clear(): void {
    this.received = '';
  }

  close(): void {
    this.socket.destroy();
  }
}

export function streamHeader(to: string, extra = ''): string {
  return `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${to}' version='1.0'${extra}>`;
}

let nextIqId = 0;

/** Sends an IQ written with the placeholder `ID` (replaced by a fresh id) and resolves with the whole reply. */
export async function iqReply(client: RawClient, xml: string): Promise<string> {
  const id = `iq-${++nextIqId}`;
  client.send(xml.replace('ID', id));
  const reply = new RegExp(`<iq[^>]*id=["']${id}["'][^>]*?(/>|>[\\s\\S]*?</iq>)`);
  return reply.exec(await client.waitFor(reply))![0];
}

