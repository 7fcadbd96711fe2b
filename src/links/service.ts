/**
 * The configured links (docs/links.md) as the router's remote route: a stanza whose peering
 * route names a link goes over it, every other one to server-to-server federation. Links of
 * protocol s2s use federation's streams with settings of their own: this service tells the s2s
 * layer about them (S2sLinks) and learns their failures from it. A reload
 * adds, removes and changes links (`reconfigure`); messages waiting for a removed link are
 * sent again by the route the new configuration gives them, or bounce.
 */
import type { LinkRow } from '../admin/types.ts';
import type { LinkConfig } from '../config/types.ts';
import type { MetricFamily } from '../limits/limits.ts';
import type { Jid } from '../jid/jid.ts';
import type { RemoteRoute } from '../router/router.ts';
import type { S2sLinkProfile, S2sLinks } from '../s2s/link-profile.ts';
import type { S2sService } from '../s2s/service.ts';
import type { Element } from '../xml/element.ts';
import { tryParseJid } from '../jid/jid.ts';
import { NS_CLIENT } from '../xml/element.ts';
import { parseElement, STORED_LIMITS } from '../xml/parse-element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { Link, type LinkContext } from './link.ts';
import { S2sLink } from './s2s-link.ts';

/** A configured link of either protocol. */
type AnyLink = Link | S2sLink;

/** Links a reload changed, by name. */
export interface LinkChanges {
  added: string[];
  removed: string[];
  /** closed and opened again with their new settings; their queues carry on */
  changed: string[];
}

/** Links a reload will change, the added ones already open (`LinkService.prepare`). */
export interface LinkPlan extends LinkChanges {
  /** Closes the removed links and reopens the changed ones; call once the new routes are in force. */
  commit(): Promise<LinkChanges>;
}

/** A time after every message queued for a link that is not configured: all of them are taken. */
const ALL_QUEUED = Number.MAX_SAFE_INTEGER;

export class LinkService implements RemoteRoute, S2sLinks {
  readonly links = new Map<string, AnyLink>();
  readonly #context: LinkContext;
  readonly #federation: S2sService;

  constructor(configs: LinkContext & { links: readonly LinkConfig[] }, federation: S2sService) {
    this.#context = configs;
    this.#federation = federation;
    federation.context.links = this;
    for (const config of configs.links) this.links.set(config.name, this.#make(config));
  }

  #make(config: LinkConfig): AnyLink {
    return config.protocol === 's2s' ? new S2sLink(config, this.#context, this.#federation) : new Link(config, this.#context);
  }

  /** S2sLinks: the settings of a link of protocol s2s, by name. */
  byName(name: string): S2sLinkProfile | undefined {
    const link = this.links.get(name);
    return link instanceof S2sLink ? link.profile : undefined;
  }

  /** S2sLinks: a stream of a link of protocol s2s failed. */
  failed(name: string, text: string): void {
    const link = this.links.get(name);
    if (link) link.lastError = { at: Date.now(), text };
  }

  async start(): Promise<void> {
    for (const link of this.links.values()) await link.start();
    // Links removed from the file while the server was stopped: what waited for them moves on.
    let queued: string[];
    try {
      queued = await this.#context.storage.linkQueues.links();
    } catch (error) {
      return this.#context.logger.error('the queues of links could not be listed', { error: (error as Error).message });
    }
    for (const name of queued) if (!this.links.has(name)) await this.#reroute(name);
  }

  /**
   * The first half of a reload: opens the links `next` adds (before any route names them, so a
   * link that cannot listen leaves everything as it was) and says which go and which change.
   */
  async prepare(next: readonly LinkConfig[]): Promise<LinkPlan> {
    const wanted = new Map(next.map((config) => [config.name, config]));
    const added = next.filter((config) => !this.links.has(config.name));
    const changed = next.filter((config) => this.links.has(config.name) && JSON.stringify(this.links.get(config.name)!.config) !== JSON.stringify(config));
    const removed = [...this.links.keys()].filter((name) => !wanted.has(name));
    const opened: AnyLink[] = [];
    try {
      for (const config of added) {
        const link = this.#make(config);
        await link.start();
        opened.push(link);
      }
    } catch (error) {
      await Promise.all(opened.map((link) => link.close('the reload failed')));
      throw new Error(`the link ${added[opened.length]!.name} could not open: ${(error as Error).message}`);
    }
    for (const link of opened) this.links.set(link.config.name, link);
    const changes = { added: added.map((config) => config.name), removed, changed: changed.map((config) => config.name) };
    return { ...changes, commit: async () => {
      for (const name of removed) await this.#remove(name);
      for (const config of changed) await this.#reopen(config);
      return changes;
    } };
  }

  async #remove(name: string): Promise<void> {
    const link = this.links.get(name)!;
    this.links.delete(name);
    await link.close(`the link ${name} was removed from the configuration`);
    this.#context.logger.info('link removed', { link: name });
    await this.#reroute(name);
  }

