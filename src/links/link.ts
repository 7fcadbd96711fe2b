/**
 * One configured link (docs/links.md, XEP-0361): its connection (opened by this side and
 * reopened with backoff, or accepted from the peer; with connect: both, one each way, each
 * carrying what the side that opened it sends), the checks of every stanza's addresses
 * against the link's domains both ways (section 4.5), and store and forward: a message for a
 * link that is down waits in storage, in order, bounded, until the link is back or it expires.
 */
import type { Server, Socket } from 'node:net';
import type { LinkConfig, TlsSettings } from '../config/types.ts';
import { entryPath } from '../config/describe.ts';
import { tryParseJid, type Jid } from '../jid/jid.ts';
import { StreamError } from '../net/stream-errors.ts';
import type { Router } from '../router/router.ts';
import type { Storage } from '../storage/types.ts';
import type { Logger } from '../util/log.ts';
import type { Element } from '../xml/element.ts';
import { StanzaError, errorReply } from '../xml/stanza-error.ts';
import { LinkDomains } from './domains.ts';
import { LinkIdentity } from './identity.ts';
import { LinkQueue } from './queue.ts';
import { LinkStream, renderForLink, type WriteRefusal } from './link-stream.ts';
import { sendCurrentPresence } from './presence.ts';
import { connectOut, listenIn } from './transport.ts';

export interface LinkContext {
  router: Router;
  storage: Storage;
  logger: Logger;
  tlsSettings: TlsSettings;
}

/** What a link did since the server started (the `trellis status` rows and the tests). */
export interface LinkCounters {
  sent: number;
  received: number;
  /** stanzas refused because an address was outside the link's domains (section 4.5) */
  refusedIn: number;
  refusedOut: number;
  /** presence not sent while the link was down: the current presence follows on reconnect */
  presenceDropped: number;
  /** bytes of XML read from and written to the link's connections */
  bytesIn: number;
  bytesOut: number;
}

/** The last thing that went wrong with a link's connection. */
export interface LinkError {
  /** ms since the epoch */
  at: number;
  text: string;
}

const CONNECT_TIMEOUT_MS = 30_000;

const REFUSAL_TEXT: Record<WriteRefusal, string> = {
  'too-large': 'is larger than the link carries (max_stanza_bytes)',
  prefixed: 'needs a namespace prefix, which the link\'s guard mode does not write',
};

export class Link {
  readonly config: LinkConfig;
  readonly counters: LinkCounters = { sent: 0, received: 0, refusedIn: 0, refusedOut: 0, presenceDropped: 0, bytesIn: 0, bytesOut: 0 };
  lastError: LinkError | undefined;
  readonly queue: LinkQueue;
  readonly #context: LinkContext;
  readonly #logger: Logger;
  readonly #local: LinkDomains;
  readonly #remote: LinkDomains;
  readonly #identity: LinkIdentity;
  /** the connection stanzas are written to */
  #stream: LinkStream | undefined;
  /** with connect: both, the peer's connection, only read from (XEP-0361 section 4.3) */
  #inbound: LinkStream | undefined;
  #server: Server | undefined;
  #reconnect: NodeJS.Timeout | undefined;
  #delay: number;
  #stopped = false;

