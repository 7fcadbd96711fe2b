/**
 * One publish-subscribe service (XEP-0060): a PubSub domain, or an account's personal eventing
 * service (XEP-0163), whose address is the account's bare JID. Nodes and items live in storage;
 * changes to one service run one at a time, so limits are counted without races.
 */
import { randomUUID } from 'node:crypto';
import { parseJid, type Jid } from '../jid/jid.ts';
import type { PubsubStore } from '../storage/types.ts';
import { el, type Element } from '../xml/element.ts';
import { parseElement } from '../xml/parse-element.ts';
import { serialize } from '../xml/serialize.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { findForm, readForm } from '../muc/data-form.ts';
import { nodeNotFound, pubsubError } from './errors.ts';
import { eventMessage, itemsEvent } from './events.ts';
import type { KeyedLock } from './keyed-lock.ts';
import { applyConfig, checkPublishOptions, defaultConfig } from './node-config.ts';
import { affiliationOf, decodeNode, encodeNode, newNode, type NodeState } from './node-state.ts';
import { NS_PUBSUB } from './xmlns.ts';

export interface PubsubLimits {
  maxNodes: number;
  maxItems: number;
  maxItemBytes: number;
  maxSubscriptions: number;
}

export interface PubsubServiceOptions {
  /** the service's address: a domain, or the account's bare JID */
  address: string;
  kind: 'pep' | 'service';
  store: PubsubStore;
  /** changes run one at a time per service address */
  lock: KeyedLock;
  limits: PubsubLimits;
  /** whether `from` may create nodes (section 8.1), also by publishing (auto-create) */
  mayCreate(from: Jid): boolean;
  /** the presence access model (section 4.5): whether `who` is subscribed to the owner's presence */
  sharesPresence(who: Jid): Promise<boolean>;
  /** sends a stanza the service generated */
  send(stanza: Element): void;
  /**
   * Full JIDs that get a node's notifications without subscribing: XEP-0163 section 4.3, the
   * owner's and contacts' resources whose entity capabilities ask for `<node>+notify`.
   */
  implicitRecipients?(node: string): Promise<string[]>;
}

export class PubsubService {
  readonly options: PubsubServiceOptions;

  constructor(options: PubsubServiceOptions) {
    this.options = options;
  }

  get address(): string {
    return this.options.address;
  }

  /** Runs a change with this service's other changes held back. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.options.lock.run(this.address, work);
  }

  async load(name: string): Promise<NodeState | undefined> {
    const stored = await this.options.store.node(this.address, name);
    return stored && decodeNode(stored, this.options.kind);
  }

  async loadExisting(name: string): Promise<NodeState> {
    const state = await this.load(name);
    if (!state) throw nodeNotFound(name);
    return state;
  }

  async nodes(): Promise<NodeState[]> {
    return (await this.options.store.nodes(this.address)).map((stored) => decodeNode(stored, this.options.kind));
  }

  save(state: NodeState): Promise<void> {
    return this.options.store.putNode(this.address, encodeNode(state));
  }

  /** Section 8.1: a new node; `config` from the create request's form or publish options. */
  async create(from: Jid, name: string, configValues: ReadonlyMap<string, readonly string[]> | undefined): Promise<NodeState> {
    if (!this.options.mayCreate(from)) throw new StanzaError('forbidden', 'you may not create nodes here');
    if (await this.load(name)) throw new StanzaError('conflict', `the node ${JSON.stringify(name)} exists`);
    if ((await this.options.store.nodes(this.address)).length >= this.options.limits.maxNodes) {
      throw new StanzaError('not-allowed', `this service keeps at most ${this.options.limits.maxNodes} nodes`);
    }
    const config = configValues ? applyConfig(defaultConfig(this.options.kind), configValues, this.options.limits.maxItems) : defaultConfig(this.options.kind);
    const state = newNode(name, this.options.kind, from.bare().toString(), config);
    await this.save(state);
    return state;
  }

