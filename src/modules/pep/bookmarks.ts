/**
 * Bookmarks in both stores (XEP-0411, XEP-0402 section 3.3): a client that keeps its group-chat
 * bookmarks in private XML storage (XEP-0048 over XEP-0049) and one that uses the PEP node
 * urn:xmpp:bookmarks:1 see the same bookmarks. A private storage set of storage:bookmarks is
 * published to the node (one item per room, those no longer there retracted); a private
 * storage get is answered from the node once it exists.
 */
import { parseJid, type Jid } from '../../jid/jid.ts';
import type { Host } from '../../router/host.ts';
import { el, type Element } from '../../xml/element.ts';
import { parseElement } from '../../xml/parse-element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import { renderForm } from '../../muc/data-form.ts';
import { FORM_PUBLISH_OPTIONS, NS_PUBSUB } from '../../pubsub/xmlns.ts';
import { NS_PRIVATE } from '../private/private.ts';
import type { PepServiceOf } from './pep.ts';

export const NS_BOOKMARKS = 'urn:xmpp:bookmarks:1';
export const NS_LEGACY_BOOKMARKS = 'storage:bookmarks';
/** XEP-0402 section 3.3: the server converts between the two stores. */
const FEATURE_COMPAT = 'urn:xmpp:bookmarks:1#compat';
/** XEP-0411 section 2. */
const FEATURE_CONVERSION = 'urn:xmpp:bookmarks-conversion:0';

/** Wraps private storage's handlers; returns the features to advertise (none without private storage). */
export function serveBookmarksConversion(host: Host, serviceOf: PepServiceOf): string[] {
  const get = host.iqHandler('account', 'get', NS_PRIVATE, 'query');
  const set = host.iqHandler('account', 'set', NS_PRIVATE, 'query');
  if (!get || !set) return [];

  host.handleIq('account', 'get', NS_PRIVATE, 'query', async (request) => {
    const wanted = request.payload.elements();
    if (wanted.length !== 1 || wanted[0]!.name !== 'storage' || wanted[0]!.xmlns !== NS_LEGACY_BOOKMARKS) return get(request);
    const service = serviceOf(request.to);
    const state = await service.load(NS_BOOKMARKS);
    if (!state) return get(request);
    // URL bookmarks have no place in XEP-0402: they stay as private storage kept them.
    const stored = (await get(request))?.getChild('storage', NS_LEGACY_BOOKMARKS);
    const storage = el('storage', NS_LEGACY_BOOKMARKS, {}, ...(stored?.getChildren('url', NS_LEGACY_BOOKMARKS) ?? []));
    for (const item of (await service.options.store.items(service.address, NS_BOOKMARKS)).reverse()) {
      const conference = legacyConference(item.id, item.xml);
      if (conference) storage.append(conference);
    }
    return el('query', NS_PRIVATE, {}, storage);
  });

  host.handleIq('account', 'set', NS_PRIVATE, 'query', async (request) => {
    const result = await set(request);
    const storage = request.payload.getChild('storage', NS_LEGACY_BOOKMARKS);
    if (storage) await publishConferences(serviceOf(request.to), request.to, storage);
    return result;
  });
  return [FEATURE_COMPAT, FEATURE_CONVERSION];
}

/** XEP-0411 section 3: every conference of the private document as an item of the PEP node, the others retracted. */
async function publishConferences(service: ReturnType<PepServiceOf>, account: Jid, storage: Element): Promise<void> {
  const wanted = new Map<string, Element>();
  for (const conference of storage.getChildren('conference', NS_LEGACY_BOOKMARKS)) {
    const room = roomOf(conference.attrs.jid);
    if (room) wanted.set(room, conference);
  }
  for (const [room, conference] of wanted) {
    const publish = el('publish', NS_PUBSUB, { node: NS_BOOKMARKS }, el('item', NS_PUBSUB, { id: room }, bookmarkOf(conference)));
    // A node its clients configured otherwise keeps its configuration.
    await service.publish(account, publish, el('publish-options', NS_PUBSUB, {}, bookmarkNodeOptions())).catch((error: unknown) => {
      if (!(error instanceof StanzaError && error.condition === 'conflict')) throw error;
      return service.publish(account, publish, undefined);
    });
  }
  const current = await service.options.store.items(service.address, NS_BOOKMARKS);
  for (const item of current) {
    if (!wanted.has(item.id)) await service.retract(account, el('retract', NS_PUBSUB, { node: NS_BOOKMARKS, notify: 'true' }, el('item', NS_PUBSUB, { id: item.id })));
  }
}

/** XEP-0402 section 3.1 (Example 2): the node's configuration, as its clients ask for it. */
function bookmarkNodeOptions(): Element {
  return renderForm('submit', FORM_PUBLISH_OPTIONS, [
    { var: 'pubsub#persist_items', values: ['true'] },
    { var: 'pubsub#max_items', values: ['max'] },
    { var: 'pubsub#send_last_published_item', values: ['never'] },
    { var: 'pubsub#access_model', values: ['whitelist'] },
  ]);
}

/** XEP-0411 section 3: a XEP-0048 conference as a XEP-0402 conference (the room JID becomes the item id). */
function bookmarkOf(conference: Element): Element {
  const autojoin = conference.attrs.autojoin === 'true' || conference.attrs.autojoin === '1';
  const bookmark = el('conference', NS_BOOKMARKS, { ...(conference.attrs.name ? { name: conference.attrs.name } : {}), ...(autojoin ? { autojoin: 'true' } : {}) });
  const nick = conference.getChildText('nick', NS_LEGACY_BOOKMARKS);
  if (nick) bookmark.c('nick').t(nick);
  const password = conference.getChildText('password', NS_LEGACY_BOOKMARKS);
  if (password) bookmark.c('password').t(password);
  return bookmark;
}

/** The reverse: a stored PEP item as a XEP-0048 conference, or nothing for an item that is not a bookmark. */
function legacyConference(room: string, xml: string): Element | undefined {
  const item = parseElement(xml);
  const bookmark = item.getChild('conference', NS_BOOKMARKS);
  if (!bookmark || !roomOf(room)) return undefined;
  const autojoin = bookmark.attrs.autojoin === 'true' || bookmark.attrs.autojoin === '1';
  const conference = el('conference', NS_LEGACY_BOOKMARKS, { jid: room, ...(autojoin ? { autojoin: 'true' } : {}), ...(bookmark.attrs.name ? { name: bookmark.attrs.name } : {}) });
  const nick = bookmark.getChildText('nick', NS_BOOKMARKS);
  if (nick) conference.c('nick').t(nick);
  const password = bookmark.getChildText('password', NS_BOOKMARKS);
  if (password) conference.c('password').t(password);
  return conference;
}

function roomOf(text: string | undefined): string | undefined {
  try {
    const jid = parseJid(text ?? '');
    return jid.local !== undefined && jid.resource === undefined ? jid.toString() : undefined;
  } catch {
    return undefined;
  }
}
