/**
 * Everything we send to one remote domain: at most one outgoing stream at a time (one attempt
 * in flight), a bounded queue per local domain while pairs are being authorized, bounces with
 * the right error when that fails, and exponential backoff for a domain that keeps failing.
 */
import type { Router } from '../router/router.ts';
import type { Element } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import type { S2sContext } from './context.ts';
import { S2sOutgoing, type OutgoingEvents, type VerifyOutcome } from './outgoing.ts';

export class RemoteDomain implements OutgoingEvents {
  readonly domain: string;
  #context: S2sContext;
  #connection: S2sOutgoing | undefined;
  #queues = new Map<string, Element[]>();
  #queued = 0;
  #failures = 0;
  #retryAt = 0;
  #lastError: StanzaError | undefined;
  #everReady = false;

  constructor(domain: string, context: S2sContext) {
    this.domain = domain;
    this.#context = context;
  }

  get #router(): Router {
    return this.#context.router;
  }

  get connection(): S2sOutgoing | undefined {
    return this.#connection;
  }

  /** Sends a stanza from a local domain, queueing it while the pair is being authorized. */
  send(stanza: Element, localDomain: string): void {
    const connection = this.#connection;
    if (connection?.isReady(localDomain)) return connection.send(stanza);
    const now = Date.now();
    if (!connection && now < this.#retryAt && this.#lastError) {
      // Backoff: a domain that keeps failing is not tried again before its time.
      const seconds = Math.ceil((this.#retryAt - now) / 1000);
      return this.#router.bounce(stanza, new StanzaError(this.#lastError.condition, `${this.#lastError.message} (next attempt in ${seconds} s)`));
    }
    if (this.#queued >= this.#context.config.queue_max_stanzas) {
      return this.#router.bounce(stanza, new StanzaError('resource-constraint', `too many stanzas waiting for ${this.domain}`));
    }
    let queue = this.#queues.get(localDomain);
    if (!queue) this.#queues.set(localDomain, (queue = []));
    queue.push(stanza);
    this.#queued++;
    this.#ensure(localDomain);
  }

  /** Asks this domain's authoritative server about a dialback key (we are the receiving server). */
  verify(receivingDomain: string, streamId: string, key: string): Promise<VerifyOutcome> {
    if (!this.#connection && Date.now() < this.#retryAt) return Promise.resolve('error');
    const connection = this.#ensure(receivingDomain);
    return connection.verify(receivingDomain, streamId, key);
  }

  #ensure(localDomain: string): S2sOutgoing {
    if (this.#connection && !this.#connection.closed) {
      this.#connection.addPair(localDomain);
      return this.#connection;
    }
    const connection = new S2sOutgoing(this.domain, localDomain, this.#context, this);
    this.#connection = connection;
    this.#everReady = false;
    void connection.start();
    return connection;
  }

  pairReady(connection: S2sOutgoing, localDomain: string): void {
    if (connection !== this.#connection) return;
    this.#everReady = true;
    this.#failures = 0;
    this.#retryAt = 0;
    this.#lastError = undefined;
    const queue = this.#queues.get(localDomain) ?? [];
    this.#queues.delete(localDomain);
    this.#queued -= queue.length;
    for (const stanza of queue) connection.send(stanza);
  }

  pairFailed(connection: S2sOutgoing, localDomain: string, error: StanzaError): void {
    if (connection !== this.#connection) return;
    this.#bounceQueue(localDomain, error);
  }

  closed(connection: S2sOutgoing, error: StanzaError): void {
    if (connection !== this.#connection) return;
    this.#connection = undefined;
    if (!this.#everReady) {
      // RFC 6120 section 3.3: back off, doubling, up to the configured cap.
      this.#failures++;
      const { retry_initial_delay: initial, retry_max_delay: max } = this.#context.config;
      this.#retryAt = Date.now() + Math.min(initial * 2 ** (this.#failures - 1), max) * 1000;
      this.#lastError = error;
    }
    for (const localDomain of [...this.#queues.keys()]) this.#bounceQueue(localDomain, error);
  }

  #bounceQueue(localDomain: string, error: StanzaError): void {
    const queue = this.#queues.get(localDomain) ?? [];
    this.#queues.delete(localDomain);
    this.#queued -= queue.length;
    for (const stanza of queue) this.#router.bounce(stanza, error);
  }

  /** Seconds until the next attempt is allowed, for the listing; 0 when not backing off. */
  get backoffSeconds(): number {
    return Math.max(0, Math.ceil((this.#retryAt - Date.now()) / 1000));
  }
}
