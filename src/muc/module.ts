/**
 * The group-chat service on its service host: stanzas for the service, its rooms and their
 * occupant JIDs reach the MucService through the host's events and IQ handlers, as a hosted
 * domain's reach its feature modules.
 */
import type { Jid } from '../jid/jid.ts';
import { STANZA_EVENTS, type Host } from '../router/host.ts';
import { el, type Element } from '../xml/element.ts';
import { StanzaError } from '../xml/stanza-error.ts';
import { NS_DISCO_INFO, NS_DISCO_ITEMS, roomInfo, roomItems, serviceInfo, serviceItems } from './disco.ts';
import { registrationGet, registrationSet } from './registration.ts';
import { adminGet, adminSet, ownerGet, ownerSet } from './room-admin.ts';
import type { Room } from './room.ts';
import { handedOver } from './placement.ts';
import { MucService, type MucServiceOptions } from './service.ts';
import { RoomArchives } from './room-archive.ts';
import { moderate, NS_FASTEN, NS_MODERATE, NS_MODERATE_0, readModerationRequest } from './moderation.ts';
import { queryForm } from '../modules/mam/results.ts';
import { NS_MAM, NS_MAM_EXTENDED, NS_SID } from '../modules/mam/xmlns.ts';
import { NS_MUC, NS_MUC_ADMIN, NS_MUC_OWNER, NS_MUC_UNIQUE, NS_PING, NS_REGISTER } from './xmlns.ts';

const servicesByHost = new WeakMap<Host, MucService>();
/** Above every other handler of a room's stanzas: in a cluster they go to the room's node first. */
const PLACEMENT_PRIORITY = 1000;

/** The group-chat service a service host serves, if any (admin views, tests). */
export function mucServiceOf(host: Host | undefined): MucService | undefined {
  return host && servicesByHost.get(host);
}

export function serveMuc(host: Host, options: Omit<MucServiceOptions, 'domain' | 'archives'>): MucService {
  // The service host's settings are its parent's, which a reload replaces in place.
  const archives = new RoomArchives(host.domain, options.storage, () => host.config.mam, options.logger);
  const service = new MucService({ ...options, domain: host.domain, archives });
  servicesByHost.set(host, service);
  host.discoIdentities.splice(0, host.discoIdentities.length, { category: 'conference', type: 'text', name: options.settings.name });
  host.discoFeatures.add(NS_MUC);

  // docs/cluster.md, "Group chat": a room runs on one node of a cluster; its stanzas are handled there.
  for (const event of ['presence/full', 'presence/bare', 'message/full', 'message/bare', 'iq/full', 'iq/bare'] as const) {
    host.events.on(event, ({ stanza, to }) => to.local !== undefined && handedOver(options.router, to.bare(), stanza), PLACEMENT_PRIORITY);
  }

  for (const form of ['full', 'bare'] as const) {
    host.events.on(STANZA_EVENTS.presence[form], async ({ stanza, from, to }) => {
      await service.ready;
      await service.outbox.admit();
      service.presence(stanza, from, to);
      return true;
    });
    host.events.on(STANZA_EVENTS.message[form], async ({ stanza, from, to }) => {
      await service.ready;
      await service.outbox.admit();
      service.message(stanza, from, to);
      return true;
    });
  }
  // The service's own domain takes no presence, and no messages but errors and headlines.
  host.events.on('presence/host', () => true);
  host.events.on('message/host', ({ stanza }) => {
    if (stanza.attrs.type === 'error' || stanza.attrs.type === 'headline') return true;
    throw new StanzaError('service-unavailable', 'send messages to a room of this service');
  });
  host.events.on('iq/full', async ({ stanza, from, to }) => {
    await service.ready;
    service.occupantIq(stanza, from, to);
    return true;
  });

  // The service (XEP-0045 sections 6.1 to 6.3 and 10.1.4).
  host.handleIq('host', 'get', NS_DISCO_INFO, 'query', ({ payload }) => withoutNode(payload, () => serviceInfo(options.settings.name)));
  host.handleIq('host', 'get', NS_DISCO_ITEMS, 'query', async ({ payload }) => {
    await service.ready;
    return withoutNode(payload, () => serviceItems(service.rooms.values()));
  });
  host.handleIq('host', 'get', NS_MUC_UNIQUE, 'unique', () => el('unique', NS_MUC_UNIQUE, {}, service.uniqueName()));
  // XEP-0199: the service and each room answer pings (clients check they are still reachable).
  host.handleIq('host', 'get', NS_PING, 'ping', () => undefined);
  host.handleIq('bare', 'get', NS_PING, 'ping', async ({ to }) => {
    await service.ready;
    service.room(to);
    return undefined;
  });

  // Each room (sections 6.4, 6.5, 7.10, 8 to 10).
  const roomIq = (type: 'get' | 'set', xmlns: string, handle: (request: { room: Room; from: Jid; payload: Element }) => Element | undefined) => {
    host.handleIq('bare', type, xmlns, 'query', async ({ from, to, payload }) => {
      await service.ready;
      return handle({ room: service.room(to), from, payload });
    });
  };
  roomIq('get', NS_DISCO_INFO, ({ room, payload }) => withoutNode(payload, () => roomInfo(room, archives.enabled ? [NS_MAM, NS_MAM_EXTENDED, NS_SID, NS_MODERATE, NS_MODERATE_0] : [])));
  roomIq('get', NS_DISCO_ITEMS, ({ room, payload }) => withoutNode(payload, () => roomItems(room)));
  roomIq('get', NS_MUC_ADMIN, ({ room, from, payload }) => adminGet(room, from, payload));
  roomIq('set', NS_MUC_ADMIN, ({ room, from, payload }) => void adminSet(room, from, payload));
  roomIq('get', NS_MUC_OWNER, ({ room, from }) => ownerGet(room, from));
  roomIq('set', NS_MUC_OWNER, ({ room, from, payload }) => void ownerSet(room, from, payload));
  roomIq('get', NS_REGISTER, ({ room, from }) => registrationGet(room, from));
  roomIq('set', NS_REGISTER, ({ room, from, payload }) => void registrationSet(room, from, payload));
  // XEP-0425: a moderator retracts a message, in the current version or the one before it.
  for (const [xmlns, name] of [[NS_MODERATE, 'moderate'], [NS_FASTEN, 'apply-to']] as const) {
    host.handleIq('bare', 'set', xmlns, name, async ({ from, to, payload }) => {
      await service.ready;
      await moderate(service.room(to), from, readModerationRequest(payload), archives);
      return undefined;
    });
  }
  // XEP-0313 section 3.3.2: the room's archive at its bare JID.
  host.handleIq('bare', 'set', NS_MAM, 'query', async ({ from, to, payload }) => {
    await service.ready;
    const fin = await archives.query(service.room(to), from, payload, (stanza) => service.outbox.send(stanza));
    // Section 4.2: the results reach the client before the IQ result that ends the query.
    await service.outbox.idle();
    return fin;
  });
  host.handleIq('bare', 'get', NS_MAM, 'query', async ({ from, to }) => {
    await service.ready;
    archives.checkAccess(service.room(to), from);
    return queryForm();
  });
  host.handleIq('bare', 'get', NS_MAM, 'metadata', async ({ from, to }) => {
    await service.ready;
    return archives.metadata(service.room(to), from);
  });
  return service;
}

/** XEP-0030 section 7: nodes are not served here. */
function withoutNode(payload: Element, answer: () => Element): Element {
  const node = payload.attrs.node;
  if (node !== undefined && node !== '') throw new StanzaError('item-not-found', `no node ${JSON.stringify(node)} here`);
  return answer();
}
