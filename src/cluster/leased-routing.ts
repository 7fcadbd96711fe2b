/**
 * Work owned by one node of a cluster at a time, under a lease per key (docs/cluster.md): a
 * remote domain the cluster federates with (`s2s:<domain>`, federation.ts), a group-chat room
 * (`muc:<room>`, rooms.ts). The first node that has a stanza for a key claims its lease; the
 * others learn the holder and hand it their stanzas through its inbox, where what one node
 * appends is read in that order, so every sender's stanzas reach the owner in the order sent.
 *
 * The lease of a node whose registration lapsed is free at once (it stopped acting on it by its
 * own clock before that), so when the owner dies the next stanza for the key makes another node
 * claim it; what a node had handed to the dead owner and was refused (`gone`) waits, in order,
 * for the new owner. A stanza no owner can be found for bounces.
 */
import type { ClusterConfig } from '../config/types.ts';
import type { Router } from '../router/router.ts';
import { settleReceipt } from '../router/receipts.ts';
import type { Logger } from '../util/log.ts';
import type { Element } from '../xml/element.ts';
import type { StanzaError } from '../xml/stanza-error.ts';
import type { ClusterEngine, InboxEntry, NodeIdentity } from './engine.ts';

/** Nodes a stanza may be handed through before it bounces: more means the nodes disagree on the owner. */
export const MAX_HOPS = 3;

/** One stanza on its way to the owner of its key; `hops`: the nodes it was handed through. */
export interface Handed {
  stanza: Element;
  hops: number;
}

export interface LeasedRoutingOptions<Item extends Handed> {
  engine: ClusterEngine;
  /** this node while it is a live member of the cluster; undefined while it is fenced or rejoining */
  self(): NodeIdentity | undefined;
  router: Router;
  cluster: ClusterConfig;
  logger: Logger;
  /** what the keys are, for the logs: "remote domain", "room" */
  what: string;
  /** the lease of a key is `<prefix><key>` */
  prefix: string;
  /** the owner handles an item on this node */
  here(key: string, item: Item): void;
  /** the inbox entry that hands an item to the owner */
  entry(key: string, item: Item): InboxEntry;
  /** stanzas that may wait for one key's owner */
  maxWaiting(): number;
  /** keys this node keeps track of at most (unbounded when absent: the keys are bounded elsewhere) */
  maxKeys?: number;
  /** a key unused for this long is forgotten, its lease given up */
  idleMs(): number;
  /** an owned key still in use whatever its last stanza (a room with occupants) */
  inUse?(key: string): boolean;
  /** this node just became the owner: resolves before what waited is handled here */
  acquired?(key: string): Promise<void>;
  /** another node took the lease of a key this node owned */
  lost?(key: string): void;
  /** the error a stanza bounces with when no node can take its key on */
  unreachable(key: string, reason: string): StanzaError;
  /** the error a stanza bounces with when the owner's inbox is full */
  full(key: string): StanzaError;
}

/** One key as this node sees it. */
interface Slot<Item> {
  /** who owns it: this node, another, or not known yet */
  owner: NodeIdentity | 'here' | undefined;
  /** the claim under way */
  claiming: Promise<void> | undefined;
  /** stanzas waiting for an owner, in the order they were sent */
  waiting: Item[];
  /** stanzas being appended to the owner's inbox, in order; their answers come back in that order */
  inFlight: Item[];
  /** bumped when the owner turned out to be gone: answers about earlier appends are no longer awaited */
  epoch: number;
  lastUsed: number;
}

export interface OwnerRow {
  key: string;
  /** the node holding its lease, as this node last learnt it; `here` for this node */
  owner: string;
}

export class LeasedRouting<Item extends Handed> {
  readonly #options: LeasedRoutingOptions<Item>;
  readonly #slots = new Map<string, Slot<Item>>();
  readonly #timer: NodeJS.Timeout;
  #renewing = false;

  constructor(options: LeasedRoutingOptions<Item>) {
    this.#options = options;
    this.#timer = setInterval(() => void this.#renew(), options.cluster.heartbeat_interval_ms);
    this.#timer.unref();
  }

