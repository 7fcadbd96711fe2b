/**
 * External components (XEP-0114): the listener, and one route per configured component domain.
 * Each domain is a service host in the router (DESIGN: routes are a table), so local clients,
 * other services and remote servers reach it like any hosted domain; every stanza for it and
 * its JIDs goes to the connection that completed the handshake for it.
 *
 * While no component is connected, messages and IQs for its domain bounce with
 * service-unavailable (Prosody's mod_component does the same) and presence is dropped. When a connected component drops, stanzas are held
 * for it (bounded: `component.reconnect_hold` seconds, `component.hold_max_stanzas`) and
 * delivered in order when it is back; whatever is still held then bounces.
 */
import type { Socket } from 'node:net';
import type { ComponentConfig, HostConfig, ListenerConfig, TrellisConfig } from '../config/types.ts';
import { pickSettings } from '../config/resolve.ts';
import type { Limits } from '../limits/limits.ts';
import type { Ticket } from '../limits/connection-gate.ts';
import { listen, type BoundAddress, type Listener } from '../net/listener.ts';
import type { TlsContextStore } from '../net/tls-contexts.ts';
import { Host } from '../router/host.ts';
import type { Router } from '../router/router.ts';
import type { Logger } from '../util/log.ts';
import type { Element } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { ComponentConnection, type ComponentContext, type ComponentDirectory } from './connection.ts';

const SWEEP_INTERVAL_MS = 1000;
/** Handlers take every stanza for the domain before anything else could. */
const TAKE_ALL_PRIORITY = 1000;
const STANZA_EVENTS = (['message', 'presence', 'iq'] as const).flatMap((kind) => (['bare', 'full', 'host'] as const).map((form) => `${kind}/${form}` as const));

/** One component domain: where its stanzas go now. */
export interface ComponentRoute {
  readonly domain: string;
  connection: ComponentConnection | undefined;
  /** stanzas held while the component reconnects, and until when they are held */
  held: Element[];
  holdUntil: number;
  holdTimer: NodeJS.Timeout | undefined;
  /** stanzas bounced because the component was not there */
  bounced: number;
  /** handshakes that succeeded */
  connects: number;
}

export interface ComponentServiceOptions {
  config: TrellisConfig;
  router: Router;
  tls: TlsContextStore;
  logger: Logger;
  limits: Limits;
  /** loads (or generates) the certificate of a domain, as for hosted domains (federation from the component's domain) */
  loadCertificate(store: TlsContextStore, host: HostConfig, config: TrellisConfig, logger: Logger): Promise<void>;
}

export class ComponentService implements ComponentDirectory {
  readonly routes = new Map<string, ComponentRoute>();
  readonly connections = new Set<ComponentConnection>();
  #secrets = new Map<string, string>();
  #tickets = new Map<ComponentConnection, Ticket>();
  #options: ComponentServiceOptions;
  /** the configuration in force (a reload replaces it) */
  #config: TrellisConfig;
  /** the route hosts in the router, by domain */
  #hosts = new Map<string, Host>();
  #context: ComponentContext;
  #listenerConfig: ListenerConfig | undefined;
  #listeners: Listener[] = [];
  #sweeper: NodeJS.Timeout | undefined;

  constructor(options: ComponentServiceOptions) {
    this.#options = options;
    this.#config = options.config;
    this.#context = { config: options.config.component, router: options.router, logger: options.logger.child({ component: 'components' }), directory: this };
  }

  /** Adds each configured component's domain to the router and listens, when any is configured. */
  async start(listener: ListenerConfig): Promise<BoundAddress[]> {
    this.#listenerConfig = listener;
    for (const component of this.#config.components) await this.#addRoute(component);
    return this.#listen();
  }

  /** The listener, once at least one component is configured (at start, or added by a reload). */
  async #listen(): Promise<BoundAddress[]> {
    const listener = this.#listenerConfig;
    if (this.#config.components.length === 0 || !listener?.enabled || this.#listeners.length > 0) return [];
    const bound = await listen(listener.addresses, listener.port, (socket) => this.#accept(socket), undefined, { acceptError: (error) => this.#options.limits.acceptFailed('component', error) });
    this.#listeners.push(bound);
    this.#sweeper = setInterval(() => {
      const now = Date.now();
      for (const connection of this.connections) connection.checkTimeout(now);
    }, SWEEP_INTERVAL_MS);
    this.#sweeper.unref();
    return bound.addresses;
  }

