/**
 * One client connection (RFC 6120): stream header checks, STARTTLS, SASL, resource binding,
 * then every stanza to the router. Its state is a discriminated union so that what may happen
 * next is decided in one place.
 */
import { pooledRandomBytes } from '../util/random-pool.ts';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { serverChannelBindings, type ChannelBindings } from '../auth/channel-binding.ts';
import { hashedTokenMechanisms, isHashedTokenMechanism } from '../auth/hashed-token.ts';
import type { C2sConfig, LogLevel, ParserLimits } from '../config/types.ts';
import { makeJid, prepareDomain, prepareResource, type Jid } from '../jid/jid.ts';
import { StreamError, type StreamErrorCondition } from '../net/stream-errors.ts';
import type { TlsContextStore } from '../net/tls-contexts.ts';
import { readRateFrom } from '../net/read-throttle.ts';
import { XmlStream, newStreamId, type XmlStreamHandlers, type XmlStreamOptions } from '../net/xml-stream.ts';
import type { Ticket } from '../limits/connection-gate.ts';
import type { Limits } from '../limits/limits.ts';
import type { LoginGuard } from '../limits/login-throttle.ts';
import type { Router } from '../router/router.ts';
import type { SessionEndCondition } from '../router/sessions.ts';
import type { Storage } from '../storage/types.ts';
import type { LogFields, Logger } from '../util/log.ts';
import { Element, NS_CLIENT, NS_STREAMS } from '../xml/element.ts';
import { NS_BIND, NS_CARBONS, NS_PING, NS_SASL, NS_SESSION, NS_TLS } from '../xml/namespaces.ts';
import { parseElement } from '../xml/parse-element.ts';
import { StanzaError, errorReply, iqResult } from '../xml/stanza-error.ts';
import type { NamespaceDeclarations, XmlStreamError } from '../xml/parser.ts';
import { ClientSession, type ClientSessionContext, type SessionTransport } from './client-session.ts';
import { NS_CSI } from './client-state.ts';
import { postAuthFeatures, preAuthFeatures } from './features.ts';
import { settleFastTokens } from './fast.ts';
import { SaslNegotiation, type SaslNegotiationContext, type SaslOutcome } from './sasl-negotiation.ts';
import { NS_SASL2, asSasl2, authenticationFeature, bindResource, boundElement, readAuthenticate, sasl2Failure, sasl2Success, type Sasl2Request, type UserAgent } from './sasl2.ts';
import type { ResumptionPeers } from './hand-over.ts';
import { NS_SM, enabledElement, failedElement, handledCountTooHigh, parseH, resumedElement } from '../net/stream-management.ts';

export interface C2sContext {
  config: C2sConfig;
  router: Router;
  storage: Storage;
  tls: TlsContextStore | undefined;
  logger: Logger;
  /** connection and login limits (src/limits) */
  limits: Limits;
  /** what every client session shares: the output budget, and what becomes of stanzas a session could not take */
  sessions: ClientSessionContext;
  /** sessions a client may resume, by their XEP-0198 id */
  resumable: Map<string, ClientSession>;
  /** the other nodes of a cluster, which may hold a session a client resumes here (hand-over.ts) */
  resumption: ResumptionPeers | undefined;
}

type C2sState =
  /** `sasl2`: the SASL2 request whose exchange is under way (XEP-0388) */
  | { phase: 'unauthenticated'; sasl: SaslNegotiation; failures: number; sasl2?: Sasl2Request }
  | { phase: 'authenticated'; username: string }
  | { phase: 'bound' }
  | { phase: 'closed' };

/** The state of every bound connection: its session is `#session`, so the state needs no object of its own. */
const BOUND: C2sState = { phase: 'bound' };

/** Stanzas waiting for processing before the socket stops being read (flow control). */
const MAX_PENDING_STANZAS = 64;
/** The processing queue of a connection with nothing pending: one settled promise for all. */
const IDLE_QUEUE: Promise<void> = Promise.resolve();

export class C2sConnection implements SessionTransport, XmlStreamHandlers {
  readonly stream: XmlStream;
  readonly connectedAt = Date.now();
  /** what the connection limits admitted it with (src/limits): told when it authenticates and when it closes */
  readonly admission: Ticket;
  #context: C2sContext;
  /** made when this connection first logs a line: at level warn an ordinary session never needs one */
  #logger: Logger | undefined;
  #state: C2sState = { phase: 'unauthenticated', sasl: new SaslNegotiation(), failures: 0 };
  #domain: string | undefined;
  #session: ClientSession | undefined;
  /** where the bound session's stanzas come from, for the router: made once per session, not per stanza */
  #origin: { kind: 'client'; session: ClientSession } | undefined;
  #streamId = '';
  /** when the server last asked a silent client to show it is alive (XEP-0199 or XEP-0198), 0 when not waiting */
  #probedAt = 0;
  #pending = 0;
  #queue = IDLE_QUEUE;
  #closeReason = 'connection closed by peer';
  /** the client closed its stream (RFC 6120 section 4.4) rather than dropping the connection */
  #closedByPeer = false;
  /** we ended the stream with an error: what the client sent after it was accepted is not handled */
  #discardPending = false;
  #onClosed: (connection: C2sConnection) => void;
  /** the TLS channel's bindings for SCRAM -PLUS, read once TLS is up (none over WebSocket, whose TLS is the HTTP listener's) */
  #bindings: ChannelBindings | undefined;
  /** failed logins across streams (src/limits/login-throttle.ts), made at the first SASL element */
  #login: LoginGuard | undefined;
  /** the client software as its SASL2 <user-agent/> described it (XEP-0388 section 2.2) */
  #userAgent: UserAgent | undefined;

