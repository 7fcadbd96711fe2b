/**
 * The publish-subscribe service (XEP-0060) on its service host, `pubsub.<host>` by default:
 * nodes made and owned by users, items published to them, subscribers notified, and the nodes
 * and their items in service discovery (section 5).
 */
import type { PubsubSettings } from '../config/types.ts';
import type { Jid } from '../jid/jid.ts';
import type { Host } from '../router/host.ts';
import type { Router } from '../router/router.ts';
import type { Storage } from '../storage/types.ts';
import { el, type Element } from '../xml/element.ts';
import { NS_PING } from '../xml/namespaces.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { NS_DISCO_INFO, NS_DISCO_ITEMS } from '../muc/disco.ts';
import { itemsOfNode, nodeInfo, nodeItems } from './disco.ts';
import { KeyedLock } from './keyed-lock.ts';
import { pubsubRequest } from './requests.ts';
import { PubsubService } from './service.ts';
import { NS_PUBSUB, NS_PUBSUB_OWNER, SERVICE_FEATURES } from './xmlns.ts';

export interface PubsubHostOptions {
  /** the hosted domain the service belongs to */
  parent: string;
  router: Router;
  storage: Storage;
}

export function servePubsub(host: Host, { parent, router, storage }: PubsubHostOptions): void {
  const settings = (): PubsubSettings => host.config.pubsub;
  host.discoIdentities.splice(0, host.discoIdentities.length, { category: 'pubsub', type: 'service', name: settings().name });
  for (const feature of SERVICE_FEATURES) host.discoFeatures.add(feature);
  const lock = new KeyedLock();

  const service = (): PubsubService => {
    const current = settings();
    return new PubsubService({
      address: host.domain,
      kind: 'service',
      store: storage.pubsub,
      lock,
      limits: { maxNodes: current.max_nodes, maxItems: current.max_items, maxItemBytes: current.max_item_bytes, maxSubscriptions: current.max_subscriptions },
      mayCreate: (from) => mayCreate(current.node_creation, from, parent, router),
      // The presence access model needs an owner's roster; a service node has none of its own.
      sharesPresence: async () => false,
      send: (stanza) => void router.route(stanza, { kind: 'local' }),
    });
  };

  for (const type of ['get', 'set'] as const) {
    for (const xmlns of [NS_PUBSUB, NS_PUBSUB_OWNER]) {
      host.handleIq('host', type, xmlns, 'pubsub', ({ from, payload }) => pubsubRequest(service(), type, payload, from));
    }
  }
  host.handleIq('host', 'get', NS_DISCO_INFO, 'query', async ({ from, payload }) => {
    const node = nodeOf(payload);
    if (node !== undefined) return nodeInfo(service(), from, node);
    const query = el('query', NS_DISCO_INFO);
    for (const identity of host.discoIdentities) query.append(el('identity', NS_DISCO_INFO, { category: identity.category, type: identity.type, name: identity.name }));
    for (const feature of [NS_DISCO_INFO, NS_DISCO_ITEMS, NS_PING, ...host.discoFeatures]) query.c('feature', { var: feature });
    return query;
  });
  host.handleIq('host', 'get', NS_DISCO_ITEMS, 'query', async ({ from, payload }) => {
    const node = nodeOf(payload);
    if (node !== undefined) return itemsOfNode(service(), from, node);
    return el('query', NS_DISCO_ITEMS, {}, ...(await nodeItems(service(), from)));
  });
  host.handleIq('host', 'get', NS_PING, 'ping', () => undefined);
  // The service takes no presence, and no messages but errors.
  host.events.on('presence/host', () => true);
  host.events.on('message/host', ({ stanza }) => {
    if (stanza.attrs.type === 'error') return true;
    throw new StanzaError('service-unavailable', 'this is a publish-subscribe service');
  });
}

/** `node_creation`: users of any host of this server, of the parent host only, or anyone. */
function mayCreate(rule: PubsubSettings['node_creation'], from: Jid, parent: string, router: Router): boolean {
  if (from.local === undefined) return false;
  if (rule === 'anyone') return true;
  if (rule === 'host') return from.domain === parent;
  const home = router.hosts.get(from.domain);
  return home !== undefined && home.service === undefined;
}

function nodeOf(payload: Element): string | undefined {
  const node = payload.attrs.node;
  return node === '' ? undefined : node;
}