  /** the addresses the component listener is bound to (it may open on a reload) */
  get listening(): BoundAddress[] {
    return this.#listeners.flatMap((listener) => listener.addresses);
  }

  /**
   * Follows a reloaded configuration without a restart: new components get their route (and
   * the listener opens if it was not), removed ones lose it, their connection ending with
   * host-gone (RFC 6120 section 4.9.3.5) and what was held for them bouncing; a changed secret
   * applies to the next handshake, the connected component staying. `component` settings apply
   * to new connections and to holds from now on.
   */
  async reconfigure(next: TrellisConfig): Promise<{ added: string[]; removed: string[]; changed: string[]; listening: BoundAddress[] }> {
    const wanted = new Map(next.components.map((component) => [component.domain, component]));
    const added = next.components.filter((component) => !this.routes.has(component.domain));
    const removed = [...this.routes.keys()].filter((domain) => !wanted.has(domain));
    const changed = next.components.filter((component) => this.routes.has(component.domain) && this.#secrets.get(component.domain) !== component.secret).map((component) => component.domain);
    this.#config = next;
    // Connections already open keep the settings they started with.
    this.#context = { ...this.#context, config: next.component };
    for (const domain of removed) this.#removeRoute(domain);
    for (const component of next.components) {
      this.#secrets.set(component.domain, component.secret);
      const route = this.routes.get(component.domain);
      if (!route) continue;
      // Its parent (a hosted domain it is a subdomain of) or the parent's settings may have changed.
      const hostConfig = settingsFor(component, next);
      const host = this.#hosts.get(component.domain)!;
      if (host.service!.parent === hostConfig.domain) host.config = hostConfig;
      else this.#installHost(route, hostConfig);
    }
    for (const component of added) await this.#addRoute(component);
    const listening = await this.#listen();
    return { added: added.map((component) => component.domain), removed, changed, listening };
  }

  async #addRoute(component: ComponentConfig): Promise<void> {
    const { tls, logger } = this.#options;
    const hostConfig = settingsFor(component, this.#config);
    await this.#options.loadCertificate(tls, { ...hostConfig, domain: component.domain }, this.#config, logger);
    this.#secrets.set(component.domain, component.secret);
    const route: ComponentRoute = { domain: component.domain, connection: undefined, held: [], holdUntil: 0, holdTimer: undefined, bounced: 0, connects: 0 };
    this.routes.set(component.domain, route);
    this.#installHost(route, hostConfig);
  }

  #removeRoute(domain: string): void {
    const route = this.routes.get(domain)!;
    const { router, logger } = this.#options;
    if (router.hosts.get(domain) === this.#hosts.get(domain)) router.hosts.delete(domain);
    this.#hosts.delete(domain);
    this.routes.delete(domain);
    this.#secrets.delete(domain);
    route.connection?.end('host-gone', `${domain} is no longer served here`);
    clearTimeout(route.holdTimer);
    this.#releaseHeld(route);
    logger.info('component removed', { component: domain, connected: route.connection !== undefined });
  }

  /** The domain's service host in the router (replacing any before it): every stanza for it goes to the route. */
  #installHost(route: ComponentRoute, hostConfig: HostConfig): void {
    const host = new Host(hostConfig, { kind: 'component', parent: hostConfig.domain, domain: route.domain });
    // Its parent lists it in disco#items while it is connected (attach, closed).
    host.listedInParent = route.connection !== undefined;
    for (const name of STANZA_EVENTS) {
      host.events.on(
        name,
        ({ stanza }) => {
          this.#deliver(route, stanza);
          return true;
        },
        TAKE_ALL_PRIORITY,
      );
    }
    this.#hosts.set(route.domain, host);
    this.#options.router.addHost(host);
  }

