/**
 * The connection and authentication limits of one server (docs/security.md, "Connection and
 * authentication limits"), in one place the listeners, the client streams, the admin API and
 * the composition root share:
 *
 * - at accept: operator bans, the process guard, the rate of new server connections per address
 *   (src/limits/connect-backoff.ts), connections per address and unauthenticated connections
 *   (`admit`); a refused connection gets a stream error and is closed at once;
 * - during SASL: failed logins across streams (`loginGuard`, src/limits/login-throttle.ts);
 * - at run time: `trellis ban` and `trellis s2s block`, kept in storage and loaded at start.
 *
 * Refusals are counted for the metrics and logged at most once per limit and address per
 * `limits.log_interval`.
 */
import type { Socket } from 'node:net';
import type { LimitsConfig } from '../config/types.ts';
import { AbuseList, canonicalBan, describeBan, describeBlock, type AddressBan, type DomainBlock } from '../policy/abuse-list.ts';
import { addressKey } from '../policy/address-key.ts';
import type { Storage } from '../storage/types.ts';
import type { Logger } from '../util/log.ts';
import { ConnectBackoff } from './connect-backoff.ts';
import { ConnectionGate, isRefusal, perAddressLimit, type ListenerKind, type Ticket } from './connection-gate.ts';
import { LoginThrottle, type LoginGuard } from './login-throttle.ts';
import { ProcessGuard, memoryBudget, type ProcessMeasurement } from './process-guard.ts';
import { Refusals } from './refusals.ts';
import { refuseConnection, type ContentNamespace } from './refuse.ts';

/** What the limits need from the services to close connections that a new ban or block covers. */
export interface LimitsHooks {
  /** Closes client and server connections whose remote address `covered` accepts; returns how many. */
  closeAddresses(covered: (address: string) => boolean, text: string): number;
  /** Closes server connections to and from the domain; returns how many. */
  closeDomain(domain: string, text: string): number;
  /** The domain is unblocked: sending to it is tried at once, whatever backoff its block caused. */
  reopenDomain(domain: string): void;
}

export interface MetricFamily {
  type: 'gauge' | 'counter';
  name: string;
  help: string;
  samples: { labels?: Record<string, string>; value: number }[];
}

const CONTENT_NAMESPACE: Record<ListenerKind, ContentNamespace> = { c2s: 'jabber:client', s2s: 'jabber:server', component: 'jabber:component:accept' };

/** A change to the bans and blocks, as one node of a cluster tells the others. */
export type AbuseChange = { kind: 'ban'; ban: AddressBan } | { kind: 'unban'; address: string } | { kind: 'block'; block: DomainBlock } | { kind: 'unblock'; domain: string };

export class Limits {
  readonly abuse = new AbuseList();
  readonly gate: ConnectionGate;
  readonly backoff: ConnectBackoff;
  readonly guard: ProcessGuard;
  readonly logins: LoginThrottle;
  readonly refusals: Refusals;
  hooks: LimitsHooks = { closeAddresses: () => 0, closeDomain: () => 0, reopenDomain: () => {} };
  /** refused server connections held until their address's refusal period ends, by address */
  readonly #held = new Map<string, Set<Socket>>();
  #config: LimitsConfig;
  readonly #storage: Storage;
  readonly #logger: Logger;

  /** in a cluster: tells the other nodes of a change made here, resolving with the connections they closed (src/server.ts) */
  shared: ((change: AbuseChange) => Promise<number>) | undefined;