  constructor(config: LinkConfig, context: LinkContext) {
    this.config = config;
    this.#context = context;
    this.#logger = context.logger.child({ link: config.name });
    this.#local = new LinkDomains(config.local_domains);
    this.#remote = new LinkDomains(config.remote_domains);
    this.#identity = new LinkIdentity(config);
    this.#delay = config.reconnect_initial_delay;
    this.queue = new LinkQueue(config, context, this.#logger);
  }

  /** Opens the link: connects out, or listens for the peer; messages left in storage wait for it, or expire. */
  async start(): Promise<void> {
    this.queue.start();
    if (this.config.connect !== 'out') {
      this.#server = await listenIn(this.config, this.#context.tlsSettings, (socket) => this.#accepted(socket));
      this.#logger.info('link listening for its peer', { address: this.listening });
    }
    if (this.config.connect !== 'in') void this.#connect();
  }

  /** The address and port an incoming link listens on ("address:port"), once started. */
  get listening(): string | undefined {
    const address = this.#server?.address();
    return address && typeof address === 'object' ? `${address.address}:${address.port}` : undefined;
  }

  get up(): boolean {
    return this.#stream?.open === true;
  }

  /** A stanza a peering rule routed to this link. */
  send(stanza: Element, from: Jid, to: Jid): void {
    const router = this.#context.router;
    // XEP-0361 section 4.5: only the agreed domains travel, in the agreed direction.
    if (!this.#local.has(from.domain) || !this.#remote.has(to.domain)) {
      const text = `the link ${this.config.name} carries stanzas from ${this.config.local_domains.join(', ')} to ${this.config.remote_domains.join(', ')} only`;
      this.#outside(stanza, 'out', this.#local.has(from.domain) ? 'remote_domains' : 'local_domains', text);
      return router.bounce(stanza, new StanzaError('not-allowed', text));
    }
    const stream = this.#stream;
    const writable = stream?.open === true && !stream.backlogged;
    if (stanza.name === 'message' && (!writable || this.queue.busy)) return this.queue.add(stanza, (xml) => this.#renderRefusal(xml));
    if (!writable) {
      // Presence is state, not a message: the current presence is sent when the link is back.
      if (stanza.name === 'presence') {
        this.counters.presenceDropped++;
        return;
      }
      return router.bounce(stanza, new StanzaError('remote-server-timeout', `the link ${this.config.name} is down`));
    }
    this.#write(stream!, stanza);
  }

  /** Writes one stanza, or bounces it when the link may not carry it; false when the connection is gone. */
  #write(stream: LinkStream, stanza: Element): boolean {
    const xml = stream.render(stanza);
    if (xml === 'too-large' || xml === 'prefixed') {
      this.#context.router.bounce(stanza, new StanzaError('policy-violation', `the stanza ${REFUSAL_TEXT[xml]}`));
      return true;
    }
    if (!stream.write(xml)) return false;
    this.counters.sent++;
    return true;
  }

  /** Why a stanza could never cross this link (checked before it is queued), or undefined. */
  #renderRefusal(stanza: Element): StanzaError | undefined {
    const probe = renderForLink(stanza, this.config);
    return probe === 'too-large' || probe === 'prefixed' ? new StanzaError('policy-violation', `the stanza ${REFUSAL_TEXT[probe]}`) : undefined;
  }

  async close(reason = 'the server is stopping'): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#reconnect);
    await this.queue.stop();
    this.#stream?.close(reason);
    this.#inbound?.close(reason);
    if (this.#server) await new Promise<void>((resolve) => this.#server!.close(() => resolve()));
  }

  // --- the connection ----------------------------------------------------------------------------

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    let socket: Socket;
    try {
      socket = await connectOut(this.config, this.#context.tlsSettings, CONNECT_TIMEOUT_MS);
    } catch (error) {
      this.#logger.info('link connection failed', { address: this.config.address, error: (error as Error).message, retry: this.#delay });
      this.#failed(`no connection to ${this.config.address}: ${(error as Error).message}`);
      return this.#retry();
    }
    if (this.#stopped) return void socket.destroy();
    const refusal = this.#identity.refusal(socket, 'out');
    if (refusal !== undefined) {
      this.#logger.warn('link peer refused', { address: this.config.address, reason: refusal });
      this.#failed(`the peer at ${this.config.address} was refused: ${refusal}`);
      socket.destroy();
      return this.#retry();
    }
    this.#delay = this.config.reconnect_initial_delay;
    this.#opened(socket, 'out');
  }

  #failed(text: string): void {
    this.lastError = { at: Date.now(), text };
  }

  #retry(): void {
    if (this.#stopped) return;
    this.#reconnect = setTimeout(() => void this.#connect(), this.#delay * 1000);
    this.#delay = Math.min(this.#delay * 2, this.config.reconnect_max_delay);
  }

  #accepted(socket: Socket): void {
    socket.on('error', () => {});
    const refusal = this.#identity.refusal(socket, 'in');
    if (refusal !== undefined) {
      this.#logger.warn('link connection refused', { peer: `${socket.remoteAddress}:${socket.remotePort}`, reason: refusal });
      this.#failed(`a connection from ${socket.remoteAddress}:${socket.remotePort} was refused: ${refusal}`);
      return void socket.destroy();
    }
    // XEP-0361 section 4.4: one connection per link (per direction with connect: both). A peer that connects again lost the old one.
    (this.config.connect === 'both' ? this.#inbound : this.#stream)?.close('the peer connected again', 'conflict');
    this.#opened(socket, 'in');
  }

