/**
 * Everything we send to one remote domain: a bounded queue per local domain while its pair is
 * being authorized, at most one connection attempt in flight, bounces with the right error when
 * that fails, and exponential backoff for a domain that keeps failing. Which connection carries
 * a pair is the binding table's answer; the connection to ask on is found by next hop, so a
 * domain served by a host we are already connected to can use that connection.
 */
import type { Router } from '../router/router.ts';
import type { Element } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import type { Pair } from './binding-table.ts';
import type { S2sContext } from './context.ts';
import type { TrackedStanza } from './delivery-tracker.ts';
import type { ServerConnection } from './server-connection.ts';
import { MAX_PENDING_VERIFIES, type VerifyOutcome } from './step-dialback-initiator.ts';

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

/** What a destination asks of the service that holds the connections. */
export interface Hops {
  readonly context: S2sContext;
  readonly resends: ResendCounters;
  /** the first connection of the pair's outbound list (the binding table) */
  route(pair: Pair): ServerConnection | undefined;
  /**
   * A connection to ask for `pair` on: one already open to the remote domain's next hop that
   * may carry it, or a new one; the error its stanzas bounce with when there is none.
   */
  connect(pair: Pair): Promise<ServerConnection | StanzaError>;
}

interface WaitingVerify {
  receiving: string;
  streamId: string;
  key: string;
  resolve(outcome: VerifyOutcome): void;
}

export class Destination {
  readonly domain: string;
  readonly #hops: Hops;
  /** the connection pairs for this domain are asked for on */
  #connection: ServerConnection | undefined;
  /** resolving the domain or connecting to its hop */
  #connecting = false;
  /** local domains whose pair is wanted and not yet authorized */
  #wanted = new Set<string>();
  #queues = new Map<string, Queued[]>();
  #queued = 0;
  #verifies: WaitingVerify[] = [];
  #failures = 0;
  #retryAt = 0;
  #lastError: StanzaError | undefined;
  #everReady = false;
  /** the server is stopping: nothing is sent again, what waits bounces */
  #stopping = false;

  constructor(domain: string, hops: Hops) {
    this.domain = domain;
    this.#hops = hops;
  }

