/**
 * A server connection (RFC 6120 section 4), one type for both directions: the negotiation
 * runs as ordered steps (negotiation.ts) in the initiator's role on a connection we opened and
 * in the receiver's on one the peer opened; after that the direction only says who opened it.
 * What the peer proved is kept in the connection table, the pairs it may carry in the binding
 * table; stanzas go out for bound pairs, and come in through the receive check (inbound.ts).
 */
import { announcesRelayTrace, relayTraceFeature, takeRelayTrace } from '../router/relay-trace.ts';
import { stanzaKind } from '../router/traffic-counters.ts';
import { attachReceipt, takeReceipt } from '../router/receipts.ts';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { ServerTarget } from '../net/dns.ts';
import { readRateFrom } from '../net/read-throttle.ts';
import { NS_SM } from '../net/stream-management.ts';
import { StreamError, type StreamErrorCondition } from '../net/stream-errors.ts';
import { XmlStream } from '../net/xml-stream.ts';
import type { Admission } from '../policy/verdict.ts';
import type { LogFields, Logger } from '../util/log.ts';
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
import { ConnectionTraffic } from './connection-traffic.ts';
import { ACK_ANSWER_TIMEOUT_MS, DeliveryTracker, type TrackedStanza } from './delivery-tracker.ts';
import { InboundStanzas } from './inbound.ts';
import { describeElement, Negotiation, type Role, type StepHost } from './negotiation.ts';
import type { PairCounters } from './pair-counters.ts';
import type { PairProof } from './pair-proof.ts';
import { checkPeerCertificate, peerCertificates, type CertificateVerdict } from './peer-certificate.ts';
import { NS_TRELLIS_S2S, proveSender, type PairVerdict } from './pair-authorization.ts';
import { DialbackInitiator, type VerifyOutcome } from './step-dialback-initiator.ts';
import { receiverHeader } from './receiver-header.ts';
import { DialbackReceiver } from './step-dialback-receiver.ts';
import { bidiStep } from './step-bidi.ts';
import { HostActivation } from './step-host-activation.ts';
import { ReversePairs, type ReverseHost } from './reverse-pairs.ts';
import { PairBindings, type BindingsHost } from './pair-bindings.ts';
import { hostNamedHeader, hostNamedStep } from './step-host-named.ts';
import { saslExternalStep } from './step-sasl-external.ts';
import { tlsStep } from './step-tls.ts';
import { domainCredentials, EXPORTER_LABEL, EXPORTER_LENGTH, type DomainCredentials } from '../delegation/host-activation.ts';
import { hopOf } from './connector.ts';
import { linkAnchors, linkProfileOf, pinnedVerdict, settingsFor } from './link-profile.ts';

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
  /** the stream on `connection` is now named after the two hosts: other domains the peer's host serves may use it */
  hostNamedReady(connection: ServerConnection): void;
  /** a host-named stream we tried on `connection` was not established: the peer gets standard streams */
  hostNamedRefused(connection: ServerConnection, reason: string): void;
}

/** A connection we open: the pair it is opened for, the hop it reached, and whether it may try host names. */
export interface Opening {
  pair: Pair;
  target: ServerTarget;
  hostNamed?: boolean;
}

