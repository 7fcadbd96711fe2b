/**
 * Host activation of domain pairs (docs/protocols/host-activation.md), a Trellis extension on
 * host-named streams: the requester proves its sender domain by signing the responder's fresh
 * nonce with that domain's key, the responder proves the target domain the same way, and the
 * pair is then bound both ways on the connection (one way without bidi). Either side may ask
 * where it may send: the initiator, and the receiver of a bidi connection. Both sides must
 * advertise it: the receiver in its features, the initiator by answering with the same element.
 *
 *   R: <stream:features>…<activation xmlns='urn:xmpp:trellis:activation:0'/></stream:features>
 *   I: <activation xmlns='urn:xmpp:trellis:activation:0'/>
 *   requester: <request from='S' to='T'/>
 *   responder: <challenge from='T' to='S' nonce='…'><certificate>…</certificate></challenge>
 *   requester: <proof from='S' to='T' nonce='…'><certificate>…</certificate><signature algorithm='…'>…</signature></proof>
 *   responder: <answer from='T' to='S'><signature algorithm='…'>…</signature></answer>
 *   requester: <activate from='S' to='T'/>
 *
 * The responder refuses with <failure/>, the requester gives up with <cancel/>; each names a
 * stanza error condition and ends that pair's exchange only.
 */
import type { X509Certificate } from 'node:crypto';
import type { Logger } from '../util/log.ts';
import { Element } from '../xml/element.ts';
import { NS_STANZA_ERRORS as NS_STANZAS, StanzaError, type StanzaErrorCondition } from '../xml/stanza-error.ts';
import {
  checkDomainChain,
  checkSignature,
  decodeBase64,
  decodeChain,
  encodeChain,
  freshNonce,
  NONCE_LENGTH,
  NS_ACTIVATION,
  signFields,
  type DomainCredentials,
  type SignedFields,
} from '../delegation/host-activation.ts';
import type { Pair } from './binding-table.ts';
import type { S2sContext } from './context.ts';
import type { Role, Step, StepResult } from './negotiation.ts';
import type { PeerWarnings } from './peer-warnings.ts';

/** Exchanges in flight on one connection, both roles together; more are refused with resource-constraint. */
export const MAX_EXCHANGES = 64;

/** What the step uses of its connection. */
export interface ActivationHost extends PeerWarnings {
  readonly role: Role;
  readonly context: S2sContext;
  readonly logger: Logger;
  readonly remoteAddress: string;
  /** XEP-0288: both sides may send */
  readonly bidi: boolean;
  /** the stream is named after the two hosts and both certificates proved those names */
  readonly hostNamed: boolean;
  write(element: Element): void;
  send(element: Element): boolean;
  /** RFC 9266 tls-exporter of this connection; undefined where there is none (TLS 1.2) */
  channelBinding(): Buffer | undefined;
  /** our certificate chain and key for a hosted domain; undefined when it has none that can sign */
  credentials(domain: string): DomainCredentials | undefined;
  /** the pair (local, remote) is activated on this connection */
  activated(pair: Pair): void;
  /** a pair we asked for was not activated; `error` says why */
  activationFailed(pair: Pair, error: StanzaError): void;
}

interface Exchange {
  pair: Pair;
  timer: NodeJS.Timeout;
  /** the nonce we sent */
  nonce: Buffer;
  /** the other domain's certificate chain, once received */
  chain?: X509Certificate[];
  /** the nonce the other side sent, once received */
  received?: Buffer;
  /** requester: 'asked' until the challenge, 'proved' until the answer; responder: 'challenged' until the proof, 'answered' until activate */
  state: 'asked' | 'proved' | 'challenged' | 'answered';
}

const key = (pair: Pair): string => `${pair.local} ${pair.remote}`;

export class HostActivation implements Step {
  readonly name = 'host-activation';
  readonly #host: ActivationHost;
  /** the peer advertised activation on this connection */
  #peer = false;
  /** pairs we asked for, by (our sender, their target) */
  readonly #asking = new Map<string, Exchange>();
  /** pairs the peer asked for, by (our target, their sender) */
  readonly #answering = new Map<string, Exchange>();

  constructor(host: ActivationHost) {
    this.#host = host;
  }

