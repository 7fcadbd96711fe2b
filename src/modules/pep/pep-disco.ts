/**
 * The account's disco with personal eventing (XEP-0163 section 6.1): the account's identity
 * pubsub/pep and the pubsub features beside what the disco feature answers, its nodes as items,
 * and each node's information and items (XEP-0060 section 5).
 */
import type { Host, IqHandler, IqRequest } from '../../router/host.ts';
import type { Storage } from '../../storage/types.ts';
import { el, type Element } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import { itemsOfNode, nodeInfo, nodeItems } from '../../pubsub/disco.ts';
import { PEP_FEATURES } from '../../pubsub/xmlns.ts';
import { NS_DISCO_INFO, NS_DISCO_ITEMS } from '../disco/host-info.ts';
import { sharesPresenceWith } from '../presence/shares-presence.ts';
import type { PepServiceOf } from './pep.ts';

/** `extraFeatures`: the account's other features that come with personal eventing (bookmarks conversion). */
export function servePepDisco(host: Host, storage: Storage, serviceOf: PepServiceOf, extraFeatures: readonly string[]): void {
  // COMPAT(Profanity): the server's own disco#info names personal eventing and its pubsub
  // features too, as ejabberd's does. Profanity 0.13 looks for pubsub#publish-options only on
  // the server and its services, never on the account: without it here, its first OMEMO bundle
  // went without publish options, created a node open only to contacts, and every later publish
  // with access_model open was refused with precondition-not-met (XEP-0060 section 7.1.5), in a
  // loop, since its reconfiguration of the node never changes the access model.
  host.discoIdentities.push({ category: 'pubsub', type: 'pep' });
  for (const feature of PEP_FEATURES) host.discoFeatures.add(feature);
  for (const scope of ['account', 'bare'] as const) {
    const info = host.iqHandler(scope, 'get', NS_DISCO_INFO, 'query');
    const items = host.iqHandler(scope, 'get', NS_DISCO_ITEMS, 'query');
    // Without the disco feature the account answers no disco, and neither does this.
    if (!info || !items) continue;
    host.handleIq(scope, 'get', NS_DISCO_INFO, 'query', async (request) => {
      const node = nodeOf(request.payload);
      if (node !== undefined) return nodeInfo(serviceOf(request.to), request.from, node);
      const query = await answer(info, request);
      query.append(el('identity', NS_DISCO_INFO, { category: 'pubsub', type: 'pep' }));
      for (const feature of [...PEP_FEATURES, ...extraFeatures]) query.c('feature', { var: feature });
      return query;
    });
    host.handleIq(scope, 'get', NS_DISCO_ITEMS, 'query', async (request) => {
      const node = nodeOf(request.payload);
      if (node === undefined) return (await answer(items, request)).append(...(await nodeItems(serviceOf(request.to), request.from)));
      // As the disco feature does: only the account and its contacts learn anything.
      if (!(await sharesPresenceWith(storage, request.to, request.from))) throw new StanzaError('service-unavailable');
      return itemsOfNode(serviceOf(request.to), request.from, node);
    });
  }
}

async function answer(handler: IqHandler, request: IqRequest): Promise<Element> {
  return (await handler(request)) ?? el('query', request.payload.xmlns);
}

function nodeOf(payload: Element): string | undefined {
  const node = payload.attrs.node;
  return node === '' ? undefined : node;
}
