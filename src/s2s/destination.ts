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
import { linkProfileOf, settingsFor } from './link-profile.ts';
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
   * may carry it, or a new one; the error its stanzas bounce with when there is none. `own`:
   * the connection must present the certificate of the pair's local domain (one opened for it,
   * or one whose certificate names it too).
   */
  connect(pair: Pair, own?: boolean): Promise<ServerConnection | StanzaError>;
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
  /**
   * Local domains whose pairs go on a connection of their own, presenting their own
   * certificate (docs/federation.md): the peer refused them on the shared connection, or a
   * connection already presents a certificate naming them.
   */
  readonly #own = new Map<string, ServerConnection>();
  readonly #ownConnecting = new Set<string>();
  /** local domains whose pair was ready on their own connection (worth a new one if it drops) */
  readonly #ownReady = new Set<string>();
  /** local domains the peer refused on the shared connection: asked for on their own at once */
  readonly #refusedShared = new Set<string>();
  /** the fallback to connections of their own has been logged for this peer */
  #fallbackLogged = false;
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

  /** stanzas waiting here for their pair */
  get queued(): number {
    return this.#queued;
  }

  /**
   * Nothing waits here, no connection is in use or being made, and whatever backoff there was
   * is long over: the entry may go, so that the domains ever written to do not pile up.
   */
  idle(now: number): boolean {
    if (this.#connection || this.#connecting || this.#queued > 0 || this.#verifies.length > 0) return false;
    if (this.#own.size > 0 || this.#ownConnecting.size > 0) return false;
    return this.#failures === 0 || now > this.#retryAt + settingsFor(this.#hops.context, this.domain).retry_max_delay * 1000;
  }

  /** Ends the backoff: the next stanza or verification tries the domain at once. */
  retryNow(): void {
    this.#retryAt = 0;
  }

  /** Asks for the pair of `local` and this domain with no stanza waiting (a link of protocol s2s opening its stream). */
  open(local: string): void {
    if (!this.#hops.route({ local, remote: this.domain })) this.#want(local);
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
    const limit = settingsFor(this.#hops.context, this.domain).queue_max_stanzas;
    if (this.#queued >= limit) {
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
    // No backoff here: the domain's server has just connected to us, so whatever our last attempt
    // met (its block lifted, a restart), it is worth reaching now. Verifications waiting are
    // bounded below, and incoming connections by the listener's limits.
    this.retryNow();
    this.#want(receiving);
    if (this.#connection) return this.#connection.verify(this.domain, receiving, streamId, key);
    if (this.#verifies.length >= MAX_PENDING_VERIFIES) return Promise.resolve('busy');
    return new Promise((resolve) => this.#verifies.push({ receiving, streamId, key, resolve }));
  }

  /** A pair is wanted: asked for on the current connection, or on the one being set up. */
  #want(local: string): void {
    this.#wanted.add(local);
    const pair = { local, remote: this.domain };
    const own = this.#own.get(local);
    if (own) return own.request(pair);
    if (this.#ownConnecting.has(local)) return;
    if (this.#connection) {
      // s2s.multiplex off: every local domain's pair gets a connection of its own.
      if (!this.#hops.context.config.multiplex && this.#connection.localDomain !== local) return this.#openOwn(local);
      // A connection whose certificate names this local domain too carries its pair (RFC 7712 section 4.4.1).
      const covering = [...this.#own.values()].find((connection) => connection.presentsFor(local));
      if (covering) {
        this.#own.set(local, covering);
        return covering.request(pair);
      }
      if (this.#refusedShared.has(local) && (this.#connection.direction === 'in' || !this.#connection.presentsFor(local))) return this.#openOwn(local);
      return this.#connection.request(pair);
    }
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
    for (const wanted of this.#wanted) this.#want(wanted);
    for (const { receiving, streamId, key, resolve } of this.#verifies.splice(0)) void connection.verify(this.domain, receiving, streamId, key).then(resolve);
  }

  pairReady(connection: ServerConnection, local: string): void {
    this.#wanted.delete(local);
    if (this.#own.get(local) === connection) this.#ownReady.add(local);
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

  /**
   * A pair asked for on `connection` was refused. Asked for on a connection opened for another
   * local domain, it gets a connection of its own presenting its own certificate (the draft's
   * section 7 fallback: SASL EXTERNAL, or dialback where the peer's policy allows); refused
   * there too, its stanzas bounce.
   */
  pairFailed(connection: ServerConnection, local: string, error: StanzaError): void {
    // Refused on a connection the peer opened: one of our own, the standard way (reverse-pairs.ts).
    if ((connection.direction === 'in' || !connection.presentsFor(local)) && !this.#stopping) {
      this.#refusedShared.add(local);
      if (!this.#fallbackLogged) {
        this.#fallbackLogged = true;
        this.#hops.context.logger.info('s2s pair refused on a shared connection: such pairs get a connection of their own', { remote: this.domain, local, reason: error.message });
      }
      if (this.#own.get(local) === connection) this.#own.delete(local);
      if (this.#wanted.has(local)) return this.#openOwn(local);
    }
    if (this.#own.get(local) === connection) this.#own.delete(local);
    this.#wanted.delete(local);
    this.#linkFailed(error);
    this.#bounceQueue(local, error);
  }

  /** Reaching this domain failed: its link of protocol s2s, if it has one, shows why. */
  #linkFailed(error: StanzaError): void {
    const profile = linkProfileOf(this.#hops.context, this.domain);
    if (profile) this.#hops.context.links!.failed(profile.name, `${this.domain}: ${error.message}`);
  }

  /** Opens (or finds) a connection presenting `local`'s own certificate and asks for its pair there. */
  #openOwn(local: string): void {
    const pair = { local, remote: this.domain };
    this.#ownConnecting.add(local);
    void this.#hops.connect(pair, true).then((connection) => {
      this.#ownConnecting.delete(local);
      if (connection instanceof StanzaError) {
        this.#wanted.delete(local);
        return this.#bounceQueue(local, connection);
      }
      this.#own.set(local, connection);
      if (this.#wanted.has(local)) connection.request(pair);
    });
  }

  /** A connection carrying (or asked for) pairs of this domain is gone; `unconfirmed` are this domain's. */
  closed(connection: ServerConnection, error: StanzaError, unconfirmed: TrackedStanza[]): void {
    if (connection === this.#connection && connection.hostNamedFailure !== undefined && !this.#stopping) {
      // A host-named stream that was not established (the digest's section 5.7): the pairs it was
      // asked for go on a standard stream at once, unnoticed by their senders (nothing was sent on it).
      this.#connection = undefined;
      const wanted = [...this.#wanted];
      this.#wanted.clear();
      for (const local of wanted) this.#want(local);
      return;
    }
    const ownLocals = [...this.#own].filter(([, own]) => own === connection).map(([local]) => local);
    for (const local of ownLocals) this.#own.delete(local);
    if (connection !== this.#connection) {
      if (ownLocals.length > 0 || unconfirmed.length > 0) this.#ownClosed(ownLocals, error, unconfirmed);
      return;
    }
    this.#connection = undefined;
    this.#closed(error, unconfirmed);
  }

  /**
   * A connection of their own for `locals` is gone: what it did not confirm is sent once more
   * (as in #closed), on a new connection when the pair had been ready on it; otherwise what
   * waits for those pairs bounces. Other pairs are untouched.
   */
  #ownClosed(locals: string[], error: StanzaError, unconfirmed: TrackedStanza[]): void {
    const again = new Set<string>();
    for (const { stanza, pair, resends } of unconfirmed) {
      if (resends > 0 || this.#stopping) {
        this.#hops.resends.bounced++;
        this.#router.bounce(stanza, resends > 0 ? new StanzaError('remote-server-timeout', `the connection to ${this.domain} was lost twice before it confirmed this stanza`) : error);
        continue;
      }
      this.#hops.resends.resent++;
      this.#enqueue(pair.local, { stanza, resends: resends + 1 });
      again.add(pair.local);
    }
    for (const local of new Set([...locals, ...again])) {
      const ready = this.#ownReady.delete(local);
      if ((ready || again.has(local)) && !this.#stopping && this.#queues.has(local)) {
        this.#wanted.delete(local);
        this.#want(local);
        continue;
      }
      this.#wanted.delete(local);
      this.#bounceQueue(local, error);
    }
  }

  /**
   * What the peer did not confirm is sent once more on a new connection, ahead of what was
   * queued meanwhile; a stanza already resent once bounces instead (a stanza that makes the
   * peer drop the connection must not do so forever).
   */
  #closed(error: StanzaError, unconfirmed: TrackedStanza[]): void {
    const counters = this.#hops.resends;
    for (const { resolve } of this.#verifies.splice(0)) resolve('error');
    // Pairs on connections of their own are not this connection's concern.
    const elsewhere = (local: string): boolean => this.#own.has(local) || this.#ownConnecting.has(local);
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
      for (const local of [...this.#wanted]) if (!elsewhere(local)) this.#wanted.delete(local);
      for (const local of this.#queues.keys()) if (!elsewhere(local)) this.#want(local);
      return;
    }
    for (const { stanza } of unconfirmed) {
      counters.bounced++;
      this.#router.bounce(stanza, error);
    }
    if (!this.#everReady) {
      // RFC 6120 section 3.3: back off, doubling, up to the configured cap.
      this.#failures++;
      const { retry_initial_delay: initial, retry_max_delay: max } = settingsFor(this.#hops.context, this.domain);
      this.#linkFailed(error);
      this.#retryAt = Date.now() + Math.min(initial * 2 ** (this.#failures - 1), max) * 1000;
      this.#lastError = error;
    }
    for (const local of [...this.#wanted]) if (!elsewhere(local)) this.#wanted.delete(local);
    for (const local of [...this.#queues.keys()]) if (!elsewhere(local)) this.#bounceQueue(local, error);
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
