/**
 * Service discovery of a publish-subscribe service's nodes (XEP-0060 section 5): the nodes a
 * requester may see, one node's identity, and the items of a node.
 */
import type { Jid } from '../jid/jid.ts';
import { el, type Element } from '../xml/element.ts';
import { NS_DISCO_INFO, NS_DISCO_ITEMS } from '../muc/disco.ts';
import { nodeNotFound } from './errors.ts';
import type { PubsubService } from './service.ts';
import { NS_PUBSUB } from './xmlns.ts';

/** Section 5.2: the nodes `from` may access, as disco items of the service's address. */
export async function nodeItems(service: PubsubService, from: Jid): Promise<Element[]> {
  const items: Element[] = [];
  for (const state of await service.nodes()) {
    if (!(await service.mayAccess(state, from.bare().toString()))) continue;
    items.push(el('item', NS_DISCO_ITEMS, { jid: service.address, node: state.name, ...(state.config.title ? { name: state.config.title } : {}) }));
  }
  return items;
}

/** Section 5.3: a node's identity (a leaf node) and features; not-found for a node `from` may not see. */
export async function nodeInfo(service: PubsubService, from: Jid, node: string): Promise<Element> {
  const state = await service.load(node);
  if (!state || !(await service.mayAccess(state, from.bare().toString()))) throw nodeNotFound(node);
  return el('query', NS_DISCO_INFO, { node }, el('identity', NS_DISCO_INFO, { category: 'pubsub', type: 'leaf', ...(state.config.title ? { name: state.config.title } : {}) }), el('feature', NS_DISCO_INFO, { var: NS_PUBSUB }));
}

/** Section 5.5: the items of a node, named by their ids. */
export async function itemsOfNode(service: PubsubService, from: Jid, node: string): Promise<Element> {
  const state = await service.load(node);
  if (!state || !(await service.mayAccess(state, from.bare().toString()))) throw nodeNotFound(node);
  const query = el('query', NS_DISCO_ITEMS, { node });
  for (const item of await service.options.store.items(service.address, node)) query.c('item', { jid: service.address, name: item.id });
  return query;
}
