/**
 * One benchmark client over plain TCP, or with STARTTLS (RFC 6120 section 5) when the run has TLS
 * on (tls-mode.ts: TLS 1.3, one cipher suite, checked after the handshake): stream header, SASL SCRAM (RFC 6120 section 6, RFC 5802),
 * stream restart, resource binding (RFC 6120 section 7), initial presence (RFC 6121 section 4.2),
 * then a ping round trip (XEP-0199) to know the server has processed all of it.
 *
 * SCRAM reuses SaltedPassword cached per password, salt and iteration count (cached-scram-client.ts),
 * as real clients do; `primeSaltedPassword` fills the cache with a first exchange that is aborted.
 *
 * Login reads with regular expressions over the text received; once logged in, the incoming
 * text goes to a cheap scanner that only looks for `</message>` boundaries (see message-scanner.ts),
 * and the server's pings are answered (ping-answerer.ts), as a real client answers them.
 * Everything is bounded by a timeout so a stuck server cannot hang the benchmark.
 */
import { connect, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { CachedScramClient } from './cached-scram-client.ts';
import { PingAnswerer } from './ping-answerer.ts';
import { BENCH_CIPHER_SUITE, benchTls } from './tls-mode.ts';

export type BenchMechanism = 'SCRAM-SHA-1' | 'SCRAM-SHA-256';

export interface LoginOptions {
  address: string;
  port: number;
  domain: string;
  username: string;
  password: string;
  resource: string;
  mechanism: BenchMechanism;
  timeoutMs: number;
}

const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';

export class BenchClient {
  /** the TCP socket, replaced by the TLS socket over it after STARTTLS */
  socket: Socket;
  readonly fullJid: string;
  #buffer = '';
  #waiter: (() => void) | undefined;
  #closed: Error | undefined;
  #onText: ((text: string) => void) | undefined;
  #outgoing: string[] = [];
  #flushScheduled = false;
  readonly #pings = new PingAnswerer();

  private constructor(socket: Socket, fullJid: string) {
    this.socket = socket;
    this.fullJid = fullJid;
  }

  static async login(options: LoginOptions): Promise<BenchClient> {
    const socket = connect({ host: options.address, port: options.port, noDelay: true });
    const client = new BenchClient(socket, `${options.username}@${options.domain}/${options.resource}`);
    client.#listen(socket, 'the server');
    const timer = setTimeout(() => socket.destroy(new Error(`login of ${client.fullJid} timed out after ${options.timeoutMs} ms`)), options.timeoutMs);
    try {
      await client.#negotiate(options);
      return client;
    } catch (error) {
      socket.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Connects to the trivial TCP relay (bench/servers/relay-server.ts) instead of logging in:
   * the first line names this client and the peer its bytes go to, and the relay answers `ok`.
   */
  static async connectRelay(options: { address: string; port: number; fullJid: string; peerJid: string; timeoutMs: number }): Promise<BenchClient> {
    const socket = connect({ host: options.address, port: options.port, noDelay: true });
    socket.setEncoding('utf8');
    const client = new BenchClient(socket, options.fullJid);
    socket.on('data', (text: string) => client.#receive(text));
    socket.on('error', (error) => client.#close(error));
    socket.on('close', () => client.#close(new Error('connection closed by the relay')));
    const timer = setTimeout(() => socket.destroy(new Error(`relay connection of ${client.fullJid} timed out after ${options.timeoutMs} ms`)), options.timeoutMs);
    try {
      client.#write(`${options.fullJid} ${options.peerJid}\n`);
      await client.#expect(/^ok\n/);
      return client;
    } catch (error) {
      socket.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Runs only SCRAM's first exchange to learn the account's salt and iteration count and caches
   * SaltedPassword, then aborts the authentication (RFC 6120 section 6.4.5) and closes the stream.
   */
  static async primeSaltedPassword(options: LoginOptions): Promise<void> {
    const socket = connect({ host: options.address, port: options.port, noDelay: true });
    const client = new BenchClient(socket, `${options.username}@${options.domain}`);
    client.#listen(socket, 'the server');
    const timer = setTimeout(() => socket.destroy(new Error(`first SCRAM exchange of ${client.fullJid} timed out after ${options.timeoutMs} ms`)), options.timeoutMs);
    try {
      const { scram, challenge } = await client.#startScram(options);
      await scram.learnSalt(challenge);
      client.#write(`<abort xmlns='${NS_SASL}'/>`);
      await client.#expect(/<failure[\s\S]*?<\/failure>/);
      await client.close();
    } finally {
      clearTimeout(timer);
      client.socket.destroy();
    }
  }

  #listen(socket: Socket, peer: string): void {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => this.#receive(text));
    socket.on('error', (error) => this.#close(error));
    socket.on('close', () => this.#close(new Error(`connection closed by ${peer}`)));
  }

  /** STARTTLS (RFC 6120 section 5.4): <starttls/>, <proceed/>, then TLS over the same TCP connection. */
  async #startTls(domain: string, features: string): Promise<void> {
    if (!features.includes(NS_TLS)) throw new Error(`the server does not offer STARTTLS: ${features}`);
    this.#write(`<starttls xmlns='${NS_TLS}'/>`);
    const answer = await this.#expect(/<proceed[^>]*\/>|<failure[^>]*\/>/);
    if (!answer[0].startsWith('<proceed')) throw new Error(`STARTTLS refused: ${answer[0]}`);
    const tcp = this.socket;
    tcp.removeAllListeners('data');
    tcp.removeAllListeners('close');
    // The benchmark's own self-signed certificate (tls-mode.ts): the name is checked, not the issuer.
    const tls = connectTls({ socket: tcp, servername: domain, rejectUnauthorized: false, minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ciphers: BENCH_CIPHER_SUITE });
    await new Promise<void>((resolve, reject) => {
      tls.once('secureConnect', resolve);
      tls.once('error', reject);
    });
    const cipher = tls.getCipher().standardName;
    if (tls.getProtocol() !== 'TLSv1.3' || cipher !== BENCH_CIPHER_SUITE) throw new Error(`negotiated ${tls.getProtocol()} ${cipher}, not TLSv1.3 ${BENCH_CIPHER_SUITE}`);
    const subject = tls.getPeerCertificate().subjectaltname ?? '';
    if (!subject.split(', ').includes(`DNS:${domain}`)) throw new Error(`the server's certificate names ${subject || 'nothing'}, not ${domain}`);
    this.socket = tls;
    this.#listen(tls, 'the server');
  }

  /** Opens the stream and sends SCRAM's client-first-message; returns the server-first-message. */
  async #startScram(options: LoginOptions): Promise<{ scram: CachedScramClient; challenge: Buffer }> {
    let features = await this.#openStream(options.domain);
    if (benchTls()) {
      await this.#startTls(options.domain, features);
      // RFC 6120 section 5.4.3.3: a new stream over TLS.
      features = await this.#openStream(options.domain);
    }
    const offered = [...features.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((match) => match[1]);
    if (!offered.includes(options.mechanism)) throw new Error(`server does not offer ${options.mechanism}${benchTls() ? '' : ' without TLS'} (offered: ${offered.join(', ') || 'none'})`);
    const scram = new CachedScramClient(options.mechanism === 'SCRAM-SHA-1' ? 'SHA-1' : 'SHA-256', options.username, options.password);
    this.#write(`<auth xmlns='${NS_SASL}' mechanism='${options.mechanism}'>${scram.firstMessage().toString('base64')}</auth>`);
    const challenge = await this.#expect(/<challenge[^>]*>([^<]*)<\/challenge>|<failure[\s\S]*?<\/failure>/);
    if (challenge[1] === undefined) throw new Error(`authentication of ${options.username} failed: ${challenge[0]}`);
    return { scram, challenge: Buffer.from(challenge[1], 'base64') };
  }

  async #negotiate(options: LoginOptions): Promise<void> {
    const { scram, challenge } = await this.#startScram(options);
    const final = await scram.finalMessage(challenge);
    this.#write(`<response xmlns='${NS_SASL}'>${final.toString('base64')}</response>`);
    const success = await this.#expect(/<success[^>]*>([^<]*)<\/success>|<failure[\s\S]*?<\/failure>/);
    if (success[1] === undefined) throw new Error(`authentication of ${options.username} failed: ${success[0]}`);
    scram.verifyServerFinal(Buffer.from(success[1], 'base64'));

    // RFC 6120 section 6.4.6: after SASL success the client opens a new stream.
    await this.#openStream(options.domain);
    this.#write(`<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${options.resource}</resource></bind></iq>`);
    const bound = await this.#expect(/<jid>([^<]+)<\/jid>|<iq[^>]*type=["']error["'][\s\S]*?<\/iq>/);
    if (bound[1] !== this.fullJid) throw new Error(`binding ${this.fullJid} failed: ${bound[0]}`);
    this.#write(`<presence/><iq type='get' id='ready' to='${options.domain}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await this.#expect(/<iq[^>]*id=["']ready["'][^>]*>/);
  }

  async #openStream(domain: string): Promise<string> {
    this.#buffer = '';
    this.#write(`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' version='1.0'>`);
    return (await this.#expect(/<stream:features[\s\S]*?<\/stream:features>/))[0];
  }

  /** Waits for a match in the text received so far, then drops the text up to its end. */
  async #expect(pattern: RegExp): Promise<RegExpExecArray> {
    for (;;) {
      if (this.#closed) throw this.#closed;
      const match = pattern.exec(this.#buffer);
      if (match) {
        this.#buffer = this.#buffer.slice(match.index + match[0].length);
        return match;
      }
      if (this.#buffer.includes('<stream:error')) throw new Error(`stream error: ${this.#buffer}`);
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
  }

  #receive(text: string): void {
    if (this.#onText) {
      for (const answer of this.#pings.answersTo(text)) this.queue(answer);
      return this.#onText(text);
    }
    this.#buffer += text;
    this.#wake();
  }

  #close(error: Error): void {
    this.#closed ??= error;
    this.#wake();
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }

  /** From now on every chunk received goes to `handler`, starting with what is left over from login. */
  takeIncoming(handler: (text: string) => void): void {
    this.#onText = handler;
    if (this.#buffer !== '') handler(this.#buffer);
    this.#buffer = '';
  }

  get closedBecause(): Error | undefined {
    return this.#closed;
  }

  #write(text: string): void {
    this.socket.write(text);
  }

  /** Queues a stanza; everything queued during one turn of the event loop goes out in one write. */
  queue(text: string): void {
    this.#outgoing.push(text);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      if (this.#closed) return;
      this.socket.write(this.#outgoing.length === 1 ? this.#outgoing[0]! : this.#outgoing.join(''));
      this.#outgoing = [];
    });
  }

  /** Closes the stream politely (RFC 6120 section 4.4) and the socket shortly after. */
  async close(): Promise<void> {
    if (this.#closed || this.socket.destroyed) return;
    this.#onText = () => {};
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.socket.destroy(), 1000);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end('</stream:stream>');
    });
  }
}
