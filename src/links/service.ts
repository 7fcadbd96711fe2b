/**
 * The configured links (docs/links.md) as the router's remote route: a stanza whose peering
 * route names a link goes over it, every other one to server-to-server federation.
 */
import type { LinkConfig } from '../config/types.ts';
import type { MetricFamily } from '../limits/limits.ts';
import type { Jid } from '../jid/jid.ts';
import type { RemoteRoute } from '../router/router.ts';
import type { Element } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { Link, type LinkContext } from './link.ts';

export class LinkService implements RemoteRoute {
  readonly links = new Map<string, Link>();
  readonly #context: LinkContext;
  readonly #federation: RemoteRoute;

  constructor(configs: LinkContext & { links: readonly LinkConfig[] }, federation: RemoteRoute) {
    this.#context = configs;
    this.#federation = federation;
    for (const config of configs.links) this.links.set(config.name, new Link(config, configs));
  }

  async start(): Promise<void> {
    for (const link of this.links.values()) await link.start();
  }

  send(stanza: Element, from: Jid, to: Jid): void {
    const way = this.#context.router.policy.current.route(to.domain);
    if (way.kind !== 'route' || way.via.kind !== 'link') return this.#federation.send(stanza, from, to);
    const link = this.links.get(way.via.link);
    // The configuration check makes this unreachable unless a reload names a link added since the start.
    if (!link) return this.#context.router.bounce(stanza, new StanzaError('remote-server-not-found', `${way.rule} names the link ${way.via.link}, which is not open (links change with a restart)`));
    link.send(stanza, from, to);
  }

  /** The links' state and counters for the admin API's metrics (docs/admin.md). */
  metrics(): MetricFamily[] {
    const links = [...this.links.values()];
    const per = (value: (link: Link) => number, extra: Record<string, string> = {}) => links.map((link) => ({ labels: { link: link.config.name, ...extra }, value: value(link) }));
    return [
      { type: 'gauge', name: 'trellis_link_up', help: 'Whether each configured link is connected (1) or not (0).', samples: per((link) => (link.up ? 1 : 0)) },
      { type: 'counter', name: 'trellis_link_stanzas_total', help: 'Stanzas written to and read from each link.', samples: [...per((link) => link.counters.sent, { direction: 'out' }), ...per((link) => link.counters.received, { direction: 'in' })] },
      {
        type: 'counter',
        name: 'trellis_link_refused_total',
        help: "Stanzas refused because an address was outside the link's domains (XEP-0361 section 4.5).",
        samples: [...per((link) => link.counters.refusedOut, { direction: 'out' }), ...per((link) => link.counters.refusedIn, { direction: 'in' })],
      },
      { type: 'counter', name: 'trellis_link_queued_total', help: 'Messages kept in storage while their link was down.', samples: per((link) => link.queue.counters.queued) },
      { type: 'counter', name: 'trellis_link_forwarded_total', help: 'Queued messages written to their link once it was back.', samples: per((link) => link.queue.counters.forwarded) },
      {
        type: 'counter',
        name: 'trellis_link_bounced_total',
        help: 'Messages returned to their senders with remote-server-timeout: the queue was full, or they waited longer than the expiry.',
        samples: [...per((link) => link.queue.counters.full, { reason: 'queue-full' }), ...per((link) => link.queue.counters.expired, { reason: 'expired' })],
      },
      { type: 'counter', name: 'trellis_link_presence_dropped_total', help: 'Presence not sent while the link was down (the current presence follows on reconnect).', samples: per((link) => link.counters.presenceDropped) },
    ];
  }

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((link) => link.close()));
  }
}
