/**
 * An incoming server stream (we are the receiving server, RFC 6120 section 4.1): stream header
 * checks, STARTTLS with a client certificate requested, then SASL EXTERNAL (XEP-0178) or
 * dialback (XEP-0220) per sender domain, then stanzas whose addresses that authentication covers.
 * Also answers dialback verification requests as the authoritative server.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { FederationLevel } from '../config/types.ts';
import { parseJid, prepareDomain, type Jid } from '../jid/jid.ts';
import { StreamError, type StreamErrorCondition } from '../net/stream-errors.ts';
import { readRateFrom } from '../net/read-throttle.ts';
import { NS_SM, ackElement, enabledElement, failedElement } from '../net/stream-management.ts';
import { XmlStream, newStreamId } from '../net/xml-stream.ts';
import { demandsOf, meetsLevel } from '../policy/levels.ts';
import { Element, NS_CLIENT, NS_SERVER, NS_STREAMS } from '../xml/element.ts';
import { NS_DIALBACK, NS_DIALBACK_FEATURE, NS_SASL, NS_TLS } from '../xml/namespaces.ts';
import type { NamespaceDeclarations, XmlStreamError } from '../xml/parser.ts';
import type { AuthMethod, S2sConnectionInfo, S2sContext } from './context.ts';
import { dialbackKeyMatches } from './dialback-key.ts';
import { dialbackAnswer, dialbackError } from './dialback-elements.ts';
import { checkPeerCertificate, type CertificateVerdict } from './peer-certificate.ts';
import type { VerifyOutcome } from './outgoing.ts';

/** Stanzas waiting for processing before the socket stops being read (flow control). */
const MAX_PENDING_STANZAS = 256;

/** What an incoming stream needs from the service that owns it. */
export interface IncomingServices {
  /** Checks a dialback key with the authoritative server of `sender` (XEP-0220 section 2.1.2). */
  verifyWithAuthoritative(sender: string, receiving: string, streamId: string, key: string): Promise<VerifyOutcome>;
  closed(connection: S2sIncoming): void;
}

interface AuthorizedSender {
  method: AuthMethod;
  level: FederationLevel;
}

export class S2sIncoming {
  readonly id = randomUUID();
  readonly stream: XmlStream;
  readonly connectedAt = Date.now();
  #context: S2sContext;
  #services: IncomingServices;
  #streamId = '';
  /** the stream header's `from` and `to` (RFC 6120 section 4.7.1, 4.7.2) */
  #headerFrom: string | undefined;
  #headerTo: string | undefined;
  #certificate: CertificateVerdict = { status: 'absent' };
  /** sender domains proven on this stream, with how */
  #senders = new Map<string, AuthorizedSender>();
  /** local domains the senders addressed in dialback (for the listing) */
  #targets = new Set<string>();
  #pendingDialback = new Set<string>();
  #saslDone = false;
  #queue: Promise<void> = Promise.resolve();
  /** stanzas read and not yet processed */
  #pending = 0;
  /** stanzas processed since the peer enabled stream management (XEP-0198 section 4), undefined before */
  #handled: number | undefined;
  #closeReason = 'connection closed by peer';

  constructor(socket: Socket, context: S2sContext, services: IncomingServices) {
    this.#context = context;
    this.#services = services;
    this.stream = new XmlStream(
      socket,
      {
        streamOpen: (root, declarations) => this.#onStreamOpen(root, declarations),
        stanza: (element) => this.#onElement(element),
        streamClose: () => {
          this.#closeReason = 'stream closed by peer';
        },
        parseError: (error: XmlStreamError) => {
          this.#closeReason = `${error.condition}: ${error.message}`;
        },
        whitespace: () => {},
        socketClosed: (error) => this.#onSocketClosed(error),
      },
      { limits: context.config.limits, contentNamespace: NS_SERVER, readRate: readRateFrom(context.config.rate) },
    );
    if (socket instanceof TLSSocket) this.#certificateFor(undefined, socket);
    this.logger.info('s2s incoming connection accepted', { tls: this.stream.secure ? 'direct' : undefined });
  }

  get logger() {
    return this.#context.logger.child({ s2s: 'in', peer: this.stream.peer, remote: this.#headerFrom });
  }

