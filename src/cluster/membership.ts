/**
 * This node's registration: renewed every heartbeat, and judged by this node's own clock too.
 * A node that has not renewed within its lease stops serving before anyone else may take over
 * its sessions (self-fencing), whether Redis told it so (`fenced`) or it simply could not reach
 * Redis in time, as after a SIGSTOP or a network partition. Each heartbeat also looks for nodes
 * whose registration lapsed.
 */
import type { Logger } from '../util/log.ts';
import type { ClusterEngine, ClusterMember, NodeIdentity, NodeStatus, RenewOutcome } from './engine.ts';

export interface MembershipEvents {
  /** the registration cannot be relied on any more: stop serving now */
  fenced(reason: string): void;
  /** Redis had lost the registration and it was written again: publish the sessions again */
  restored(): void;
  /** these incarnations' registrations lapsed */
  lapsed(dead: NodeIdentity[]): void;
  /** every member as the engine listed it at this heartbeat */
  surveyed(members: ClusterMember[]): void;
}

export interface MembershipOptions {
  engine: ClusterEngine;
  self: NodeIdentity;
  heartbeatMs: number;
  leaseMs: number;
  logger: Logger;
  events: MembershipEvents;
  /** what this node publishes of itself at every renewal */
  status(): NodeStatus;
}

export class Membership {
  readonly #options: MembershipOptions;
  /** when the last renewal that succeeded was asked for: the lease runs from then */
  #renewedAt: number;
  #timer: NodeJS.Timeout;
  #beating = false;
  #stopped = false;

  /** Starts renewing a registration that `join` just made. */
  constructor(options: MembershipOptions) {
    this.#options = options;
    this.#renewedAt = Date.now();
    this.#timer = setInterval(() => void this.#beat(), options.heartbeatMs);
  }

  /** Whether the lease still holds by this node's clock: only then may it deliver. */
  get live(): boolean {
    return !this.#stopped && Date.now() - this.#renewedAt < this.#options.leaseMs;
  }

  async #beat(): Promise<void> {
    if (this.#beating || this.#stopped) return;
    this.#beating = true;
    try {
      await this.#renew();
      if (!this.#stopped) await this.#findLapsed();
    } finally {
      this.#beating = false;
    }
  }

  async #renew(): Promise<void> {
    const { engine, self, leaseMs, heartbeatMs, logger } = this.#options;
    if (!this.live) return this.#fence(`no renewal for ${Date.now() - this.#renewedAt} ms, past the lease of ${leaseMs} ms`);
    const askedAt = Date.now();
    // An answer that comes after the wait below still counts: a registration Redis wrote again
    // while this node had stopped waiting must still have its sessions published.
    const renewal = engine.renew(self, leaseMs, this.#options.status()).then((outcome) => this.#settle(outcome, askedAt));
    try {
      await withTimeout(renewal, heartbeatMs);
    } catch (error) {
      logger.warn('cluster registration not renewed', { node: self.name, error: error instanceof Error ? error.message : String(error), lease_left_ms: leaseMs - (Date.now() - this.#renewedAt) });
      if (!this.live) this.#fence(`no renewal within the lease of ${leaseMs} ms`);
    }
  }

  #settle(outcome: RenewOutcome, askedAt: number): void {
    if (this.#stopped) return;
    if (outcome === 'fenced') return this.#fence('the cluster declared this incarnation dead');
    this.#renewedAt = Math.max(this.#renewedAt, askedAt);
    if (outcome === 'restored') {
      this.#options.logger.warn('cluster registration written again: Redis had lost it', { node: this.#options.self.name });
      this.#options.events.restored();
    }
  }

  async #findLapsed(): Promise<void> {
    try {
      const members = await withTimeout(this.#options.engine.members(), this.#options.heartbeatMs);
      if (this.#stopped) return;
      this.#options.events.surveyed(members);
      const others = members.filter((node) => !node.live && (node.name !== this.#options.self.name || node.incarnation !== this.#options.self.incarnation));
      if (others.length > 0) this.#options.events.lapsed(others.map(({ name, incarnation }) => ({ name, incarnation })));
    } catch {
      // The renewal above reports the engine being out of reach.
    }
  }

  #fence(reason: string): void {
    if (this.#stopped) return;
    this.stop();
    this.#options.logger.error('cluster node fenced: it stops serving until it joins again', { node: this.#options.self.name, incarnation: this.#options.self.incarnation, reason });
    this.#options.events.fenced(reason);
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
