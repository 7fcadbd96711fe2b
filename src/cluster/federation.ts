/**
 * Federation shared by the nodes of a cluster (docs/cluster.md, "Federation"): one node at a
 * time sends to each remote host (where `s2s.multiplex` shares a connection among the domains of
 * a host, `s2s-host:<host>:<port>`) or else to each remote destination (a remote domain, or the
 * trunk it goes through, `s2s:<destination>`), under that lease (leased-routing.ts,
 * connection-keys.ts), so that the cluster keeps one connection per peer host where each node
 * would otherwise open its own, and every sender's stanzas leave in the order they were sent. What the dead owner's inbox still held is sent again by the survivor that
 * takes over after it (takeover.ts).
 *
 * Dialback keys (XEP-0220 section 2.1.2) are checked on the owner's connection: a node that
 * receives a server's `<db:result/>` asks the owner, which asks the peer's authoritative server
 * and answers back. Keys this cluster made are checked by any node: the secret is shared.
 */
import { randomUUID } from 'node:crypto';
import type { ClusterConfig, S2sConfig } from '../config/types.ts';
import { attachReceipt } from '../router/receipts.ts';
import type { Router } from '../router/router.ts';
import type { VerifyOutcome } from '../s2s/step-dialback-initiator.ts';
import { MAX_PENDING_VERIFIES } from '../s2s/step-dialback-initiator.ts';
import type { Logger } from '../util/log.ts';
import type { Element } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { serialize } from '../xml/serialize.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import type { ClusterEngine, InboxEntry, NodeIdentity } from './engine.ts';
import { ConnectionKeys, type SharedHop } from './connection-keys.ts';
import { LeasedRouting, type Handed } from './leased-routing.ts';
import type { HoldEntry } from './inbox-reader.ts';

/** What the owner does with a destination on this node (s2s/service.ts). */
export interface LocalFederation {
  sendHere(remote: string, stanza: Element, local: string): void;
  verifyHere(sender: string, receiving: string, streamId: string, key: string): Promise<VerifyOutcome>;
  /** where the connection to a destination goes first, when it may be shared with other domains of that host */
  sharedHop(remote: string): Promise<SharedHop>;
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

interface Outgoing extends Handed {
  /** the destination (a remote domain, or a trunk) */
  remote: string;
  local: string;
}

export interface FederationOwnerInfo {
  /** the remote host (`host:port`) or destination (a remote domain, or a trunk) it owns */
  remote: string;
  /** the node holding its lease, as this node last learnt it; `here` for this node */
  owner: string;
}

export class ClusterFederation {
  readonly #options: ClusterFederationOptions;
  readonly #routing: LeasedRouting<Outgoing>;
  readonly #keys: ConnectionKeys;
  readonly #verifies = new Map<string, { resolve(outcome: VerifyOutcome): void; timer: NodeJS.Timeout }>();

  constructor(options: ClusterFederationOptions) {
    this.#options = options;
    const { s2s } = options;
    this.#routing = new LeasedRouting<Outgoing>({
      ...options,
      what: 'federation',
      // The keys carry their own prefix (connection-keys.ts).
      prefix: '',
      here: (_key, { remote, stanza, local }) => options.local.sendHere(remote, stanza, local),
      entry: (_key, { remote, stanza, local, hops }) => ({ kind: 's2s', remote, local, xml: serialize(stanza), hops }),
      maxWaiting: () => s2s.queue_max_stanzas,
      idleMs: () => s2s.idle_timeout * 1000,
      unreachable: (remote, reason) => new StanzaError('remote-server-timeout', `no node of this cluster could take ${remote} on: ${reason}`),
      full: (remote) => new StanzaError('resource-constraint', `too many stanzas waiting for ${remote}`),
    });
    this.#keys = new ConnectionKeys({ sharedHop: (remote) => options.local.sharedHop(remote), maxWaiting: () => s2s.queue_max_stanzas, logger: options.logger });
  }

  /** A stanza for the destination `remote` from the local domain `local` (s2s/service.ts `FederationOwners`). */
  send(remote: string, stanza: Element, local: string, hops = 0): void {
    const item = { remote, stanza, local, hops };
    if (!this.#keys.with(remote, (key) => this.#routing.send(key, item))) this.#busy(item);
  }

  /** Too many stanzas wait for their destinations' hosts to be looked up. */
  #busy({ remote, stanza }: Outgoing): void {
    this.#options.router.bounce(stanza, new StanzaError('resource-constraint', `too many stanzas waiting for ${remote}`));
  }

  /** A dialback key to check with `sender`'s authoritative server, on the connection of the node that federates with it. */
  verify(sender: string, receiving: string, streamId: string, key: string): Promise<VerifyOutcome> {
    return this.#verify(sender, receiving, streamId, key, false);
  }

  async #verify(sender: string, receiving: string, streamId: string, key: string, forwarded: boolean): Promise<VerifyOutcome> {
    // The owner of the connection to the sender's host, or of the sender's own (connection-keys.ts).
    const lease = await this.#keys.keyOf(sender);
    if (lease === undefined) return 'busy';
    // Handed by another node that believes this one owns it: unless it does, whoever holds the lease is asked again.
    if (forwarded) this.#routing.stale(lease);
    const owner = await this.#routing.owner(lease);
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
      this.#routing.forget(lease, owner);
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
        attachReceipt(stanza, hold());
        const item = { remote: entry.remote, stanza, local: entry.local, hops: entry.hops };
        if (!this.#keys.with(entry.remote, (key) => this.#routing.handOn(key, item))) this.#busy(item);
        return;
      }
      case 'dialback-verify': {
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

  /** Stanzas a dead node's inbox held for a destination (takeover.ts): sent again, by whichever node owns it now. */
  resend(entry: Extract<InboxEntry, { kind: 's2s' }>): void {
    this.send(entry.remote, parseElement(entry.xml), entry.local, entry.hops);
  }

  /**
   * This node stopped being a live member (fenced, or leaving): it owns nothing any more; what
   * waits or is handed on finds the owner again once it joined again, or bounces meanwhile.
   */
  reset(): void {
    this.#routing.reset();
    for (const id of [...this.#verifies.keys()]) this.#answered(id, 'error');
  }

  /** The remote hosts and destinations this node knows the owner of, for `trellis status` and the admin API. */
  owners(): FederationOwnerInfo[] {
    return this.#routing.owners().map(({ key, owner }) => ({ remote: ConnectionKeys.label(key), owner }));
  }

  close(): void {
    this.#routing.close();
    this.reset();
  }
}