  /** Sections 7.1 and 7.1.5: publish one item, creating the node when it does not exist (auto-create). */
  async publish(from: Jid, publish: Element, publishOptions: Element | undefined): Promise<Element> {
    const name = requireNode(publish);
    const items = publish.getChildren('item', NS_PUBSUB);
    // Section 7.1.3.6: one item per request; its payload is one element.
    if (items.length > 1) throw pubsubError('bad-request', 'invalid-payload', 'publish one item per request');
    const item = items[0];
    if (!item) throw pubsubError('bad-request', 'item-required', 'the node delivers payloads: publish an <item/>');
    const payload = item.elements();
    if (payload.length === 0) throw pubsubError('bad-request', 'payload-required', 'the item needs a payload');
    if (payload.length > 1) throw pubsubError('bad-request', 'invalid-payload', 'an item carries one payload element');
    const options = publishOptions && optionValues(publishOptions);
    const id = item.attrs.id || randomUUID();
    const stored = el('item', NS_PUBSUB, { id, publisher: from.bare().toString() }, ...payload);
    const xml = serialize(stored);
    if (Buffer.byteLength(xml) > this.options.limits.maxItemBytes) {
      throw pubsubError('not-acceptable', 'payload-too-big', `an item may have at most ${this.options.limits.maxItemBytes} bytes`);
    }
    return this.exclusive(async () => {
      let state = await this.load(name);
      if (state === undefined) {
        state = await this.create(from, name, undefined).catch((error: unknown) => {
          throw error instanceof StanzaError && error.condition === 'forbidden' ? nodeNotFound(name) : error;
        });
        if (options) {
          try {
            state.config = applyConfig(state.config, options, this.options.limits.maxItems);
          } catch (error) {
            await this.options.store.deleteNode(this.address, name);
            throw error instanceof StanzaError ? pubsubError('conflict', 'precondition-not-met', error.text) : error;
          }
          await this.save(state);
        }
      } else if (options) {
        checkPublishOptions(state.config, options, this.options.limits.maxItems);
      }
      this.checkPublisher(state, from);
      const removed = state.config.persist_items
        ? await this.options.store.putItem(this.address, name, { id, xml, publisher: from.bare().toString() }, state.config.max_items)
        : [];
      await this.notify(state, itemsEvent(name, [stored], [], state.config.deliver_payloads));
      if (removed.length > 0 && state.config.notify_retract) await this.notify(state, itemsEvent(name, [], removed, false));
      return el('pubsub', NS_PUBSUB, {}, el('publish', NS_PUBSUB, { node: name }, el('item', NS_PUBSUB, { id })));
    });
  }

  /** Section 7.2: remove an item; its publisher or a publisher of the node may. */
  async retract(from: Jid, retract: Element): Promise<void> {
    const name = requireNode(retract);
    const ids = retract.getChildren('item', NS_PUBSUB).map((item) => item.attrs.id);
    if (ids.length !== 1 || !ids[0]) throw pubsubError('bad-request', 'item-required', 'name one item to retract');
    const id = ids[0];
    await this.exclusive(async () => {
      const state = await this.loadExisting(name);
      const stored = await this.options.store.item(this.address, name, id);
      if (!stored) throw new StanzaError('item-not-found', `no item ${JSON.stringify(id)}`);
      if (stored.publisher !== from.bare().toString()) this.checkPublisher(state, from);
      await this.options.store.deleteItem(this.address, name, id);
      // Section 7.2.2.1: notified when the node says so or the publisher asks to.
      const notify = retract.attrs.notify === 'true' || retract.attrs.notify === '1' || state.config.notify_retract;
      if (notify) await this.notify(state, itemsEvent(name, [], [id], false));
    });
  }

  /** Section 6.5: items of a node, the newest `max_items` or those named, oldest first. */
  async items(from: Jid, request: Element): Promise<Element> {
    const name = requireNode(request);
    const state = await this.loadExisting(name);
    await this.checkAccess(state, from);
    const wanted = request.getChildren('item', NS_PUBSUB).flatMap((item) => (item.attrs.id ? [item.attrs.id] : []));
    let stored;
    if (wanted.length > 0) {
      stored = (await Promise.all(wanted.map((id) => this.options.store.item(this.address, name, id)))).filter((item) => item !== undefined);
    } else {
      const max = request.attrs.max_items === undefined ? undefined : Number(request.attrs.max_items);
      if (max !== undefined && !(Number.isInteger(max) && max > 0)) throw new StanzaError('bad-request', 'max_items is a positive number');
      stored = (await this.options.store.items(this.address, name, max)).reverse();
    }
    const items = el('items', NS_PUBSUB, { node: name });
    for (const item of stored) items.append(parseElement(item.xml));
    return el('pubsub', NS_PUBSUB, {}, items);
  }

  /** Section 6.1: subscribe a JID of the requester's own to a node; the last item follows (section 6.1.7). */
  async subscribe(from: Jid, subscribe: Element): Promise<Element> {
    const name = requireNode(subscribe);
    const jid = requesterJid(subscribe, from);
    const state = await this.exclusive(async () => {
      const current = await this.loadExisting(name);
      await this.checkAccess(current, from);
      if (!current.subscriptions.includes(jid)) {
        if (current.subscriptions.length >= this.options.limits.maxSubscriptions) {
          throw new StanzaError('not-allowed', `a node keeps at most ${this.options.limits.maxSubscriptions} subscriptions`);
        }
        current.subscriptions.push(jid);
        await this.save(current);
      }
      return current;
    });
    if (state.config.send_last_published_item !== 'never') await this.sendLastItem(state, jid);
    return el('pubsub', NS_PUBSUB, {}, el('subscription', NS_PUBSUB, { node: name, jid, subscription: 'subscribed' }));
  }