  constructor(config: LimitsConfig, storage: Storage, logger: Logger, measure?: () => ProcessMeasurement) {
    this.#config = config;
    this.#storage = storage;
    this.#logger = logger;
    const current = () => this.#config;
    this.refusals = new Refusals(logger, () => this.#config.log_interval * 1000);
    this.gate = new ConnectionGate(current);
    this.backoff = new ConnectBackoff(() => this.#config.s2s_new_connections);
    this.guard = new ProcessGuard(current, measure);
    this.logins = new LoginThrottle(current, logger, this.refusals);
  }

  get config(): LimitsConfig {
    return this.#config;
  }

  /** Takes new limits (on reload); connections already open are not re-checked. */
  configure(config: LimitsConfig): void {
    this.#config = config;
    this.guard.reset();
  }

  /** Loads the bans and blocks kept in storage. */
  async load(): Promise<void> {
    for (const rule of await this.#storage.abuseRules.list('address')) {
      try {
        this.abuse.addBan({ address: canonicalBan(rule.value), reason: rule.reason, createdAt: rule.createdAt });
      } catch (error) {
        this.#logger.error('a stored ban is not an address or range; ignored', { address: rule.value, error: (error as Error).message });
      }
    }
    for (const rule of await this.#storage.abuseRules.list('domain')) this.abuse.addBlock({ domain: rule.value, reason: rule.reason, createdAt: rule.createdAt });
    const bans = this.abuse.bans.length;
    const blocks = this.abuse.blocks.length;
    if (bans + blocks > 0) this.#logger.info('abuse controls loaded', { banned_addresses: bans, blocked_domains: blocks });
  }

  /**
   * Decides on a new connection before anything is read from it: a ticket to release when it
   * closes, or undefined when it was refused (stream error sent, socket closing).
   */
  admit(kind: ListenerKind, socket: Socket): Ticket | undefined {
    const address = socket.remoteAddress ?? '';
    const ban = this.abuse.banFor(address);
    if (ban) {
      const text = describeBan(ban);
      this.#refuse(kind, socket, 'banned', `${kind} ban ${ban.address} ${addressKey(address)}`, 'policy-violation', text, { address, ban: ban.address });
      return undefined;
    }
    const shortage = this.guard.refusal();
    if (shortage) {
      this.#refuse(kind, socket, shortage.reason, `guard ${shortage.reason}`, 'resource-constraint', shortage.text, { address, ...shortage.fields });
      return undefined;
    }
    if (kind === 's2s' && !this.#admitNewServerConnection(socket, address)) return undefined;
    const admitted = this.gate.admit(kind, address);
    if (isRefusal(admitted)) {
      const fields = { address: admitted.key, open_from_address: this.gate.openFrom(kind, address), unauthenticated: kind === 'c2s' ? this.gate.unauthenticated : undefined };
      this.#refuse(kind, socket, admitted.reason, `${kind} ${admitted.reason} ${admitted.reason === 'per_address' ? admitted.key : ''}`, 'policy-violation', admitted.text, fields);
      return undefined;
    }
    return admitted;
  }

  /**
   * The rate of new server connections from one address: false when this one is refused. The
   * connection that starts a refusal period is always logged, so each period (at most one per
   * `backoff`, doubling) leaves a line; the refusals during it are counted and logged like the
   * other limits.
   */
  #admitNewServerConnection(socket: Socket, address: string): boolean {
    const verdict = this.backoff.admit(address);
    if (!verdict.refused) return true;
    const config = this.#config.s2s_new_connections;
    const until = new Date(verdict.until).toISOString();
    const text = `too many new connections from ${verdict.key} (limits.s2s_new_connections: ${config.per_address} per ${config.window} s); refused until ${until}`;
    const fields = { address: verdict.key, refused_for_seconds: verdict.seconds, until };
    this.refusals.count('trellis_connections_refused_total', { listener: 's2s', reason: 'connect_rate' });
    if (verdict.started) this.#logger.warn('s2s address refused for a while: it opens new connections too fast', fields);
    else this.refusals.warn(`s2s connect_rate ${verdict.key}`, `s2s connection refused: ${text}`, { reason: 'connect_rate', ...fields });
    this.#holdThenRefuse(socket, verdict.key, verdict.until, text);
    return false;
  }

  /**
   * Refusing at once only makes a peer that reconnects as soon as it is refused loop faster.
   * Up to `held_per_address` refused connections per address are therefore held, unread and
   * unanswered, until the refusal period ends, and then get the stream error: a peer that waits
   * for an answer before it reconnects makes one attempt per period. Past that many, or with
   * 0, they are refused at once.
   */
  #holdThenRefuse(socket: Socket, key: string, until: number, text: string): void {
    const held = this.#held.get(key) ?? new Set<Socket>();
    if (held.size >= this.#config.s2s_new_connections.held_per_address) return refuseConnection(socket, CONTENT_NAMESPACE.s2s, 'policy-violation', text);
    held.add(socket);
    this.#held.set(key, held);
    socket.pause();
    socket.on('error', () => {});
    const release = (): void => {
      clearTimeout(timer);
      held.delete(socket);
      if (held.size === 0 && this.#held.get(key) === held) this.#held.delete(key);
    };
    const timer = setTimeout(() => {
      release();
      refuseConnection(socket, CONTENT_NAMESPACE.s2s, 'policy-violation', text);
    }, until - Date.now());
    socket.once('close', release);
  }

  /** Connections held by `#holdThenRefuse` now. */
  get held(): number {
    let count = 0;
    for (const sockets of this.#held.values()) count += sockets.size;
    return count;
  }

  /** Drops the held connections (server shutdown). */
  close(): void {
    for (const sockets of this.#held.values()) for (const socket of sockets) socket.destroy();
    this.#held.clear();
  }

  /**
   * Before a direct TLS handshake (XEP-0368): whether the connection could be admitted at all.
   * A banned address, a shortage, an address in a refusal period for opening server connections
   * too fast or a full per-address count drops it before the handshake (no stream error can be
   * sent yet); `admit` decides again once TLS is up.
   */
  screen(kind: ListenerKind, socket: Socket): boolean {
    const address = socket.remoteAddress ?? '';
    const ban = this.abuse.banFor(address);
    const shortage = ban ? undefined : this.guard.refusal();
    const backingOff = !ban && !shortage && kind === 's2s' && this.backoff.refusedUntil(address) !== undefined;
    const perAddress = perAddressLimit(this.#config, kind);
    const full = !ban && !shortage && !backingOff && perAddress > 0 && this.gate.openFrom(kind, address) >= perAddress;
    if (!ban && !shortage && !backingOff && !full) return true;
    const reason = ban ? 'banned' : shortage ? shortage.reason : backingOff ? 'connect_rate' : 'per_address';
    this.refusals.count('trellis_connections_refused_total', { listener: kind, reason });
    this.refusals.warn(`${kind} tls ${reason} ${addressKey(address)}`, `${kind} connection dropped before the TLS handshake`, { reason, address: addressKey(address) });
    return false;
  }

  #refuse(kind: ListenerKind, socket: Socket, reason: string, logKey: string, condition: 'policy-violation' | 'resource-constraint', text: string, fields: Record<string, unknown>): void {
    this.refusals.count('trellis_connections_refused_total', { listener: kind, reason });
    this.refusals.warn(logKey, `${kind} connection refused: ${text}`, { reason, ...fields });
    refuseConnection(socket, CONTENT_NAMESPACE[kind], condition, text);
  }

  /**
   * accept() itself failed (EMFILE, ENFILE: out of descriptors; the kernel keeps the connection
   * waiting or drops it). Without this nothing would say why logins fail.
   */
  acceptFailed(kind: ListenerKind, error: NodeJS.ErrnoException): void {
    const code = error.code ?? 'unknown';
    this.refusals.count('trellis_accept_errors_total', { listener: kind, code });
    this.refusals.warn(`accept ${kind} ${code}`, `${kind} listener cannot accept connections: ${error.message}`, { code });
  }

  loginGuard(address: string, domain: string): LoginGuard {
    return this.logins.forStream(address, domain);
  }

  // --- run-time abuse controls (admin API) ------------------------------------------------------

  get bans(): AddressBan[] {
    return this.abuse.bans;
  }

  get blocks(): DomainBlock[] {
    return this.abuse.blocks;
  }

  /** Bans an address or range (throws with the reason when it is not one); closes its open connections, on every node of a cluster. */
  async ban(text: string, reason: string | undefined): Promise<{ ban: AddressBan; created: boolean; closed: number }> {
    const ban: AddressBan = { address: canonicalBan(text), reason: reason || undefined, createdAt: Date.now() };
    const created = await this.#storage.abuseRules.put({ kind: 'address', value: ban.address, reason: ban.reason, createdAt: ban.createdAt });
    const closed = this.apply({ kind: 'ban', ban }) + (await this.#share({ kind: 'ban', ban }));
    this.#logger.warn('address banned', { address: ban.address, reason: ban.reason, connections_closed: closed });
    return { ban, created, closed };
  }

  async unban(text: string): Promise<boolean> {
    const address = canonicalBan(text);
    const removed = await this.#storage.abuseRules.delete('address', address);
    const known = this.abuse.removeBan(address);
    await this.#share({ kind: 'unban', address });
    if (removed || known) this.#logger.warn('address unbanned', { address });
    return removed || known;
  }

  /** Blocks a remote domain both ways; closes its server connections, on every node of a cluster. */
  async block(domain: string, reason: string | undefined): Promise<{ block: DomainBlock; created: boolean; closed: number }> {
    const block: DomainBlock = { domain, reason: reason || undefined, createdAt: Date.now() };
    const created = await this.#storage.abuseRules.put({ kind: 'domain', value: domain, reason: block.reason, createdAt: block.createdAt });
    const closed = this.apply({ kind: 'block', block }) + (await this.#share({ kind: 'block', block }));
    this.#logger.warn('remote domain blocked', { domain, reason: block.reason, connections_closed: closed });
    return { block, created, closed };
  }

  async unblock(domain: string): Promise<boolean> {
    const removed = await this.#storage.abuseRules.delete('domain', domain);
    const known = this.abuse.removeBlock(domain);
    await this.#share({ kind: 'unblock', domain });
    if (removed || known) {
      this.hooks.reopenDomain(domain);
      this.#logger.warn('remote domain unblocked', { domain });
    }
    return removed || known;
  }

  /**
   * A ban or block made (or lifted) on this node, or told by another node of the cluster, taken
   * in memory with its effect on the connections here; returns how many closed.
   */
  apply(change: AbuseChange): number {
    switch (change.kind) {
      case 'ban': {
        const ban = change.ban;
        this.abuse.addBan(ban);
        return this.hooks.closeAddresses((address) => AbuseList.covers(ban, address), describeBan(ban));
      }
      case 'unban':
        this.abuse.removeBan(change.address);
        return 0;
      case 'block':
        this.abuse.addBlock(change.block);
        return this.hooks.closeDomain(change.block.domain, describeBlock(change.block));
      case 'unblock':
        if (this.abuse.removeBlock(change.domain)) this.hooks.reopenDomain(change.domain);
        return 0;
    }
  }

  async #share(change: AbuseChange): Promise<number> {
    if (this.shared === undefined) return 0;
    try {
      return await this.shared(change);
    } catch (error) {
      this.#logger.error('a ban or block was not told to every node of the cluster; they load it at their next start', { change: change.kind, error: error instanceof Error ? error.message : String(error) });
      return 0;
    }
  }

  // --- metrics ------------------------------------------------------------------------------------

  metrics(): MetricFamily[] {
    const measured = this.guard.measurement;
    const refused = this.refusals.samples('trellis_connections_refused_total');
    // The usual reasons are always written, zero included, so that series do not come and go.
    for (const listener of ['c2s', 's2s', 'component']) {
      for (const reason of ['banned', 'per_address', 'connect_rate', 'unauthenticated', 'open_files', 'heap', 'memory']) {
        if ((reason === 'unauthenticated' && listener !== 'c2s') || (reason === 'connect_rate' && listener !== 's2s')) continue;
        if (!refused.some((sample) => sample.labels.listener === listener && sample.labels.reason === reason)) refused.push({ labels: { listener, reason }, value: 0 });
      }
    }
    const families: MetricFamily[] = [
      { type: 'counter', name: 'trellis_connections_refused_total', help: 'Connections refused at accept, by listener and the limit that refused them (docs/security.md).', samples: refused },
      { type: 'counter', name: 'trellis_accept_errors_total', help: 'Connections the operating system could not hand over (accept failed, e.g. EMFILE).', samples: this.refusals.samples('trellis_accept_errors_total') },
      { type: 'counter', name: 'trellis_auth_blocks_total', help: 'Login blocks started after repeated failures, by scope (address, account_address, account).', samples: this.refusals.samples('trellis_auth_blocks_total') },
      { type: 'counter', name: 'trellis_auth_refused_total', help: 'Login attempts refused with temporary-auth-failure while blocked, by scope.', samples: this.refusals.samples('trellis_auth_refused_total') },
      { type: 'gauge', name: 'trellis_s2s_addresses_refused', help: 'Addresses refused for a while for opening server connections too fast (limits.s2s_new_connections).', samples: [{ value: this.backoff.refusing() }] },
      { type: 'gauge', name: 'trellis_s2s_connections_held', help: 'Refused server connections held unanswered until their refusal period ends (limits.s2s_new_connections.held_per_address).', samples: [{ value: this.held }] },
      { type: 'gauge', name: 'trellis_c2s_unauthenticated_connections', help: 'Client connections that have not authenticated yet (limits.c2s_unauthenticated).', samples: [{ value: this.gate.unauthenticated }] },
      { type: 'gauge', name: 'trellis_banned_addresses', help: 'Addresses and ranges banned with trellis ban.', samples: [{ value: this.abuse.bans.length }] },
      { type: 'gauge', name: 'trellis_blocked_domains', help: 'Remote domains blocked with trellis s2s block.', samples: [{ value: this.abuse.blocks.length }] },
      { type: 'gauge', name: 'trellis_memory_budget_bytes', help: 'Resident memory above which new connections are refused (limits.max_memory_mib).', samples: [{ value: memoryBudget(this.#config, measured.availableMemory) }] },
    ];
    if (measured.openFiles !== undefined) families.push({ type: 'gauge', name: 'process_open_fds', help: 'Open file descriptors of the server process.', samples: [{ value: measured.openFiles }] });
    if (measured.maxOpenFiles !== undefined) families.push({ type: 'gauge', name: 'process_max_fds', help: 'Soft limit on open file descriptors of the server process.', samples: [{ value: measured.maxOpenFiles }] });
    return families;
  }
}