  /** Configured, on a host-named stream, with a channel binding to sign. */
  get #enabled(): boolean {
    const host = this.#host;
    return (host.context.delegation?.methods.has('host_activation') ?? false) && host.hostNamed && host.channelBinding() !== undefined;
  }

  /** Whether we may ask for pairs here: both sides advertised it, and we may send on this connection. */
  get canRequest(): boolean {
    return this.#enabled && this.#peer && (this.#host.role === 'initiator' || this.#host.bidi);
  }

  /** pairs asked for and not yet activated or refused */
  get waiting(): number {
    return this.#asking.size;
  }

  offer(features: Element): boolean {
    if (this.#enabled) features.c('activation', {}, NS_ACTIVATION);
    return false;
  }

  begin(features: Element | undefined): StepResult {
    if (this.#enabled && features?.getChild('activation', NS_ACTIVATION)) {
      this.#host.write(new Element('activation', NS_ACTIVATION));
      this.#peer = true;
    }
    return 'done';
  }

  claims(element: Element): boolean {
    return element.xmlns === NS_ACTIVATION;
  }

  /**
   * Asks for a pair (local: our sender, remote: their target); false when it cannot be asked
   * for here (not negotiated, or too many exchanges), and the caller takes another way.
   */
  request(pair: Pair): boolean {
    if (!this.canRequest || this.#asking.size + this.#answering.size >= MAX_EXCHANGES) return false;
    if (this.#asking.has(key(pair))) return true;
    const seconds = this.#host.context.config.negotiation_timeout;
    const timer = setTimeout(() => this.#giveUp(pair, new StanzaError('remote-server-timeout', `no activation of ${pair.local} to ${pair.remote} within ${seconds} s`)), seconds * 1000).unref();
    this.#asking.set(key(pair), { pair, timer, nonce: freshNonce(), state: 'asked' });
    this.#host.send(new Element('request', NS_ACTIVATION, { from: pair.local, to: pair.remote }));
    return true;
  }

  handle(element: Element): StepResult {
    const pair = { local: element.attrs.to ?? '', remote: element.attrs.from ?? '' };
    switch (element.name) {
      case 'activation':
        this.#advertised();
        break;
      case 'request':
        this.#onRequest(pair);
        break;
      case 'proof':
        this.#background(this.#onProof(element, pair), pair);
        break;
      case 'activate':
        this.#onActivate(pair);
        break;
      case 'cancel':
        this.#onCancel(element, pair);
        break;
      case 'challenge':
        this.#background(this.#onChallenge(element, pair), pair);
        break;
      case 'answer':
        this.#background(this.#onAnswer(element, pair), pair);
        break;
      case 'failure':
        this.#onFailure(element, pair);
        break;
      default:
        this.#host.warnOfPeer('s2s activation: unknown element ignored', { element: element.name });
    }
    return 'done';
  }

  /** The stream is gone: nothing more is answered; pairs asked for fail with the connection. */
  closed(): void {
    for (const exchange of [...this.#asking.values(), ...this.#answering.values()]) clearTimeout(exchange.timer);
    this.#asking.clear();
    this.#answering.clear();
  }

  #advertised(): void {
    if (this.#host.role !== 'receiver' || !this.#enabled) {
      this.#host.warnOfPeer('s2s activation advertised where it was not offered: ignored', { role: this.#host.role });
      return;
    }
    this.#peer = true;
  }

  // --- responder: the peer proves its sender domain, we prove our target domain ---------------

  #onRequest(pair: Pair): void {
    const host = this.#host;
    const refuse = (condition: StanzaErrorCondition, text: string) => this.#reply('failure', pair, condition, text);
    if (!this.#enabled || !this.#peer) return refuse('feature-not-implemented', 'activation was not negotiated on this connection');
    if (!pair.local || !pair.remote) return refuse('bad-request', 'a request names the sender in from and the target in to');
    // The requester sends on this connection: the initiator, or the receiver of a bidi connection.
    if (host.role === 'initiator' && !host.bidi) return refuse('not-allowed', 'this connection carries stanzas one way only');
    if (!host.context.router.hosts.has(pair.local)) return refuse('item-not-found', `this server does not host ${pair.local}`);
    const admission = host.context.policy.current.authenticate({ local: pair.local, remote: pair.remote, address: host.remoteAddress });
    if (admission.kind === 'reject') return refuse('policy-violation', `${admission.text} (${admission.rule})`);
    const credentials = host.credentials(pair.local);
    if (!credentials) return refuse('item-not-found', `${pair.local} has no key to sign with`);
    if (this.#answering.has(key(pair))) return refuse('conflict', `${pair.remote} to ${pair.local} is being activated already`);
    if (this.#asking.size + this.#answering.size >= MAX_EXCHANGES) return refuse('resource-constraint', 'too many activations at once on this connection');
    const seconds = host.context.config.negotiation_timeout;
    const timer = setTimeout(() => this.#answering.delete(key(pair)), seconds * 1000).unref();
    const exchange: Exchange = { pair, timer, nonce: freshNonce(), state: 'challenged' };
    this.#answering.set(key(pair), exchange);
    const challenge = new Element('challenge', NS_ACTIVATION, { from: pair.local, to: pair.remote, nonce: exchange.nonce.toString('base64') });
    for (const certificate of encodeChain(credentials.chain)) challenge.c('certificate').t(certificate);
    host.send(challenge);
  }

  async #onProof(proof: Element, pair: Pair): Promise<void> {
    const exchange = this.#answering.get(key(pair));
    if (!exchange || exchange.state !== 'challenged') return this.#reply('failure', pair, 'unexpected-request', 'no challenge waits for this proof');
    exchange.state = 'answered';
    const refuse = (condition: StanzaErrorCondition, text: string) => {
      this.#endAnswering(pair);
      this.#host.warnOfPeer('s2s activation refused', { from: pair.remote, to: pair.local, reason: text });
      this.#reply('failure', pair, condition, text);
    };
    const received = nonceOf(proof);
    const chain = chainOf(proof);
    const signature = signatureOf(proof);
    if (!received || chain instanceof Error || !signature) return refuse('bad-request', chain instanceof Error ? chain.message : 'a proof carries a nonce, the certificate chain and a signature');
    const trust = checkDomainChain(chain, pair.remote, this.#host.context.anchors);
    if (!trust.valid) return refuse('not-authorized', trust.reason);
    const credentials = this.#host.credentials(pair.local);
    const binding = this.#host.channelBinding();
    if (!credentials || !binding) return refuse('internal-server-error', 'the proof cannot be checked on this connection');
    const signed: SignedFields = { purpose: 'proof', channelBinding: binding, received: exchange.nonce, sent: received, signer: pair.remote, other: pair.local, otherCertificate: credentials.chain[0]!.raw };
    const check = await checkSignature(chain[0]!, signature.algorithm, signature.value, signed);
    if (!check.valid) return refuse('not-authorized', check.reason);
    if (this.#answering.get(key(pair)) !== exchange) return;
    exchange.received = received;
    const answer = await signFields(credentials, { ...signed, purpose: 'answer', received, sent: exchange.nonce, signer: pair.local, other: pair.remote, otherCertificate: chain[0]!.raw });
    if (this.#answering.get(key(pair)) !== exchange) return;
    this.#host.send(new Element('answer', NS_ACTIVATION, { from: pair.local, to: pair.remote }, [signatureElement(credentials, answer)]));
  }

  #onActivate(pair: Pair): void {
    const exchange = this.#answering.get(key(pair));
    if (!exchange || exchange.state !== 'answered' || !exchange.received) return this.#reply('failure', pair, 'unexpected-request', 'no answered proof waits for this activation');
    this.#endAnswering(pair);
    this.#host.activated(pair);
  }

  #onCancel(cancel: Element, pair: Pair): void {
    if (!this.#answering.has(key(pair))) return;
    this.#endAnswering(pair);
    this.#host.logger.info('s2s activation given up by the peer', { from: pair.remote, to: pair.local, reason: reasonOf(cancel) });
  }

  #endAnswering(pair: Pair): void {
    clearTimeout(this.#answering.get(key(pair))?.timer);
    this.#answering.delete(key(pair));
  }

  // --- requester: we prove our sender domain, the peer proves its target domain ----------------

  async #onChallenge(challenge: Element, pair: Pair): Promise<void> {
    const exchange = this.#asking.get(key(pair));
    if (!exchange || exchange.state !== 'asked') return this.#host.warnOfPeer('s2s activation: unsolicited challenge ignored', { from: pair.remote, to: pair.local });
    exchange.state = 'proved';
    const received = nonceOf(challenge);
    const chain = chainOf(challenge);
    if (!received || chain instanceof Error) return this.#cancel(pair, 'bad-request', chain instanceof Error ? chain.message : 'a challenge carries a nonce of 32 bytes');
    const trust = checkDomainChain(chain, pair.remote, this.#host.context.anchors);
    if (!trust.valid) return this.#cancel(pair, 'not-authorized', trust.reason);
    const credentials = this.#host.credentials(pair.local);
    const binding = this.#host.channelBinding();
    if (!credentials || !binding) return this.#cancel(pair, 'internal-server-error', `${pair.local} cannot sign on this connection`);
    exchange.chain = chain;
    exchange.received = received;
    const signature = await signFields(credentials, { purpose: 'proof', channelBinding: binding, received, sent: exchange.nonce, signer: pair.local, other: pair.remote, otherCertificate: chain[0]!.raw });
    if (this.#asking.get(key(pair)) !== exchange) return;
    const proof = new Element('proof', NS_ACTIVATION, { from: pair.local, to: pair.remote, nonce: exchange.nonce.toString('base64') });
    for (const certificate of encodeChain(credentials.chain)) proof.c('certificate').t(certificate);
    proof.children.push(signatureElement(credentials, signature));
    this.#host.send(proof);
  }

  async #onAnswer(answer: Element, pair: Pair): Promise<void> {
    const exchange = this.#asking.get(key(pair));
    if (!exchange || exchange.state !== 'proved' || !exchange.chain || !exchange.received) return this.#host.warnOfPeer('s2s activation: unsolicited answer ignored', { from: pair.remote, to: pair.local });
    const signature = signatureOf(answer);
    const credentials = this.#host.credentials(pair.local);
    const binding = this.#host.channelBinding();
    if (!signature || !credentials || !binding) return this.#cancel(pair, 'bad-request', 'an answer carries a signature');
    const signed: SignedFields = { purpose: 'answer', channelBinding: binding, received: exchange.nonce, sent: exchange.received, signer: pair.remote, other: pair.local, otherCertificate: credentials.chain[0]!.raw };
    const check = await checkSignature(exchange.chain[0]!, signature.algorithm, signature.value, signed);
    if (this.#asking.get(key(pair)) !== exchange) return;
    if (!check.valid) return this.#cancel(pair, 'not-authorized', check.reason);
    this.#endAsking(pair);
    this.#host.send(new Element('activate', NS_ACTIVATION, { from: pair.local, to: pair.remote }));
    this.#host.activated(pair);
  }

  #onFailure(failure: Element, pair: Pair): void {
    if (!this.#asking.has(key(pair))) return;
    const condition = failure.elements().find((child) => child.xmlns === NS_STANZAS && child.name !== 'text')?.name ?? 'undefined-condition';
    this.#giveUp(pair, new StanzaError('not-authorized', `${pair.remote} refused activation (${condition}): ${reasonOf(failure) ?? ''}`));
  }

  /** We refuse what the peer sent for a pair we asked for: it learns why, and the pair takes another way. */
  #cancel(pair: Pair, condition: StanzaErrorCondition, text: string): void {
    this.#reply('cancel', pair, condition, text);
    this.#giveUp(pair, new StanzaError('not-authorized', `activation of ${pair.local} to ${pair.remote}: ${text}`));
  }

  #giveUp(pair: Pair, error: StanzaError): void {
    if (!this.#asking.has(key(pair))) return;
    this.#endAsking(pair);
    this.#host.activationFailed(pair, error);
  }

  #endAsking(pair: Pair): void {
    clearTimeout(this.#asking.get(key(pair))?.timer);
    this.#asking.delete(key(pair));
  }

  /** `<failure/>` (responder) or `<cancel/>` (requester) with a stanza error condition and text (RFC 6120 section 8.3). */
  #reply(name: 'failure' | 'cancel', pair: Pair, condition: StanzaErrorCondition, text: string): void {
    const reply = new Element(name, NS_ACTIVATION, { from: pair.local, to: pair.remote });
    reply.c(condition, {}, NS_STANZAS);
    reply.c('text', {}, NS_STANZAS).t(text);
    this.#host.send(reply);
  }

  /** Runs a check in the background (signatures are made and checked off the main thread); a crash refuses the pair. */
  #background(work: Promise<void>, pair: Pair): void {
    work.catch((error: unknown) => {
      this.#host.logger.error('s2s activation failed', { local: pair.local, remote: pair.remote, error: error instanceof Error ? error.stack : String(error) });
      this.#endAnswering(pair);
      this.#giveUp(pair, new StanzaError('internal-server-error', 'the activation could not be completed'));
    });
  }
}

function nonceOf(element: Element): Buffer | undefined {
  const nonce = decodeBase64(element.attrs.nonce ?? '');
  return nonce?.length === NONCE_LENGTH ? nonce : undefined;
}

function chainOf(element: Element): X509Certificate[] | Error {
  return decodeChain(element.getChildren('certificate', NS_ACTIVATION).map((certificate) => certificate.text()));
}

function signatureOf(element: Element): { algorithm: string; value: Buffer } | undefined {
  const signature = element.getChild('signature', NS_ACTIVATION);
  const value = signature && decodeBase64(signature.text());
  return signature?.attrs.algorithm && value ? { algorithm: signature.attrs.algorithm, value } : undefined;
}

function signatureElement(credentials: DomainCredentials, signature: Buffer): Element {
  return new Element('signature', NS_ACTIVATION, { algorithm: credentials.algorithm }, [signature.toString('base64')]);
}

function reasonOf(element: Element): string | undefined {
  return element.getChildText('text', NS_STANZAS);
}
