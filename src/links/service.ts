/**
 * The configured links (docs/links.md) as the router's remote route: a stanza whose peering
 * route names a link goes over it, every other one to server-to-server federation.
 */
import type { LinkConfig } from '../config/types.ts';
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

  async close(): Promise<void> {
    await Promise.all([...this.links.values()].map((link) => link.close()));
  }
}