  #streamError(condition: StreamErrorCondition, text: string): void {
    this.#closeReason = `${condition}: ${text}`;
    this.logger.warn('s2s incoming stream error', { condition, text });
    this.stream.streamError(condition, text, { from: this.#headerTo, id: this.#streamId || undefined });
  }

  // --- stream header (RFC 6120 section 4.7) ---------------------------------------------------

  #onStreamOpen(root: Element, declarations: NamespaceDeclarations): void {
    this.#streamId = newStreamId();
    if (root.name !== 'stream' || root.xmlns !== NS_STREAMS || declarations[''] !== NS_SERVER) {
      return this.#streamError('invalid-namespace', "a server stream is <stream:stream> with content namespace 'jabber:server'");
    }
    const to = root.attrs.to;
    let local: string | undefined;
    try {
      local = to !== undefined ? prepareDomain(to) : undefined;
    } catch {
      local = undefined;
    }
    // RFC 6120 section 4.9.3.6: a `to` naming no hosted domain gets host-unknown.
    if (local === undefined || !this.#context.router.hosts.has(local)) {
      this.#headerTo = undefined;
      return this.#streamError('host-unknown', `this server does not host ${to ?? '(no to)'}`);
    }
    this.#headerTo = local;
    try {
      this.#headerFrom = root.attrs.from !== undefined ? prepareDomain(root.attrs.from) : undefined;
    } catch {
      return this.#streamError('invalid-from', `${root.attrs.from} is not a domain`);
    }
    const verdict = this.#context.policy.checkPeer({ domain: this.#headerFrom, address: this.stream.remoteAddress, direction: 'in' });
    if (!verdict.allowed) return this.#streamError('policy-violation', verdict.reason);
    if (this.stream.secure) this.#certificateFor(undefined);
    const legacy = !root.attrs.version?.startsWith('1.');
    this.stream.openStream({ from: local, to: this.#headerFrom, id: this.#streamId, version: legacy ? undefined : '1.0', prefixes: { db: NS_DIALBACK } });
    // RFC 6120 section 4.7.5: a peer without version 1.0 gets no features (it can only do dialback).
    if (!legacy) this.stream.send(this.#features());
    if (this.#headerFrom && this.#requiredLevel(this.#headerFrom) === 'permissive') this.#authorizePermissive(this.#headerFrom);
  }

  #requiredLevel(domain: string): FederationLevel {
    return this.#context.policy.requiredLevel(domain);
  }

  /** RFC 6120 sections 5.3.1 and 6.3, XEP-0220 section 2.4.2: what we offer at this stage. */
  #features(): Element {
    const features = new Element('features', NS_STREAMS);
    const required = this.#headerFrom ? this.#requiredLevel(this.#headerFrom) : this.#context.config.min_level;
    if (!this.stream.secure) {
      const starttls = features.c('starttls', {}, NS_TLS);
      if (demandsOf(required).tls) {
        starttls.c('required');
        return features;
      }
    }
    if (this.#saslDone) {
      features.c('sm', {}, NS_SM);
      return features;
    }
    if (this.stream.secure && this.#certificate.status === 'valid') {
      // XEP-0178 section 3: offer EXTERNAL only when the certificate proves the claimed domain.
      features.c('mechanisms', {}, NS_SASL).c('mechanism').t('EXTERNAL');
    }
    if (!demandsOf(required).trustedCertificate || this.#certificate.status === 'valid') {
      features.c('dialback', {}, NS_DIALBACK_FEATURE).c('errors');
    }
    // XEP-0198 section 2: acknowledgements, enabled once the peer is authenticated.
    features.c('sm', {}, NS_SM);
    return features;
  }

  #certificateFor(domain: string | undefined, socket: TLSSocket | undefined = this.stream.socket as TLSSocket): CertificateVerdict {
    const verdict = checkPeerCertificate(socket instanceof TLSSocket ? socket : undefined, domain ?? this.#headerFrom ?? '', this.#context.anchors);
    if (domain === undefined || domain === this.#headerFrom) this.#certificate = verdict;
    return verdict;
  }

  // --- elements ---------------------------------------------------------------------------------

  #onElement(element: Element): void {
    try {
      this.#handle(element);
    } catch (error) {
      if (error instanceof StreamError) return this.#streamError(error.condition, error.message);
      throw error;
    }
  }

  #handle(element: Element): void {
    if (element.xmlns === NS_STREAMS && element.name === 'error') {
      // RFC 6120 section 4.9: the peer ends the stream; its close tag follows.
      this.#closeReason = `stream error from peer: ${element.elements()[0]?.name ?? 'undefined-condition'}`;
      return;
    }
    if (element.xmlns === NS_TLS && element.name === 'starttls') return this.#background(this.#startTls());
    if (element.xmlns === NS_SASL) return this.#sasl(element);
    if (element.xmlns === NS_DIALBACK && element.name === 'result') return this.#background(this.#dialbackResult(element));
    if (element.xmlns === NS_DIALBACK && element.name === 'verify') return this.#dialbackVerify(element);
    if (element.xmlns === NS_CLIENT && ['message', 'presence', 'iq'].includes(element.name)) return this.#enqueue(element);
    if (element.xmlns === NS_SM) return this.#streamManagement(element);
    // RFC 6120 section 4.8.4: first-level elements in other namespaces are never routed.
    throw new StreamError('unsupported-stanza-type', `<${element.name} xmlns='${element.xmlns}'/> is not accepted on a server stream`);
  }

  /**
   * Lets an asynchronous step run on: a StreamError it throws ends the stream as in #onElement,
   * anything else is logged and ends it with internal-server-error. Discarding the promise
   * instead would make its rejection unhandled, which ends the whole process.
   */
  #background(step: Promise<void>): void {
    step.catch((error: unknown) => {
      if (error instanceof StreamError) return this.#streamError(error.condition, error.message);
      this.logger.error('s2s incoming step failed', { error: error instanceof Error ? error.stack : String(error) });
      this.#streamError('internal-server-error', 'the server failed to process the request');
    });
  }

