/**
 * Everything we send to one remote domain: at most one outgoing stream at a time (one attempt
 * in flight), a bounded queue per local domain while pairs are being authorized, bounces with
 * the right error when that fails, and exponential backoff for a domain that keeps failing.
 */
import type { Router } from '../router/router.ts';
import type { Element } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import type { S2sContext } from './context.ts';
import type { TrackedStanza } from './delivery-tracker.ts';
import { S2sOutgoing, type OutgoingEvents, type VerifyOutcome } from './outgoing.ts';

/** A stanza waiting for its pair, and how many connections it was already sent on. */
interface Queued {
  stanza: Element;
  resends: number;
}

/** What became of stanzas a connection dropped before the peer confirmed them. */
export interface ResendCounters {
  /** sent again on the next connection */
  resent: number;
  /** bounced: sent on a connection once already, or no new connection could be made */
  bounced: number;
}

export class RemoteDomain implements OutgoingEvents {
  readonly domain: string;
  #context: S2sContext;
  #connection: S2sOutgoing | undefined;
  #queues = new Map<string, Queued[]>();
  #counters: ResendCounters;
  #queued = 0;
  #failures = 0;
  #retryAt = 0;
  #lastError: StanzaError | undefined;
  #everReady = false;
  /** the server is stopping: nothing is sent again, what waits bounces */
  #stopping = false;

  constructor(domain: string, context: S2sContext, counters: ResendCounters) {
    this.domain = domain;
    this.#context = context;
    this.#counters = counters;
  }

  get #router(): Router {
    return this.#context.router;
  }

  /** The server is stopping: a connection that drops is not replaced, and what it did not confirm bounces. */
  stop(): void {
    this.#stopping = true;
  }

  get connection(): S2sOutgoing | undefined {
    return this.#connection;
  }

  /** Sends a stanza from a local domain, queueing it while the pair is being authorized. */
  send(stanza: Element, localDomain: string): void {
    const connection = this.#connection;
    if (connection?.isReady(localDomain)) return connection.send(stanza, localDomain);
    const now = Date.now();
    if (!connection && now < this.#retryAt && this.#lastError) {
      // Backoff: a domain that keeps failing is not tried again before its time.
      const seconds = Math.ceil((this.#retryAt - now) / 1000);
      return this.#router.bounce(stanza, new StanzaError(this.#lastError.condition, `${this.#lastError.message} (next attempt in ${seconds} s)`));
    }
    if (this.#queued >= this.#context.config.queue_max_stanzas) {
      return this.#router.bounce(stanza, new StanzaError('resource-constraint', `too many stanzas waiting for ${this.domain}`));
    }
    this.#enqueue(localDomain, { stanza, resends: 0 });
    this.#ensure(localDomain);
  }

  #enqueue(localDomain: string, queued: Queued): void {
    let queue = this.#queues.get(localDomain);
    if (!queue) this.#queues.set(localDomain, (queue = []));
    queue.push(queued);
    this.#queued++;
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
    for (const { stanza, resends } of queue) connection.send(stanza, localDomain, resends);
  }

  pairFailed(connection: S2sOutgoing, localDomain: string, error: StanzaError): void {
    if (connection !== this.#connection) return;
    this.#bounceQueue(localDomain, error);
  }

  /**
   * The connection is gone. What the peer did not confirm is sent once more on a new connection,
   * ahead of what was queued meanwhile; a stanza already resent once bounces instead (a stanza
   * that makes the peer drop the connection must not do so forever).
   */
  closed(connection: S2sOutgoing, error: StanzaError, unconfirmed: TrackedStanza[]): void {
    if (connection !== this.#connection) return;
    this.#connection = undefined;
    if (this.#everReady && !this.#stopping && unconfirmed.length > 0) {
      const waiting = this.#queues;
      this.#queues = new Map();
      this.#queued = 0;
      for (const { stanza, localDomain, resends } of unconfirmed) {
        if (resends > 0) {
          this.#counters.bounced++;
          this.#router.bounce(stanza, new StanzaError('remote-server-timeout', `the connection to ${this.domain} was lost twice before it confirmed this stanza`));
          continue;
        }
        this.#counters.resent++;
        this.#enqueue(localDomain, { stanza, resends: resends + 1 });
      }
      for (const [localDomain, queue] of waiting) for (const queued of queue) this.#enqueue(localDomain, queued);
      for (const localDomain of this.#queues.keys()) this.#ensure(localDomain);
      return;
    }
    for (const { stanza } of unconfirmed) {
      this.#counters.bounced++;
      this.#router.bounce(stanza, error);
    }
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
    for (const { stanza, resends } of queue) {
      if (resends > 0) this.#counters.bounced++;
      this.#router.bounce(stanza, error);
    }
  }

  /** Seconds until the next attempt is allowed, for the listing; 0 when not backing off. */
  get backoffSeconds(): number {
    return Math.max(0, Math.ceil((this.#retryAt - Date.now()) / 1000));
  }
}
