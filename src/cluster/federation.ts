/**
 * Federation shared by the nodes of a cluster (docs/cluster.md, "Federation"): one node at a
 * time sends to each remote destination (a remote domain, or the trunk it goes through), under
 * the lease `s2s:<destination>`, so that the cluster keeps one connection per peer where each node
 * would otherwise open its own. The first node that needs a destination claims its lease; the
 * others learn the holder and hand it their stanzas through its inbox, where what one node
 * appends is read in that order, so every sender's stanzas leave in the order they were sent.
 *
 * The lease of a node whose registration lapsed is free at once (it stopped acting on it by its
 * own clock before that), so when the owner dies the next stanza for the destination makes another
 * node claim it; what a node had handed to the dead owner and was refused (`gone`) waits, in
 * order, for the new owner, and what the dead owner's inbox still held is sent again by the
 * survivor that takes over after it (takeover.ts). A stanza no owner can be found for bounces.
 *
 * Dialback keys (XEP-0220 section 2.1.2) are checked on the owner's connection: a node that
 * receives a server's `<db:result/>` asks the owner, which asks the peer's authoritative server
 * and answers back. Keys this cluster made are checked by any node: the secret is shared.
 */
import { randomUUID } from 'node:crypto';
import type { ClusterConfig, S2sConfig } from '../config/types.ts';
import { attachReceipt, settleReceipt } from '../router/receipts.ts';
import type { Router } from '../router/router.ts';
import type { VerifyOutcome } from '../s2s/step-dialback-initiator.ts';
import { MAX_PENDING_VERIFIES } from '../s2s/step-dialback-initiator.ts';
import type { Logger } from '../util/log.ts';
import type { Element } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { serialize } from '../xml/serialize.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import type { ClusterEngine, InboxEntry, NodeIdentity } from './engine.ts';
import type { HoldEntry } from './inbox-reader.ts';

/** Nodes a stanza may be handed through before it bounces: more means the nodes disagree on the owner. */
const MAX_HOPS = 3;

/** What the owner does with a destination on this node (s2s/service.ts). */
export interface LocalFederation {
  sendHere(remote: string, stanza: Element, local: string): void;
  verifyHere(sender: string, receiving: string, streamId: string, key: string): Promise<VerifyOutcome>;
}

export interface ClusterFederationOptions {
  engine: ClusterEngine;
  /** this node while it is a live member of the cluster; undefined while it is fenced or rejoining */
  self(): NodeIdentity | undefined;
  local: LocalFederation;
  router: Router;
  cluster: ClusterConfig;
  s2s: S2sConfig;
  logger: Logger;
}

interface Outgoing {
  stanza: Element;
  local: string;
  hops: number;
}

/** One destination as this node sees it. */
interface Destination {
  /** who sends to it: this node, another, or not known yet */
  owner: NodeIdentity | 'here' | undefined;
  /** the claim under way */
  claiming: Promise<void> | undefined;
  /** stanzas waiting for an owner, in the order they were sent */
  waiting: Outgoing[];
  /** stanzas being appended to the owner's inbox, in order; their answers come back in that order */
  inFlight: Outgoing[];
  /** bumped when the owner turned out to be gone: answers about earlier appends are no longer awaited */
  epoch: number;
  lastUsed: number;
}

export interface FederationOwnerInfo {
  /** the destination (a remote domain, or a trunk) */
  remote: string;
  /** the node holding its lease, as this node last learnt it; `here` for this node */
  owner: string;
}

export class ClusterFederation {
  readonly #options: ClusterFederationOptions;
  readonly #destinations = new Map<string, Destination>();
  readonly #verifies = new Map<string, { resolve(outcome: VerifyOutcome): void; timer: NodeJS.Timeout }>();
  readonly #timer: NodeJS.Timeout;
  #renewing = false;