  async #startTls(): Promise<void> {
    if (this.stream.secure) throw new StreamError('not-authorized', 'TLS is already in place');
    this.stream.send(new Element('proceed', NS_TLS));
    try {
      // RFC 6120 section 5.4.3.1: the receiving server asks the initiator for its certificate.
      const socket = await this.stream.startTls(this.#context.tls.serverOptions({ requestCert: true, rejectUnauthorized: false }, this.#headerTo));
      this.#certificateFor(undefined, socket);
      this.logger.info('s2s incoming TLS established', { protocol: socket.getProtocol(), cipher: socket.getCipher().name, certificate: this.#certificate.status, reason: this.#certificate.reason });
    } catch (error) {
      this.#closeReason = `TLS handshake failed: ${(error as Error).message}`;
      this.stream.destroy();
    }
  }

  /** SASL EXTERNAL (XEP-0178 section 3, RFC 6120 section 6.4). */
  #sasl(element: Element): void {
    if (element.name !== 'auth') throw new StreamError('not-authorized', `unexpected SASL <${element.name}/>`);
    const fail = (condition: string): void => {
      this.stream.send(new Element('failure', NS_SASL, {}, [new Element(condition, NS_SASL)]));
    };
    const sender = this.#headerFrom;
    if (element.attrs.mechanism !== 'EXTERNAL' || !this.stream.secure || !sender) return fail('invalid-mechanism');
    if (this.#certificateFor(sender).status !== 'valid') return fail('not-authorized');
    const response = element.text().trim();
    const authzid = response === '' || response === '=' ? '' : Buffer.from(response, 'base64').toString('utf8');
    // XEP-0178 section 3 / RFC 6120 section 6.3.8: an authorization identity, if any, must be the sender.
    if (authzid !== '' && authzid !== sender) return fail('invalid-authzid');
    this.stream.send(new Element('success', NS_SASL));
    this.#saslDone = true;
    this.#authorize(sender, 'sasl-external', this.#headerTo!);
    this.stream.restart();
  }

  // --- dialback (XEP-0220) ------------------------------------------------------------------

  /** A request to authorize a sender domain (XEP-0220 section 2.2.1). */
  async #dialbackResult(request: Element): Promise<void> {
    const sender = request.attrs.from;
    const target = request.attrs.to;
    // XEP-0220 section 3.1: a result carrying a type on an incoming stream is unsolicited.
    if (request.attrs.type !== undefined) {
      this.logger.warn('s2s incoming ignored a dialback result with a type', { from: sender, to: target });
      return;
    }
    if (!sender || !target) throw new StreamError('improper-addressing', 'a dialback result needs from and to');
    if (!this.#context.router.hosts.has(target)) return this.stream.send(dialbackError(request, 'item-not-found', 'cancel', `this server does not host ${target}`));
    const verdict = this.#context.policy.checkPeer({ domain: sender, address: this.stream.remoteAddress, direction: 'in' });
    if (!verdict.allowed) {
      this.logger.warn('s2s incoming dialback refused by policy', { from: sender, reason: verdict.reason });
      return this.stream.send(dialbackError(request, 'policy-violation', 'cancel', verdict.reason));
    }
    const required = this.#requiredLevel(sender);
    const demands = demandsOf(required);
    if (demands.tls && !this.stream.secure) {
      return this.stream.send(dialbackError(request, 'policy-violation', 'cancel', 'TLS is required before dialback'));
    }
    const certificate = this.#certificateFor(sender);
    if (demands.trustedCertificate && certificate.status !== 'valid') {
      this.logger.warn('s2s incoming refused dialback: a trusted certificate is required', { from: sender, certificate: certificate.status, reason: certificate.reason });
      return this.stream.send(dialbackError(request, 'not-authorized', 'auth', `${sender} must present a CA-signed certificate naming it`));
    }
    if (certificate.status === 'valid') {
      // XEP-0344 section 2.4: the certificate already proves the sender; no callback needed.
      this.stream.send(dialbackAnswer(request, 'valid'));
      return this.#authorize(sender, 'certificate', target);
    }
    const pairKey = `${sender} ${target}`;
    if (this.#pendingDialback.has(pairKey)) return;
    this.#pendingDialback.add(pairKey);
    const outcome = await this.#services.verifyWithAuthoritative(sender, target, this.#streamId, request.text());
    this.#pendingDialback.delete(pairKey);
    if (this.stream.closing) return;
    if (outcome === 'valid') {
      this.stream.send(dialbackAnswer(request, 'valid'));
      return this.#authorize(sender, 'dialback', target);
    }
    if (outcome === 'error') {
      return this.stream.send(dialbackError(request, 'remote-server-not-found', 'cancel', `could not reach the authoritative server of ${sender}`));
    }
    this.logger.warn('s2s incoming dialback key invalid', { from: sender, to: target });
    // XEP-0220 section 2.2.1: the first pair invalid ends the stream; with others valid, a forbidden error.
    if (this.#senders.size === 0) {
      this.stream.send(dialbackAnswer(request, 'invalid'));
      this.#closeReason = `invalid dialback key for ${sender}`;
      return this.stream.closeStream();
    }
    this.stream.send(dialbackError(request, 'forbidden', 'auth', 'the dialback key is not valid'));
  }

  /** We are the authoritative server: is this key one we generated? (XEP-0220 section 2.2.2) */
  #dialbackVerify(request: Element): void {
    const receiving = request.attrs.from;
    const originating = request.attrs.to;
    const id = request.attrs.id;
    if (request.attrs.type !== undefined) {
      this.logger.warn('s2s incoming ignored a dialback verify answer', { from: receiving, to: originating });
      return;
    }
    if (!receiving || !originating || id === undefined) throw new StreamError('improper-addressing', 'a dialback verify needs from, to and id');
    if (!this.#context.router.hosts.has(originating)) return this.stream.send(dialbackError(request, 'item-not-found', 'cancel', `this server does not host ${originating}`));
    const valid = dialbackKeyMatches(request.text(), this.#context.secret, receiving, originating, id);
    this.logger.info('s2s answered a dialback verification', { for: receiving, domain: originating, valid });
    this.stream.send(dialbackAnswer(request, valid ? 'valid' : 'invalid'));
  }

  #authorizePermissive(sender: string): void {
    // The permissive level accepts the claimed domain unproven: closed networks only.
    this.logger.warn('s2s incoming PERMISSIVE: accepting an unauthenticated peer by its claim', { from: sender });
    this.#senders.set(sender, { method: 'none', level: 'permissive' });
  }

  #authorize(sender: string, method: AuthMethod, target: string): void {
    const level: FederationLevel = method === 'dialback' ? (this.stream.secure ? 'encrypted' : 'verified') : 'trusted';
    const required = this.#requiredLevel(sender);
    if (!meetsLevel(level, required)) {
      this.logger.warn('s2s incoming authentication below the required level', { from: sender, level, required });
      return;
    }
    this.#senders.set(sender, { method, level });
    this.#targets.add(target);
    this.logger.info('s2s incoming sender authorized', { from: sender, to: target, method, level });
  }

  // --- stanzas (RFC 6120 section 8.1.1.2, 8.1.2.2) -----------------------------------------------

  /**
   * Stream management (XEP-0198) on a stream we receive: the peer learns which of its stanzas we
   * processed, so it can send again what a dropped connection lost. No resumption between servers.
   */
  #streamManagement(element: Element): void {
    switch (element.name) {
      case 'enable':
        // Section 3: only once, and only after authentication; counting starts with the stanzas after it.
        this.#queue = this.#queue.then(() => {
          if (this.stream.closing) return;
          if (this.#senders.size === 0 || this.#handled !== undefined) return void this.stream.sendRaw(failedElement('unexpected-request'));
          this.#handled = 0;
          this.stream.sendRaw(enabledElement(undefined, 0));
        });
        return;
      case 'r':
        // Answered in order, after the stanzas before it were processed: an acknowledged stanza was delivered or stored.
        this.#queue = this.#queue.then(() => {
          if (this.#handled !== undefined && !this.stream.closing) this.stream.sendRaw(ackElement(this.#handled));
        });
        return;
      case 'a':
        // We send no stanzas on a stream we received; nothing to release.
        return;
      default:
        throw new StreamError('unsupported-stanza-type', `<${element.name} xmlns='${NS_SM}'/> is not part of stream management`);
    }
  }

  /**
   * RFC 6120 section 10.1: stanzas from one stream are processed in the order they arrived.
   * Reading stops while too many wait, so a peer that sends faster than they are processed is
   * held back by TCP instead of growing the queue.
   */
  #enqueue(stanza: Element): void {
    const { from, to } = this.#addresses(stanza);
    this.#pending++;
    if (this.#pending === MAX_PENDING_STANZAS) this.stream.holdReading('backlog');
    this.#queue = this.#queue
      .then(() => this.#stanza(stanza, from, to))
      .catch((error: unknown) => {
        if (error instanceof StreamError) return this.#streamError(error.condition, error.message);
        this.logger.error('s2s incoming stanza failed', { error: error instanceof Error ? error.stack : String(error) });
      })
      .finally(() => {
        if (this.#handled !== undefined) this.#handled++;
        if (this.#pending-- === MAX_PENDING_STANZAS) this.stream.releaseReading('backlog');
      });
  }

  async #stanza(stanza: Element, from: Jid, to: Jid): Promise<void> {
    if (this.stream.closing) return;
    if (!this.#senders.has(from.domain)) {
      if (this.#senders.size === 0) throw new StreamError('not-authorized', 'authenticate before sending stanzas');
      // RFC 6120 section 4.9.3.9: a from outside the authenticated domains.
      throw new StreamError('invalid-from', `${from.domain} is not authenticated on this stream`);
    }
    if (!this.#context.router.hosts.has(to.domain)) throw new StreamError('host-unknown', `this server does not host ${to.domain}`);
    await this.#context.router.route(stanza, { kind: 'server', peer: this.stream.peer });
  }

  /** RFC 6120 section 8.1.1.2: both addresses present and well-formed, else improper-addressing. */
  #addresses(stanza: Element): { from: Jid; to: Jid } {
    try {
      if (stanza.attrs.from === undefined || stanza.attrs.to === undefined) throw new Error('missing');
      return { from: parseJid(stanza.attrs.from), to: parseJid(stanza.attrs.to) };
    } catch {
      throw new StreamError('improper-addressing', 'a stanza between servers needs valid from and to addresses');
    }
  }

  // --- listing and lifecycle -----------------------------------------------------------------

  get lastActivity(): number {
    return this.stream.lastActivity;
  }

  get authenticated(): boolean {
    return this.#senders.size > 0;
  }

  info(): S2sConnectionInfo {
    const socket = this.stream.socket;
    const tls = socket instanceof TLSSocket && socket.encrypted ? { protocol: socket.getProtocol() ?? '', cipher: socket.getCipher()?.name ?? '' } : undefined;
    const senders = [...this.#senders.entries()];
    const strongest = senders.map(([, sender]) => sender).sort((a, b) => (meetsLevel(a.level, b.level) ? -1 : 1))[0];
    return {
      id: this.id,
      direction: 'in',
      remoteDomain: this.#headerFrom,
      remoteAddress: this.stream.peer,
      tls,
      certificate: this.#certificate.status,
      authentication: strongest?.method ?? 'pending',
      level: strongest?.level,
      domains: senders.flatMap(([sender]) => [...this.#targets].map((target) => `${target} <- ${sender}`)),
      connectedAt: this.connectedAt,
      idleSeconds: Math.round((Date.now() - this.stream.lastActivity) / 1000),
      bytesIn: this.stream.bytesIn,
      bytesOut: this.stream.bytesOut,
    };
  }

  /** Ends the stream with a stream error, or politely (RFC 6120 section 4.4). */
  close(condition?: StreamErrorCondition, text?: string): void {
    if (condition) this.#streamError(condition, text ?? condition);
    else this.stream.closeStream();
  }

  #onSocketClosed(error?: Error): void {
    this.logger.info('s2s incoming connection closed', { reason: error ? `socket error: ${error.message}` : this.#closeReason, bytes_in: this.stream.bytesIn, bytes_out: this.stream.bytesOut });
    this.#services.closed(this);
  }
}