  get #router(): Router {
    return this.#hops.context.router;
  }

  stop(): void {
    this.#stopping = true;
  }

  /**
   * Nothing waits here, no connection is in use or being made, and whatever backoff there was
   * is long over: the entry may go, so that the domains ever written to do not pile up.
   */
  idle(now: number): boolean {
    if (this.#connection || this.#connecting || this.#queued > 0 || this.#verifies.length > 0) return false;
    return this.#failures === 0 || now > this.#retryAt + this.#hops.context.config.retry_max_delay * 1000;
  }

  /** Sends a stanza from a local domain, queueing it while the pair is being authorized. */
  send(stanza: Element, local: string): void {
    const pair = { local, remote: this.domain };
    const connection = this.#hops.route(pair);
    if (connection) return connection.sendStanza(stanza, pair);
    const now = Date.now();
    if (!this.#connection && !this.#connecting && now < this.#retryAt && this.#lastError) {
      // Backoff: a domain that keeps failing is not tried again before its time.
      const seconds = Math.ceil((this.#retryAt - now) / 1000);
      return this.#router.bounce(stanza, new StanzaError(this.#lastError.condition, `${this.#lastError.message} (next attempt in ${seconds} s)`));
    }
    if (this.#queued >= this.#hops.context.config.queue_max_stanzas) {
      return this.#router.bounce(stanza, new StanzaError('resource-constraint', `too many stanzas waiting for ${this.domain}`));
    }
    this.#enqueue(local, { stanza, resends: 0 });
    this.#want(local);
  }

  #enqueue(local: string, queued: Queued): void {
    let queue = this.#queues.get(local);
    if (!queue) this.#queues.set(local, (queue = []));
    queue.push(queued);
    this.#queued++;
  }

  /** Asks this domain's authoritative server about a dialback key (XEP-0220 section 2.1.2; we are the receiving server). */
  verify(receiving: string, streamId: string, key: string): Promise<VerifyOutcome> {
    if (!this.#connection && !this.#connecting && Date.now() < this.#retryAt) return Promise.resolve('error');
    this.#want(receiving);
    if (this.#connection) return this.#connection.verify(this.domain, receiving, streamId, key);
    if (this.#verifies.length >= MAX_PENDING_VERIFIES) return Promise.resolve('busy');
    return new Promise((resolve) => this.#verifies.push({ receiving, streamId, key, resolve }));
  }

  /** A pair is wanted: asked for on the current connection, or on the one being set up. */
  #want(local: string): void {
    this.#wanted.add(local);
    if (this.#connection) return this.#connection.request({ local, remote: this.domain });
    if (this.#connecting) return;
    this.#connecting = true;
    this.#everReady = false;
    void this.#connect(local);
  }

  async #connect(local: string): Promise<void> {
    const connection = await this.#hops.connect({ local, remote: this.domain });
    this.#connecting = false;
    if (connection instanceof StanzaError) return this.#closed(connection, []);
    this.#connection = connection;
    for (const wanted of this.#wanted) connection.request({ local: wanted, remote: this.domain });
    for (const { receiving, streamId, key, resolve } of this.#verifies.splice(0)) void connection.verify(this.domain, receiving, streamId, key).then(resolve);
  }

  pairReady(connection: ServerConnection, local: string): void {
    this.#wanted.delete(local);
    this.#everReady = true;
    this.#failures = 0;
    this.#retryAt = 0;
    this.#lastError = undefined;
    const queue = this.#queues.get(local) ?? [];
    this.#queues.delete(local);
    this.#queued -= queue.length;
    const pair = { local, remote: this.domain };
    for (const { stanza, resends } of queue) connection.sendStanza(stanza, pair, resends);
  }

  pairFailed(local: string, error: StanzaError): void {
    this.#wanted.delete(local);
    this.#bounceQueue(local, error);
  }

  /** A connection carrying (or asked for) pairs of this domain is gone; `unconfirmed` are this domain's. */
  closed(connection: ServerConnection, error: StanzaError, unconfirmed: TrackedStanza[]): void {
    if (connection !== this.#connection && unconfirmed.length === 0) return;
    if (connection === this.#connection) this.#connection = undefined;
    this.#closed(error, unconfirmed);
  }

  /**
   * What the peer did not confirm is sent once more on a new connection, ahead of what was
   * queued meanwhile; a stanza already resent once bounces instead (a stanza that makes the
   * peer drop the connection must not do so forever).
   */
  #closed(error: StanzaError, unconfirmed: TrackedStanza[]): void {
    const counters = this.#hops.resends;
    for (const { resolve } of this.#verifies.splice(0)) resolve('error');
    if (this.#everReady && !this.#stopping && unconfirmed.length > 0) {
      const waiting = this.#queues;
      this.#queues = new Map();
      this.#queued = 0;
      for (const { stanza, pair, resends } of unconfirmed) {
        if (resends > 0) {
          counters.bounced++;
          this.#router.bounce(stanza, new StanzaError('remote-server-timeout', `the connection to ${this.domain} was lost twice before it confirmed this stanza`));
          continue;
        }
        counters.resent++;
        this.#enqueue(pair.local, { stanza, resends: resends + 1 });
      }
      for (const [local, queue] of waiting) for (const queued of queue) this.#enqueue(local, queued);
      this.#wanted.clear();
      for (const local of this.#queues.keys()) this.#want(local);
      return;
    }
    for (const { stanza } of unconfirmed) {
      counters.bounced++;
      this.#router.bounce(stanza, error);
    }
    if (!this.#everReady) {
      // RFC 6120 section 3.3: back off, doubling, up to the configured cap.
      this.#failures++;
      const { retry_initial_delay: initial, retry_max_delay: max } = this.#hops.context.config;
      this.#retryAt = Date.now() + Math.min(initial * 2 ** (this.#failures - 1), max) * 1000;
      this.#lastError = error;
    }
    this.#wanted.clear();
    for (const local of [...this.#queues.keys()]) this.#bounceQueue(local, error);
  }

  #bounceQueue(local: string, error: StanzaError): void {
    const queue = this.#queues.get(local) ?? [];
    this.#queues.delete(local);
    this.#queued -= queue.length;
    for (const { stanza, resends } of queue) {
      if (resends > 0) this.#hops.resends.bounced++;
      this.#router.bounce(stanza, error);
    }
  }
}