  constructor(options: ClusterFederationOptions) {
    this.#options = options;
    this.#timer = setInterval(() => void this.#renew(), options.cluster.heartbeat_interval_ms);
    this.#timer.unref();
  }

  /** A stanza for the destination `remote` from the local domain `local` (s2s/service.ts `FederationOwners`). */
  send(remote: string, stanza: Element, local: string, hops = 0): void {
    const destination = this.#destination(remote);
    destination.lastUsed = Date.now();
    if (destination.owner === 'here') {
      if (this.#options.self() !== undefined) return this.#options.local.sendHere(remote, stanza, local);
      // Past its lease by its own clock: another node may hold the lease by now.
      destination.owner = undefined;
    }
    const outgoing = { stanza, local, hops };
    if (destination.owner !== undefined && destination.waiting.length === 0) return this.#forward(remote, destination, outgoing);
    if (destination.waiting.length >= this.#options.s2s.queue_max_stanzas) {
      return this.#options.router.bounce(stanza, new StanzaError('resource-constraint', `too many stanzas waiting for ${remote}`));
    }
    destination.waiting.push(outgoing);
    void this.#claim(remote, destination);
  }

  /** A dialback key to check with `sender`'s authoritative server, on the connection of the node that federates with it. */
  verify(sender: string, receiving: string, streamId: string, key: string): Promise<VerifyOutcome> {
    return this.#verify(sender, receiving, streamId, key, false);
  }

  async #verify(sender: string, receiving: string, streamId: string, key: string, forwarded: boolean): Promise<VerifyOutcome> {
    const destination = this.#destination(sender);
    destination.lastUsed = Date.now();
    if (destination.owner === undefined) await this.#claim(sender, destination);
    const owner = destination.owner;
    if (owner === 'here') return this.#options.local.verifyHere(sender, receiving, streamId, key);
    const self = this.#options.self();
    // A node asked by another that does not own the destination either: the nodes disagree for a moment; the peer may try again.
    if (owner === undefined || self === undefined || forwarded) return 'error';
    if (this.#verifies.size >= MAX_PENDING_VERIFIES) return 'busy';
    const id = randomUUID();
    const answer = new Promise<VerifyOutcome>((resolve) => {
      const timer = setTimeout(() => this.#answered(id, 'error'), this.#options.s2s.negotiation_timeout * 1000);
      this.#verifies.set(id, { resolve, timer });
    });
    const entry: InboxEntry = { kind: 'dialback-verify', id, remote: sender, receiving, streamId, key };
    const outcome = await this.#options.engine.send(self, owner, entry, Number.MAX_SAFE_INTEGER).catch(() => 'failed');
    if (outcome !== 'sent') {
      if (destination.owner === owner) destination.owner = undefined;
      this.#answered(id, 'error');
    }
    return answer;
  }

  #answered(id: string, outcome: VerifyOutcome): void {
    const waiting = this.#verifies.get(id);
    if (waiting === undefined) return;
    this.#verifies.delete(id);
    clearTimeout(waiting.timer);
    waiting.resolve(outcome);
  }

  /**
   * An entry of this node's inbox about federation (cluster/node.ts). A stanza's entry is held in
   * the inbox until the stanza is safe (router/receipts.ts): written to the peer's socket, or
   * acknowledged by a peer that acknowledges stanzas (XEP-0198), or handed to another node's
   * inbox, or bounced. If this node dies first, the survivor that takes over sends it again.
   */
  receive(from: NodeIdentity, entry: InboxEntry, hold: HoldEntry): void {
    switch (entry.kind) {
      case 's2s': {
        const stanza = parseElement(entry.xml);
        if (entry.hops >= MAX_HOPS) {
          this.#options.logger.warn('cluster nodes disagree on who federates with a domain', { remote: entry.remote, hops: entry.hops });
          return this.#options.router.bounce(stanza, new StanzaError('remote-server-timeout', `no node of this cluster took ${entry.remote} on`));
        }
        attachReceipt(stanza, hold());
        this.#staleOwner(entry.remote);
        return this.send(entry.remote, stanza, entry.local, entry.hops + 1);
      }
      case 'dialback-verify': {
        this.#staleOwner(entry.remote);
        void this.#verify(entry.remote, entry.receiving, entry.streamId, entry.key, true).then(async (outcome) => {
          const self = this.#options.self();
          if (self === undefined) return;
          await this.#options.engine.send(self, from, { kind: 'dialback-verified', id: entry.id, outcome }, Number.MAX_SAFE_INTEGER);
        }).catch((error: unknown) => this.#options.logger.warn('cluster dialback answer not handed back', { to: from.name, error: error instanceof Error ? error.message : String(error) }));
        return;
      }
      case 'dialback-verified':
        return this.#answered(entry.id, entry.outcome);
      default:
        return;
    }
  }

