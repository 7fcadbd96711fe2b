/**
 * Personal eventing (XEP-0163): every account is a publish-subscribe service at its bare JID.
 * Its owner publishes (nodes made on first publish), contacts subscribed to the owner's presence
 * get notifications when their entity capabilities ask for them (`<node>+notify`, section 4.3),
 * and the last item when they come online (section 4.3.2).
 */
import type { Jid } from '../../jid/jid.ts';
import type { Element } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import { KeyedLock } from '../../pubsub/keyed-lock.ts';
import { pubsubRequest } from '../../pubsub/requests.ts';
import { PubsubService } from '../../pubsub/service.ts';
import { NS_PUBSUB, NS_PUBSUB_OWNER } from '../../pubsub/xmlns.ts';
import type { FeatureModule, ModuleContext } from '../context.ts';
import { sharesPresenceWith } from '../presence/shares-presence.ts';
import { serveAvatarConversion } from './avatar-conversion.ts';
import { serveBookmarksConversion } from './bookmarks.ts';
import { CapsResolver, capsOf } from './caps-resolver.ts';
import { NotifyInterests } from './interests.ts';
import { servePepDisco } from './pep-disco.ts';
import { SharedInterests } from './shared-interests.ts';

/** Resources remembered per account and in all (each a full JID and a shared feature set). */
const MAX_RESOURCES_PER_ACCOUNT = 200;
const MAX_RESOURCES = 200_000;
/** Capability hashes remembered (XEP-0115 section 6.3: a handful of client versions serve most users). */
const MAX_CAPS_ENTRIES = 5000;
const MAX_CAPS_QUERIES = 256;
const CAPS_TIMEOUT_MS = 10_000;
/** Runs before presence delivery, which takes the stanza. */
const PEP_PRESENCE_PRIORITY = 10;

/** The personal eventing service of one account. */
export type PepServiceOf = (account: Jid) => PubsubService;

export const pepModule: FeatureModule = (context) => {
  const { host, router, storage, logger } = context;
  const send = (stanza: Element): void => void router.route(stanza, { kind: 'local' });
  const interests = new SharedInterests(host.domain, new NotifyInterests(MAX_RESOURCES_PER_ACCOUNT, MAX_RESOURCES), router.notices, logger);
  const caps = new CapsResolver({ from: host.domain, send, maxEntries: MAX_CAPS_ENTRIES, maxPending: MAX_CAPS_QUERIES, timeoutMs: CAPS_TIMEOUT_MS });
  const lock = new KeyedLock();

  const serviceOf: PepServiceOf = (account) => {
    const owner = account.bare();
    const address = owner.toString();
    const settings = host.config.pep;
    return new PubsubService({
      address,
      kind: 'pep',
      store: storage.pubsub,
      lock,
      limits: { maxNodes: settings.max_nodes, maxItems: settings.max_items, maxItemBytes: settings.max_item_bytes, maxSubscriptions: MAX_RESOURCES_PER_ACCOUNT },
      mayCreate: (from) => from.bare().equals(owner),
      sharesPresence: (who) => sharesPresenceWith(storage, owner, who),
      send,
      implicitRecipients: async (node) => interests.recipients(address, node),
    });
  };

  // XEP-0163 section 4: the account's own requests, and others' to the account's bare JID.
  for (const type of ['get', 'set'] as const) {
    for (const xmlns of [NS_PUBSUB, NS_PUBSUB_OWNER]) {
      host.handleIq('account', type, xmlns, 'pubsub', ({ from, to, payload }) => pubsubRequest(serviceOf(to), type, payload, from));
      host.handleIq('bare', type, xmlns, 'pubsub', async ({ from, to, payload }) => {
        // As for disco: an account that does not exist tells nothing.
        if (!(await storage.accounts.get(to.domain, to.local!))) throw new StanzaError('service-unavailable');
        return pubsubRequest(serviceOf(to), type, payload, from);
      });
    }
  }

  // XEP-0115 section 6.3: answers to the server's disco#info queries about capability hashes.
  host.events.on('iq/host', ({ stanza }) => (stanza.attrs.type === 'result' || stanza.attrs.type === 'error') && caps.answer(stanza), PEP_PRESENCE_PRIORITY);

  /** An available presence with caps from `resource` reached `account` (its own, or a contact's). */
  const seen = (account: Jid, resource: Jid, stanza: Element): false => {
    const type = stanza.attrs.type;
    if (type === 'unavailable') interests.delete(account.toString(), resource.toString());
    if (type !== undefined || resource.resource === undefined) return false;
    // Occupants of this server's rooms are nobody's contacts: no roster lookup per room broadcast.
    if (router.hosts.get(resource.domain)?.service !== undefined) return false;
    const c = capsOf(stanza);
    if (!c) {
      interests.delete(account.toString(), resource.toString());
      return false;
    }
    // Capabilities learnt already for this account (a status change, the usual presence) teach
    // nothing new: no roster lookup, and no promise, per contact a presence is broadcast to.
    const known = caps.known(c);
    if (known !== undefined && interests.has(account.toString(), resource.toString(), known)) return false;
    learn(context, { caps, interests, serviceOf }, account, resource, c).catch((error: unknown) => {
      logger.warn('personal eventing: could not learn a resource\'s interests', { resource: resource.toString(), error: String(error) });
    });
    return false;
  };
  // Also the synchronous variant, so presence to a resource is still settled without waiting: what it
  // starts is idempotent, so the chain run again by `emit` learns nothing twice.
  const inbound = ({ stanza, from, to }: { stanza: Element; from: Jid; to: Jid }): false => seen(to.bare(), from, stanza);
  host.events.on('presence/bare', inbound, PEP_PRESENCE_PRIORITY, inbound);
  host.events.on('presence/full', inbound, PEP_PRESENCE_PRIORITY, inbound);
  // The owner's own resources (RFC 6121 section 4.2.2: their presence reaches the account's other resources directly).
  host.events.on('pre-presence', ({ stanza, session }) => (stanza.attrs.to === undefined ? seen(session.jid.bare(), session.jid, stanza) : false), PEP_PRESENCE_PRIORITY);
  host.events.on('session/closed', ({ session }) => {
    interests.delete(session.jid.bare().toString(), session.jid.toString());
    return false;
  });

  servePepDisco(host, storage, serviceOf, [...serveBookmarksConversion(host, serviceOf), ...serveAvatarConversion(context, serviceOf)]);
};

interface Learning {
  caps: CapsResolver;
  interests: SharedInterests;
  serviceOf: PepServiceOf;
}

/**
 * Section 4.3.2: a resource whose capabilities (new, or changed) ask for notifications of
 * nodes of the account gets each such node's last item, where it may see the node.
 */
async function learn({ storage, router }: ModuleContext, { caps, interests, serviceOf }: Learning, account: Jid, resource: Jid, c: Element): Promise<void> {
  // XEP-0163 section 4.3.1: the account's own resources and contacts subscribed to its presence;
  // nobody else makes the server ask anything.
  if (!(await sharesPresenceWith(storage, account, resource))) return;
  const features = await caps.features(resource, c);
  if (!features) return;
  // A resource of this server that went offline meanwhile is not remembered.
  if (router.hosts.has(resource.domain) && !router.sessions.get(resource)?.im.available) return;
  if (!interests.set(account.toString(), resource.toString(), features)) return;
  const service = serviceOf(account);
  for (const state of await service.nodes()) {
    if (state.config.send_last_published_item !== 'on_sub_and_presence' || !features.has(`${state.name}+notify`)) continue;
    if (await service.mayAccess(state, resource.bare().toString())) await service.sendLastItem(state, resource.toString());
  }
}
