/**
 * An outgoing server stream (we are the initiating server, RFC 6120 section 4.1): connect to the
 * peer found by DNS, STARTTLS, then SASL EXTERNAL (XEP-0178) or dialback (XEP-0220) for each
 * local domain that has stanzas to send. Also carries our dialback verification requests to
 * the peer when it is the authoritative server for a domain (XEP-0220 section 2.1.2).
 */
import { randomUUID } from 'node:crypto';
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import { resolveServerTargets, type ServerTarget } from '../net/dns.ts';
import { StreamError } from '../net/stream-errors.ts';
import { readRateFrom } from '../net/read-throttle.ts';
import { NS_SM, ackElement, parseH } from '../net/stream-management.ts';
import { XmlStream } from '../net/xml-stream.ts';
import type { FederationLevel } from '../config/types.ts';
import { demandsOf } from '../policy/levels.ts';
import { Element, NS_SERVER, NS_STREAMS } from '../xml/element.ts';
import { NS_DIALBACK, NS_DIALBACK_FEATURE, NS_SASL, NS_TLS } from '../xml/namespaces.ts';
import type { NamespaceDeclarations, XmlStreamError } from '../xml/parser.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import type { AuthMethod, S2sConnectionInfo, S2sContext } from './context.ts';
import { dialbackKey } from './dialback-key.ts';
import { dialbackErrorCondition } from './dialback-elements.ts';
import { checkPeerCertificate, type CertificateVerdict } from './peer-certificate.ts';
import { DeliveryTracker, type TrackedStanza } from './delivery-tracker.ts';

export type VerifyOutcome = 'valid' | 'invalid' | 'error';

/** What the owner of an outgoing stream hears about it. */
export interface OutgoingEvents {
  /** the pair (local domain → this remote domain) may now send stanzas on this stream */
  pairReady(connection: S2sOutgoing, localDomain: string): void;
  /** the pair cannot be authorized on this stream; `error` is what its queued stanzas bounce with */
  pairFailed(connection: S2sOutgoing, localDomain: string, error: StanzaError): void;
  /** the stream is gone; pairs still pending fail with `error`; `unconfirmed` are the stanzas the peer may not have */
  closed(connection: S2sOutgoing, error: StanzaError, unconfirmed: TrackedStanza[]): void;
}

type Phase =
  | 'resolving'
  | 'connecting'
  /** stream open, waiting for the peer's header and features */
  | 'negotiating'
  /** TLS done (or skipped), authenticating pairs */
  | 'authenticating'
  | 'closed';

interface PendingVerify {
  resolve(outcome: VerifyOutcome): void;
}

export class S2sOutgoing {
  readonly id = randomUUID();
  readonly remoteDomain: string;
  readonly connectedAt = Date.now();
  #context: S2sContext;
  #events: OutgoingEvents;
  #phase: Phase = 'resolving';
  #stream: XmlStream | undefined;
  /** the local domain named in our stream header */
  #headerDomain: string;
  #peerStreamId = '';
  #peerSupportsDialback = false;
  #certificate: CertificateVerdict = { status: 'absent' };
  #method: AuthMethod | undefined;
  /** local domains waiting for authorization, and those authorized */
  #pendingPairs = new Set<string>();
  #readyPairs = new Set<string>();
  #pendingVerifies = new Map<string, PendingVerify>();
  #saslInFlight = false;
  #waitingForStream: (() => void)[] = [];
  #negotiationTimer: NodeJS.Timeout | undefined;
  #closeError = new StanzaError('remote-server-timeout', 'the connection closed');
  #target: ServerTarget | undefined;
  #tracker: DeliveryTracker | undefined;
  /** the peer offered stream management (XEP-0198) in its features; 'sent' once we asked to enable it */
  #streamManagement: 'unknown' | 'offered' | 'sent' = 'unknown';

  constructor(remoteDomain: string, localDomain: string, context: S2sContext, events: OutgoingEvents) {
    this.remoteDomain = remoteDomain;
    this.#headerDomain = localDomain;
    this.#context = context;
    this.#events = events;
    this.#pendingPairs.add(localDomain);
  }