  /** Another node handed this node a destination it believes this node owns: unless it does, whoever holds the lease is asked again. */
  #staleOwner(remote: string): void {
    const destination = this.#destination(remote);
    if (destination.owner !== 'here') destination.owner = undefined;
  }

  /** Stanzas a dead node's inbox held for a destination (takeover.ts): sent again, by whichever node owns it now. */
  resend(entry: Extract<InboxEntry, { kind: 's2s' }>): void {
    this.send(entry.remote, parseElement(entry.xml), entry.local, entry.hops);
  }

  #destination(remote: string): Destination {
    let destination = this.#destinations.get(remote);
    if (destination === undefined) this.#destinations.set(remote, (destination = { owner: undefined, claiming: undefined, waiting: [], inFlight: [], epoch: 0, lastUsed: Date.now() }));
    return destination;
  }

  /** Learns (or becomes) the owner of a destination, then sends what waited for it, in order; on failure what waited bounces. */
  #claim(remote: string, destination: Destination): Promise<void> {
    destination.claiming ??= this.#claimOnce(remote, destination).finally(() => (destination.claiming = undefined));
    return destination.claiming;
  }

  async #claimOnce(remote: string, destination: Destination): Promise<void> {
    const { engine, cluster, logger } = this.#options;
    const self = this.#options.self();
    let owner: NodeIdentity | 'here';
    try {
      if (self === undefined) throw new Error('this node is rejoining its cluster');
      const holder = await engine.claimLease(leaseName(remote), holderOf(self), cluster.lease_ms);
      if (this.#options.self() !== self) throw new Error('this node left its cluster meanwhile');
      owner = holder === holderOf(self) ? 'here' : parseHolder(holder);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      logger.warn('cluster federation owner not found', { remote, error: reason, bounced: destination.waiting.length });
      for (const { stanza } of destination.waiting.splice(0)) this.#options.router.bounce(stanza, new StanzaError('remote-server-timeout', `no node of this cluster could take ${remote} on: ${reason}`));
      return;
    }
    destination.owner = owner;
    logger.info('cluster federation owner', { remote, owner: owner === 'here' ? cluster.node : owner.name });
    for (const outgoing of destination.waiting.splice(0)) {
      if (owner === 'here') this.#options.local.sendHere(remote, outgoing.stanza, outgoing.local);
      else this.#forward(remote, destination, outgoing);
    }
  }

  /** Appends a stanza to the owner's inbox; when the owner is gone, it and what followed it wait for the next owner, in order. */
  #forward(remote: string, destination: Destination, outgoing: Outgoing): void {
    const self = this.#options.self();
    const owner = destination.owner;
    if (self === undefined || owner === undefined || owner === 'here') {
      destination.waiting.push(outgoing);
      return void this.#claim(remote, destination);
    }
    destination.inFlight.push(outgoing);
    const epoch = destination.epoch;
    const entry: InboxEntry = { kind: 's2s', remote, local: outgoing.local, xml: serialize(outgoing.stanza), hops: outgoing.hops };
    this.#options.engine
      .send(self, owner, entry, this.#options.cluster.inbox_max_entries)
      .catch((error: unknown) => (error instanceof Error ? error.message : String(error)))
      .then((outcome) => {
        if (epoch !== destination.epoch) return;
        destination.inFlight.shift();
        // In the owner's inbox now: an entry it came from here may go (router/receipts.ts).
        if (outcome === 'sent') return settleReceipt(outgoing.stanza);
        if (outcome === 'full') return this.#options.router.bounce(outgoing.stanza, new StanzaError('resource-constraint', `the node that federates with ${remote} has too much waiting`));
        this.#options.logger.info('cluster federation owner gone; asking again', { remote, owner: owner.name, outcome, waiting: destination.inFlight.length + destination.waiting.length + 1 });
        destination.epoch++;
        if (destination.owner === owner) destination.owner = undefined;
        destination.waiting = [outgoing, ...destination.inFlight.splice(0), ...destination.waiting];
        void this.#claim(remote, destination);
      });
  }

  /**
   * Every heartbeat: the leases this node holds are extended (one it lost goes to whoever took
   * it), and destinations unused for `s2s.idle_timeout` are forgotten, their leases given up.
   */
  async #renew(): Promise<void> {
    const self = this.#options.self();
    if (this.#renewing || self === undefined) return;
    this.#renewing = true;
    try {
      const idleBefore = Date.now() - this.#options.s2s.idle_timeout * 1000;
      const held: string[] = [];
      for (const [remote, destination] of this.#destinations) {
        const busy = destination.claiming !== undefined || destination.waiting.length > 0 || destination.inFlight.length > 0;
        if (busy || destination.lastUsed > idleBefore) {
          if (destination.owner === 'here') held.push(remote);
          continue;
        }
        this.#destinations.delete(remote);
        if (destination.owner === 'here') await this.#options.engine.releaseLease(leaseName(remote), holderOf(self));
      }
      const lost = await this.#options.engine.renewLeases(held.map(leaseName), holderOf(self), this.#options.cluster.lease_ms);
      for (const name of lost) {
        const remote = name.slice(LEASE_PREFIX.length);
        const destination = this.#destinations.get(remote);
        if (destination?.owner === 'here') destination.owner = undefined;
        this.#options.logger.warn('cluster federation lease lost to another node', { remote });
      }
    } catch (error) {
      // Membership judges whether Redis is out of reach; a lease not extended lapses with the registration.
      this.#options.logger.debug('cluster federation leases not renewed', { error: error instanceof Error ? error.message : String(error) });
    } finally {
      this.#renewing = false;
    }
  }

  /**
   * This node stopped being a live member (fenced, or leaving): it owns nothing any more; what
   * waits or is handed on finds the owner again once it joined again, or bounces meanwhile.
   */
  reset(): void {
    for (const destination of this.#destinations.values()) destination.owner = undefined;
    for (const id of [...this.#verifies.keys()]) this.#answered(id, 'error');
  }

  /** The destinations this node knows the owner of, for `trellis status` and the admin API. */
  owners(): FederationOwnerInfo[] {
    const rows: FederationOwnerInfo[] = [];
    for (const [remote, { owner }] of this.#destinations) if (owner !== undefined) rows.push({ remote, owner: owner === 'here' ? 'here' : owner.name });
    return rows.sort((a, b) => a.remote.localeCompare(b.remote));
  }

  close(): void {
    clearInterval(this.#timer);
    this.reset();
  }
}

const LEASE_PREFIX = 's2s:';
const leaseName = (remote: string): string => `${LEASE_PREFIX}${remote}`;
const holderOf = (self: NodeIdentity): string => `${self.name}:${self.incarnation}`;

function parseHolder(holder: string): NodeIdentity {
  const at = holder.indexOf(':');
  return { name: holder.slice(0, at), incarnation: holder.slice(at + 1) };
}
