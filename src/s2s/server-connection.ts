/**
 * A server connection (RFC 6120 section 4), one type for both directions: the negotiation
 * runs as ordered steps (negotiation.ts) in the initiator's role on a connection we opened and
 * in the receiver's on one the peer opened; after that the direction only says who opened it.
 * What the peer proved is kept in the connection table, the pairs it may carry in the binding
 * table; stanzas go out for bound pairs, and come in through the receive check (inbound.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { ServerTarget } from '../net/dns.ts';
import { readRateFrom } from '../net/read-throttle.ts';
import { NS_SM } from '../net/stream-management.ts';
import { StreamError, type StreamErrorCondition } from '../net/stream-errors.ts';
import { XmlStream } from '../net/xml-stream.ts';
import { meetsLevel } from '../policy/levels.ts';
import type { Logger } from '../util/log.ts';
import { Element, NS_CLIENT, NS_SERVER, NS_STREAMS } from '../xml/element.ts';
import { NS_DIALBACK } from '../xml/namespaces.ts';
import type { NamespaceDeclarations } from '../xml/parser.ts';
import { serialize } from '../xml/serialize.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { acknowledgements } from './acknowledgements.ts';
import type { BindingTable, Pair } from './binding-table.ts';
import type { ConnectionTable, Direction } from './connection-table.ts';
import { certificateIdentities, certificateMatchesDomain } from './certificate-identity.ts';
import { serverName } from './connector.ts';
import type { AuthMethod, S2sContext } from './context.ts';
import { ACK_ANSWER_TIMEOUT_MS, DeliveryTracker, type TrackedStanza } from './delivery-tracker.ts';
import { InboundStanzas } from './inbound.ts';
import { Negotiation, type Role, type StepHost } from './negotiation.ts';
import type { PairCounters } from './pair-counters.ts';
import { proofOf, type PairProof } from './pair-proof.ts';
import { checkPeerCertificate, peerCertificates, type CertificateVerdict } from './peer-certificate.ts';
import { proveSender, type PairVerdict } from './pair-authorization.ts';
import { DialbackInitiator, type VerifyOutcome } from './step-dialback-initiator.ts';
import { receiverHeader } from './receiver-header.ts';
import { DialbackReceiver } from './step-dialback-receiver.ts';
import { bidiStep } from './step-bidi.ts';
import { saslExternalStep } from './step-sasl-external.ts';
import { tlsStep } from './step-tls.ts';

/** What a connection reports to, and shares with, the service that owns it. */
export interface ConnectionOwner {
  readonly connectionTable: ConnectionTable;
  readonly bindingTable: BindingTable<PairProof>;
  /** pairs authorized and refused, by direction and method (the admin API's metrics) */
  readonly pairCounters: PairCounters;
  /** an outbound pair may now send on `connection` */
  pairReady(connection: ServerConnection, pair: Pair): void;
  /** an outbound pair we asked for on `connection` was refused; its stanzas bounce with `error` unless another way is left */
  pairFailed(connection: ServerConnection, pair: Pair, error: StanzaError): void;
  /** checks a dialback key with the authoritative server of `sender` (XEP-0220 section 2.1.2) */
  verify(sender: string, receiving: string, streamId: string, key: string): Promise<VerifyOutcome>;
  /** sends a stanza back to the peer on the first connection of the pair's outbound list; false when there is none */
  sendBack(pair: Pair, stanza: Element): boolean;
  /** the connection is gone; `unconfirmed` may not have reached the peer */
  closed(connection: ServerConnection, error: StanzaError, unconfirmed: TrackedStanza[]): void;
}

/** A connection we open: the pair it is opened for, and the hop it reached. */
export interface Opening {
  pair: Pair;
  target: ServerTarget;
}

