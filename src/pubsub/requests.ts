/** A pubsub IQ (XEP-0060) to the operation it asks for, in the pubsub and pubsub#owner namespaces. */
import { randomUUID } from 'node:crypto';
import type { Jid } from '../jid/jid.ts';
import { el, type Element } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { findForm, readForm } from '../muc/data-form.ts';
import { pubsubError } from './errors.ts';
import { affiliationsGet, affiliationsSet, configureGet, configureSet, defaultGet, deleteNode, purgeNode, subscriptionsGet, subscriptionsSet } from './owner.ts';
import { affiliationOf } from './node-state.ts';
import type { PubsubService } from './service.ts';
import { NS_PUBSUB, NS_PUBSUB_OWNER } from './xmlns.ts';

/** Handles `<pubsub/>` of either namespace; returns the result payload, if any. */
export async function pubsubRequest(service: PubsubService, type: 'get' | 'set', payload: Element, from: Jid): Promise<Element | undefined> {
  const children = payload.elements();
  const action = children.find((child) => !['publish-options', 'configure', 'options'].includes(child.name)) ?? children[0];
  if (!action) throw new StanzaError('bad-request', 'the <pubsub/> element names no action');
  if (payload.xmlns === NS_PUBSUB_OWNER) return ownerRequest(service, type, action, from);
  const key = `${type} ${action.name}`;
  switch (key) {
    case 'set publish':
      return service.publish(from, action, payload.getChild('publish-options', NS_PUBSUB));
    case 'set retract':
      return void (await service.retract(from, action));
    case 'set subscribe':
      return service.subscribe(from, action);
    case 'set unsubscribe':
      return void (await service.unsubscribe(from, action));
    case 'set create':
      return create(service, from, action, payload.getChild('configure', NS_PUBSUB));
    case 'get items':
      return service.items(from, action);
    case 'get subscriptions':
      return ownSubscriptions(service, from, action.attrs.node);
    case 'get affiliations':
      return ownAffiliations(service, from, action.attrs.node);
    case 'get options':
    case 'set options':
      // Section 6.3: subscription options are optional; this service has none.
      throw pubsubError('feature-not-implemented', 'subscription-options', 'subscriptions have no options here');
    default:
      throw new StanzaError('feature-not-implemented', `pubsub ${key} is not supported`);
  }
}

async function ownerRequest(service: PubsubService, type: 'get' | 'set', action: Element, from: Jid): Promise<Element | undefined> {
  switch (`${type} ${action.name}`) {
    case 'get configure':
      return configureGet(service, from, action);
    case 'set configure':
      return void (await configureSet(service, from, action));
    case 'get default':
      return defaultGet(service);
    case 'set delete':
      return void (await deleteNode(service, from, action));
    case 'set purge':
      return void (await purgeNode(service, from, action));
    case 'get affiliations':
      return affiliationsGet(service, from, action);
    case 'set affiliations':
      return void (await affiliationsSet(service, from, action));
    case 'get subscriptions':
      return subscriptionsGet(service, from, action);
    case 'set subscriptions':
      return void (await subscriptionsSet(service, from, action));
    default:
      throw new StanzaError('feature-not-implemented', `pubsub#owner ${type} ${action.name} is not supported`);
  }
}

/** Section 8.1: create a node, with a configuration form (8.1.3) or as an instant node (8.1.2). */
async function create(service: PubsubService, from: Jid, action: Element, configure: Element | undefined): Promise<Element | undefined> {
  const form = configure && findForm(configure);
  const instant = !action.attrs.node;
  const name = action.attrs.node || randomUUID();
  await service.exclusive(() => service.create(from, name, form && readForm(form)));
  return instant ? el('pubsub', NS_PUBSUB, {}, el('create', NS_PUBSUB, { node: name })) : undefined;
}

/** Section 5.6: the requester's subscriptions, on one node or all. */
async function ownSubscriptions(service: PubsubService, from: Jid, node: string | undefined): Promise<Element> {
  const list = el('subscriptions', NS_PUBSUB, node ? { node } : {});
  const bare = from.bare().toString();
  for (const state of await service.nodes()) {
    if (node && state.name !== node) continue;
    for (const jid of state.subscriptions) if (jid.replace(/\/.*$/, '') === bare) list.c('subscription', { node: state.name, jid, subscription: 'subscribed' });
  }
  return el('pubsub', NS_PUBSUB, {}, list);
}

/** Section 5.7: the requester's affiliations, on one node or all. */
async function ownAffiliations(service: PubsubService, from: Jid, node: string | undefined): Promise<Element> {
  const list = el('affiliations', NS_PUBSUB, node ? { node } : {});
  const bare = from.bare().toString();
  for (const state of await service.nodes()) {
    if (node && state.name !== node) continue;
    const affiliation = affiliationOf(state, bare);
    if (affiliation !== 'none') list.c('affiliation', { node: state.name, affiliation });
  }
  return el('pubsub', NS_PUBSUB, {}, list);
}