  /** Sends what waits in the queue of a link that is not configured by the route its domain has now. */
  async #reroute(name: string): Promise<void> {
    const logger = this.#context.logger;
    let waiting;
    try {
      waiting = await this.#context.storage.linkQueues.takeExpired(name, ALL_QUEUED);
    } catch (error) {
      return logger.error('the queue of a removed link could not be read; its messages stay in storage', { link: name, error: (error as Error).message });
    }
    logger.info('messages queued for a link that is not configured take their new route', { link: name, messages: waiting.length });
    // Nothing waits silently for a link that is gone: each message takes its domain's new route, which may bounce it.
    for (const item of waiting) {
      const stanza = parseElement(item.stanza, STORED_LIMITS, NS_CLIENT);
      const from = tryParseJid(stanza.attrs.from ?? '');
      const to = tryParseJid(stanza.attrs.to ?? '');
      if (from === undefined || to === undefined) {
        logger.warn('a message queued for a removed link had no valid addresses and was dropped', { link: name, from: stanza.attrs.from, to: stanza.attrs.to });
        continue;
      }
      this.send(stanza, from, to);
    }
  }

  async #reopen(config: LinkConfig): Promise<void> {
    const old = this.links.get(config.name)!;
    await old.close(`the link ${config.name} is reopened with its new settings`);
    const link = this.#make(config);
    // An XEP-0361 link's counters carry on; an s2s link's are its connections'.
    if (link instanceof Link && old instanceof Link) {
      Object.assign(link.counters, old.counters);
      Object.assign(link.queue.counters, old.queue.counters);
    }
    this.links.set(config.name, link);
    try {
      await link.start();
      this.#context.logger.info('link reopened with its new settings', { link: config.name });
    } catch (error) {
      // Its messages wait in storage (and expire) as for any link that is down.
      link.lastError = { at: Date.now(), text: `could not reopen with the new settings: ${(error as Error).message}` };
      this.#context.logger.error('link could not reopen with its new settings', { link: config.name, error: (error as Error).message });
    }
  }

  send(stanza: Element, from: Jid, to: Jid): void {
    const way = this.#context.router.policy.current.route(to.domain);
    if (way.kind !== 'route' || way.via.kind !== 'link') return this.#federation.send(stanza, from, to);
    const link = this.links.get(way.via.link);
    // The configuration check makes this unreachable unless a reload names a link added since the start.
    if (!link) return this.#context.router.bounce(stanza, new StanzaError('remote-server-not-found', `${way.rule} names the link ${way.via.link}, which is not open (links change with a restart)`));
    link.send(stanza, from, to);
  }

  /** One row per link for `trellis status` (GET /v1/status). */
  rows(): LinkRow[] {
    return [...this.links.values()].map((link) => ({
      name: link.config.name,
      up: link.up,
      protocol: link.config.protocol,
      connect: link.config.connect,
      address: link.config.connect === 'in' ? (link.listening ?? link.config.address) : link.config.address,
      queued: link instanceof Link ? link.queue.depth : link.queued,
      stanzasIn: link.counters.received,
      stanzasOut: link.counters.sent,
      bytesIn: link.counters.bytesIn,
      bytesOut: link.counters.bytesOut,
      lastError: link.lastError === undefined ? null : { at: new Date(link.lastError.at).toISOString(), text: link.lastError.text },
    }));
  }

  /** The links' state and counters for the admin API's metrics (docs/admin.md). */
  metrics(): MetricFamily[] {
    const links = [...this.links.values()];
    const per = (value: (link: AnyLink) => number, extra: Record<string, string> = {}) => links.map((link) => ({ labels: { link: link.config.name, ...extra }, value: value(link) }));
    // Store and forward is XEP-0361's: an s2s link's stanzas wait in federation's queues (trellis_s2s metrics).
    const stored = links.filter((link) => link instanceof Link);
    const perStored = (value: (link: Link) => number, extra: Record<string, string> = {}) => stored.map((link) => ({ labels: { link: link.config.name, ...extra }, value: value(link) }));
    return [
      { type: 'gauge', name: 'trellis_link_up', help: 'Whether each configured link is connected (1) or not (0).', samples: per((link) => (link.up ? 1 : 0)) },
      { type: 'counter', name: 'trellis_link_stanzas_total', help: 'Stanzas written to and read from each link.', samples: [...per((link) => link.counters.sent, { direction: 'out' }), ...per((link) => link.counters.received, { direction: 'in' })] },
      {
        type: 'counter',
        name: 'trellis_link_refused_total',
        help: "Stanzas refused because an address was outside the link's domains (XEP-0361 section 4.5).",
        samples: [...per((link) => link.counters.refusedOut, { direction: 'out' }), ...per((link) => link.counters.refusedIn, { direction: 'in' })],
      },
      { type: 'counter', name: 'trellis_link_queued_total', help: 'Messages kept in storage while their link was down.', samples: perStored((link) => link.queue.counters.queued) },
      { type: 'counter', name: 'trellis_link_forwarded_total', help: 'Queued messages written to their link once it was back.', samples: perStored((link) => link.queue.counters.forwarded) },
      {
        type: 'counter',
        name: 'trellis_link_bounced_total',
        help: 'Messages returned to their senders with remote-server-timeout: the queue was full, or they waited longer than the expiry.',
        samples: [...perStored((link) => link.queue.counters.full, { reason: 'queue-full' }), ...perStored((link) => link.queue.counters.expired, { reason: 'expired' })],
      },
      { type: 'counter', name: 'trellis_link_presence_dropped_total', help: 'Presence not sent while the link was down (the current presence follows on reconnect).', samples: per((link) => link.counters.presenceDropped) },
    ];
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((link) => link.close()));
  }
}