export class ServerConnection implements StepHost {
  readonly id = randomUUID();
  readonly direction: Direction;
  readonly role: Role;
  /** how log lines name this connection's kind: "s2s outgoing" (we opened it) or "s2s incoming" */
  readonly label: string;
  readonly remoteAddress: string;
  readonly connectedAt = Date.now();
  readonly context: S2sContext;
  readonly stream: XmlStream;
  readonly target: ServerTarget | undefined;
  readonly #owner: ConnectionOwner;
  readonly #negotiation: Negotiation;
  readonly #dialback: DialbackInitiator | undefined;
  readonly #inbound: InboundStanzas;
  readonly #tracker: DeliveryTracker;
  readonly #acks = acknowledgements(this);
  #local: string | undefined;
  #remote: string | undefined;
  #streamId = '';
  #authenticated = false;
  /** the peer asked for pairs without keys: per-pair authorization and revocation apply (docs/federation.md) */
  #perPair = false;
  #closed = false;
  /** why the connection ends, once known: what stanzas waiting on it bounce with */
  #closeError: StanzaError | undefined;
  /** the output budget ran out once already (logged once per connection) */
  #overBudgetLogged = false;
  #negotiationTimer: NodeJS.Timeout;

  constructor(socket: Socket, context: S2sContext, owner: ConnectionOwner, opening?: Opening) {
    this.direction = opening ? 'out' : 'in';
    this.role = opening ? 'initiator' : 'receiver';
    this.label = opening ? 's2s outgoing' : 's2s incoming';
    this.context = context;
    this.#owner = owner;
    this.target = opening?.target;
    this.#local = opening?.pair.local;
    this.#remote = opening?.pair.remote;
    socket.setNoDelay(true);
    this.stream = new XmlStream(
      socket,
      {
        streamOpen: (root, declarations) => this.#onStreamOpen(root, declarations),
        stanza: (element) => this.#onElement(element),
        streamClose: () => this.#note('the peer closed the stream'),
        parseError: (error) => this.#note(`the peer sent bad XML: ${error.condition}: ${error.message}`),
        whitespace: () => {},
        socketClosed: (error) => this.#onClosed(error),
        written: (offset) => this.#tracker.written(offset),
      },
      { limits: context.config.limits, contentNamespace: NS_SERVER, readRate: readRateFrom(context.config.rate) },
    );
    const stream = this.stream;
    this.remoteAddress = stream.remoteAddress;
    this.#tracker = new DeliveryTracker(
      {
        write: (xml) => stream.sendRaw(xml),
        get writtenOffset() {
          return stream.writtenChars;
        },
        unanswered: () => this.close('connection-timeout', `no acknowledgement within ${ACK_ANSWER_TIMEOUT_MS / 1000} s`),
      },
      context.output,
    );
    this.#inbound = new InboundStanzas(this, owner.bindingTable);
    this.#dialback = opening ? new DialbackInitiator(this) : undefined;
    const dialback = this.#dialback ?? new DialbackReceiver(this, (sender, receiving, key) => owner.verify(sender, receiving, this.#streamId, key));
    this.#negotiation = new Negotiation(this.role, [tlsStep(this), bidiStep(this), saslExternalStep(this), dialback]);
    owner.connectionTable.add(this.id, this.direction);
    const seconds = context.config.negotiation_timeout;
    this.#negotiationTimer = setTimeout(() => this.#timedOut(seconds), seconds * 1000).unref();
    this.logger.info(opening ? 's2s outgoing connection established' : 's2s incoming connection accepted', { tls: this.stream.secure ? 'direct' : undefined, local: this.#local });
    if (opening) this.#sendHeader();
  }

  get logger(): Logger {
    return this.context.logger.child({ s2s: this.direction, remote: this.#remote, peer: this.stream.peer });
  }

  /** Whether the peer proved `domain` on this connection (the connection table). */
  proves(domain: string): boolean {
    return this.#owner.connectionTable.proves(this.id, domain);
  }

  /** Whether the peer uses per-pair authorization here: an unbound pair's stanza is refused, not the stream. */
  get perPair(): boolean {
    return this.#perPair;
  }

  /** Sends a stanza back towards the peer over the pair's outbound binding (an error for an unbound pair). */
  sendBack(pair: Pair, stanza: Element): boolean {
    return this.#owner.sendBack(pair, stanza);
  }

  /** Ends the stream with a stream error the peer's stanza earned. */
  refuse(error: StreamError): void {
    this.#streamError(error.condition, error.message);
  }

  // --- StepHost: what the negotiation steps use ---------------------------------------------

  get secure(): boolean {
    return this.stream.secure;
  }

  get localDomain(): string | undefined {
    return this.#local;
  }

  get remoteDomain(): string | undefined {
    return this.#remote;
  }

  get streamId(): string {
    return this.#streamId;
  }

  get authenticated(): boolean {
    return this.#authenticated;
  }

  get bidi(): boolean {
    return this.#owner.connectionTable.get(this.id)?.bidi ?? false;
  }

  enableBidi(): void {
    const row = this.#owner.connectionTable.get(this.id);
    if (!row || row.bidi) return;
    row.bidi = true;
    this.logger.info(`${this.label} bidirectional (XEP-0288)`);
  }

  write(element: Element): void {
    this.stream.send(element);
  }

  send(element: Element): boolean {
    return this.#negotiation.whenOpen(() => this.stream.send(element));
  }

  certificate(domain: string): CertificateVerdict {
    const socket = this.stream.socket;
    return checkPeerCertificate(socket instanceof TLSSocket ? socket : undefined, domain, this.context.anchors);
  }

  async startTls(): Promise<boolean> {
    const tls = this.context.tls;
    try {
      const socket =
        this.role === 'initiator'
          ? await this.stream.startTlsClient({ ...serverName(this.#remote!), ...tls.clientOptions(this.#local!), rejectUnauthorized: false })
          : // RFC 6120 section 5.4.3.1: the receiving server asks the initiator for its certificate.
            await this.stream.startTls(tls.serverOptions({ requestCert: true, rejectUnauthorized: false }, this.#local));
      if (this.role === 'initiator') this.#sendHeader();
      const certificate = this.certificate(this.#remote ?? '');
      this.logger.info(`${this.label} TLS established`, { protocol: socket.getProtocol(), cipher: socket.getCipher().name, certificate: certificate.status, reason: certificate.reason });
      return true;
    } catch (error) {
      const message = `TLS with ${this.stream.peer} failed: ${(error as Error).message}`;
      // RFC 6120 section 5.4.3.2: a failed handshake closes the TCP connection, with no stream close.
      if (this.role === 'initiator') this.fail(new StanzaError('remote-server-timeout', message));
      else {
        this.#note(message);
        this.stream.destroy();
      }
      return false;
    }
  }

  restart(): void {
    this.stream.restart();
    if (this.role === 'initiator') this.#sendHeader();
  }

  authorized(pair: Pair, method: AuthMethod): void {
    if (this.#closed) return;
    if (this.role === 'receiver') return this.#bindInbound(pair, method);
    this.#authenticated = true;
    this.#dialback!.settle(pair);
    // The pair starts sending once the stream is open (after the restart that follows SASL).
    if (!this.#negotiation.whenOpen(() => this.#bindOutbound(pair, method))) {
      this.refused(pair, new StanzaError('resource-constraint', 'too many requests wait on this connection'));
    }
  }

  usePairs(): void {
    this.#perPair = true;
  }

  pairRefused(_pair: Pair, method: string): void {
    this.#owner.pairCounters.count(this.direction, 'refused', method);
  }

  proveSender(sender: string): Promise<PairVerdict> {
    const socket = this.stream.socket;
    const evidence = { certificate: (name: string) => this.certificate(name), chain: peerCertificates(socket instanceof TLSSocket ? socket : undefined), anchors: this.context.anchors };
    return proveSender(sender, evidence, this.context.delegation);
  }

  /** Draft-ietf-xmpp-dna-01 section 6: the peer revoked a pair; its stanzas wait until it is authorized again. */
  revoked(pair: Pair): void {
    if (!this.#owner.bindingTable.isBound(pair, 'out', this.id)) return;
    this.#owner.bindingTable.unbind(pair, 'out', this.id);
    this.logger.warn('s2s outgoing pair revoked by the peer', { local: pair.local, remote: pair.remote });
  }

  /**
   * Revokes an inbound pair on a connection with per-pair authorization (draft section 6):
   * `<db:result type='invalid'/>` stops that pair only; false when it is not bound here or the
   * peer does not use per-pair authorization (on a standard stream invalid would end it).
   */
  revoke(pair: Pair): boolean {
    if (!this.#perPair || !this.#owner.bindingTable.isBound(pair, 'in', this.id)) return false;
    this.#owner.bindingTable.unbind(pair, 'in', this.id);
    this.stream.send(new Element('result', NS_DIALBACK, { from: pair.local, to: pair.remote, type: 'invalid' }));
    this.logger.info('s2s incoming pair revoked', { from: pair.remote, to: pair.local });
    return true;
  }

  refused(pair: Pair, error: StanzaError): void {
    this.logger.warn('s2s outgoing pair failed', { local: pair.local, remote: pair.remote, error: error.message });
    // Every pair we ask for on a connection is a dialback request, with a key or without.
    this.pairRefused(pair, 'dialback');
    this.#owner.pairFailed(this, pair, error);
    if (this.#owner.bindingTable.pairsOf(this.id, 'out').length === 0 && this.#dialback!.waiting === 0) this.close();
  }

  fail(error: StanzaError, condition?: StreamErrorCondition): void {
    this.#closeError = error;
    this.logger.warn(`${this.label} failed`, { error: error.message });
    if (condition) this.#streamError(condition, error.message);
    else this.stream.closeStream();
    // What waits on a connection we opened bounces now, not once the peer has acknowledged the close.
    if (this.role === 'initiator') this.#onClosed();
  }

  // --- outbound --------------------------------------------------------------------------------

  /** Asks for another pair on this connection we opened (XEP-0220 section 2.6). */
  request(pair: Pair): void {
    if (!this.#owner.bindingTable.isBound(pair, 'out', this.id)) this.#dialback!.request(pair);
  }

  /** As the receiving server, asks the peer as authoritative server about a key (XEP-0220 section 2.1.2). */
  verify(sender: string, receiving: string, streamId: string, key: string): Promise<VerifyOutcome> {
    return this.#dialback!.verify(sender, receiving, streamId, key);
  }

  /**
   * Whether pairs for another remote domain served by the same hop may be asked for here
   * (target multiplexing): XEP-0220 section 2.6.2 wants dialback errors advertised, RFC 7712
   * section 4.4.2 a certificate that is valid for the new domain too.
   */
  canCarry(remote: string): boolean {
    if (this.#closed || this.stream.closing || this.role !== 'initiator' || !this.#negotiation.complete) return false;
    return this.#dialback!.errorsOffered && this.certificate(remote).status === 'valid';
  }

  /**
   * Whether the certificate we presented on this connection names `local` (RFC 6125), so that
   * a pair from `local` may be asked for here as well as from the domain it was opened for.
   */
  presentsFor(local: string): boolean {
    if (local === this.#local) return true;
    const socket = this.stream.socket;
    const certificate = socket instanceof TLSSocket ? socket.getX509Certificate() : undefined;
    if (!certificate) return false;
    try {
      return certificateMatchesDomain(certificateIdentities(certificate), local, 'xmpp-server');
    } catch {
      return false;
    }
  }

  /** Sends a stanza of a pair bound to this connection; `resends` counts the connections it was sent on before. */
  sendStanza(stanza: Element, pair: Pair, resends = 0): void {
    const outcome = this.#tracker.send(serialize(stanza, NS_CLIENT), pair, resends);
    if (outcome === 'acks-given-up') this.logger.warn('s2s peer stopped acknowledging: acknowledgements given up', { limit: 'unacknowledged stanzas' });
    if (outcome !== 'over-budget') return;
    // A peer that takes stanzas slower than they come for it: what it has not taken stays bounded.
    if (!this.#overBudgetLogged) this.logger.warn(`${this.label} output budget spent: stanzas bounce until the peer catches up`, { held: this.#tracker.held, limit: 's2s.output' });
    this.#overBudgetLogged = true;
    this.context.router.bounce(stanza, new StanzaError('resource-constraint', `${pair.remote} is not taking stanzas as fast as they come`));
  }

  #bindOutbound(pair: Pair, method: AuthMethod): void {
    if (this.#closed) return;
    const proof = this.#record(pair, 'out', method, this.certificate(pair.remote).status === 'valid');
    this.#acks.authenticated(this.#tracker);
    this.logger.info('s2s outgoing pair authorized', { local: pair.local, remote: pair.remote, ...proof });
    this.#owner.pairReady(this, pair);
    // XEP-0288 section 2.2: the peer may send the reverse of each pair we proved, if what it proved to us is enough.
    if (this.bidi && this.#meetsPolicy(pair, proof, 's2s outgoing bidi: the peer is authenticated below the level required to receive from it')) this.#bindReverse(pair, 'in', proof);
  }

  /** Whether `proof` reaches the level policy requires of the pair's remote domain. */
  #meetsPolicy(pair: Pair, proof: PairProof, refusal: string): boolean {
    const required = this.context.policy.requiredLevel(pair.remote);
    if (meetsLevel(proof.level, required)) return true;
    this.logger.warn(refusal, { from: pair.remote, level: proof.level, required });
    return false;
  }

  /** XEP-0288: a pair authorized one way on a bidi connection is bound the other way too, with the same proof. */
  #bindReverse(pair: Pair, direction: Direction, proof: PairProof): void {
    this.#owner.bindingTable.bind(pair, direction, this.id, proof);
    this.logger.info(`${this.label} pair bound ${direction === 'out' ? 'outbound' : 'inbound'} (bidi)`, { local: pair.local, remote: pair.remote });
    if (direction === 'out') this.#owner.pairReady(this, pair);
  }

  #bindInbound(pair: Pair, method: AuthMethod): void {
    const proof = proofOf('in', method, this.secure, false);
    if (!this.#meetsPolicy(pair, proof, 's2s incoming authentication below the required level')) return this.pairRefused(pair, method);
    this.#authenticated = true;
    this.#record(pair, 'in', method, method === 'sasl-external' || method === 'certificate');
    this.logger.info('s2s incoming sender authorized', { from: pair.remote, to: pair.local, ...proof });
    // XEP-0288 section 2.2: we send as the reverse of what the peer proved, once the stream is
    // open. A step authorizes while it handles the peer's element, before it reports the restart
    // that follows SASL; asked after that, nothing goes out between <success/> and our new header.
    if (this.bidi) queueMicrotask(() => this.#negotiation.whenOpen(() => !this.#closed && this.#bindReverse(pair, 'out', proof)));
  }

  /** Enters what the peer proved in the connection table and the pair in the binding table. */
  #record(pair: Pair, direction: Direction, method: AuthMethod, certified: boolean): PairProof {
    clearTimeout(this.#negotiationTimer);
    if (certified) this.#owner.connectionTable.certified(this.id, pair.remote);
    else this.#owner.connectionTable.proved(this.id, pair.remote);
    const proof = proofOf(direction, method, this.secure, certified);
    this.#owner.bindingTable.bind(pair, direction, this.id, proof);
    this.#owner.pairCounters.count(direction, 'authorized', method);
    return proof;
  }

  // --- the stream ------------------------------------------------------------------------------

  #sendHeader(): void {
    // RFC 6120 section 4.7 and XEP-0220 section 2.4.1: to, from, version, and the dialback prefix.
    this.stream.openStream({ from: this.#local, to: this.#remote, prefixes: { db: NS_DIALBACK } });
  }

  #onStreamOpen(root: Element, declarations: NamespaceDeclarations): void {
    if (this.role === 'receiver') {
      const header = receiverHeader(this, root, declarations);
      if ('condition' in header) return this.#streamError(header.condition, header.text, header.local);
      [this.#local, this.#remote, this.#streamId] = [header.local, header.remote, header.id];
      this.stream.openStream({ from: header.local, to: header.remote, id: header.id, version: header.legacy ? undefined : '1.0', prefixes: { db: NS_DIALBACK } });
      // RFC 6120 section 4.7.5: a peer without version 1.0 gets no features (it can only do dialback).
      if (!header.legacy) this.stream.send(this.#features());
      this.#negotiation.headerSent();
      if (header.remote && this.context.policy.requiredLevel(header.remote) === 'permissive') {
        // The permissive level accepts the claimed domain unproven: closed networks only.
        this.logger.warn('s2s incoming PERMISSIVE: accepting an unauthenticated peer by its claim', { from: header.remote });
        this.#bindInbound({ local: header.local, remote: header.remote }, 'none');
      }
      return;
    }
    if (root.name !== 'stream' || root.xmlns !== NS_STREAMS || declarations[''] !== NS_SERVER) {
      return this.fail(new StanzaError('remote-server-timeout', 'the peer opened a stream in the wrong namespace'), 'invalid-namespace');
    }
    this.#streamId = root.attrs.id ?? '';
    if (Object.values(declarations).includes(NS_DIALBACK)) this.#dialback!.declared();
    // RFC 6120 section 4.7.5: a peer without version 1.0 sends no features; only dialback remains.
    if (!root.attrs.version?.startsWith('1.')) this.#negotiation.features(undefined);
  }

  /** RFC 6120 sections 4.3.2 and 5.3.1, XEP-0198 section 2: the steps' offers, and acknowledgements unless TLS must come first. */
  #features(): Element {
    const features = new Element('features', NS_STREAMS);
    if (!this.#negotiation.offer(features)) features.c('sm', {}, NS_SM);
    return features;
  }

  #onElement(element: Element): void {
    try {
      this.#handle(element);
    } catch (error) {
      if (!(error instanceof StreamError)) throw error;
      this.refuse(error);
    }
  }

  #handle(element: Element): void {
    if (element.xmlns === NS_STREAMS && element.name === 'error') {
      // RFC 6120 section 4.9: the peer ends the stream; its close tag follows.
      const condition = element.elements()[0]?.name ?? 'undefined-condition';
      this.logger.warn(`${this.label} stream error from peer`, { condition, text: element.getChildText('text', element.elements()[0]?.xmlns) });
      return this.#note(`the peer ended the stream: ${condition}`);
    }
    if (element.xmlns === NS_STREAMS && element.name === 'features' && this.role === 'initiator') {
      this.#acks.features(element);
      this.#dialback!.observe(element);
      return this.#negotiation.features(element);
    }
    const step = this.#negotiation.handle(element);
    if (step) return void step.catch((error: unknown) => this.#stepFailed(error));
    if (element.xmlns === NS_SM) return this.#acks.handle(element, this.#inbound, this.#tracker);
    if (element.xmlns === NS_CLIENT && ['message', 'presence', 'iq'].includes(element.name)) return this.#inbound.enqueue(element);
    // RFC 6120 section 4.8.4: first-level elements in other namespaces are never routed.
    if (this.role === 'receiver') throw new StreamError('unsupported-stanza-type', `<${element.name} xmlns='${element.xmlns}'/> is not accepted on a server stream`);
    this.logger.debug(`${this.label} ignored an element from the peer`, { element: element.name, xmlns: element.xmlns });
  }

  /** A step that failed asynchronously ends the stream as a synchronous one would. */
  #stepFailed(error: unknown): void {
    if (error instanceof StreamError) return this.refuse(error);
    this.logger.error(`${this.label} negotiation step failed`, { error: error instanceof Error ? error.stack : String(error) });
    this.#streamError('internal-server-error', 'the server failed to process the request');
  }

  #timedOut(seconds: number): void {
    const text = `not authenticated within ${seconds} s`;
    if (this.role === 'receiver') return this.#streamError('connection-timeout', text);
    this.fail(new StanzaError('remote-server-timeout', `no authenticated stream to ${this.#remote} within ${seconds} s`), 'connection-timeout');
  }

  #note(reason: string): void {
    this.#closeError ??= new StanzaError('remote-server-timeout', reason);
  }

  #streamError(condition: StreamErrorCondition, text: string, from = this.#local): void {
    this.#note(`${condition}: ${text}`);
    this.logger.warn(`${this.label} stream error`, { condition, text });
    this.stream.streamError(condition, text, { from, id: this.role === 'receiver' ? this.#streamId || undefined : undefined });
  }

  // --- listing and lifecycle -------------------------------------------------------------------

  /** Ends the stream with a stream error, or politely (RFC 6120 section 4.4). */
  close(condition?: StreamErrorCondition, text?: string): void {
    if (condition) this.#streamError(condition, text ?? condition);
    else this.stream.closeStream();
  }

  #onClosed(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#negotiationTimer);
    this.#negotiation.clear();
    if (error) this.#note(error.message);
    this.#dialback?.closed();
    const unconfirmed = this.#tracker.takeUnconfirmed();
    // Draft-ietf-xmpp-dna-01 section 4: a closed connection leaves both tables.
    this.#owner.bindingTable.removeConnection(this.id);
    this.#owner.connectionTable.delete(this.id);
    const reason = (this.#closeError ??= new StanzaError('remote-server-timeout', 'the connection closed'));
    this.logger.info(`${this.label} connection closed`, { reason: reason.message, unconfirmed: unconfirmed.length || undefined, bytes_in: this.stream.bytesIn, bytes_out: this.stream.bytesOut });
    this.#owner.closed(this, reason, unconfirmed);
  }
}