  constructor(socket: Socket, context: C2sContext, onClosed: (connection: C2sConnection) => void, admission: Ticket) {
    this.#context = context;
    this.admission = admission;
    this.#onClosed = onClosed;
    // The connection handles its stream's events itself (XmlStreamHandlers below): no closures per connection.
    this.stream = new XmlStream(socket, this, streamOptionsFor(context.config));
    this.#log('info', 'c2s connection accepted', { tls: this.stream.secure || undefined });
  }

  // --- the stream's events (XmlStreamHandlers) ------------------------------------------------

  streamOpen(root: Element, declarations: NamespaceDeclarations): void {
    this.#onStreamOpen(root, declarations);
  }

  stanza(element: Element): void {
    this.#enqueue(element);
  }

  streamClose(): void {
    this.#closeReason = 'stream closed by peer';
    this.#closedByPeer = true;
  }

  parseError(error: XmlStreamError): void {
    this.#closeReason = `${error.condition}: ${error.message}`;
  }

  /** Keepalive whitespace between stanzas (RFC 6120 section 4.6.1) needs no answer; the stream already noted the activity. */
  whitespace(): void {}

  socketClosed(error?: Error): void {
    this.#onSocketClosed(error);
  }

  written(offset: number): void {
    this.#session?.written(offset);
  }