  get logger() {
    return this.#context.logger.child({ s2s: 'out', remote: this.remoteDomain, address: this.#stream?.peer });
  }

  get closed(): boolean {
    return this.#phase === 'closed';
  }

  isReady(localDomain: string): boolean {
    return this.#readyPairs.has(localDomain);
  }

  isPending(localDomain: string): boolean {
    return this.#pendingPairs.has(localDomain);
  }

  /** Resolves the peer and connects, trying each target and address in order (RFC 6120 section 3.2.1). */
  async start(): Promise<void> {
    this.#negotiationTimer = setTimeout(() => {
      this.#fail(new StanzaError('remote-server-timeout', `no authenticated stream to ${this.remoteDomain} within ${this.#context.config.negotiation_timeout} s`), 'connection-timeout');
    }, this.#context.config.negotiation_timeout * 1000);
    this.#negotiationTimer.unref();
    let resolution;
    try {
      resolution = await resolveServerTargets(this.remoteDomain, this.#context.dns);
    } catch (error) {
      return this.#fail(new StanzaError('remote-server-not-found', `DNS lookup failed: ${(error as Error).message}`));
    }
    if (this.#phase === 'closed') return;
    if (resolution.kind === 'not-found') {
      // RFC 6120 section 8.3.3.16: the domain does not resolve to a server.
      return this.#fail(new StanzaError('remote-server-not-found', `no XMPP server found for ${this.remoteDomain} (${resolution.reason})`));
    }
    this.#phase = 'connecting';
    const failures: string[] = [];
    for (const target of resolution.targets) {
      for (const address of target.addresses) {
        if (this.closed) return;
        const verdict = this.#context.policy.checkPeer({ domain: this.remoteDomain, address, direction: 'out' });
        if (!verdict.allowed) {
          failures.push(`${address}: ${verdict.reason}`);
          continue;
        }
        try {
          const socket = await this.#connect(target, address);
          this.#target = target;
          return this.#open(socket);
        } catch (error) {
          failures.push(`${address}:${target.port}: ${(error as Error).message}`);
        }
      }
    }
    // RFC 6120 section 10.4.3: resolved, but no stream could be set up.
    this.#fail(new StanzaError('remote-server-timeout', `could not connect to ${this.remoteDomain}: ${failures.join('; ') || 'no address'}`));
  }

  #connect(target: ServerTarget, address: string): Promise<Socket> {
    const timeoutMs = this.#context.config.connect_timeout * 1000;
    return new Promise((resolve, reject) => {
      const socket: Socket = target.directTls
        ? // XEP-0368 section 3: TLS at once, SNI naming the domain, ALPN "xmpp-server".
          tlsConnect({
            host: address,
            port: target.port,
            ...this.#serverName(),
            ALPNProtocols: ['xmpp-server'],
            ...this.#context.tls.clientOptions(this.#headerDomain),
            rejectUnauthorized: false,
          })
        : tcpConnect({ host: address, port: target.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no connection within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      socket.once(target.directTls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  #open(socket: Socket): void {
    socket.setNoDelay(true);
    this.#phase = 'negotiating';
    this.#stream = new XmlStream(
      socket,
      {
        streamOpen: (root, declarations) => this.#onStreamOpen(root, declarations),
        stanza: (element) => this.#onElement(element),
        streamClose: () => {},
        parseError: (error: XmlStreamError) => {
          this.#closeError = new StanzaError('remote-server-timeout', `the peer sent bad XML: ${error.message}`);
        },
        whitespace: () => {},
        socketClosed: (error) => this.#onSocketClosed(error),
        written: (offset) => this.#tracker?.written(offset),
      },
      { limits: this.#context.config.limits, contentNamespace: NS_SERVER, readRate: readRateFrom(this.#context.config.rate) },
    );
    const stream = this.#stream;
    this.#tracker = new DeliveryTracker({
      write: (xml) => stream.sendRaw(xml),
      get writtenOffset() {
        return stream.writtenChars;
      },
    });
    this.logger.info('s2s outgoing connection established', { tls: this.#stream.secure ? 'direct' : undefined, local: this.#headerDomain });
    this.#sendHeader();
    if (socket instanceof TLSSocket) this.#checkCertificateAfterHeader(socket);
  }

  #sendHeader(): void {
    // RFC 6120 section 4.7 and XEP-0220 section 2.4.1: to, from, version, and the dialback prefix.
    this.#stream!.openStream({ from: this.#headerDomain, to: this.remoteDomain, prefixes: { db: NS_DIALBACK } });
  }

  #onStreamOpen(root: Element, declarations: NamespaceDeclarations): void {
    if (root.name !== 'stream' || root.xmlns !== NS_STREAMS || declarations[''] !== NS_SERVER) {
      return this.#fail(new StanzaError('remote-server-timeout', 'the peer opened a stream in the wrong namespace'), 'invalid-namespace');
    }
    this.#peerStreamId = root.attrs.id ?? '';
    this.#peerSupportsDialback = declarations.db === NS_DIALBACK || Object.values(declarations).includes(NS_DIALBACK);
    // RFC 6120 section 4.7.5: a peer without version 1.0 sends no features; only dialback remains.
    if (!root.attrs.version?.startsWith('1.')) this.#authenticate(undefined);
  }

  #onElement(element: Element): void {
    try {
      this.#handle(element);
    } catch (error) {
      if (error instanceof StreamError) return this.#fail(new StanzaError('remote-server-timeout', error.message), error.condition);
      throw error;
    }
  }

  #handle(element: Element): void {
    const key = `${element.xmlns} ${element.name}`;
    switch (key) {
      case `${NS_STREAMS} features`:
        return this.#onFeatures(element);
      case `${NS_STREAMS} error`: {
        const condition = element.elements()[0]?.name ?? 'undefined-condition';
        this.#closeError = new StanzaError('remote-server-timeout', `the peer ended the stream: ${condition}`);
        this.logger.warn('s2s outgoing stream error from peer', { condition, text: element.getChildText('text', element.elements()[0]?.xmlns) });
        return;
      }
      case `${NS_TLS} proceed`:
        return void this.#upgradeTls();
      case `${NS_TLS} failure`:
        return this.#fail(new StanzaError('remote-server-timeout', 'the peer refused STARTTLS'));
      case `${NS_SASL} success`:
        return this.#onSaslSuccess();
      case `${NS_SASL} failure`:
        return this.#onSaslFailure(element);
      case `${NS_DIALBACK} result`:
        return this.#onDialbackResult(element);
      case `${NS_DIALBACK} verify`:
        return this.#onDialbackVerify(element);
      case `${NS_SM} enabled`:
        return this.logger.debug('s2s outgoing stream management enabled');
      case `${NS_SM} failed`:
        this.logger.info('s2s outgoing stream management refused by the peer');
        return this.#tracker?.stopAcks();
      case `${NS_SM} a`:
        return this.#onAck(element);
      case `${NS_SM} r`:
        // XEP-0198 section 4: this stream carries no stanzas from the peer; it has sent us none.
        return void this.#stream!.sendRaw(ackElement(0));
      default:
        // RFC 6120 section 4.5: an outgoing stream carries no stanzas from the peer.
        this.logger.debug('s2s outgoing ignored an element from the peer', { element: element.name, xmlns: element.xmlns });
    }
  }

  #onFeatures(features: Element): void {
    if (this.#streamManagement === 'unknown' && features.getChild('sm', NS_SM)) this.#streamManagement = 'offered';
    const demands = demandsOf(this.#context.policy.requiredLevel(this.remoteDomain));
    if (this.#phase === 'negotiating' && !this.#stream!.secure) {
      if (features.getChild('starttls', NS_TLS)) {
        this.#stream!.send(new Element('starttls', NS_TLS));
        return;
      }
      // RFC 7590 section 3.1: a peer offering no TLS cannot be used where TLS is required.
      if (demands.tls) return this.#fail(new StanzaError('remote-server-timeout', `${this.remoteDomain} offers no TLS and policy requires it`), 'policy-violation');
    }
    if (this.#phase === 'negotiating') {
      this.#phase = 'authenticating';
      for (const resume of this.#waitingForStream.splice(0)) resume();
      return this.#authenticate(features);
    }
    // Features after the SASL restart: the stream is ready for the authenticated domain.
    if (this.#method === 'sasl-external' && this.#pendingPairs.has(this.#headerDomain)) {
      this.#pairReady(this.#headerDomain);
      for (const local of [...this.#pendingPairs]) this.#sendDialbackResult(local);
    }
  }

  /** Chooses how to prove our domain: SASL EXTERNAL when offered, else dialback (XEP-0178, XEP-0220). */
  #authenticate(features: Element | undefined): void {
    const required = this.#context.policy.requiredLevel(this.remoteDomain);
    if (demandsOf(required).trustedCertificate && this.#certificate.status !== 'valid') {
      return this.#fail(new StanzaError('remote-server-timeout', `${this.remoteDomain}'s certificate is ${this.#certificate.status} (${this.#certificate.reason ?? ''}) and policy requires a trusted one`), 'policy-violation');
    }
    const mechanisms = features?.getChild('mechanisms', NS_SASL);
    const offersExternal = mechanisms?.getChildren('mechanism').some((mechanism) => mechanism.text().trim() === 'EXTERNAL') ?? false;
    if (offersExternal && this.#stream!.secure) {
      // XEP-0178 section 3 and RFC 6120 section 6.4.2: an empty response, written "=".
      this.#saslInFlight = true;
      this.#stream!.send(new Element('auth', NS_SASL, { mechanism: 'EXTERNAL' }, ['=']));
      return;
    }
    if (features?.getChild('dialback', NS_DIALBACK_FEATURE)) this.#peerSupportsDialback = true;
    if (!this.#peerSupportsDialback) {
      return this.#fail(new StanzaError('remote-server-timeout', `${this.remoteDomain} offers neither SASL EXTERNAL nor dialback`));
    }
    for (const local of this.#pendingPairs) this.#sendDialbackResult(local);
  }

  async #upgradeTls(): Promise<void> {
    try {
      const socket = await this.#stream!.startTlsClient({
        ...this.#serverName(),
        ...this.#context.tls.clientOptions(this.#headerDomain),
        rejectUnauthorized: false,
      });
      this.#sendHeader();
      this.#checkCertificateAfterHeader(socket);
      this.logger.info('s2s outgoing TLS established', { protocol: socket.getProtocol(), cipher: socket.getCipher().name, certificate: this.#certificate.status });
    } catch (error) {
      this.#fail(new StanzaError('remote-server-timeout', `TLS with ${this.remoteDomain} failed: ${(error as Error).message}`));
    }
  }

  /** SNI names the remote domain (RFC 6120 section 5.4.3.1); RFC 6066 forbids IP addresses there. */
  #serverName(): { servername?: string } {
    return isIP(this.remoteDomain) ? {} : { servername: this.remoteDomain };
  }

  /**
   * The verdict is needed only when the peer's features arrive: the stream header leaves first
   * and the chain is checked while the peer answers it, not before.
   */
  #checkCertificateAfterHeader(socket: TLSSocket): void {
    this.#stream!.flush();
    this.#certificate = checkPeerCertificate(socket, this.remoteDomain, this.#context.anchors);
  }

  #onSaslSuccess(): void {
    this.#saslInFlight = false;
    this.#method = 'sasl-external';
    this.#stream!.restart();
    this.#sendHeader();
  }

  #onSaslFailure(failure: Element): void {
    this.#saslInFlight = false;
    const condition = failure.elements()[0]?.name ?? 'not-authorized';
    this.logger.warn('s2s outgoing SASL EXTERNAL refused', { condition });
    // XEP-0178 section 3: fall back to dialback where the peer allows it.
    if (!this.#peerSupportsDialback) return this.#fail(new StanzaError('remote-server-timeout', `SASL EXTERNAL refused (${condition}) and no dialback offered`));
    for (const local of this.#pendingPairs) this.#sendDialbackResult(local);
  }

  /** XEP-0220 section 2.1.1: assert a local domain with a key bound to the peer's stream id. */
  #sendDialbackResult(localDomain: string): void {
    if (this.#readyPairs.has(localDomain)) return;
    const key = dialbackKey(this.#context.secret, this.remoteDomain, localDomain, this.#peerStreamId);
    this.#stream!.send(new Element('result', NS_DIALBACK, { from: localDomain, to: this.remoteDomain }, [key]));
  }

  #onDialbackResult(result: Element): void {
    const local = result.attrs.to;
    // XEP-0220 section 3.1: only an answer to a request we made on this stream counts.
    if (!local || result.attrs.from !== this.remoteDomain || !this.#pendingPairs.has(local) || !result.attrs.type) {
      this.logger.warn('s2s outgoing ignored an unsolicited dialback result', { from: result.attrs.from, to: local, type: result.attrs.type });
      return;
    }
    switch (result.attrs.type) {
      case 'valid':
        this.#method ??= 'dialback';
        return this.#pairReady(local);
      case 'invalid':
        // XEP-0220 section 2.1.1: queued stanzas bounce with internal-server-error.
        return this.#pairFailed(local, new StanzaError('internal-server-error', `${this.remoteDomain} refused our dialback key for ${local}`));
      default:
        return this.#pairFailed(local, new StanzaError('remote-server-timeout', `dialback for ${local} failed: ${dialbackErrorCondition(result) ?? 'error'}`));
    }
  }

  #pairReady(local: string): void {
    this.#pendingPairs.delete(local);
    this.#readyPairs.add(local);
    if (this.#readyPairs.size === 1) clearTimeout(this.#negotiationTimer);
    // XEP-0198 section 3: once authenticated, acknowledgements for what we send, where offered.
    if (this.#streamManagement === 'offered') {
      this.#streamManagement = 'sent';
      this.#stream!.sendRaw(`<enable xmlns='${NS_SM}'/>`);
      this.#tracker!.startAcks();
    }
    this.logger.info('s2s outgoing pair authorized', { local, method: this.#method, level: this.level });
    this.#events.pairReady(this, local);
  }

  #pairFailed(local: string, error: StanzaError): void {
    this.#pendingPairs.delete(local);
    this.#readyPairs.delete(local);
    this.logger.warn('s2s outgoing pair failed', { local, error: error.message });
    this.#events.pairFailed(this, local, error);
    if (this.#readyPairs.size === 0 && this.#pendingPairs.size === 0) this.close();
  }

  /** Starts authorizing another local domain on this stream (sender multiplexing, XEP-0220 section 2.6.1). */
  addPair(localDomain: string): void {
    if (this.#readyPairs.has(localDomain) || this.#pendingPairs.has(localDomain)) return;
    this.#pendingPairs.add(localDomain);
    // A pair that gets no answer fails on its own, so its queued stanzas bounce.
    const timer = setTimeout(() => {
      if (this.#pendingPairs.has(localDomain)) this.#pairFailed(localDomain, new StanzaError('remote-server-timeout', `no dialback answer for ${localDomain} within ${this.#context.config.negotiation_timeout} s`));
    }, this.#context.config.negotiation_timeout * 1000);
    timer.unref();
    // During SASL the stream is about to restart; pending pairs are asserted after it.
    if (this.#phase === 'authenticating' && !this.#saslInFlight) this.#sendDialbackResult(localDomain);
  }

  /** Sends a stanza of a ready pair; `resends` counts the connections it was sent on before. */
  send(stanza: Element, localDomain: string, resends = 0): void {
    this.#tracker?.send(stanza, localDomain, resends);
  }

  #onAck(ack: Element): void {
    const h = parseH(ack.attrs.h);
    // XEP-0198 section 4: an acknowledgement of more than we sent ends the stream.
    if (h === undefined || !this.#tracker?.acknowledge(h)) {
      this.#fail(new StanzaError('remote-server-timeout', `${this.remoteDomain} acknowledged stanzas it was never sent`), 'undefined-condition');
    }
  }

  /**
   * Asks the peer, as the authoritative server, whether a key is valid (XEP-0220 section
   * 2.1.2). Sent once this stream is past TLS; answered by the peer's <db:verify type=.../>.
   */
  async verify(receivingDomain: string, id: string, key: string): Promise<VerifyOutcome> {
    if (this.#phase === 'resolving' || this.#phase === 'connecting' || this.#phase === 'negotiating') {
      await new Promise<void>((resolve) => this.#waitingForStream.push(resolve));
    }
    if (this.#phase === 'closed') return 'error';
    const pendingKey = `${receivingDomain} ${id}`;
    return new Promise((resolve) => {
      this.#pendingVerifies.set(pendingKey, { resolve });
      this.#stream!.send(new Element('verify', NS_DIALBACK, { from: receivingDomain, to: this.remoteDomain, id }, [key]));
    });
  }

  #onDialbackVerify(answer: Element): void {
    const pendingKey = `${answer.attrs.to} ${answer.attrs.id}`;
    const pending = this.#pendingVerifies.get(pendingKey);
    // XEP-0220 section 3.1: drop answers that match no request on this stream.
    if (!pending || answer.attrs.from !== this.remoteDomain) {
      this.logger.warn('s2s outgoing ignored an unsolicited dialback verify', { from: answer.attrs.from, to: answer.attrs.to });
      return;
    }
    this.#pendingVerifies.delete(pendingKey);
    const type = answer.attrs.type;
    pending.resolve(type === 'valid' ? 'valid' : type === 'invalid' ? 'invalid' : 'error');
  }

  /**
   * How well the peer is known to us on this stream: its certificate, when valid for the
   * domain, makes it trusted; TLS otherwise encrypted; without TLS only DNS vouches for it.
   */
  get level(): FederationLevel | undefined {
    if (!this.#method) return undefined;
    if (!this.#stream?.secure) return 'verified';
    return this.#certificate.status === 'valid' ? 'trusted' : 'encrypted';
  }

  info(): S2sConnectionInfo {
    const socket = this.#stream?.socket;
    const tls = socket instanceof TLSSocket && socket.encrypted ? { protocol: socket.getProtocol() ?? '', cipher: socket.getCipher()?.name ?? '' } : undefined;
    return {
      id: this.id,
      direction: 'out',
      remoteDomain: this.remoteDomain,
      remoteAddress: this.#stream ? `${this.#stream.peer}${this.#target?.directTls ? ' (direct TLS)' : ''}` : '',
      tls,
      certificate: this.#certificate.status,
      authentication: this.#method ?? 'pending',
      level: this.level,
      domains: [...this.#readyPairs].map((local) => `${local} -> ${this.remoteDomain}`),
      connectedAt: this.connectedAt,
      idleSeconds: this.#stream ? Math.round((Date.now() - this.#stream.lastActivity) / 1000) : 0,
      bytesIn: this.#stream?.bytesIn ?? 0,
      bytesOut: this.#stream?.bytesOut ?? 0,
    };
  }

  get lastActivity(): number {
    return this.#stream?.lastActivity ?? this.connectedAt;
  }

  /** Closes the stream politely (RFC 6120 section 4.4). */
  close(condition?: 'connection-timeout' | 'system-shutdown' | 'policy-violation'): void {
    if (!this.#stream) return this.#onSocketClosed();
    if (condition) this.#stream.streamError(condition);
    else this.#stream.closeStream();
  }

  #fail(error: StanzaError, condition?: ConstructorParameters<typeof StreamError>[0]): void {
    this.#closeError = error;
    this.logger.warn('s2s outgoing failed', { error: error.message });
    if (this.#stream) {
      if (condition) this.#stream.streamError(condition, error.message);
      else this.#stream.closeStream();
    }
    // Waiting stanzas bounce now, not once the peer has acknowledged the close.
    this.#onSocketClosed();
  }

  #onSocketClosed(error?: Error): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    clearTimeout(this.#negotiationTimer);
    if (error && this.#closeError.message === 'the connection closed') this.#closeError = new StanzaError('remote-server-timeout', error.message);
    for (const pending of this.#pendingVerifies.values()) pending.resolve('error');
    this.#pendingVerifies.clear();
    for (const resume of this.#waitingForStream.splice(0)) resume();
    const unconfirmed = this.#tracker?.takeUnconfirmed() ?? [];
    this.logger.info('s2s outgoing connection closed', { reason: this.#closeError.message, unconfirmed: unconfirmed.length || undefined });
    this.#events.closed(this, this.#closeError, unconfirmed);
  }
}
