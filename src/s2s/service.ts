/**
 * Federation: the server listeners, the router's remote route, and the two tables every
 * server connection is entered in (the connection table: what each peer proved; the binding
 * table: which connections carry each pair of domains). Outgoing connections are also kept by
 * next hop, so that a domain served by a host we are connected to can use that connection.
 */
import type { Socket } from 'node:net';
import type { ListenerConfig } from '../config/types.ts';
import { listen, type BoundAddress, type Listener } from '../net/listener.ts';
import type { Jid } from '../jid/jid.ts';
import type { RemoteRoute } from '../router/router.ts';
import type { Element } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { BindingTable, type Pair } from './binding-table.ts';
import { connectionInfo, pairInfo } from './connection-info.ts';
import { ConnectionTable } from './connection-table.ts';
import { connectToHop, hopOf, nextHops } from './connector.ts';
import { stanzaErrorOf } from '../policy/verdict.ts';
import type { ServerTarget } from '../net/dns.ts';
import type { OutputBudget } from '../net/output-budget.ts';
import { answersFor, type S2sConnectionInfo, type S2sContext, type S2sPairInfo } from './context.ts';
import type { TrackedStanza } from './delivery-tracker.ts';
import { Destination, type Hops, type ResendCounters } from './destination.ts';
import { LinkKeepalives } from './link-profile.ts';
import { PairCounters } from './pair-counters.ts';
import type { PairProof } from './pair-proof.ts';
import { ServerConnection, type ConnectionOwner } from './server-connection.ts';
import { HostNamedRefusals } from './step-host-named.ts';
import type { VerifyOutcome } from './step-dialback-initiator.ts';

const SWEEP_INTERVAL_MS = 1000;

/**
 * Which node of a cluster sends to a remote domain (docs/cluster.md, "Federation"): one at a
 * time, so that the cluster keeps one connection per peer; the others hand it their stanzas.
 */
export interface FederationOwners {
  /** A stanza for the destination `remote` from the local domain `local`: sent by the owner (`sendHere` when it is this node). */
  send(remote: string, stanza: Element, local: string): void;
  /** A dialback key to check with `sender`'s authoritative server, on the owner's connection to it (`verifyHere` when it is this node). */
  verify(sender: string, receiving: string, streamId: string, key: string): Promise<VerifyOutcome>;
}

export class S2sService implements RemoteRoute, ConnectionOwner, Hops {
  readonly context: S2sContext;
  readonly connectionTable = new ConnectionTable();
  readonly bindingTable = new BindingTable<PairProof>();
  readonly pairCounters = new PairCounters();
  /** stanzas a dropped connection had not confirmed: sent again, or bounced */
  readonly resends: ResendCounters = { resent: 0, bounced: 0 };
  /** the node that federates with each remote domain, when several nodes serve these hosts (docs/cluster.md) */
  owners: FederationOwners | undefined;

  /** bytes held for peers until they have them, and stanzas bounced for want of room (s2s.output) */
  get output(): OutputBudget {
    return this.context.output;
  }
  /** every live connection, by id, with the listener's admission for those the peer opened */
  readonly #live = new Map<string, { connection: ServerConnection; release?: () => void }>();
  /** connections we opened, by the hop (host and port) they reached */
  readonly #byHop = new Map<string, Set<ServerConnection>>();
  /** connections we opened that have not settled yet (no pair ready, refused or closed), and what settles them */
  readonly #settling = new Map<ServerConnection, PromiseWithResolvers<void>>();
  /** connection attempts under way (DNS answered, TCP not yet), by the hops they may reach */
  readonly #attempts = new Map<string, Promise<void>>();
  readonly #destinations = new Map<string, Destination>();
  /** host-named connections, both directions, and those we opened that are still trying host names */
  readonly #hostConnections = new Set<ServerConnection>();
  /** peers that did not take a host-named stream: standard streams with them for a while */
  readonly #refusals: HostNamedRefusals;
  /** hops (of a remote domain's first target) a connection that may become host-named is being opened to */
  #listeners: Listener[] = [];
  /** whitespace keepalives on the streams of links of protocol s2s */
  readonly #keepalives = new LinkKeepalives();
  #sweeper: NodeJS.Timeout;

  constructor(context: S2sContext) {
    this.context = context;
    this.#refusals = new HostNamedRefusals(context.logger);
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
  }