  #opened(socket: Socket, direction: 'in' | 'out'): void {
    const stream: LinkStream = new LinkStream(socket, this.config, {
      stanza: (element) => this.#received(element, stream),
      closed: (reason) => this.#closed(stream, reason),
      traffic: this.counters,
    });
    // XEP-0361 section 4.3: when both sides connect, each connection carries what its opener sends.
    if (this.config.connect === 'both' && direction === 'in') {
      this.#inbound = stream;
      this.#logger.info('link peer connected (its stanzas only)', { peer: stream.peer });
      return;
    }
    this.#stream = stream;
    this.#logger.info('link up', { peer: stream.peer });
    // What waited goes first, in order; then everyone's presence, which was not kept.
    void this.queue.flush(stream, (queued) => this.#write(stream, queued)).then(() => sendCurrentPresence(this.#context, this.#local, this.#remote, (presence) => this.#write(stream, presence)));
  }

  #closed(stream: LinkStream, reason: string): void {
    if (this.#stopped) return;
    if (this.#inbound === stream) {
      this.#inbound = undefined;
      this.#logger.info('link peer disconnected', { peer: stream.peer, reason });
      return this.#failed(`the peer's connection from ${stream.peer} ended: ${reason}`);
    }
    if (this.#stream !== stream) return;
    this.#stream = undefined;
    this.#logger.info('link down', { peer: stream.peer, reason });
    this.#failed(`the connection with ${stream.peer} ended: ${reason}`);
    if (this.config.connect !== 'in') this.#retry();
  }

  /**
   * A stanza outside the link's domains (XEP-0361 section 4.5): counted, logged, and recorded in
   * the peering audit trail as a refusal of the key that excludes it, which raises an alert.
   */
  #outside(stanza: Element, direction: 'in' | 'out', key: 'local_domains' | 'remote_domains', text: string): void {
    if (direction === 'in') this.counters.refusedIn++;
    else this.counters.refusedOut++;
    const from = stanza.attrs.from ?? '';
    const to = stanza.attrs.to ?? '';
    this.#logger.warn('stanza outside the link\'s domains refused', { from, to, direction, key });
    this.#context.router.policyDecisions?.({ time: Date.now(), rule: `${entryPath('links', this.config.name)}.${key}`, verdict: 'refuse', direction, from, to, kind: stanza.name, text });
  }

  // --- what arrives --------------------------------------------------------------------------------

  async #received(stanza: Element, stream: LinkStream): Promise<void> {
    this.counters.received++;
    const router = this.#context.router;
    if (stanza.name !== 'message' && stanza.name !== 'presence' && stanza.name !== 'iq') {
      // RFC 6120 section 4.9.3.24: only stanzas travel on a link.
      return stream.close(`<${stanza.name}/> is not a stanza`, 'unsupported-stanza-type');
    }
    const from = tryParseJid(stanza.attrs.from ?? '');
    const to = tryParseJid(stanza.attrs.to ?? '');
    // XEP-0361 section 4.5: `from` must be a domain the peer speaks for. Such a stanza cannot be
    // answered over the link (its sender is outside it): it is dropped, logged and counted.
    if (from === undefined || !this.#remote.has(from.domain)) {
      return this.#outside(stanza, 'in', 'remote_domains', `a stanza from ${stanza.attrs.from ?? 'no address'}, which the link ${this.config.name} does not carry, was dropped`);
    }
    // A `to` this side carries but does not host is relayed on as from any server, if the rules route both domains (docs/peering.md, "Trunks and relaying").
    if (to === undefined || !this.#local.has(to.domain)) {
      const text = `the link ${this.config.name} does not carry stanzas for ${stanza.attrs.to ?? 'no address'}`;
      this.#outside(stanza, 'in', 'local_domains', text);
      // Answered on the link itself: the reply comes from the address the peer wrote, which no route here serves.
      const reply = errorReply(stanza, new StanzaError('not-allowed', text));
      if (reply && this.#stream) this.#write(this.#stream, reply);
      return;
    }
    try {
      await router.route(stanza, { kind: 'server', binding: { local: to.domain, remote: from.domain, connection: `link:${this.config.name}` } });
    } catch (error) {
      if (!(error instanceof StreamError)) throw error;
      this.counters.refusedIn++;
      this.#logger.warn('stanza from the link refused', { from: stanza.attrs.from, to: stanza.attrs.to, reason: error.message });
      // What would end a server stream is answered on the link, which carries other stanzas too: a
      // `to` this side neither hosts nor relays to is not found (RFC 6120 section 10.4).
      const condition = error.condition === 'host-unknown' ? 'remote-server-not-found' : 'not-allowed';
      const reply = errorReply(stanza, new StanzaError(condition, error.message));
      if (reply && this.#stream) this.#write(this.#stream, reply);
    }
  }
}