export class ServerConnection implements StepHost, ReverseHost, BindingsHost {
  readonly id = randomUUID();
  readonly direction: Direction;
  readonly role: Role;
  /** how log lines name this connection's kind: "s2s outgoing" (we opened it) or "s2s incoming" */
  readonly label: string;
  readonly remoteAddress: string;
  readonly connectedAt = Date.now();
  /** stanzas and error stanzas carried each way */
  readonly traffic = new ConnectionTraffic();
  readonly context: S2sContext;
  readonly stream: XmlStream;
  readonly target: ServerTarget | undefined;
  readonly #owner: ConnectionOwner;
  readonly #negotiation: Negotiation;
  readonly #dialback: DialbackInitiator | undefined;
  readonly #inbound: InboundStanzas;
  readonly #tracker: DeliveryTracker;
  readonly #acks = acknowledgements(this);
  readonly #bindings: PairBindings;
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
  /** The peer announced it keeps the relay trace (relay-trace.ts): stanzas sent to it carry theirs; others have it taken off. */
  #peerKeepsRelayTrace = false;
  #negotiationTimer: NodeJS.Timeout;
  readonly #activation: HostActivation;
  /** bidi with a peer that takes pair requests from the receiving side too (reverse-pairs.ts) */
  #reverse: ReversePairs | undefined;
  /** initiator: may try host names (Opening.hostNamed) */
  readonly #mayUseHostNames: boolean;
  /** the hosts' names (ours, the peer's), once asked for: the stream after TLS is named after them */
  #hostNames: { local: string; remote: string } | undefined;
  /** the host-named stream is established */
  #hostNamed = false;
  /** initiator: why the host-named stream we asked for was not established */
  #hostNamedFailure: string | undefined;
  #settleHostNamed: (established: boolean) => void = () => {};
  /** initiator: true once the stream is host-named, false once it is not (standard, or closed) */
  readonly hostNamedSettled: Promise<boolean>;

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
    this.#bindings = new PairBindings(this, owner);
    this.#dialback = opening ? new DialbackInitiator(this) : undefined;
    const dialback = this.#dialback ?? new DialbackReceiver(this, (sender, receiving, key) => owner.verify(sender, receiving, this.#streamId, key));
    this.#activation = new HostActivation(this);
    this.#mayUseHostNames = opening?.hostNamed ?? false;
    this.hostNamedSettled = this.#mayUseHostNames ? new Promise((resolve) => (this.#settleHostNamed = resolve)) : Promise.resolve(false);
    // Host names are asked for before TLS; activation comes before dialback, whose requests it may take.
    const trace = (message: string, fields: () => Record<string, string>): void => this.#debug(message, fields);
    this.#negotiation = new Negotiation(this.role, [hostNamedStep(this), tlsStep(this), bidiStep(this), saslExternalStep(this), this.#activation, dialback], trace);
    owner.connectionTable.add(this.id, this.direction);
    const seconds = settingsFor(context, this.#remote).negotiation_timeout;
    this.#negotiationTimer = setTimeout(() => this.#timedOut(seconds), seconds * 1000).unref();
    this.logger.info(opening ? 's2s outgoing connection established' : 's2s incoming connection accepted', { tls: this.stream.secure ? 'direct' : undefined, local: this.#local });
    if (!opening) return;
    // Direct TLS (XEP-0368) to a link's peer: a certificate other than the pinned one ends it before our header.
    const pinnedRefusal = this.stream.secure ? this.#pinnedRefusal() : undefined;
    if (pinnedRefusal === undefined) this.#sendHeader();
    else process.nextTick(() => this.fail(new StanzaError('remote-server-not-found', pinnedRefusal), 'policy-violation'));
  }

  get logger(): Logger {
    return this.context.logger.child({ s2s: this.direction, remote: this.#remote, peer: this.stream.peer });
  }

  /** peer-warnings.ts: the same warning on this connection at most once per `limits.log_interval`. */
  warnOfPeer(message: string, fields: LogFields): void {
    this.context.limits.refusals.warn(`s2s peer ${this.id} ${message}`, message, fields, this.logger);
  }

  /** Whether the peer proved `domain` on this connection (the connection table). */
  proves(domain: string): boolean {
    return this.#owner.connectionTable.proves(this.id, domain);
  }

  /**
   * Whether pairs are authorized one by one here: the peer asked without keys, or takes our
   * requests on a bidi connection it opened (reverse-pairs.ts). An unbound pair's stanza is then
   * refused, not the stream.
   */
  get perPair(): boolean {
    return this.#perPair || this.#reverse !== undefined;
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

  enableBidi(reversePairs: boolean, peerKeepsRelayTrace = false): void {
    const row = this.#owner.connectionTable.get(this.id);
    if (!row || row.bidi) return;
    row.bidi = true;
    if (peerKeepsRelayTrace) this.#peerKeepsRelayTrace = true;
    if (reversePairs) this.#reverse = new ReversePairs(this);
    this.logger.info(`${this.label} bidirectional (XEP-0288)`, { reverse_pairs: reversePairs || undefined });
  }

  // --- host-named streams and host activation (step-host-named.ts, step-host-activation.ts) ---

  get hostNamed(): boolean {
    return this.#hostNamed;
  }

  get mayUseHostNames(): boolean {
    return this.#mayUseHostNames;
  }

  useHostNames(peerHost: string): void {
    this.#hostNames = { local: this.context.hostName!, remote: peerHost };
  }

  hostNamesRequested(peerHost: string): void {
    this.#hostNames = { local: this.context.hostName!, remote: peerHost };
  }

  /** Both hosts' names are proved: pairs are authorized one by one, each by its own proof (draft section 6). */
  #establishHostNamed(): void {
    const names = this.#hostNames!;
    this.#hostNamed = true;
    this.#perPair = true;
    // From now on the stream's names are the hosts' (the initiator opened it for a domain pair).
    [this.#local, this.#remote] = [names.local, names.remote];
    const row = this.#owner.connectionTable.get(this.id);
    if (row) row.hostNamed = true;
    this.#owner.connectionTable.certified(this.id, names.remote);
    this.logger.info(`${this.label} host-named stream`, { local_host: names.local, remote_host: names.remote });
    this.#settleHostNamed(true);
    this.#owner.hostNamedReady(this);
  }

  /** Initiator: the host-named stream we asked for is not there; the connection ends and its pairs go the standard way. */
  #hostNamedFailed(reason: string): void {
    this.#hostNamedFailure ??= reason;
    this.fail(new StanzaError('remote-server-timeout', `host-named stream: ${reason}`));
  }

  /** The connection ended while trying host names: what waited for it goes on a standard stream, not back to its senders. */
  get hostNamedFailure(): string | undefined {
    return this.#hostNamedFailure;
  }

  activate(pair: Pair): boolean {
    return this.#hostNamed && this.#activation.request(pair);
  }

  channelBinding(): Buffer | undefined {
    const socket = this.stream.socket;
    // RFC 9266 section 2: defined for TLS 1.3 (TLS 1.2 would need the extended master secret, which Node does not show).
    if (!(socket instanceof TLSSocket) || socket.getProtocol() !== 'TLSv1.3') return undefined;
    return socket.exportKeyingMaterial(EXPORTER_LENGTH, EXPORTER_LABEL, Buffer.alloc(0));
  }

  credentials(domain: string): DomainCredentials | undefined {
    const pem = this.context.tls.pemOf(domain);
    const credentials = pem && domainCredentials(pem);
    if (credentials instanceof Error) this.logger.warn('s2s activation: the certificate of a hosted domain cannot sign', { domain, reason: credentials.message });
    return credentials instanceof Error ? undefined : credentials;
  }

  /** Host activation proved both domains of the pair: it is bound both ways (one way on a connection without bidi). */
  activated(pair: Pair): void {
    if (this.#closed) return;
    const proof: PairProof = { method: 'host-activation', level: 'trusted' };
    clearTimeout(this.#negotiationTimer);
    this.#authenticated = true;
    this.#owner.connectionTable.proved(this.id, pair.remote);
    this.logger.info(`${this.label} pair activated`, { local: pair.local, remote: pair.remote, ...proof });
    if (this.role === 'receiver' || this.bidi) this.#bindings.bind(pair, 'in', proof);
    if (this.role === 'initiator' || this.bidi) {
      this.#bindings.bind(pair, 'out', proof);
      this.#dialback?.settle(pair);
      this.outboundReady(pair);
    }
  }

  activationFailed(pair: Pair, error: StanzaError): void {
    this.logger.info(`${this.label} pair not activated`, { local: pair.local, remote: pair.remote, reason: error.message });
    // The initiator asks with the pairs extension next (DNSSEC, POSH or the certificate may prove the sender).
    if (this.#dialback) return this.#dialback.request(pair, false);
    this.refused(pair, error);
  }

  write(element: Element): void {
    this.#debug(`${this.label} sent`, () => ({ element: describeElement(element) }));
    this.stream.send(element);
  }

  send(element: Element): boolean {
    return this.#negotiation.whenOpen(() => this.write(element));
  }

  /** A line at debug level (`log.level: debug`): the negotiation, step by step, for an operator diagnosing a peer. */
  #debug(message: string, fields: () => Record<string, string>): void {
    // The fields are made only when they will be written.
    if (this.context.logger.enabled('debug')) this.logger.debug(message, fields());
  }

  certificate(domain: string): CertificateVerdict {
    const socket = this.stream.socket;
    // A link of protocol s2s pins the peer's certificate, or has trust anchors of its own (link-profile.ts).
    const profile = linkProfileOf(this.context, domain);
    return pinnedVerdict(profile, socket) ?? checkPeerCertificate(socket instanceof TLSSocket ? socket : undefined, domain, linkAnchors(this.context, domain));
  }

  /** Initiator on a link that pins the peer's certificate: a peer presenting another is refused before anything is sent to it. */
  #pinnedRefusal(): string | undefined {
    const profile = linkProfileOf(this.context, this.#remote);
    const verdict = pinnedVerdict(profile, this.stream.socket);
    if (verdict === undefined || verdict.status === 'valid') return undefined;
    this.logger.warn('s2s link peer refused: not the pinned certificate', { link: profile!.name, address: this.stream.peer, reason: verdict.reason });
    return `the link ${profile!.name} refused the peer at ${this.stream.peer}: ${verdict.reason}`;
  }

  async startTls(): Promise<boolean> {
    const tls = this.context.tls;
    // Host names asked for: SNI names the peer's host, and each side presents its host's certificate (draft section 5).
    const names = this.#hostNames;
    try {
      const socket =
        this.role === 'initiator'
          ? await this.stream.startTlsClient({ ...serverName(names?.remote ?? this.#remote!), ...tls.clientOptions(names?.local ?? this.#local!), rejectUnauthorized: false })
          : // RFC 6120 section 5.4.3.1: the receiving server asks the initiator for its certificate.
            await this.stream.startTls(tls.serverOptions({ requestCert: true, rejectUnauthorized: false }, names?.local ?? this.#local));
      const certificate = this.certificate(names?.remote ?? this.#remote ?? '');
      if (this.role === 'initiator' && names && certificate.status !== 'valid') {
        this.#hostNamedFailed(`the certificate does not prove the peer's host name ${names.remote}: ${certificate.reason ?? certificate.status}`);
        return false;
      }
      const pinnedRefusal = this.role === 'initiator' ? this.#pinnedRefusal() : undefined;
      if (pinnedRefusal !== undefined) {
        this.fail(new StanzaError('remote-server-not-found', pinnedRefusal), 'policy-violation');
        return false;
      }
      if (this.role === 'initiator') this.#sendHeader();
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

  admits(pair: Pair, method: AuthMethod): Admission {
    return this.#bindings.admits(pair, method);
  }

  authorized(pair: Pair, method: AuthMethod): void {
    if (this.#closed) return;
    if (this.role === 'receiver') return this.#bindInbound(pair, method);
    this.#authenticated = true;
    this.#dialback!.settle(pair);
    if (this.#hostNamed) return void this.#bindHostNamedOutbound(pair);
    // The pair starts sending once the stream is open (after the restart that follows SASL).
    if (!this.#negotiation.whenOpen(() => this.#bindings.outbound(pair, method))) {
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
    if (!this.perPair || !this.#bindings.unbindInbound(pair)) return false;
    this.stream.send(new Element('result', NS_DIALBACK, { from: pair.local, to: pair.remote, type: 'invalid' }));
    this.logger.info('s2s incoming pair revoked', { from: pair.remote, to: pair.local });
    return true;
  }

  refused(pair: Pair, error: StanzaError): void {
    this.logger.warn(`${this.label} pair failed`, { local: pair.local, remote: pair.remote, error: error.message });
    // Every pair we ask for on a connection is a dialback request, with a key or without.
    this.pairRefused(pair, 'dialback');
    this.#owner.pairFailed(this, pair, error);
    // A connection we opened that carries nothing and waits for nothing ends. A host-named one stays
    // for the host's other domains: without any pair it ends when the negotiation time runs out.
    if (this.role !== 'initiator' || this.#hostNamed || this.#dialback!.waiting > 0) return;
    if (this.#owner.bindingTable.pairsOf(this.id, 'out').length === 0) this.close();
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

  /**
   * Asks for another pair: on a connection we opened by dialback (XEP-0220 section 2.6) or
   * activation; on a host-named one the peer opened, by activation only (canCarry said it may).
   */
  request(pair: Pair): void {
    if (this.#owner.bindingTable.isBound(pair, 'out', this.id)) return;
    if (this.#dialback) return this.#dialback.request(pair);
    if (this.#activation.request(pair)) return;
    if (this.#reverse && this.#authenticated) return this.#reverse.request(pair);
    queueMicrotask(() => this.refused(pair, new StanzaError('remote-server-timeout', `pairs cannot be asked for on a connection ${this.remoteDomain} opened`)));
  }

  /** As the receiving server, asks the peer as authoritative server about a key (XEP-0220 section 2.1.2). */
  verify(sender: string, receiving: string, streamId: string, key: string): Promise<VerifyOutcome> {
    // XEP-0288 section 2.2: not on a connection the peer opened (it may have carried the request).
    if (!this.#dialback) return Promise.resolve('error');
    return this.#dialback.verify(sender, receiving, streamId, key);
  }

  /**
   * Whether pairs for another remote domain served by the same hop may be asked for here
   * (target multiplexing): XEP-0220 section 2.6.2 wants dialback errors advertised, RFC 7712
   * section 4.4.2 a certificate that is valid for the new domain too.
   */
  canCarry(remote: string): boolean {
    if (this.#closed || this.stream.closing) return false;
    // A host-named stream carries any domain of the peer's host, each pair with a proof of its own; on
    // one the peer opened we can ask only by activation, and only with bidi.
    if (this.#hostNamed) return this.role === 'initiator' ? this.#negotiation.complete : this.#activation.canRequest;
    // On a bidi connection the peer opened: its certificate must name the domain (RFC 7712 section 4.4.2).
    if (this.role === 'receiver') return this.#reverse !== undefined && this.#authenticated && this.certificate(remote).status === 'valid';
    if (!this.#negotiation.complete) return false;
    return this.#dialback!.errorsOffered && this.certificate(remote).status === 'valid';
  }

  /**
   * Whether this connection reaches the server `target` names: it was opened to that hop, or it is
   * host-named and the peer's certificate proved the target's host name (draft section 5 step 3).
   */
  reaches(target: ServerTarget): boolean {
    if (this.target && hopOf(this.target) === hopOf(target)) return true;
    return this.#hostNamed && this.proves(target.host.toLowerCase().replace(/\.$/, ''));
  }

  /**
   * Whether the certificate we presented on this connection names `local` (RFC 6125), so that
   * a pair from `local` may be asked for here as well as from the domain it was opened for.
   */
  presentsFor(local: string): boolean {
    // A host-named stream presents the host's certificate: a refused pair goes to a standard stream of its own.
    if (this.#hostNamed) return false;
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
    this.context.router.traffic.sent.add('server', stanzaKind(stanza.name));
    this.traffic.count('out', stanza);
    if (!this.#peerKeepsRelayTrace) takeRelayTrace(stanza);
    const receipt = takeReceipt(stanza);
    const outcome = this.#tracker.send(serialize(stanza, NS_CLIENT), pair, resends, receipt);
    if (outcome === 'acks-given-up') this.logger.warn('s2s peer stopped acknowledging: acknowledgements given up', { limit: 'unacknowledged stanzas' });
    if (outcome !== 'over-budget') return;
    attachReceipt(stanza, receipt);
    // A peer that takes stanzas slower than they come for it: what it has not taken stays bounded.
    if (!this.#overBudgetLogged) this.logger.warn(`${this.label} output budget spent: stanzas bounce until the peer catches up`, { held: this.#tracker.held, limit: 's2s.output' });
    this.#overBudgetLogged = true;
    this.context.router.bounce(stanza, new StanzaError('resource-constraint', `${pair.remote} is not taking stanzas as fast as they come`));
  }

  /**
   * A pair granted on a host-named stream: the certificate proves the peer's host, not the target
   * domain, so that domain is proven for the connection as a sender would be (pair-authorization.ts:
   * the certificate, DANE or signed SRV, POSH); otherwise DNS led here (its SRV target is the host,
   * or its hop), which is as much as dialback gives, over TLS: encrypted.
   */
  async #bindHostNamedOutbound(pair: Pair): Promise<void> {
    const verdict = await this.proveSender(pair.remote);
    if (this.#closed) return;
    const proof: PairProof = verdict.proven ? { method: verdict.method, level: verdict.level } : { method: 'dialback', level: 'encrypted' };
    const admission = this.#bindings.admitsProof(pair, proof);
    if (admission.kind === 'reject') {
      const reason = verdict.proven ? `it reaches ${proof.level}` : verdict.reason;
      return this.refused(pair, new StanzaError('remote-server-timeout', `${pair.remote} is not proven for the host ${this.#hostNames!.remote}: ${admission.text} (${reason})`));
    }
    this.#bindings.outbound(pair, proof.method, proof);
  }

  /** The peer proved a pair's sender; with bidi we send as its reverse too. */
  #bindInbound(pair: Pair, method: AuthMethod): void {
    const proof = this.#bindings.inbound(pair, method);
    if (!proof) return;
    this.#authenticated = true;
    // XEP-0288 section 2.2: we send as the reverse of what the peer proved, once the stream is
    // open. A step authorizes while it handles the peer's element, before it reports the restart
    // that follows SASL; asked after that, nothing goes out between <success/> and our new header.
    if (this.bidi) queueMicrotask(() => this.#negotiation.whenOpen(() => !this.#closed && this.#bindings.reverse(pair, 'out', proof)));
  }

  // --- BindingsHost and ReverseHost: pair-bindings.ts, reverse-pairs.ts -----------------------

  get ended(): boolean {
    return this.#closed;
  }

  bound(): void {
    clearTimeout(this.#negotiationTimer);
  }

  outboundReady(pair: Pair): void {
    this.#acks.authenticated(this.#tracker);
    this.#owner.pairReady(this, pair);
  }

  admitsSender(pair: Pair, method: AuthMethod): Admission {
    return this.#bindings.admits(pair, method, 'in');
  }

  reverseGranted(pair: Pair, method: AuthMethod): void {
    this.#bindings.granted(pair, method);
  }

  reverseAuthorized(pair: Pair): void {
    this.#bindings.grantedByPeer(pair);
  }

  // --- the stream ------------------------------------------------------------------------------

  #sendHeader(): void {
    // RFC 6120 section 4.7 and XEP-0220 section 2.4.1: to, from, version, and the dialback prefix; after TLS
    // on a connection that asked for host names, the two hosts' names (draft section 5).
    const names = this.secure ? this.#hostNames : undefined;
    this.stream.openStream({ from: names?.local ?? this.#local, to: names?.remote ?? this.#remote, prefixes: { db: NS_DIALBACK } });
  }

  /** Receiver: the header after TLS where host names were asked for (step-host-named.ts). */
  #openHostNamed(root: Element, declarations: NamespaceDeclarations): void {
    const names = this.#hostNames!;
    const header =
      root.name === 'stream' && root.xmlns === NS_STREAMS && declarations[''] === NS_SERVER
        ? hostNamedHeader(root, names.local, names.remote, (name) => this.certificate(name))
        : { condition: 'invalid-namespace' as const, text: "a server stream is <stream:stream> with content namespace 'jabber:server'" };
    if ('condition' in header) return this.#streamError(header.condition, header.text, names.local);
    [this.#local, this.#remote, this.#streamId] = [header.local, header.remote, header.id];
    this.#establishHostNamed();
    this.stream.openStream({ from: header.local, to: header.remote, id: header.id, version: '1.0', prefixes: { db: NS_DIALBACK } });
    this.stream.send(this.#features());
    this.#negotiation.headerSent();
  }

  #onStreamOpen(root: Element, declarations: NamespaceDeclarations): void {
    if (this.role === 'receiver' && this.#hostNames && this.secure) return this.#openHostNamed(root, declarations);
    if (this.role === 'receiver') {
      const header = receiverHeader(this, root, declarations);
      if ('condition' in header) return this.#streamError(header.condition, header.text, header.local);
      [this.#local, this.#remote, this.#streamId] = [header.local, header.remote, header.id];
      this.stream.openStream({ from: header.local, to: header.remote, id: header.id, version: header.legacy ? undefined : '1.0', prefixes: { db: NS_DIALBACK } });
      // RFC 6120 section 4.7.5: a peer without version 1.0 gets no features (it can only do dialback).
      if (!header.legacy) this.stream.send(this.#features());
      this.#negotiation.headerSent();
      if (header.remote && this.context.policy.current.requirement(header.remote).level === 'permissive') {
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
    features.append(relayTraceFeature());
    this.#debug(`${this.label} offered features`, () => ({ features: featureNames(features) }));
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
      if (this.#hostNames && this.secure && !this.#hostNamed) {
        // The peer confirms host names after TLS; without it the stream is not what we asked for.
        if (!element.getChild('host-named', NS_TRELLIS_S2S)) return this.#hostNamedFailed('the peer did not confirm host names after TLS');
        this.#establishHostNamed();
      }
      this.#debug(`${this.label} received features`, () => ({ features: featureNames(element) }));
      this.#acks.features(element);
      if (announcesRelayTrace(element)) this.#peerKeepsRelayTrace = true;
      this.#dialback!.observe(element);
      this.#negotiation.features(element);
      if (!this.#hostNames) this.#settleHostNamed(false);
      return;
    }
    if (this.#reverse?.claims(element)) return this.#reverse.handle(element);
    const step = this.#negotiation.handle(element);
    if (step) return void step.catch((error: unknown) => this.#stepFailed(error));
    if (element.xmlns === NS_SM) return this.#acks.handle(element, this.#inbound, this.#tracker);
    if (element.xmlns === NS_CLIENT && ['message', 'presence', 'iq'].includes(element.name)) {
      this.traffic.count('in', element);
      return this.#inbound.enqueue(element);
    }
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
    this.#reverse?.closed();
    this.#activation.closed();
    const unconfirmed = this.#tracker.takeUnconfirmed();
    // Draft-ietf-xmpp-dna-01 section 4: a closed connection leaves both tables.
    this.#owner.bindingTable.removeConnection(this.id);
    this.#owner.connectionTable.delete(this.id);
    const reason = (this.#closeError ??= new StanzaError('remote-server-timeout', 'the connection closed'));
    if (this.role === 'initiator' && this.#hostNames && !this.#hostNamed) {
      this.#hostNamedFailure ??= reason.message;
      this.#owner.hostNamedRefused(this, this.#hostNamedFailure);
    }
    this.#settleHostNamed(false);
    this.logger.info(`${this.label} connection closed`, { reason: reason.message, unconfirmed: unconfirmed.length || undefined, bytes_in: this.stream.bytesIn, bytes_out: this.stream.bytesOut });
    this.#owner.closed(this, reason, unconfirmed);
  }
}

/** The features of a <stream:features/> by name, for log lines: "starttls bidi dialback". */
function featureNames(features: Element): string {
  return features.elements().map((feature) => feature.name).join(' ') || '(none)';
}