  #deliver(route: ComponentRoute, stanza: Element): void {
    const connection = route.connection;
    if (connection && !connection.stream.closing) return connection.send(stanza);
    // A stream that is closing takes nothing more: what comes meanwhile waits as for a reconnection.
    const holding = connection !== undefined || Date.now() < route.holdUntil;
    if (holding && route.held.length < this.#config.component.hold_max_stanzas) {
      route.held.push(stanza);
      return;
    }
    this.#bounce(route, stanza);
  }

  #bounce(route: ComponentRoute, stanza: Element): void {
    // Presence for an absent entity is dropped without an error, as for an account without
    // resources (RFC 6121 section 8.5): a user's unavailable presence must not come back to them.
    if (stanza.name === 'presence') return;
    route.bounced++;
    // RFC 6120 section 8.3.3.19; type wait, as Prosody's: the component may come back.
    this.#options.router.bounce(stanza, new StanzaError('service-unavailable', `the component serving ${route.domain} is not connected`, 'wait'));
  }

  #accept(socket: Socket): void {
    const ticket = this.#options.limits.admit('component', socket);
    if (!ticket) return;
    socket.setNoDelay(true);
    // Components are long-lived and send nothing while idle: TCP keepalive finds a dead peer.
    socket.setKeepAlive(true, 30_000);
    const connection = new ComponentConnection(socket, this.#context);
    this.connections.add(connection);
    this.#tickets.set(connection, ticket);
  }

  // --- ComponentDirectory -----------------------------------------------------------------------

  secretOf(domain: string): string | undefined {
    return this.#secrets.get(domain);
  }

  attach(domain: string, connection: ComponentConnection): boolean {
    const route = this.routes.get(domain);
    if (!route || (route.connection && !route.connection.stream.closing)) return false;
    route.connection = connection;
    route.connects++;
    this.#hosts.get(domain)!.listedInParent = true;
    clearTimeout(route.holdTimer);
    route.holdTimer = undefined;
    route.holdUntil = 0;
    const held = route.held;
    route.held = [];
    for (const stanza of held) connection.send(stanza);
    return true;
  }

  closed(connection: ComponentConnection): void {
    this.connections.delete(connection);
    this.#tickets.get(connection)?.release();
    this.#tickets.delete(connection);
    const route = [...this.routes.values()].find((candidate) => candidate.connection === connection);
    if (!route) return;
    route.connection = undefined;
    this.#hosts.get(route.domain)!.listedInParent = false;
    const hold = this.#config.component.reconnect_hold;
    if (hold === 0) return this.#releaseHeld(route);
    route.holdUntil = Date.now() + hold * 1000;
    route.holdTimer = setTimeout(() => this.#releaseHeld(route), hold * 1000);
    route.holdTimer.unref();
  }

  /** The component did not come back in time: what was held for it bounces. */
  #releaseHeld(route: ComponentRoute): void {
    route.holdTimer = undefined;
    route.holdUntil = 0;
    const held = route.held;
    route.held = [];
    for (const stanza of held) this.#bounce(route, stanza);
  }

  /** Stops listening, ends every component stream with system-shutdown and bounces what was held. */
  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    await Promise.all(this.#listeners.map((listener) => listener.close()));
    this.#listeners = [];
    for (const connection of this.connections) connection.end('system-shutdown');
    const deadline = Date.now() + 2000;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const connection of this.connections) connection.stream.destroy();
    for (const route of this.routes.values()) {
      clearTimeout(route.holdTimer);
      this.#releaseHeld(route);
    }
  }
}

/**
 * The settings a component's domain is served under (foreign access from remote servers): its
 * parent hosted domain's when it is a subdomain of one, else the top-level ones.
 */
function settingsFor(component: ComponentConfig, config: TrellisConfig): HostConfig {
  const parent = config.hosts.filter((host) => component.domain.endsWith(`.${host.domain}`)).sort((a, b) => b.domain.length - a.domain.length)[0];
  if (parent) return parent;
  return { domain: component.domain, ...pickSettings(config) };
}
