/**
 * A link of protocol s2s (docs/links.md, "Links over server-to-server streams"): standard
 * server-to-server streams (src/s2s) to a peer at a fixed address, secured as the link says
 * (src/s2s/link-profile.ts). This side keeps its stream to the peer open: it asks for the pair
 * of its first local and remote domain at the start and again, with backoff, while no stream
 * carries the link's domains; keepalives hold an idle stream open. The link checks what leaves
 * against its domains, as an XEP-0361 link does, and its status comes from the s2s layer's
 * connections and queues.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { LinkConfig } from '../config/types.ts';
import { parseLinkAddress } from '../config/link-names.ts';
import type { Jid } from '../jid/jid.ts';
import { loadTrustAnchors } from '../s2s/certificate-trust.ts';
import type { S2sLinkProfile } from '../s2s/link-profile.ts';
import type { S2sService } from '../s2s/service.ts';
import type { Logger } from '../util/log.ts';
import type { Element } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { LinkDomains } from './domains.ts';
import type { LinkContext, LinkCounters, LinkError } from './link.ts';

/** How often the link looks at its stream: logs it coming up and going down, and reopens it when due. */
const WATCH_INTERVAL_MS = 1000;

export class S2sLink {
  readonly config: LinkConfig;
  readonly profile: S2sLinkProfile;
  lastError: LinkError | undefined;
  readonly #context: LinkContext;
  readonly #s2s: S2sService;
  readonly #logger: Logger;
  readonly #local: LinkDomains;
  readonly #remote: LinkDomains;
  /** the pair this side opens to bring the link up: its first exact local and remote domains */
  readonly #pair: { local: string; remote: string } | undefined;
  readonly #own = { sent: 0, refusedOut: 0 };
  #watch: NodeJS.Timeout | undefined;
  #wasUp = false;
  #delay: number;
  #nextAttempt = 0;

  constructor(config: LinkConfig, context: LinkContext, s2s: S2sService) {
    this.config = config;
    this.#context = context;
    this.#s2s = s2s;
    this.#logger = context.logger.child({ link: config.name });
    this.#local = new LinkDomains(config.local_domains);
    this.#remote = new LinkDomains(config.remote_domains);
    const settings = config.s2s!;
    const { host, port } = parseLinkAddress(config.address);
    this.profile = {
      name: config.name,
      host,
      port,
      settings,
      ...(settings.peer_certificate === undefined ? {} : { pinned: new X509Certificate(readFileSync(settings.peer_certificate)).fingerprint256 }),
      keepalive: config.keepalive,
      reconnectInitialDelay: config.reconnect_initial_delay,
      reconnectMaxDelay: config.reconnect_max_delay,
      queueMaxStanzas: config.queue_max_messages,
    };
    const local = config.local_domains.find((domain) => !domain.startsWith('*.') && context.router.hosts.has(domain));
    const remote = config.remote_domains.find((domain) => !domain.startsWith('*.'));
    this.#pair = local === undefined || remote === undefined ? undefined : { local, remote };
    this.#delay = config.reconnect_initial_delay;
  }

  async start(): Promise<void> {
    if (this.config.s2s!.ca_file !== undefined) this.profile.anchors = await loadTrustAnchors([this.config.s2s!.ca_file], false);
    this.#watch = setInterval(() => this.#check(), WATCH_INTERVAL_MS).unref();
  }

  /** The stream the link sends on is open: a pair of its domains is authorized outbound on a connection. */
  get up(): boolean {
    return this.#s2s.connections().some((connection) => connection.pairs.some((pair) => pair.direction === 'out' && this.#local.has(pair.local) && this.#remote.has(pair.remote)));
  }

  get listening(): undefined {
    return undefined;
  }

  /** Stanzas waiting for the link's stream to be authorized. */
  get queued(): number {
    return this.#s2s.queued((domain) => this.#remote.has(domain));
  }

  /** What the link carried: stanzas written by it since the start, and what its current connections read and wrote. */
  get counters(): LinkCounters {
    const connections = this.#connections();
    const sum = (value: (connection: (typeof connections)[number]) => number) => connections.reduce((total, connection) => total + value(connection), 0);
    return { ...this.#own, refusedIn: 0, presenceDropped: 0, received: sum((connection) => connection.stanzasIn), bytesIn: sum((connection) => connection.bytesIn), bytesOut: sum((connection) => connection.bytesOut) };
  }

  #connections() {
    return this.#s2s.connections().filter((connection) => (connection.remoteDomain !== undefined && this.#remote.has(connection.remoteDomain)) || connection.pairs.some((pair) => this.#remote.has(pair.remote)));
  }

  /** A stanza a peering rule routed to this link: checked against its domains, then sent on its stream. */
  send(stanza: Element, from: Jid, to: Jid): void {
    if (!this.#local.has(from.domain) || !this.#remote.has(to.domain)) {
      this.#own.refusedOut++;
      const text = `the link ${this.config.name} carries stanzas from ${this.config.local_domains.join(', ')} to ${this.config.remote_domains.join(', ')} only`;
      this.#logger.warn('stanza outside the link\'s domains refused', { from: from.toString(), to: to.toString(), direction: 'out' });
      return this.#context.router.bounce(stanza, new StanzaError('not-allowed', text));
    }
    this.#own.sent++;
    this.#s2s.send(stanza, from, to);
  }

  #check(): void {
    const up = this.up;
    if (up !== this.#wasUp) {
      this.#wasUp = up;
      if (up) this.#logger.info('link up', { address: this.config.address, protocol: 's2s' });
      else this.#logger.info('link down', { address: this.config.address, protocol: 's2s', reason: this.lastError?.text });
    }
    if (up) {
      this.#delay = this.config.reconnect_initial_delay;
      return;
    }
    // Down: the stream is asked for again, with backoff doubling up to reconnect_max_delay.
    const now = Date.now();
    if (this.#pair === undefined || now < this.#nextAttempt || !this.#routed(this.#pair.remote)) return;
    this.#nextAttempt = now + this.#delay * 1000;
    this.#delay = Math.min(this.#delay * 2, this.config.reconnect_max_delay);
    this.#s2s.open(this.#pair.local, this.#pair.remote);
  }

  /** Whether the peering rules in force route `domain` over this link (a link a reload adds opens before its routes are in force). */
  #routed(domain: string): boolean {
    const way = this.#context.router.policy.current.route(domain);
    return way.kind === 'route' && way.via.kind === 'link' && way.via.link === this.config.name;
  }

  /** Closes the link's streams (a reload removed or changed it); what they carried unconfirmed takes its domain's route again. */
  async close(reason = 'the server is stopping'): Promise<void> {
    clearInterval(this.#watch);
    this.#s2s.closeDomains((domain) => this.#remote.has(domain), reason);
  }
}