  async listen(starttls: ListenerConfig, directTls: ListenerConfig): Promise<{ starttls: BoundAddress[]; directTls: BoundAddress[] }> {
    const result = { starttls: [] as BoundAddress[], directTls: [] as BoundAddress[] };
    if (starttls.enabled) {
      const listener = await listen(starttls.addresses, starttls.port, (socket) => this.#accept(socket), undefined, { acceptError: this.#acceptFailed });
      this.#listeners.push(listener);
      result.starttls = listener.addresses;
    }
    if (directTls.enabled) {
      // XEP-0368 section 3: ALPN "xmpp-server"; the initiator's certificate is requested.
      const options = this.context.tls.serverOptions({ ALPNProtocols: ['xmpp-server'], requestCert: true, rejectUnauthorized: false });
      const listener = await listen(directTls.addresses, directTls.port, (socket) => this.#accept(socket), options, { acceptError: this.#acceptFailed, screen: (socket) => this.context.limits.screen('s2s', socket) });
      this.#listeners.push(listener);
      result.directTls = listener.addresses;
    }
    return result;
  }

  #acceptFailed = (error: NodeJS.ErrnoException): void => this.context.limits.acceptFailed('s2s', error);

  #accept(socket: Socket): void {
    // Bans, the process guard and the per-address limit (src/limits).
    const ticket = this.context.limits.admit('s2s', socket);
    if (!ticket) return;
    const connection = new ServerConnection(socket, this.context, this);
    this.#live.set(connection.id, { connection, release: () => ticket.release() });
  }

  // --- the send path ---------------------------------------------------------------------------

  /** The router's remote route: every stanza for a domain we do not host. */
  send(stanza: Element, from: Jid, to: Jid): void {
    const router = this.context.router;
    if (!this.context.config.enabled) {
      return router.bounce(stanza, new StanzaError('remote-server-not-found', 'this server does not federate'));
    }
    const way = this.context.policy.current.route(to.domain);
    if (way.kind === 'reject') {
      this.context.logger.info('s2s outgoing stanza refused by its route', { to: to.domain, from: from.toString(), rule: way.rule });
      return router.bounce(stanza, stanzaErrorOf(way));
    }
    // Relayed (docs/peering.md, "Trunks and relaying"): a sender's domain not hosted here goes on
    // this server's own pair, and a domain behind a trunk on the pair with the trunk peer. A
    // fronted sender's domain goes on its own pair: this server authenticates as it ("Fronting a
    // plain peer").
    const policy = this.context.policy.current;
    const local = answersFor(this.context, from.domain) ? from.domain : policy.relayDomain;
    if (local === undefined) return router.bounce(stanza, new StanzaError('remote-server-not-found', 'this server hosts no domain to relay as'));
    const remote = policy.trunkFor(to.domain) ?? to.domain;
    if (this.owners) return this.owners.send(remote, stanza, local);
    this.sendHere(remote, stanza, local);
  }

  /** Sends a stanza to the destination `remote` (a remote domain or the trunk it goes through) from this server. */
  sendHere(remote: string, stanza: Element, local: string): void {
    this.#destination(remote).send(stanza, local);
  }

  /**
   * The host and port (`host:port`) a connection to the destination `remote` goes to first, as
   * `connect` finds it (its route, then `nextHops`): where `s2s.multiplex` lets one connection
   * carry several remote domains of a host, what a cluster keeps one connection under
   * (docs/cluster.md, "Federation"). A string saying why not when no connection is shared that
   * way: multiplexing is off, the destination is a trunk or a link, or no next hop was found.
   */
  async sharedHop(remote: string): Promise<{ hop: string } | { reason: string }> {
    if (!this.context.config.multiplex) return { reason: 's2s.multiplex is off' };
    const policy = this.context.policy.current;
    if (policy.isTrunk(remote)) return { reason: 'it is a trunk' };
    const way = policy.route(remote);
    if (way.kind === 'reject') return { reason: 'its route rejects it' };
    if (way.via.kind === 'link') return { reason: `it is routed over the link ${way.via.link}` };
    const targets = await nextHops(remote, way.via, this.context);
    if (targets instanceof StanzaError) return { reason: targets.message };
    return { hop: hopOf(targets[0]!) };
  }

  /** Opens (or keeps) the pair of a local and a remote domain with nothing to send yet: a link of protocol s2s coming up. */
  open(local: string, remote: string): void {
    if (this.context.config.enabled) this.#destination(remote).open(local);
  }

  #destination(domain: string): Destination {
    let destination = this.#destinations.get(domain);
    if (!destination) this.#destinations.set(domain, (destination = new Destination(domain, this)));
    return destination;
  }

