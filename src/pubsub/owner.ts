/**
 * What a node's owner does (XEP-0060 section 8): configure, delete, purge, and manage
 * affiliations and subscriptions.
 */
import { parseJid, type Jid } from '../jid/jid.ts';
import { el, type Element } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { findForm, readForm } from '../muc/data-form.ts';
import { pubsubError } from './errors.ts';
import { eventMessage } from './events.ts';
import { applyConfig, configForm, defaultConfig } from './node-config.ts';
import { AFFILIATIONS, affiliationOf, type Affiliation, type NodeState } from './node-state.ts';
import type { PubsubService } from './service.ts';
import { NS_PUBSUB_EVENT, NS_PUBSUB_OWNER } from './xmlns.ts';

/** Section 8.2: the node's configuration form. */
export async function configureGet(service: PubsubService, from: Jid, request: Element): Promise<Element> {
  const state = await ownedNode(service, from, request);
  return el('pubsub', NS_PUBSUB_OWNER, {}, el('configure', NS_PUBSUB_OWNER, { node: state.name }, configForm(state.config)));
}

/** Section 8.2.4: a submitted form changes the configuration; fewer max_items drops the oldest items. */
export async function configureSet(service: PubsubService, from: Jid, request: Element): Promise<void> {
  const form = findForm(request);
  if (!form) throw pubsubError('bad-request', undefined, 'submit the configuration form');
  if (form.attrs.type === 'cancel') return;
  await service.exclusive(async () => {
    const state = await ownedNode(service, from, request);
    state.config = applyConfig(state.config, readForm(form), service.options.limits.maxItems);
    await service.save(state);
    const store = service.options.store;
    const extra = (await store.items(service.address, state.name)).slice(state.config.max_items);
    for (const item of extra) await store.deleteItem(service.address, state.name, item.id);
  });
}

/** Section 8.3: the defaults a new node gets. */
export function defaultGet(service: PubsubService): Element {
  return el('pubsub', NS_PUBSUB_OWNER, {}, el('default', NS_PUBSUB_OWNER, {}, configForm(defaultConfig(service.options.kind))));
}

/** Section 8.4: delete a node; its subscribers are told (section 8.4.2). */
export async function deleteNode(service: PubsubService, from: Jid, request: Element): Promise<void> {
  await service.exclusive(async () => {
    const state = await ownedNode(service, from, request);
    await service.options.store.deleteNode(service.address, state.name);
    if (state.config.notify_delete) await notifySubscribers(service, state, el('delete', NS_PUBSUB_EVENT, { node: state.name }));
  });
}

/** Section 8.5: remove every item; subscribers are told (section 8.5.2). */
export async function purgeNode(service: PubsubService, from: Jid, request: Element): Promise<void> {
  await service.exclusive(async () => {
    const state = await ownedNode(service, from, request);
    await service.options.store.purge(service.address, state.name);
    if (state.config.notify_retract) await notifySubscribers(service, state, el('purge', NS_PUBSUB_EVENT, { node: state.name }));
  });
}

/** Section 8.9.1: the node's affiliations. */
export async function affiliationsGet(service: PubsubService, from: Jid, request: Element): Promise<Element> {
  const state = await ownedNode(service, from, request);
  const list = el('affiliations', NS_PUBSUB_OWNER, { node: state.name });
  for (const [jid, affiliation] of Object.entries(state.affiliations).sort()) list.c('affiliation', { jid, affiliation });
  return el('pubsub', NS_PUBSUB_OWNER, {}, list);
}

/** Section 8.9.2: change affiliations; `none` removes one. An owner does not change their own (section 8.9.2.4). */
export async function affiliationsSet(service: PubsubService, from: Jid, request: Element): Promise<void> {
  const changes = request.getChildren('affiliation', NS_PUBSUB_OWNER).map((item) => {
    const affiliation = item.attrs.affiliation as Affiliation;
    if (!AFFILIATIONS.includes(affiliation)) throw new StanzaError('bad-request', `unknown affiliation ${JSON.stringify(item.attrs.affiliation)}`);
    return { jid: bareOf(item.attrs.jid), affiliation };
  });
  await service.exclusive(async () => {
    const state = await ownedNode(service, from, request);
    const own = from.bare().toString();
    if (changes.some((change) => change.jid === own)) throw new StanzaError('not-acceptable', 'an owner does not change their own affiliation');
    const added = changes.filter((change) => change.affiliation !== 'none' && affiliationOf(state, change.jid) === 'none').length;
    if (Object.keys(state.affiliations).length + added > service.options.limits.maxSubscriptions) {
      throw new StanzaError('not-allowed', `a node keeps at most ${service.options.limits.maxSubscriptions} affiliations`);
    }
    for (const { jid, affiliation } of changes) {
      if (affiliation === 'none') delete state.affiliations[jid];
      else state.affiliations[jid] = affiliation;
      // Section 4.1: an outcast has no subscription.
      if (affiliation === 'outcast') state.subscriptions = state.subscriptions.filter((subscriber) => bareOf(subscriber) !== jid);
    }
    await service.save(state);
  });
}

/** Section 8.8.1: the node's subscriptions. */
export async function subscriptionsGet(service: PubsubService, from: Jid, request: Element): Promise<Element> {
  const state = await ownedNode(service, from, request);
  const list = el('subscriptions', NS_PUBSUB_OWNER, { node: state.name });
  for (const jid of state.subscriptions) list.c('subscription', { jid, subscription: 'subscribed' });
  return el('pubsub', NS_PUBSUB_OWNER, {}, list);
}

/** Section 8.8.2: subscribe or unsubscribe others (`subscribed` or `none`). */
export async function subscriptionsSet(service: PubsubService, from: Jid, request: Element): Promise<void> {
  const changes = request.getChildren('subscription', NS_PUBSUB_OWNER).map((item) => {
    const subscription = item.attrs.subscription;
    if (subscription !== 'subscribed' && subscription !== 'none') throw new StanzaError('bad-request', 'a subscription is "subscribed" or "none" here');
    return { jid: jidOf(item.attrs.jid).toString(), subscription };
  });
  await service.exclusive(async () => {
    const state = await ownedNode(service, from, request);
    for (const { jid, subscription } of changes) {
      const others = state.subscriptions.filter((subscriber) => subscriber !== jid);
      state.subscriptions = subscription === 'subscribed' ? [...others, jid] : others;
    }
    if (state.subscriptions.length > service.options.limits.maxSubscriptions) {
      throw new StanzaError('not-allowed', `a node keeps at most ${service.options.limits.maxSubscriptions} subscriptions`);
    }
    await service.save(state);
  });
}

/** The node named by the request, which `from` owns (section 8: forbidden otherwise). */
async function ownedNode(service: PubsubService, from: Jid, request: Element): Promise<NodeState> {
  const name = request.attrs.node;
  if (!name) throw pubsubError('bad-request', 'nodeid-required', 'name the node');
  const state = await service.loadExisting(name);
  if (affiliationOf(state, from.bare().toString()) !== 'owner') throw new StanzaError('forbidden', 'only an owner of the node may do that');
  return state;
}

async function notifySubscribers(service: PubsubService, state: NodeState, event: Element): Promise<void> {
  for (const to of state.subscriptions) service.options.send(eventMessage(service.address, to, event.clone()));
}

function jidOf(text: string | undefined): Jid {
  try {
    return parseJid(text ?? '');
  } catch {
    throw new StanzaError('jid-malformed', `${JSON.stringify(text)} is not a JID`);
  }
}

function bareOf(text: string | undefined): string {
  return jidOf(text).bare().toString();
}