  /** An item for the owner of `key`: handled here, handed to the owner, or kept until one is known. */
  send(key: string, item: Item): void {
    if (!this.#slots.has(key) && this.#slots.size >= (this.#options.maxKeys ?? Infinity)) {
      this.#options.logger.debug(`cluster ${this.#options.what}s known here at their limit`, { key, max: this.#options.maxKeys });
      return this.#options.router.bounce(item.stanza, this.#options.full(key));
    }
    const slot = this.#slot(key);
    slot.lastUsed = Date.now();
    if (slot.owner === 'here') {
      if (this.#options.self() !== undefined) return this.#options.here(key, item);
      // Past its lease by its own clock: another node may hold the lease by now.
      slot.owner = undefined;
    }
    if (slot.owner !== undefined && slot.waiting.length === 0) return this.#forward(key, slot, item);
    if (slot.waiting.length >= this.#options.maxWaiting()) {
      return this.#options.router.bounce(item.stanza, this.#options.full(key));
    }
    slot.waiting.push(item);
    void this.claim(key);
  }

  /**
   * An item another node handed this one as the owner: handled here if it is, else sent on to
   * whoever holds the lease now (asked again: the sender's view was stale), up to `MAX_HOPS`.
   */
  handOn(key: string, item: Item): void {
    if (item.hops >= MAX_HOPS) {
      this.#options.logger.warn(`cluster nodes disagree on who owns a ${this.#options.what}`, { key, hops: item.hops });
      return this.#options.router.bounce(item.stanza, this.#options.unreachable(key, 'the nodes disagree on its owner'));
    }
    this.stale(key);
    this.send(key, { ...item, hops: item.hops + 1 });
  }

  /** Another node handed this node a key it believes this node owns: unless it does, whoever holds the lease is asked again. */
  stale(key: string): void {
    const slot = this.#slot(key);
    if (slot.owner !== 'here') slot.owner = undefined;
  }

  /** True when this node owns `key` and is a live member: what it gets for the key it handles itself. */
  ownedHere(key: string): boolean {
    return this.#slots.get(key)?.owner === 'here' && this.#options.self() !== undefined;
  }

  /** The owner as this node knows it, after claiming the lease if it knew none; undefined when that failed. */
  async owner(key: string): Promise<NodeIdentity | 'here' | undefined> {
    const slot = this.#slot(key);
    slot.lastUsed = Date.now();
    if (slot.owner === undefined) await this.claim(key);
    return slot.owner;
  }

  /** The owner of `key` turned out to be unreachable: the lease is asked again next time. */
  forget(key: string, owner: NodeIdentity): void {
    const slot = this.#slots.get(key);
    if (slot !== undefined && slot.owner === owner) slot.owner = undefined;
  }

  /** A node was declared dead: the keys it owned are claimed again by the next stanza for them. Returns them. */
  nodeGone(dead: NodeIdentity): string[] {
    const keys: string[] = [];
    for (const [key, slot] of this.#slots) {
      if (slot.owner === undefined || slot.owner === 'here') continue;
      if (slot.owner.name !== dead.name || slot.owner.incarnation !== dead.incarnation) continue;
      slot.owner = undefined;
      keys.push(key);
    }
    return keys;
  }

  #slot(key: string): Slot<Item> {
    let slot = this.#slots.get(key);
    if (slot === undefined) this.#slots.set(key, (slot = { owner: undefined, claiming: undefined, waiting: [], inFlight: [], epoch: 0, lastUsed: Date.now() }));
    return slot;
  }

  /** Learns (or becomes) the owner of a key, then handles what waited for it, in order; on failure what waited bounces. */
  claim(key: string): Promise<void> {
    const slot = this.#slot(key);
    slot.claiming ??= this.#claimOnce(key, slot).finally(() => (slot.claiming = undefined));
    return slot.claiming;
  }