  route(pair: Pair): ServerConnection | undefined {
    const id = this.bindingTable.route(pair);
    return id === undefined ? undefined : this.#live.get(id)?.connection;
  }

  /**
   * RFC 6120 section 3.2: the next hop for the remote domain, as its route says (src/policy);
   * a connection already there is used when it may carry the pair, unless `s2s.multiplex` is off.
   */
  async connect(pair: Pair, own = false): Promise<ServerConnection | StanzaError> {
    const way = this.context.policy.current.route(pair.remote);
    if (way.kind === 'reject') return stanzaErrorOf(way);
    // Routed directly: a connection the peer opened may do, with no DNS lookup (reverse-pairs.ts).
    const openedByPeer = !own && way.via.kind === 'direct' && this.context.config.multiplex ? this.#openedByPeer(pair.remote) : undefined;
    if (openedByPeer) return openedByPeer;
    const targets = await nextHops(pair.remote, way.via, this.context);
    if (targets instanceof StanzaError) return targets;
    if (this.context.config.multiplex) {
      // Attempts and connections to these hops still being set up are waited for first, so that
      // domains of one host asked for at once share a connection instead of each opening one; a
      // hop whose first connection hangs holds the others up to s2s.negotiation_timeout.
      for (;;) {
        for (let pending = this.#settlingTo(targets); pending.length > 0; pending = this.#settlingTo(targets)) await Promise.all(pending);
        if (own || this.#hostConnections.size === 0) break;
        const hostNamed = await this.#hostConnection(targets, pair.remote);
        if (hostNamed) return hostNamed;
        // Looking waited: what another domain started meanwhile is waited for again.
        if (this.#settlingTo(targets).length === 0) break;
      }
      const reused = this.#carrying(targets, pair, own);
      if (reused) return reused;
    }
    // From the last check to the attempt's entry nothing waits: another domain for these hops sees it.
    const attempt = Promise.withResolvers<void>();
    const hops = targets.map(hopOf);
    for (const hop of hops) this.#attempts.set(hop, attempt.promise);
    const connected = await connectToHop(targets, pair.remote, pair.local, this.context);
    for (const hop of hops) if (this.#attempts.get(hop) === attempt.promise) this.#attempts.delete(hop);
    attempt.resolve();
    if (connected instanceof StanzaError) return connected;
    const hop = hopOf(connected.target);
    // Host names are tried on a shared connection (not one for a domain's own certificate), never with direct TLS (no features before it).
    const tryHostNames = !own && way.via.kind !== 'link' && this.context.config.multiplex && this.context.hostName !== undefined && !connected.target.directTls && this.#refusals.allows(hop);
    const connection = new ServerConnection(connected.socket, this.context, this, { pair, target: connected.target, hostNamed: tryHostNames });
    this.#live.set(connection.id, { connection });
    this.#settling.set(connection, Promise.withResolvers<void>());
    if (tryHostNames) this.#hostConnections.add(connection);
    let connections = this.#byHop.get(hop);
    if (!connections) this.#byHop.set(hop, (connections = new Set()));
    connections.add(connection);
    return connection;
  }

  /**
   * Draft-ietf-xmpp-dna-01 section 5 step 3: a host-named connection whose peer's certificate proves
   * one of the remote domain's SRV targets (or one we opened to its hop) carries its pairs, in
   * either direction; one still trying host names to that hop is waited for first.
   */
  async #hostConnection(targets: readonly ServerTarget[], remote: string): Promise<ServerConnection | undefined> {
    for (const target of targets) {
      for (const connection of [...this.#hostConnections]) {
        if (!connection.reaches(target)) continue;
        if ((connection.hostNamed || (await connection.hostNamedSettled)) && connection.canCarry(remote)) return connection;
      }
    }
    return undefined;
  }

  /**
   * A bidi connection a peer opened that takes our pair requests and whose certificate names
   * `remote` (XEP-0288 section 2.2, RFC 7712 section 4.4.2): the oldest, so that pairs gather on one.
   */
  #openedByPeer(remote: string): ServerConnection | undefined {
    for (const { connection } of this.#live.values()) if (connection.direction === 'in' && connection.canCarry(remote)) return connection;
    return undefined;
  }

  /** Connection attempts and connections to these hops that have not settled yet. */
  #settlingTo(targets: readonly ServerTarget[]): Promise<void>[] {
    const pending = targets.flatMap((target) => [this.#attempts.get(hopOf(target)), ...[...(this.#byHop.get(hopOf(target)) ?? [])].map((connection) => this.#settling.get(connection)?.promise)]);
    return pending.filter((promise) => promise !== undefined);
  }

  /** A connection already open to one of the remote domain's hops that may carry the pair (RFC 7712 section 4.4). */
  #carrying(targets: readonly ServerTarget[], pair: Pair, own: boolean): ServerConnection | undefined {
    for (const target of targets) {
      for (const connection of this.#byHop.get(hopOf(target)) ?? []) {
        if (connection.canCarry(pair.remote) && (!own || connection.presentsFor(pair.local))) return connection;
      }
    }
    return undefined;
  }

  // --- what connections report -----------------------------------------------------------------

  hostNamedReady(connection: ServerConnection): void {
    this.#hostConnections.add(connection);
  }

  hostNamedRefused(connection: ServerConnection, reason: string): void {
    this.#hostConnections.delete(connection);
    if (connection.target) this.#refusals.refused(hopOf(connection.target), reason);
  }

  pairReady(connection: ServerConnection, pair: Pair): void {
    this.#settled(connection);
    this.#destination(pair.remote).pairReady(connection, pair.local);
  }

  pairFailed(connection: ServerConnection, pair: Pair, error: StanzaError): void {
    this.#settled(connection);
    this.#destination(pair.remote).pairFailed(connection, pair.local, error);
  }

  #settled(connection: ServerConnection): void {
    this.#settling.get(connection)?.resolve();
    this.#settling.delete(connection);
  }

  verify(sender: string, receiving: string, streamId: string, key: string): Promise<VerifyOutcome> {
    return this.owners ? this.owners.verify(sender, receiving, streamId, key) : this.verifyHere(sender, receiving, streamId, key);
  }

  /** Asks `sender`'s authoritative server about a dialback key from this server (XEP-0220 section 2.1.2). */
  verifyHere(sender: string, receiving: string, streamId: string, key: string): Promise<VerifyOutcome> {
    return this.#destination(sender).verify(receiving, streamId, key);
  }

  closed(connection: ServerConnection, error: StanzaError, unconfirmed: TrackedStanza[]): void {
    const live = this.#live.get(connection.id);
    this.#live.delete(connection.id);
    this.#hostConnections.delete(connection);
    this.#settled(connection);
    live?.release?.();
    const hop = connection.target && hopOf(connection.target);
    if (hop && this.#byHop.get(hop)?.delete(connection) && this.#byHop.get(hop)!.size === 0) this.#byHop.delete(hop);
    const byRemote = Map.groupBy(unconfirmed, (tracked) => tracked.pair.remote);
    // Nothing lost: what the peer did not confirm goes back to its remote domain's entry, made anew if need be.
    for (const remote of byRemote.keys()) this.#destination(remote);
    for (const destination of this.#destinations.values()) destination.closed(connection, error, byRemote.get(destination.domain) ?? []);
  }

  sendBack(pair: Pair, stanza: Element): boolean {
    const connection = this.route(pair);
    connection?.sendStanza(stanza, pair);
    return connection !== undefined;
  }

  // --- administration --------------------------------------------------------------------------

  /** Revokes the pair (local, remote) on every connection that carries it inbound with per-pair authorization; returns how many. */
  revokePair(pair: Pair): number {
    return [...this.#live.values()].filter(({ connection }) => connection.revoke(pair)).length;
  }

  /** Closes incoming connections from addresses `covered` accepts (a new ban); returns how many. */
  closeFromAddresses(covered: (address: string) => boolean, text: string): number {
    return this.#closeWhere((connection) => connection.direction === 'in' && covered(connection.stream.remoteAddress), text);
  }

  /** Closes every connection to or from a remote domain, or carrying a pair with it (a new block); returns how many. */
  closeDomain(domain: string, text: string): number {
    return this.closeDomains((remote) => remote === domain, text);
  }

  /** Closes every connection to or from a remote domain `covered` accepts, or carrying a pair with one (a changed link); returns how many. */
  closeDomains(covered: (domain: string) => boolean, text: string): number {
    return this.#closeWhere((connection) => (connection.remoteDomain !== undefined && covered(connection.remoteDomain)) || this.bindingTable.pairsOf(connection.id).some((pair) => covered(pair.remote)), text);
  }

  /** A block lifted: the domain is tried at once, not after the backoff its refused attempts left. */
  reopenDomain(domain: string): void {
    this.#destinations.get(domain)?.retryNow();
  }

  #closeWhere(chosen: (connection: ServerConnection) => boolean, text: string): number {
    let closed = 0;
    for (const { connection } of [...this.#live.values()]) {
      if (connection.stream.closing || !chosen(connection)) continue;
      connection.close('policy-violation', text);
      closed++;
    }
    return closed;
  }

  /**
   * After a new policy snapshot (`trellis reload`): every connection is asked again, as the
   * connection and each pair it carries; one no longer allowed ends with policy-violation (or
   * host-unknown when one of its pairs is for a domain no longer hosted or fronted here), its
   * stanzas going back to their destinations, and the others stay up. Returns how many ended.
   */
  enforcePolicy(): number {
    const policy = this.context.policy.current;
    let closed = 0;
    for (const { connection } of [...this.#live.values()]) {
      if (connection.stream.closing) continue;
      const address = connection.remoteAddress;
      const verdicts = [
        policy.connection({ domain: connection.remoteDomain, address, direction: connection.direction }),
        ...this.bindingTable.pairsOf(connection.id).map((binding) => policy.authenticate({ local: binding.local, remote: binding.remote, address, reached: binding.proof.level, method: binding.proof.method, tls: connection.secure })),
      ];
      const refusal = verdicts.find((verdict) => verdict.kind !== 'continue');
      // A pair for a domain no longer hosted or fronted here (a rule that lost its front) ends with it (RFC 6120 section 4.9.3.6).
      const gone = refusal ? undefined : this.bindingTable.pairsOf(connection.id).find((binding) => !answersFor(this.context, binding.local))?.local;
      if (!refusal && gone === undefined) continue;
      const reason = refusal ? { rule: refusal.rule, reason: refusal.text } : { rule: 's2s.peering', reason: `${gone} is no longer hosted or fronted here` };
      connection.logger.warn(`${connection.label} no longer allowed by policy`, reason);
      connection.close(refusal ? 'policy-violation' : 'host-unknown', reason.reason);
      closed++;
    }
    return closed;
  }

  /** Stanzas waiting for their pair to be authorized, for every remote domain (the metrics). */
  queued(covered: (domain: string) => boolean = () => true): number {
    let queued = 0;
    for (const destination of this.#destinations.values()) if (covered(destination.domain)) queued += destination.queued;
    return queued;
  }

  /** Every server connection, for the admin API and `trellis s2s`. */
  connections(): S2sConnectionInfo[] {
    return [...this.#live.values()].map(({ connection }) => connectionInfo(connection, this.bindingTable, this.connectionTable)).sort((a, b) => a.connectedAt - b.connectedAt);
  }

  /** Every bound pair with its connections (the binding table), for the admin API and `trellis s2s`. */
  pairs(): S2sPairInfo[] {
    return pairInfo(this.bindingTable);
  }

  /** Closes one connection by its id; false when there is none. */
  closeConnection(id: string): boolean {
    const live = this.#live.get(id);
    live?.connection.close();
    return live !== undefined;
  }

  /** Idle streams close (RFC 6120 section 4.6.3); destinations with nothing left to do go. */
  #sweep(): void {
    const idleMs = this.context.config.idle_timeout * 1000;
    const now = Date.now();
    for (const { connection } of this.#live.values()) {
      if (now - connection.stream.lastActivity > idleMs) connection.close();
      else this.#keepalives.tick(this.context, connection.stream, connection.remoteDomain, now);
    }
    for (const [domain, destination] of this.#destinations) if (destination.idle(now)) this.#destinations.delete(domain);
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    await Promise.all(this.#listeners.map((listener) => listener.close()));
    this.#listeners = [];
    for (const destination of this.#destinations.values()) destination.stop();
    for (const { connection } of [...this.#live.values()]) connection.close('system-shutdown');
    const incoming = () => [...this.#live.values()].filter(({ connection }) => connection.direction === 'in');
    const deadline = Date.now() + 2000;
    while (incoming().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const { connection } of incoming()) connection.stream.destroy();
  }
}
