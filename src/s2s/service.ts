/**
 * Federation: the server listeners, the remote route the router hands non-local stanzas to, and
 * the table of server connections that `trellis s2s` shows.
 */
import type { Socket } from 'node:net';
import type { ListenerConfig } from '../config/types.ts';
import { listen, type BoundAddress, type Listener } from '../net/listener.ts';
import type { Jid } from '../jid/jid.ts';
import type { RemoteRoute } from '../router/router.ts';
import type { Element } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import type { S2sConnectionInfo, S2sContext } from './context.ts';
import { S2sIncoming } from './incoming.ts';
import type { VerifyOutcome } from './outgoing.ts';
import { RemoteDomain, type ResendCounters } from './remote-domain.ts';

const SWEEP_INTERVAL_MS = 1000;

export class S2sService implements RemoteRoute {
  readonly #context: S2sContext;
  readonly #incoming = new Set<S2sIncoming>();
  readonly #remotes = new Map<string, RemoteDomain>();
  /** stanzas a dropped connection had not confirmed: sent again, or bounced */
  readonly resends: ResendCounters = { resent: 0, bounced: 0 };
  #listeners: Listener[] = [];
  #sweeper: NodeJS.Timeout;

  constructor(context: S2sContext) {
    this.#context = context;
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
      const options = this.#context.tls.serverOptions({ ALPNProtocols: ['xmpp-server'], requestCert: true, rejectUnauthorized: false });
      const listener = await listen(directTls.addresses, directTls.port, (socket) => this.#accept(socket), options, { acceptError: this.#acceptFailed, screen: (socket) => this.#context.limits.screen('s2s', socket) });
      this.#listeners.push(listener);
      result.directTls = listener.addresses;
    }
    return result;
  }

  #acceptFailed = (error: NodeJS.ErrnoException): void => this.#context.limits.acceptFailed('s2s', error);

  #accept(socket: Socket): void {
    // Bans, the process guard and the per-address limit (src/limits).
    const ticket = this.#context.limits.admit('s2s', socket);
    if (!ticket) return;
    socket.setNoDelay(true);
    const connection = new S2sIncoming(socket, this.#context, {
      verifyWithAuthoritative: (sender, receiving, streamId, key) => this.#verify(sender, receiving, streamId, key),
      closed: (closed) => {
        this.#incoming.delete(closed);
        ticket.release();
      },
    });
    this.#incoming.add(connection);
  }

  /** Closes incoming connections from addresses `covered` accepts (a new ban); returns how many. */
  closeFromAddresses(covered: (address: string) => boolean, text: string): number {
    let closed = 0;
    for (const incoming of this.#incoming) {
      if (incoming.stream.closing || !covered(incoming.stream.remoteAddress)) continue;
      incoming.close('policy-violation', text);
      closed++;
    }
    return closed;
  }

  /** Closes every connection to or from a remote domain (a new block); returns how many. */
  closeDomain(domain: string, text: string): number {
    let closed = 0;
    for (const incoming of this.#incoming) {
      const info = incoming.info();
      if (incoming.stream.closing || (info.remoteDomain !== domain && !info.domains.some((pair) => pair.endsWith(` <- ${domain}`)))) continue;
      incoming.close('policy-violation', text);
      closed++;
    }
    const outgoing = this.#remotes.get(domain)?.connection;
    if (outgoing && !outgoing.closed) {
      outgoing.close('policy-violation');
      closed++;
    }
    return closed;
  }

  #verify(sender: string, receiving: string, streamId: string, key: string): Promise<VerifyOutcome> {
    return this.#remote(sender).verify(receiving, streamId, key);
  }

  #remote(domain: string): RemoteDomain {
    let remote = this.#remotes.get(domain);
    if (!remote) this.#remotes.set(domain, (remote = new RemoteDomain(domain, this.#context, this.resends)));
    return remote;
  }

  /** The router's remote route: every stanza for a domain we do not host. */
  send(stanza: Element, from: Jid, to: Jid): void {
    const router = this.#context.router;
    if (!this.#context.config.enabled) {
      return router.bounce(stanza, new StanzaError('remote-server-not-found', 'this server does not federate'));
    }
    const verdict = this.#context.policy.checkPeer({ domain: to.domain, direction: 'out' });
    if (!verdict.allowed) {
      this.#context.logger.warn('s2s outgoing stanza blocked by policy', { to: to.domain, from: from.toString(), reason: verdict.reason });
      // RFC 6120 section 8.3.3.10: a blocked destination is not-allowed.
      return router.bounce(stanza, new StanzaError('not-allowed', verdict.reason));
    }
    this.#remote(to.domain).send(stanza, from.domain);
  }

  /** Every server connection, for the admin API and `trellis s2s`. */
  connections(): S2sConnectionInfo[] {
    const rows: S2sConnectionInfo[] = [];
    for (const remote of this.#remotes.values()) if (remote.connection && !remote.connection.closed) rows.push(remote.connection.info());
    for (const incoming of this.#incoming) rows.push(incoming.info());
    return rows.sort((a, b) => a.connectedAt - b.connectedAt);
  }

  /** Closes one connection by its id; false when there is none. */
  closeConnection(id: string): boolean {
    for (const incoming of this.#incoming) {
      if (incoming.id === id) {
        incoming.close();
        return true;
      }
    }
    for (const remote of this.#remotes.values()) {
      if (remote.connection?.id === id) {
        remote.connection.close();
        return true;
      }
    }
    return false;
  }

  /** Idle streams close (RFC 6120 section 4.6.3); unauthenticated incoming streams get a deadline. */
  #sweep(): void {
    const now = Date.now();
    const { idle_timeout: idle, negotiation_timeout: negotiation } = this.#context.config;
    for (const incoming of this.#incoming) {
      if (!incoming.authenticated && now - incoming.connectedAt > negotiation * 1000) {
        incoming.close('connection-timeout', `not authenticated within ${negotiation} s`);
      } else if (now - incoming.lastActivity > idle * 1000) {
        incoming.close();
      }
    }
    for (const remote of this.#remotes.values()) {
      const connection = remote.connection;
      if (connection && !connection.closed && now - connection.lastActivity > idle * 1000) connection.close();
    }
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    await Promise.all(this.#listeners.map((listener) => listener.close()));
    this.#listeners = [];
    for (const incoming of this.#incoming) incoming.close('system-shutdown');
    for (const remote of this.#remotes.values()) {
      remote.stop();
      remote.connection?.close('system-shutdown');
    }
    const deadline = Date.now() + 2000;
    while (this.#incoming.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const incoming of this.#incoming) incoming.stream.destroy();
  }
}