  async #claimOnce(key: string, slot: Slot<Item>): Promise<void> {
    const { engine, cluster, logger, what } = this.#options;
    const self = this.#options.self();
    let owner: NodeIdentity | 'here';
    try {
      if (self === undefined) throw new Error('this node is rejoining its cluster');
      const holder = await engine.claimLease(this.#options.prefix + key, holderOf(self), cluster.lease_ms);
      if (this.#options.self() !== self) throw new Error('this node left its cluster meanwhile');
      owner = holder === holderOf(self) ? 'here' : parseHolder(holder);
      if (owner === 'here' && slot.owner !== 'here') await this.#options.acquired?.(key);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      logger.warn(`cluster ${what} owner not found`, { key, error: reason, bounced: slot.waiting.length });
      for (const { stanza } of slot.waiting.splice(0)) this.#options.router.bounce(stanza, this.#options.unreachable(key, reason));
      return;
    }
    slot.owner = owner;
    logger.info(`cluster ${what} owner`, { key, owner: owner === 'here' ? cluster.node : owner.name });
    for (const item of slot.waiting.splice(0)) {
      if (owner === 'here') this.#options.here(key, item);
      else this.#forward(key, slot, item);
    }
  }

  /** Appends an item to the owner's inbox; when the owner is gone, it and what followed it wait for the next owner, in order. */
  #forward(key: string, slot: Slot<Item>, item: Item): void {
    const self = this.#options.self();
    const owner = slot.owner;
    if (self === undefined || owner === undefined || owner === 'here') {
      slot.waiting.push(item);
      return void this.claim(key);
    }
    slot.inFlight.push(item);
    const epoch = slot.epoch;
    this.#options.engine
      .send(self, owner, this.#options.entry(key, item), this.#options.cluster.inbox_max_entries)
      .catch((error: unknown) => (error instanceof Error ? error.message : String(error)))
      .then((outcome) => {
        if (epoch !== slot.epoch) return;
        slot.inFlight.shift();
        // In the owner's inbox now: an inbox entry it came from here may go (router/receipts.ts).
        if (outcome === 'sent') return settleReceipt(item.stanza);
        if (outcome === 'full') return this.#options.router.bounce(item.stanza, this.#options.full(key));
        this.#options.logger.info(`cluster ${this.#options.what} owner gone; asking again`, { key, owner: owner.name, outcome, waiting: slot.inFlight.length + slot.waiting.length + 1 });
        slot.epoch++;
        if (slot.owner === owner) slot.owner = undefined;
        slot.waiting = [item, ...slot.inFlight.splice(0), ...slot.waiting];
        void this.claim(key);
      });
  }

  /**
   * Every heartbeat: the leases this node holds are extended (one it lost goes to whoever took
   * it), and keys unused for `idleMs` and not in use are forgotten, their leases given up.
   */
  async #renew(): Promise<void> {
    const self = this.#options.self();
    if (this.#renewing || self === undefined) return;
    this.#renewing = true;
    try {
      const idleBefore = Date.now() - this.#options.idleMs();
      const held: string[] = [];
      for (const [key, slot] of this.#slots) {
        const busy = slot.claiming !== undefined || slot.waiting.length > 0 || slot.inFlight.length > 0 || (slot.owner === 'here' && this.#options.inUse?.(key) === true);
        if (busy || slot.lastUsed > idleBefore) {
          if (slot.owner === 'here') held.push(key);
          continue;
        }
        this.#slots.delete(key);
        if (slot.owner === 'here') await this.#options.engine.releaseLease(this.#options.prefix + key, holderOf(self));
      }
      const lost = await this.#options.engine.renewLeases(held.map((key) => this.#options.prefix + key), holderOf(self), this.#options.cluster.lease_ms);
      for (const name of lost) {
        const key = name.slice(this.#options.prefix.length);
        const slot = this.#slots.get(key);
        if (slot?.owner === 'here') slot.owner = undefined;
        this.#options.logger.warn(`cluster ${this.#options.what} lease lost to another node`, { key });
        this.#options.lost?.(key);
      }
    } catch (error) {
      // Membership judges whether Redis is out of reach; a lease not extended lapses with the registration.
      this.#options.logger.debug(`cluster ${this.#options.what} leases not renewed`, { error: error instanceof Error ? error.message : String(error) });
    } finally {
      this.#renewing = false;
    }
  }

  /**
   * This node stopped being a live member (fenced, or leaving): it owns nothing any more; what
   * waits or is handed on finds the owner again once it joined again, or bounces meanwhile.
   */
  reset(): void {
    for (const slot of this.#slots.values()) slot.owner = undefined;
  }

  /** The keys this node knows the owner of, sorted. */
  owners(): OwnerRow[] {
    const rows: OwnerRow[] = [];
    for (const [key, { owner }] of this.#slots) if (owner !== undefined) rows.push({ key, owner: owner === 'here' ? 'here' : owner.name });
    return rows.sort((a, b) => a.key.localeCompare(b.key));
  }

  close(): void {
    clearInterval(this.#timer);
    this.reset();
  }
}

export const holderOf = (self: NodeIdentity): string => `${self.name}:${self.incarnation}`;

function parseHolder(holder: string): NodeIdentity {
  const at = holder.indexOf(':');
  return { name: holder.slice(0, at), incarnation: holder.slice(at + 1) };
}