  /** Section 6.2: end a subscription. */
  async unsubscribe(from: Jid, unsubscribe: Element): Promise<void> {
    const name = requireNode(unsubscribe);
    const jid = requesterJid(unsubscribe, from);
    await this.exclusive(async () => {
      const state = await this.loadExisting(name);
      if (!state.subscriptions.includes(jid)) throw pubsubError('unexpected-request', 'not-subscribed', `${jid} is not subscribed`);
      state.subscriptions = state.subscriptions.filter((subscriber) => subscriber !== jid);
      await this.save(state);
    });
  }

  /** Section 6.1.7: the node's newest item, to one recipient. */
  async sendLastItem(state: NodeState, to: string): Promise<void> {
    const [last] = await this.options.store.items(this.address, state.name, 1);
    if (!last) return;
    this.options.send(eventMessage(this.address, to, itemsEvent(state.name, [parseElement(last.xml)], [], state.config.deliver_payloads)));
  }

  /**
   * Sends an event to the node's subscribers and implicit recipients that may see the node,
   * each once; a JID subscribed bare covers that account's resources.
   */
  async notify(state: NodeState, event: Element): Promise<void> {
    const recipients = new Set(state.subscriptions);
    const implicit = (await this.options.implicitRecipients?.(state.name)) ?? [];
    for (const jid of implicit) if (!recipients.has(jid.replace(/\/.*$/, ''))) recipients.add(jid);
    const allowed = new Map<string, boolean>();
    for (const to of recipients) {
      const bare = to.replace(/\/.*$/, '');
      let may = allowed.get(bare);
      if (may === undefined) {
        may = await this.mayAccess(state, bare);
        allowed.set(bare, may);
      }
      if (may) this.options.send(eventMessage(this.address, to, event.clone()));
    }
  }

  /** Section 7.1.3.1: publishers are the owner and publishers, or anyone with the open publish model. */
  checkPublisher(state: NodeState, from: Jid): void {
    const affiliation = affiliationOf(state, from.bare().toString());
    if (affiliation === 'owner' || affiliation === 'publisher') return;
    if (state.config.publish_model === 'open' && affiliation !== 'outcast') return;
    throw new StanzaError('forbidden', 'you may not publish to this node');
  }

  /** Section 4.5 and 6.1.3: the access model's errors for someone who may not see the node. */
  async checkAccess(state: NodeState, from: Jid): Promise<void> {
    const bare = from.bare().toString();
    if (await this.mayAccess(state, bare)) return;
    if (affiliationOf(state, bare) === 'outcast') throw new StanzaError('forbidden', 'you are banned from this node');
    if (state.config.access_model === 'presence') throw pubsubError('not-authorized', 'presence-subscription-required', 'the node is for contacts subscribed to the owner\'s presence');
    throw pubsubError('not-allowed', 'closed-node', 'the node is open to its whitelist only');
  }

  async mayAccess(state: NodeState, bare: string): Promise<boolean> {
    const affiliation = affiliationOf(state, bare);
    if (affiliation === 'outcast') return false;
    if (affiliation !== 'none') return true;
    if (state.config.access_model === 'open') return true;
    if (state.config.access_model === 'presence') return this.options.sharesPresence(parseJid(bare));
    return false;
  }
}

function requireNode(element: Element): string {
  const node = element.attrs.node;
  if (!node) throw pubsubError('bad-request', 'nodeid-required', 'name the node');
  return node;
}

/** Section 6.1.3.1: the subscribing JID must be the requester's own (bare JIDs compared). */
function requesterJid(element: Element, from: Jid): string {
  const text = element.attrs.jid;
  if (!text) throw pubsubError('bad-request', 'jid-required', 'name the subscribing JID');
  let jid: Jid;
  try {
    jid = parseJid(text);
  } catch {
    throw pubsubError('bad-request', 'invalid-jid', `${text} is not a JID`);
  }
  if (!jid.bare().equals(from.bare())) throw pubsubError('bad-request', 'invalid-jid', 'you may subscribe only your own JIDs');
  return jid.toString();
}

/** Section 7.1.5: the values of a <publish-options/> form. */
function optionValues(publishOptions: Element): ReadonlyMap<string, readonly string[]> | undefined {
  const form = findForm(publishOptions);
  return form && readForm(form);
}
