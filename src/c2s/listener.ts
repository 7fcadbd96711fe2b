/**
 * The client listeners: STARTTLS on 5222 (RFC 6120 section 5) and, when enabled, direct TLS
 * on 5223 (XEP-0368). Owns the set of client connections and sweeps their timeouts.
 */
import type { Socket } from 'node:net';
import type { ListenerConfig } from '../config/types.ts';
import { listen, type BoundAddress, type Listener } from '../net/listener.ts';
import { ClientSession } from './client-session.ts';
import type { HandedOverSession, ResumptionPeers } from './hand-over.ts';
import { parseJid } from '../jid/jid.ts';
import { C2sConnection, type C2sContext } from './connection.ts';
import { OutputBudget } from '../net/output-budget.ts';
import { rerouteUndelivered, spillToOffline } from './undelivered.ts';
import { refuseConnection } from '../limits/refuse.ts';

const SWEEP_INTERVAL_MS = 1000;
/** unacknowledged stanzas after which the server asks for an acknowledgement at once (XEP-0198 section 4) */
const ACK_REQUEST_THRESHOLD = 16;

/** What the service is given; it adds the session context and the resumption table itself. */
export type C2sServiceOptions = Omit<C2sContext, 'sessions' | 'resumable' | 'resumption'>;

export class C2sService {
  readonly connections = new Set<C2sConnection>();
  /** every session not yet ended, attached to a connection or waiting for its client to resume */
  readonly sessions = new Set<ClientSession>();
  readonly budget: OutputBudget;
  /** open connections still unauthenticated, checked each sweep */
  #unauthenticated = new Set<C2sConnection>();
  #context: C2sContext;
  #listeners: Listener[] = [];
  #sweeper: NodeJS.Timeout;

  constructor(options: C2sServiceOptions) {
    const { config, router, logger } = options;
    this.budget = new OutputBudget(config.output.session_buffer, config.output.total_buffer);
    const resumable = new Map<string, ClientSession>();
    this.#context = {
      ...options,
      resumable,
      resumption: undefined,
      sessions: {
        router,
        budget: this.budget,
        logger,
        ackRequestThreshold: ACK_REQUEST_THRESHOLD,
        maxHeldWhileInactive: config.csi.max_held,
        spill: (session, stanza) => spillToOffline(router, session, stanza, logger),
        undelivered: (session, stanzas) => rerouteUndelivered(router, session.jid, stanzas),
        started: (session) => this.sessions.add(session),
        ended: (session) => {
          this.sessions.delete(session);
          const id = session.streamManagementId;
          if (id !== undefined && resumable.get(id) === session) resumable.delete(id);
        },
      },
    };
    this.#sweeper = setInterval(() => {
      const now = Date.now();
      for (const connection of this.connections) connection.checkTimeouts(now);
      // A connection that authenticated since the last sweep stops counting against
      // limits.c2s_unauthenticated (until then it is counted, which errs on the safe side).
      for (const connection of this.#unauthenticated) {
        if (!connection.authenticated) continue;
        this.#unauthenticated.delete(connection);
        connection.admission.authenticated();
      }
    }, SWEEP_INTERVAL_MS);
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
      const tls = this.#context.tls;
      if (!tls) throw new Error('listeners.c2s_direct_tls needs a TLS certificate');
      // XEP-0368 section 3: ALPN protocol "xmpp-client" for direct TLS.
      const listener = await listen(directTls.addresses, directTls.port, (socket) => this.#accept(socket), tls.serverOptions({ ALPNProtocols: ['xmpp-client'] }), { acceptError: this.#acceptFailed, screen: (socket) => this.#context.limits.screen('c2s', socket) });
      this.#listeners.push(listener);
      result.directTls = listener.addresses;
    }
    return result;
  }

  /** One callback for every connection that closes, rather than a closure per connection. */
  #forget = (closed: C2sConnection): void => {
    this.connections.delete(closed);
    this.#unauthenticated.delete(closed);
    closed.admission.release();
  };

  #acceptFailed = (error: NodeJS.ErrnoException): void => this.#context.limits.acceptFailed('c2s', error);

  /**
   * A client connection that came through another transport (WebSocket, src/c2s/websocket.ts),
   * admitted and served like one accepted here; undefined when the limits refused it.
   */
  adopt(socket: Socket): C2sConnection | undefined {
    return this.#accept(socket);
  }

  /**
   * While set, new client connections are refused with system-shutdown and this text (a cluster
   * node that lost its registration, docs/cluster.md); undefined accepts them again.
   */
  pausedFor: string | undefined;

  /** The other nodes of a cluster, asked for sessions resumed here that they hold (docs/cluster.md). */
  set resumption(peers: ResumptionPeers | undefined) {
    this.#context.resumption = peers;
  }

  /**
   * The session with resumption id `previd`, stopped for another node to take it over
   * (ClientSession.beginHandOver); undefined when none here belongs to `account` (bare JID).
   */
  handOver(previd: string, account: string): ReturnType<ClientSession['beginHandOver']> {
    const session = this.#context.resumable.get(previd);
    if (session === undefined || session.jid.bare().toString() !== account) return undefined;
    return session.beginHandOver();
  }

  /**
   * Installs a session another node gave up, detached and waiting for its client, and registers
   * it. A session bound here on the same resource meanwhile (its client gave up resuming) is
   * newer and stays: the one handed over ends at once, its stanzas handled as undelivered.
   */
  install(state: HandedOverSession, from: string): ClientSession {
    const { router, resumable, sessions } = this.#context;
    const jid = parseJid(state.jid);
    const session = ClientSession.handedOver(jid, state, from, sessions);
    const current = router.sessions.get(jid);
    if (current instanceof ClientSession && current.state !== 'ended') {
      void session.end('a newer session holds the resource');
      return session;
    }
    router.sessions.add(session);
    resumable.set(state.id, session);
    // XEP-0160: stored messages were being delivered to it; they go on from here, before what is new.
    const host = router.hosts.get(jid.domain);
    if (state.offlineBacklog && host) host.events.emit('session/backlog', { session, host }).catch((error: unknown) => this.#context.logger.error('session/backlog handler failed', { jid: state.jid, error: error instanceof Error ? error.stack : String(error) }));
    return session;
  }

  #accept(socket: Socket): C2sConnection | undefined {
    if (this.pausedFor !== undefined) {
      refuseConnection(socket, 'jabber:client', 'system-shutdown', this.pausedFor);
      return undefined;
    }
    // Bans, the process guard and the per-address and unauthenticated limits (src/limits).
    const ticket = this.#context.limits.admit('c2s', socket);
    if (!ticket) return undefined;
    socket.setNoDelay(true);
    const connection = new C2sConnection(socket, this.#context, this.#forget, ticket);
    this.connections.add(connection);
    this.#unauthenticated.add(connection);
    return connection;
  }

  /**
   * Stops listening, then ends every session, those waiting for resumption too, each stream with
   * system-shutdown (RFC 6120 section 4.9.3.20): what a client did not get goes to offline
   * storage or back to its sender before the server stops. Sessions end before their streams are
   * waited for: a stanza routed to one meanwhile (another node of a cluster still hands them over)
   * goes to offline storage, not to a stream that is closing. Then the other streams end too.
   */
  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    await Promise.all(this.#listeners.map((listener) => listener.close()));
    this.#listeners = [];
    // One at a time: a message one session hands back may go to another that has yet to end.
    for (const session of [...this.sessions]) await session.end('server shutdown');
    for (const connection of this.connections) connection.stream.streamError('system-shutdown');
    const deadline = Date.now() + 2000;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const connection of this.connections) connection.stream.destroy();
  }
}