  /** Logs with this connection's peer address; nothing is built when the level is off. */
  #log(level: LogLevel, message: string, fields: LogFields): void {
    const logger = this.#context.logger;
    if (!logger.enabled(level)) return;
    this.#logger ??= logger.child({ peer: this.stream.peer });
    this.#logger[level](message, fields);
  }

  // --- SessionTransport -----------------------------------------------------------------------

  get peer(): string {
    return this.stream.peer;
  }

  write(xml: string): number {
    return this.stream.sendRaw(xml);
  }

  get writtenOffset(): number {
    return this.stream.writtenChars;
  }

  end(condition: SessionEndCondition, text?: string): void {
    this.#streamError(condition, text);
  }

  drop(): void {
    this.stream.destroy();
  }

  /** The client software as it described itself in SASL2, if it did. */
  get userAgent(): UserAgent | undefined {
    return this.#userAgent;
  }

  /** The session this connection carries, once bound (or resumed). */
  get session(): ClientSession | undefined {
    return this.#session;
  }

  // --- state --------------------------------------------------------------------------------

  get phase(): C2sState['phase'] {
    return this.#state.phase;
  }

  get authenticated(): boolean {
    return this.#state.phase === 'authenticated' || this.#state.phase === 'bound';
  }

  #streamError(condition: StreamErrorCondition, text?: string, applicationXml?: string): void {
    if (this.stream.closing) return;
    this.#discardPending = true;
    this.#closeReason = text ? `${condition}: ${text}` : condition;
    this.stream.streamError(condition, text, { from: this.#domain, id: this.#streamId || undefined }, applicationXml);
  }

  /**
   * Called by the listener's sweeper: ends connections that took too long to authenticate, and
   * finds clients whose network is gone. A bound client silent for `keepalive.interval` seconds
   * is asked to answer (<r/> with stream management, else an XEP-0199 ping); one still silent
   * `keepalive.timeout` seconds later is dropped (its session may still be resumed). A stream
   * that read nothing for a while parks its parser (src/net/xml-stream.ts).
   */
  checkTimeouts(now: number): void {
    if (this.stream.closing) return;
    this.stream.parkParserIfIdle(now);
    const config = this.#context.config;
    if (!this.authenticated) {
      if (now - this.connectedAt > config.pre_auth_timeout * 1000) this.#streamError('connection-timeout', `not authenticated within ${config.pre_auth_timeout} s`);
      return;
    }
    const silent = now - this.stream.lastActivity;
    if (silent > config.idle_timeout * 1000) return this.#streamError('connection-timeout', `idle for more than ${config.idle_timeout} s`);
    const session = this.#session;
    const { interval, timeout } = config.keepalive;
    if (!session || interval === 0) return;
    if (this.#probedAt !== 0 && this.#probedAt < this.stream.lastActivity) this.#probedAt = 0;
    if (this.#probedAt === 0 && silent > interval * 1000) {
      this.#probedAt = now;
      if (!session.probe()) this.#ping(session);
    } else if (this.#probedAt !== 0 && now - this.#probedAt > timeout * 1000) {
      this.#closeReason = `no answer for ${Math.round(silent / 1000)} s`;
      session.dropTransport(this.#closeReason);
    }
  }

  /** XEP-0199 section 4.2: a server-to-client ping; any answer (even an error) shows the client is there. */
  #ping(session: ClientSession): void {
    const ping = new Element('iq', NS_CLIENT, { type: 'get', id: `keepalive-${newStreamId().slice(0, 8)}`, from: this.#domain!, to: session.jid.toString() });
    ping.c('ping', {}, NS_PING);
    this.stream.send(ping);
  }

  // --- stream header (RFC 6120 section 4.7) ---------------------------------------------------

  #onStreamOpen(root: Element, declarations: NamespaceDeclarations): void {
    this.#streamId = newStreamId();
    // RFC 6120 section 4.9.3.10: the root must be <stream> in the streams namespace, and the
    // content namespace of a client stream is jabber:client (section 4.8.2).
    if (root.name !== 'stream' || root.xmlns !== NS_STREAMS) {
      return this.#streamError('invalid-namespace', 'the stream root must be <stream:stream> in http://etherx.jabber.org/streams');
    }
    if (declarations[''] !== NS_CLIENT) {
      return this.#streamError('invalid-namespace', "the content namespace of a client stream must be 'jabber:client'");
    }
    const domain = this.#hostedDomain(root.attrs.to);
    if (domain === undefined) return;
    if (this.#domain !== undefined && domain !== this.#domain) {
      return this.#streamError('host-unknown', 'the domain may not change on a stream restart');
    }
    this.#domain = domain;
    // RFC 6120 section 4.7.5: this server speaks version 1.0 and nothing older.
    const major = Number((root.attrs.version ?? '0').split('.')[0]);
    if (!(major >= 1)) {
      this.stream.openStream({ from: domain, id: this.#streamId });
      return this.#streamError('unsupported-version', 'version 1.0 is required');
    }
    this.stream.openStream({ from: domain, id: this.#streamId, lang: 'en' });
    this.stream.send(this.#features());
  }

  #hostedDomain(to: string | undefined): string | undefined {
    // RFC 6120 section 4.9.3.6: a `to` naming no hosted domain gets host-unknown.
    if (to === undefined) {
      this.#streamError('host-unknown', "the stream header has no 'to' domain");
      return undefined;
    }
    let domain: string;
    try {
      domain = prepareDomain(to);
    } catch {
      this.#streamError('host-unknown', `${JSON.stringify(to)} is not a valid domain`);
      return undefined;
    }
    // A service host (group chat, ...) has no accounts to log in to.
    if (this.#context.router.hosts.get(domain)?.service !== undefined) {
      this.#streamError('host-unknown', `${domain} is a service, not a domain with accounts`);
      return undefined;
    }
    if (!this.#context.router.hosts.has(domain)) {
      this.#streamError('host-unknown', `this server does not host ${domain}`);
      return undefined;
    }
    return domain;
  }

  #features(): Element {
    const host = this.#context.router.hosts.get(this.#domain!)!;
    const config = this.#context.config;
    if (this.authenticated) {
      // XEP-0388 section 3.4.1: after a SASL2 login that bound (or resumed) a session, what is left.
      const session = this.#session;
      return postAuthFeatures(host.streamFeatures.postAuth, {
        bound: session !== undefined,
        streamManagement: config.stream_management.enabled && !session?.streamManagement,
        clientStateIndication: config.csi.enabled,
      });
    }
    const mechanisms = this.#offeredMechanisms();
    return preAuthFeatures({
      sasl2: mechanisms.length === 0 ? undefined : authenticationFeature({
        mechanisms,
        bindFeatures: [...(host.discoFeatures.has(NS_CARBONS) ? [NS_CARBONS] : []), ...(config.csi.enabled ? [NS_CSI] : []), ...(config.stream_management.enabled ? [NS_SM] : [])],
        streamManagement: config.stream_management.enabled,
        fastMechanisms: this.#fastMechanisms(),
      }),
      extra: host.streamFeatures.preAuth,
      tlsActive: this.stream.secure,
      tlsAvailable: this.#context.tls !== undefined,
      tlsRequired: this.#context.config.require_tls,
      mechanisms,
      channelBindings: this.#offeredChannelBindings()?.types ?? [],
    });
  }

  /**
   * PLAIN only over TLS (RFC 6120 section 13.8); the -PLUS mechanisms only where the channel has
   * bindings (RFC 5802 section 6); nothing at all before TLS when TLS is required.
   */
  #offeredMechanisms(): string[] {
    const config = this.#context.config;
    if (!this.stream.secure && config.require_tls) return [];
    const canBind = (this.#channelBindings()?.types.length ?? 0) > 0;
    return config.sasl_mechanisms.filter((name) => (name !== 'PLAIN' || this.stream.secure) && (!name.endsWith('-PLUS') || canBind));
  }

  /** XEP-0484 section 3.1: the Hashed Token mechanisms, those binding to the channel where it has their data. */
  #fastMechanisms(): string[] {
    if (!this.#context.config.fast.enabled || this.#offeredMechanisms().length === 0) return [];
    return hashedTokenMechanisms(this.#channelBindings());
  }

  /** The bindings a -PLUS mechanism offered on this stream may use; undefined when none is offered. */
  #offeredChannelBindings(): ChannelBindings | undefined {
    const offersPlus = this.#offeredMechanisms().some((name) => name.endsWith('-PLUS'));
    return offersPlus ? this.#channelBindings() : undefined;
  }

  #channelBindings(): ChannelBindings | undefined {
    const socket = this.stream.socket;
    if (!(socket instanceof TLSSocket)) return undefined;
    return (this.#bindings ??= serverChannelBindings(socket));
  }

  // --- stanzas --------------------------------------------------------------------------------

  /**
   * Processes stanzas one at a time, in order; stops reading the socket while too many wait. A
   * bound client's stanza with nothing before it still in progress is processed at once, and
   * the ones after it wait only if its processing has to (src/router/router.ts `routeNow`).
   */
  #enqueue(element: Element): void {
    // XEP-0198 section 4: an acknowledgement concerns what we sent, not the order of what the
    // client sent, so it is handled at once (it must not wait behind stanzas that wait for it).
    if (element.name === 'a' && element.xmlns === NS_SM && this.#state.phase === 'bound') return this.#acknowledged(element, this.#session!);
    if (this.#pending === 0 && this.#state.phase === 'bound' && element.xmlns === NS_CLIENT && !this.#discardPending) {
      let processing: Promise<void> | undefined;
      try {
        processing = this.#processStanzaNow(element, this.#session!);
      } catch (error) {
        return this.#processingFailed(error);
      }
      if (processing === undefined) return;
      return this.#wait(processing);
    }
    this.#wait(this.#queue.then(() => this.#process(element)));
  }

  /** Later stanzas wait for `processing`; one that fails ends the stream. */
  #wait(processing: Promise<void>): void {
    this.#pending++;
    if (this.#pending === MAX_PENDING_STANZAS) this.stream.holdReading('backlog');
    this.#queue = processing
      .catch((error: unknown) => this.#processingFailed(error))
      .finally(() => {
        if (this.#pending-- === MAX_PENDING_STANZAS) this.stream.releaseReading('backlog');
        // Nothing left to process: an idle connection keeps no promise of its own.
        if (this.#pending === 0) this.#queue = IDLE_QUEUE;
      });
  }

  #processingFailed(error: unknown): void {
    this.#log('error', 'c2s stanza processing failed', { error: error instanceof Error ? error.stack : String(error) });
    this.#streamError('internal-server-error');
  }

  async #process(element: Element): Promise<void> {
    if (this.#discardPending) return;
    switch (this.#state.phase) {
      case 'unauthenticated':
        return this.#processUnauthenticated(element, this.#state);
      case 'authenticated':
        return this.#processAuthenticated(element, this.#state);
      case 'bound':
      {
        const session = this.#session!;
        if (element.xmlns === NS_SM) return this.#streamManagement(element, session);
        if (element.xmlns === NS_CSI && this.#context.config.csi.enabled) return this.#clientState(element, session);
        return this.#processStanzaNow(element, session);
      }
      case 'closed':
        return;
    }
  }

  async #processUnauthenticated(element: Element, state: C2sState & { phase: 'unauthenticated' }): Promise<void> {
    if (element.xmlns === NS_TLS && element.name === 'starttls') return this.#startTls();
    if (element.xmlns === NS_SASL) return this.#sasl(element, state);
    if (element.xmlns === NS_SASL2) return this.#sasl2(element, state);
    if (await this.#preAuthIq(element)) return;
    // RFC 6120 section 4.9.3.12: stanzas before authentication are refused with not-authorized.
    this.#streamError('not-authorized', 'authenticate first');
  }

  /**
   * An IQ a feature accepts before authentication (in-band registration, XEP-0077 section 3),
   * once TLS is done where it is required. Returns false when no feature takes it.
   */
  async #preAuthIq(element: Element): Promise<boolean> {
    if (element.name !== 'iq' || element.xmlns !== NS_CLIENT) return false;
    if (!this.stream.secure && this.#context.config.require_tls) return false;
    const payload = element.elements()[0];
    const host = this.#context.router.hosts.get(this.#domain!);
    const handler = payload && host?.preAuthIqHandler(payload.xmlns, payload.name);
    if (!handler || !host) return false;
    if (element.attrs.type !== 'get' && element.attrs.type !== 'set') return true;
    try {
      const result = iqResult(element, await handler({ stanza: element, payload, host, address: this.stream.remoteAddress, secure: this.stream.secure, stream: this }));
      delete result.attrs.from;
      delete result.attrs.to;
      this.stream.send(result);
    } catch (error) {
      if (!(error instanceof StanzaError)) throw error;
      this.#sendError(element, error);
    }
    return true;
  }

  /** RFC 6120 section 5.4.3: <proceed/>, then the TLS handshake, then a fresh stream. */
  async #startTls(): Promise<void> {
    const tls = this.#context.tls;
    if (this.stream.secure || !tls) {
      this.stream.sendRaw(`<failure xmlns='${NS_TLS}'/>`);
      this.#closeReason = 'STARTTLS refused';
      return this.stream.closeStream();
    }
    this.stream.send(new Element('proceed', NS_TLS));
    try {
      const socket: TLSSocket = await this.stream.startTls(tls.serverOptions({}, this.#domain));
      this.#log('info', 'c2s TLS established', { protocol: socket.getProtocol(), cipher: socket.getCipher().name, sni: socket.servername || undefined });
    } catch (error) {
      this.#closeReason = `TLS handshake failed: ${error instanceof Error ? error.message : String(error)}`;
      this.stream.destroy();
    }
  }

  /** RFC 6120 section 6.4. */
  async #sasl(element: Element, state: C2sState & { phase: 'unauthenticated' }): Promise<void> {
    const outcome = await this.#saslStep(state, (context) => state.sasl.handle(element, context), (failure) => failure);
    if (outcome === undefined) return;
    this.#authenticated(outcome);
    this.stream.send(outcome.element);
    // RFC 6120 section 6.4.6: after <success/> both sides restart the stream; an
    // authenticated stream may carry stanzas up to the full size limit.
    this.stream.restart(this.#context.config.limits);
  }

  /**
   * One step of an exchange, either profile: the context the mechanisms need, the login throttle
   * around it, challenges and failures answered (`render` makes them SASL2's), with the delay
   * and the limit on failures. Returns the outcome when it is a success.
   */
  async #saslStep(
    state: C2sState & { phase: 'unauthenticated' },
    step: (context: SaslNegotiationContext) => Promise<SaslOutcome>,
    render: (element: Element) => Element,
    extra: Partial<SaslNegotiationContext> = {},
  ): Promise<(SaslOutcome & { kind: 'success' }) | undefined> {
    const domain = this.#domain!;
    const accounts = this.#context.storage.accounts;
    const login = (this.#login ??= this.#context.limits.loginGuard(this.stream.remoteAddress, domain));
    const offered = this.#offeredMechanisms();
    const channelBindings = this.#offeredChannelBindings() ?? (extra.offered ? this.#channelBindings() : undefined);
    const outcome = login.review(
      await step({
        domain,
        offered,
        channelBindings,
        // XEP-0474: the lists exactly as this stream's features showed them.
        advertised: { mechanisms: offered, ...(channelBindings && channelBindings.types.length > 0 ? { channelBindings: channelBindings.types } : {}) },
        configured: this.#context.config.sasl_mechanisms,
        tlsActive: this.stream.secure,
        lookup: (username) => login.lookup(username, () => accounts.get(domain, username)),
        scramIterations: this.#context.config.scram_iterations,
        ...extra,
      }),
    );
    if (outcome.kind === 'reply') return void this.stream.send(render(outcome.element));
    if (outcome.kind === 'success') return outcome;
    if (outcome.condition === 'aborted') return void this.stream.send(render(outcome.element));
    state.failures++;
    this.#context.router.traffic.authentications.add('failure', outcome.mechanism ?? 'none');
    // While blocked, src/limits logs the refusals (at most once per interval) instead.
    const level = outcome.condition === 'temporary-auth-failure' ? 'debug' : 'warn';
    this.#log(level, 'c2s authentication failed', { condition: outcome.condition, mechanism: outcome.mechanism, user: login.account, failures: state.failures });
    // Slow down guessing: the delay doubles with each failure on this stream, or on the account.
    const delay = login.failed(outcome, state.failures, this.#context.config.auth_failure_delay);
    await new Promise((resolve) => setTimeout(resolve, delay));
    this.stream.send(render(outcome.element));
    // RFC 6120 section 6.4.5: too many retries end the stream, with policy-violation.
    if (state.failures >= this.#context.config.max_auth_failures) {
      this.#streamError('policy-violation', `too many failed authentication attempts (${state.failures})`);
    }
    return undefined;
  }

  #authenticated(outcome: SaslOutcome & { kind: 'success' }): void {
    this.#state = { phase: 'authenticated', username: outcome.username };
    // No exchange follows a success on this connection (RFC 6120 section 6.4.6): its failures need no counting any more.
    this.#login = undefined;
    this.#context.router.traffic.authentications.add('success', outcome.mechanism);
    const agent = this.#userAgent;
    this.#log('info', 'c2s authenticated', { user: `${outcome.username}@${this.#domain}`, mechanism: outcome.mechanism, software: agent?.software, device: agent?.device });
  }

  /**
   * SASL2 (XEP-0388): <authenticate/> with its inline requests, then <response/>s or <abort/>.
   * No stream restart follows <success/> (section 3.4.1).
   */
  async #sasl2(element: Element, state: C2sState & { phase: 'unauthenticated' }): Promise<void> {
    if (this.#offeredMechanisms().length === 0) return this.#streamError('not-authorized', 'SASL2 is offered only once TLS is negotiated');
    let request = state.sasl2;
    let outcome: (SaslOutcome & { kind: 'success' }) | undefined;
    if (element.name === 'authenticate') {
      const read = readAuthenticate(element);
      if (typeof read === 'string') return this.stream.send(sasl2Failure('malformed-request', read));
      request = state.sasl2 = read;
      this.#userAgent = read.userAgent;
      const fast = this.#fastMechanisms();
      const token = isHashedTokenMechanism(read.mechanism);
      // XEP-0484 section 3.4: a token login says so with <fast/>, and uses an offered HT mechanism.
      if (token && (!read.fast || !fast.includes(read.mechanism))) {
        return this.stream.send(sasl2Failure('invalid-mechanism', read.fast ? `${read.mechanism} is not offered here` : 'a token login needs <fast/>'));
      }
      const clientId = read.userAgent.id;
      const domain = this.#domain!;
      const fastTokens = clientId === undefined ? undefined
        : async (username: string) => (await this.#login!.lookup(username, () => this.#context.storage.fastTokens.forClient(domain, username, clientId, Date.now()))) ?? [];
      outcome = await this.#saslStep(state, (context) => state.sasl.start(read.mechanism, read.initialResponse, context), asSasl2, token ? { offered: fast, fastTokens } : {});
    } else if (element.name === 'response' && request) {
      outcome = await this.#saslStep(state, async () => state.sasl.respond(element.text()), asSasl2);
    } else if (element.name === 'abort' && request) {
      state.sasl2 = undefined;
      return this.stream.send(asSasl2(state.sasl.abort().element));
    } else {
      // Section 3.3: nothing else may be sent while authenticating.
      return this.#streamError('policy-violation', `<${element.name} xmlns='${NS_SASL2}'/> is not expected now`);
    }
    if (outcome === undefined || request === undefined) return;
    state.sasl2 = undefined;
    await this.#sasl2Success(outcome, request);
  }

  /** XEP-0388 section 3.4.1 with the inline features: resumption first, else Bind 2, then FAST. */
  async #sasl2Success(outcome: SaslOutcome & { kind: 'success' }, request: Sasl2Request): Promise<void> {
    const domain = this.#domain!;
    const username = outcome.username;
    const bind = request.bind;
    const resource = bind ? bindResource(`${username}@${domain}`, bind.tag, request.userAgent.id) : undefined;
    // Checked before anything changes: a login that could not bind fails as a whole (section 3.4).
    const refusal = resource === undefined ? undefined : this.#bindRefusal(makeJid(username, domain, resource));
    if (refusal) return this.stream.send(sasl2Failure('temporary-auth-failure', refusal.text ?? 'resource binding failed'));
    this.#authenticated(outcome);
    this.stream.setLimits(this.#context.config.limits);
    const inline: Element[] = [];
    let resumed: ClientSession | undefined;
    // XEP-0198 section 6 and XEP-0386 section 2.2: a resumption that works replaces the bind.
    if (request.resume && this.#context.config.stream_management.enabled) {
      const answer = await this.#takeOver(request.resume, username);
      if (answer === undefined) return;
      inline.push(parseElement(answer.xml));
      resumed = answer.session;
    }
    let bound: ClientSession | undefined;
    if (!resumed && bind && resource !== undefined) {
      bound = this.#bindSession(makeJid(username, domain, resource));
      if (bind.carbons && this.#context.router.hosts.get(domain)?.discoFeatures.has(NS_CARBONS)) bound.im.carbons = true;
      if (bind.inactive !== undefined && this.#context.config.csi.enabled) bound.setInactive(bind.inactive);
      inline.push(boundElement(bind.streamManagement ? [parseElement(this.#enableAnswer(bind.streamManagement, bound))] : []));
    }
    const token = await settleFastTokens({
      store: this.#context.storage.fastTokens,
      config: this.#context.config.fast,
      domain,
      username,
      request,
      used: outcome.fastToken,
      offered: this.#fastMechanisms(),
      now: Date.now(),
    });
    if (token) inline.push(token);
    const identity = (resumed ?? bound)?.jid.toString() ?? `${username}@${domain}`;
    this.stream.send(sasl2Success(outcome.additionalData, identity, inline));
    this.stream.send(this.#features());
    if (resumed) this.#resent(resumed);
    if (bound) await this.#fireSessionEvent(bound, 'session/bound');
  }

  async #processAuthenticated(element: Element, state: C2sState & { phase: 'authenticated' }): Promise<void> {
    if (element.xmlns === NS_SM) return this.#streamManagementBeforeBind(element, state);
    const bind = element.name === 'iq' && element.xmlns === NS_CLIENT ? element.getChild('bind', NS_BIND) : undefined;
    if (!bind) {
      // RFC 6120 section 7.2: nothing but resource binding before a resource is bound.
      return this.#streamError('not-authorized', 'bind a resource first');
    }
    if (element.attrs.type !== 'set' || element.attrs.id === undefined) {
      return this.#sendError(element, new StanzaError('bad-request', 'resource binding is an IQ of type set with an id'));
    }
    let resource: string;
    const requested = bind.getChildText('resource', NS_BIND);
    try {
      // RFC 6120 section 7.6 and 7.7: honour the client's resource, else generate one.
      resource = requested ? prepareResource(requested) : pooledRandomBytes(9).toString('base64url');
    } catch (error) {
      return this.#sendError(element, new StanzaError('bad-request', error instanceof Error ? error.message : 'invalid resource'));
    }
    const jid = makeJid(state.username, this.#domain!, resource);
    const refusal = this.#bindRefusal(jid);
    if (refusal) return this.#sendError(element, refusal);
    const session = this.#bindSession(jid);
    const result = iqResult(element, new Element('bind', NS_BIND, {}, [new Element('jid', NS_BIND, {}, [jid.toString()])]));
    delete result.attrs.from;
    delete result.attrs.to;
    this.stream.send(result);
    await this.#fireSessionEvent(session, 'session/bound');
  }

  /** RFC 6120 section 7.6.2.1: an account at its limit of connected resources gets resource-constraint. */
  #bindRefusal(jid: Jid): StanzaError | undefined {
    const sessions = this.#context.router.sessions;
    const limit = this.#context.config.max_sessions_per_account;
    if (sessions.hasResource(jid, jid.resource!) || sessions.resourcesOf(jid).length < limit) return undefined;
    this.#log('warn', 'c2s bind refused: too many sessions', { jid: jid.toString(), limit });
    return new StanzaError('resource-constraint', `this account already has ${limit} sessions, the most allowed`);
  }

  #useSession(session: ClientSession): void {
    this.#session = session;
    this.#origin = { kind: 'client', session };
  }

  #bindSession(jid: Jid): ClientSession {
    const session = new ClientSession(jid, this, this.#context.sessions);
    this.#useSession(session);
    this.#state = BOUND;
    // RFC 6120 section 7.7.2.2: a second login on the same resource overrides the first.
    const replaced = this.#context.router.sessions.add(session);
    replaced?.terminate('conflict', 'replaced by a new connection with the same resource');
    this.#log('info', 'c2s resource bound', { jid: jid.toString() });
    return session;
  }

  // --- stream management (XEP-0198) -----------------------------------------------------------

  /** Before binding, a client may resume an earlier session (section 5); enabling must wait for the bind (section 3). */
  async #streamManagementBeforeBind(element: Element, state: C2sState & { phase: 'authenticated' }): Promise<void> {
    if (element.name === 'resume' && this.#context.config.stream_management.enabled) return this.#resume(element, state);
    if (element.name === 'enable' || element.name === 'resume') return void this.stream.sendRaw(failedElement('unexpected-request'));
    this.#streamError('unsupported-stanza-type', `<${element.name} xmlns='${NS_SM}'/> is not valid before resource binding`);
  }

  async #streamManagement(element: Element, session: ClientSession): Promise<void> {
    switch (element.name) {
      case 'r':
        return session.answerAckRequest();
      case 'enable':
        return this.#enable(element, session);
      case 'resume':
        // Section 5: a stream that is already bound cannot take over another session.
        return void this.stream.sendRaw(failedElement('unexpected-request'));
      default:
        this.#streamError('unsupported-stanza-type', `<${element.name} xmlns='${NS_SM}'/> is not part of stream management`);
    }
  }

  #enable(element: Element, session: ClientSession): void {
    this.stream.sendRaw(this.#enableAnswer(element, session));
  }

  /** Section 3: <enabled/> or <failed/>, here or inline in Bind 2 (XEP-0386 section 2.2). */
  #enableAnswer(element: Element, session: ClientSession): string {
    const config = this.#context.config.stream_management;
    if (!config.enabled) return failedElement('feature-not-implemented');
    // Section 3: enabling twice is an error.
    if (session.streamManagement) return failedElement('unexpected-request');
    const resumable = element.attrs.resume === 'true' || element.attrs.resume === '1';
    const peers = this.#context.resumption;
    const id = !resumable ? undefined : peers ? peers.newId(newStreamId()) : newStreamId();
    // Section 3: the client may ask for a shorter resumption time with `max`, never a longer one.
    const asked = Number(element.attrs.max);
    const max = Number.isInteger(asked) && asked > 0 ? Math.min(asked, config.resume_timeout) : config.resume_timeout;
    session.enableStreamManagement(id, max);
    if (id !== undefined) this.#context.resumable.set(id, session);
    this.#log('info', 'c2s stream management enabled', { jid: session.jid.toString(), resumable });
    return enabledElement(id, max);
  }

  #acknowledged(element: Element, session: ClientSession): void {
    const h = parseH(element.attrs.h);
    if (h === undefined) return this.#streamError('bad-format', "<a/> needs an 'h' attribute with a 32-bit unsigned count");
    const sent = session.acknowledge(h);
    // Section 4: acknowledging more stanzas than were sent ends the stream.
    if (sent !== undefined) this.#streamError('undefined-condition', `acknowledged ${h} stanzas of ${sent} sent`, handledCountTooHigh(h, sent));
  }

  /** Section 5: takes over a waiting session of the same account and sends again what its client missed. */
  async #resume(element: Element, state: C2sState & { phase: 'authenticated' }): Promise<void> {
    const answer = await this.#takeOver(element, state.username);
    if (answer === undefined) return;
    this.stream.sendRaw(answer.xml);
    if (answer.session) this.#resent(answer.session);
  }

  /**
   * Section 5, here or inline in SASL2 (section 6): the <resumed/> or <failed/> to send, with the
   * session this connection now carries; undefined when the stream ended instead.
   */
  async #takeOver(element: Element, username: string): Promise<{ xml: string; session?: ClientSession } | undefined> {
    const previd = element.attrs.previd ?? '';
    const h = parseH(element.attrs.h);
    const { resumable, resumption } = this.#context;
    // A session another node of the cluster holds is handed over to this one first (hand-over.ts).
    if (h !== undefined && !resumable.has(previd) && resumption) await resumption.fetch(previd, `${username}@${this.#domain}`);
    if (this.stream.closing) return undefined;
    const session = resumable.get(previd);
    const owner = session && session.jid.local === username && session.jid.domain === this.#domain;
    if (h === undefined || !session || !owner || session.state === 'ended') {
      this.#log('info', 'c2s resumption refused', { previd, reason: h === undefined ? 'no h' : 'unknown session' });
      return { xml: failedElement('item-not-found') };
    }
    const received = session.resume(this, h);
    if (received === undefined) {
      this.#streamError('undefined-condition', 'the resumed stream acknowledged more stanzas than were sent', handledCountTooHigh(h, session.sentCount));
      return undefined;
    }
    this.#useSession(session);
    this.#state = BOUND;
    return { xml: resumedElement(previd, received), session };
  }

  /** After <resumed/>: what the client missed, sent again. */
  #resent(session: ClientSession): void {
    session.resend();
    this.#log('info', 'c2s session resumed', { jid: session.jid.toString(), held: session.heldStanzas });
  }

  /**
   * XEP-0352 section 4: <active/> or <inactive/>, which need no answer. Handled in order with
   * the stanzas (section 5): what <active/> releases is written before anything the client sent
   * after it is answered. Neither counts as a stanza for stream management.
   */
  #clientState(element: Element, session: ClientSession): void {
    if (element.name !== 'active' && element.name !== 'inactive') {
      return this.#streamError('unsupported-stanza-type', `<${element.name} xmlns='${NS_CSI}'/> is not a client state`);
    }
    session.setInactive(element.name === 'inactive');
    this.#log('debug', 'c2s client state', { jid: session.jid.toString(), state: element.name });
  }

  /**
   * A bound client's stanza (jabber:client), counted for stream management once handled:
   * undefined when that is done at once, else a promise.
   */
  #processStanzaNow(element: Element, session: ClientSession): Promise<void> | undefined {
    const processing = this.#processBound(element, session);
    // XEP-0198 section 4: `h` counts the stanzas handled.
    if (processing === undefined) return void session.countReceived();
    return processing.then(() => session.countReceived());
  }

  /** undefined once the stanza is handled, or a promise while its route waits. */
  #processBound(element: Element, session: ClientSession): Promise<void> | undefined {
    const name = element.name;
    if (element.xmlns !== NS_CLIENT || (name !== 'message' && name !== 'presence' && name !== 'iq')) {
      // RFC 6120 section 4.9.3.22: top-level elements other than the three stanzas.
      this.#streamError('unsupported-stanza-type', `<${element.name} xmlns='${element.xmlns}'/> is not a stanza this server accepts`);
      return undefined;
    }
    // RFC 6121 appendix E: the legacy session request succeeds with an empty result.
    if (element.name === 'iq' && element.attrs.type === 'set' && element.getChild('session', NS_SESSION) && isServerAddress(element.attrs.to, this.#domain!)) {
      const result = iqResult(element);
      delete result.attrs.to;
      this.stream.send(result);
      return undefined;
    }
    let routed: Promise<void> | undefined;
    try {
      const origin = this.#origin?.session === session ? this.#origin : { kind: 'client' as const, session };
      routed = this.#context.router.routeNow(element, origin);
    } catch (error) {
      return this.#routeFailed(error);
    }
    return routed?.then(undefined, (error: unknown) => this.#routeFailed(error));
  }

  /** A stream error (a forged `from`) ends the stream; anything else fails the processing. */
  #routeFailed(error: unknown): undefined {
    if (!(error instanceof StreamError)) throw error;
    this.#streamError(error.condition, error.message);
    return undefined;
  }

  #sendError(stanza: Element, error: StanzaError): void {
    const reply = errorReply(stanza, error);
    if (reply) this.stream.send(reply);
  }

  /** Lets the host's features react to a new session; a failing handler is logged, not fatal. */
  async #fireSessionEvent(session: ClientSession, name: 'session/bound'): Promise<void> {
    const host = this.#context.router.hosts.get(this.#domain!);
    if (!host) return;
    try {
      await host.events.emit(name, { session, host });
    } catch (error) {
      this.#log('error', `${name} handler failed`, { error: error instanceof Error ? error.stack : String(error) });
    }
  }

  /**
   * The connection is gone. Stanzas the client sent before it closed its stream or its
   * connection are still handled, in order (RFC 6120 section 4.4: the close comes after them;
   * an unavailable presence with a status sent just before it is broadcast with that status);
   * then the session learns its connection is gone.
   */
  #onSocketClosed(error?: Error): void {
    const reason = error ? `socket error: ${error.message}` : this.#closeReason;
    void this.#queue.then(() => {
      const session = this.#session;
      this.#state = { phase: 'closed' };
      session?.transportLost(this, reason, this.#closedByPeer && !error);
      this.#log('info', 'c2s connection closed', { jid: session?.jid.toString(), reason, bytes_in: this.stream.bytesIn, bytes_out: this.stream.bytesOut });
      this.#onClosed(this);
    });
  }

}

/** Before authentication a stanza may be no larger than `pre_auth_max_stanza_bytes` (an unauthenticated peer gets little memory). */
/** The options of a configuration's client streams, made once per configuration (a reload brings a new one) rather than per connection. */
const STREAM_OPTIONS = new WeakMap<C2sConfig, XmlStreamOptions>();

function streamOptionsFor(config: C2sConfig): XmlStreamOptions {
  let options = STREAM_OPTIONS.get(config);
  if (options === undefined) {
    options = { limits: preAuthLimits(config), contentNamespace: NS_CLIENT, readRate: readRateFrom(config.rate) };
    STREAM_OPTIONS.set(config, options);
  }
  return options;
}

function preAuthLimits(config: C2sConfig): ParserLimits {
  return { ...config.limits, max_stanza_bytes: Math.min(config.limits.max_stanza_bytes, config.pre_auth_max_stanza_bytes) };
}

function isServerAddress(to: string | undefined, domain: string): boolean {
  return to === undefined || to === domain;
}
