/**
 * Service discovery (XEP-0030) for the host and, on their behalf, its accounts; the host's
 * entity capabilities (XEP-0115) in the stream features after authentication.
 */
import type { IqRequest } from '../../router/host.ts';
import type { Storage } from '../../storage/types.ts';
import { el, type Element } from '../../xml/element.ts';
import { NS_DATA_FORMS } from '../../xml/namespaces.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { FeatureModule } from '../context.ts';
import { sharesPresenceWith } from '../presence/shares-presence.ts';
import { CAPS_NODE, NS_CAPS, type CapsForm, type CapsInput } from './caps.ts';
import { CapsCache, NS_DISCO_INFO, NS_DISCO_ITEMS, hostDiscoInfo } from './host-info.ts';

export const discoModule: FeatureModule = ({ host, storage, router }) => {
  const caps = new CapsCache();

  host.handleIq('host', 'get', NS_DISCO_INFO, 'query', ({ payload, from }) => {
    const node = nodeOf(payload);
    const moduleNode = node === undefined ? undefined : host.discoNodes.get(node);
    if (moduleNode) return infoQuery(moduleNode.info(from), node);
    // XEP-0115 section 6.2: the node NODE#VER names the same information as no node.
    if (node !== undefined && node !== `${CAPS_NODE}#${caps.verFor(host)}`) throw unknownNode(node);
    return infoQuery(hostDiscoInfo(host), node);
  });

  host.handleIq('host', 'get', NS_DISCO_ITEMS, 'query', ({ payload, from }) => {
    const node = nodeOf(payload);
    if (node !== undefined) {
      const moduleNode = host.discoNodes.get(node);
      if (!moduleNode) throw unknownNode(node);
      const query = el('query', NS_DISCO_ITEMS, { node });
      for (const item of moduleNode.items(from)) query.append(el('item', NS_DISCO_ITEMS, { jid: item.jid, node: item.node, name: item.name }));
      return query;
    }
    const query = el('query', NS_DISCO_ITEMS);
    // XEP-0030 section 4: the host's services first, then the configured items.
    for (const jid of new Set([...router.servicesOf(host.domain), ...host.config.disco.items])) query.c('item', { jid });
    return query;
  });

  // XEP-0030 section 3.1 and RFC 6121 section 8.5.1: a query to an account's bare JID is
  // answered by the server. Like Prosody and ejabberd it answers the account itself and the
  // contacts the account shares presence with, and otherwise service-unavailable, which is also
  // what a missing account gets, so a stranger learns nothing about who exists.
  for (const scope of ['account', 'bare'] as const) {
    host.handleIq(scope, 'get', NS_DISCO_INFO, 'query', async (request) => {
      await checkMayDiscover(request, storage);
      const node = nodeOf(request.payload);
      if (node !== undefined) throw unknownNode(node);
      return infoQuery({ ...ACCOUNT_INFO, features: [...ACCOUNT_INFO.features, ...host.accountDiscoFeatures] });
    });
    host.handleIq(scope, 'get', NS_DISCO_ITEMS, 'query', async (request) => {
      await checkMayDiscover(request, storage);
      const node = nodeOf(request.payload);
      if (node !== undefined) throw unknownNode(node);
      return el('query', NS_DISCO_ITEMS);
    });
  }

  host.streamFeatures.postAuth.push(capsFeature(() => caps.verFor(host)));
};

/** XEP-0030 section 3.1 (Registered identities: account/registered) for an account the server answers for. */
const ACCOUNT_INFO: CapsInput = { identities: [{ category: 'account', type: 'registered' }], features: [NS_DISCO_INFO, NS_DISCO_ITEMS] };

/** The account itself, or a contact with a subscription to the account's presence (RFC 6121 section 3). */
async function checkMayDiscover({ from, to }: IqRequest, storage: Storage): Promise<void> {
  if (!(await sharesPresenceWith(storage, to, from))) throw new StanzaError('service-unavailable');
}

function infoQuery(info: CapsInput, node?: string): Element {
  const query = el('query', NS_DISCO_INFO, { node });
  for (const identity of info.identities) query.append(el('identity', NS_DISCO_INFO, { category: identity.category, type: identity.type, name: identity.name }));
  for (const feature of info.features) query.c('feature', { var: feature });
  for (const form of info.forms ?? []) query.append(resultForm(form));
  return query;
}

/** XEP-0128 section 2: an extended information form, a data form (XEP-0004) of type result with a hidden FORM_TYPE. */
function resultForm(form: CapsForm): Element {
  const x = el('x', NS_DATA_FORMS, { type: 'result' });
  x.c('field', { var: 'FORM_TYPE', type: 'hidden' }).c('value').t(form.formType);
  for (const field of form.fields) {
    const element = x.c('field', { var: field.name });
    for (const value of field.values) element.c('value').t(value);
  }
  return x;
}

function nodeOf(payload: Element): string | undefined {
  const node = payload.attrs.node;
  return node === '' ? undefined : node;
}

/** XEP-0030 section 7: a node the entity does not know is item-not-found. */
function unknownNode(node: string): StanzaError {
  return new StanzaError('item-not-found', `no node ${JSON.stringify(node)} here`);
}

/**
 * XEP-0115 section 6.3: `<c/>` with the server's own capabilities. Its `ver` is read each time
 * the features are written, so features that modules set up after this one are counted.
 */
function capsFeature(ver: () => string): Element {
  const c = el('c', NS_CAPS, { hash: 'sha-1', node: CAPS_NODE });
  Object.defineProperty(c.attrs, 'ver', { enumerable: true, get: ver });
  return c;
}
