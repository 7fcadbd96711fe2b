/**
 * Simple communications blocking (XEP-0191): the block list commands, pushes of changes to the
 * user's resources that asked for the list, and enforcement on every stanza to or from the
 * user. Lists are stored per user and cached while the user is online.
 */
import { randomBytes } from 'node:crypto';
import { JidMalformedError, parseJid, tryParseJid, type Jid } from '../../jid/jid.ts';
import { STANZA_EVENTS } from '../../router/host.ts';
import type { Router } from '../../router/router.ts';
import type { BoundSession } from '../../router/sessions.ts';
import { Element, el, NS_CLIENT } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { FeatureModule, ModuleContext } from '../context.ts';
import { BlocklistStore } from './blocklist-store.ts';
import { Blocklist } from './blocklist.ts';
import { checkInbound, checkOutbound, decideInbound } from './enforcement.ts';
import { NS_REPORTING, REPORTING_0_FEATURES, reportHandler, reportsOf } from './reports.ts';

export const NS_BLOCKING = 'urn:xmpp:blocking';

/** Bound on one user's list, so a client cannot grow it without end. */
export const MAX_BLOCKLIST_ITEMS = 10_000;

/** Runs before delivery, offline storage and every other feature (XEP-0191: the block wins). */
const ENFORCEMENT_PRIORITY = 100;

/** Each server's block list stores by domain, so a host can see another local host's users' lists. */
const storesByRouter = new WeakMap<Router, Map<string, BlocklistStore>>();

export const blockingModule: FeatureModule = (context) => {
  const { host, router } = context;
  // A cluster's other nodes drop their copy of a list that changed here (docs/cluster.md).
  const topic = `blocking:${host.domain}`;
  const store = new BlocklistStore(host.domain, context.storage, router.sessions, (user) => router.notices.publish(topic, user.toString()));
  router.notices.on(topic, (user) => store.forget(parseJid(user)));
  let stores = storesByRouter.get(router);
  if (!stores) storesByRouter.set(router, (stores = new Map()));
  stores.set(host.domain, store);
  const lookup = (user: Jid) => stores.get(user.domain);
  /** resources that retrieved the list and so get pushes (XEP-0191, "User Blocks Contact") */
  const interested = new WeakSet<BoundSession>();

  host.discoFeatures.add(NS_BLOCKING);
  // XEP-0377 section 3: block commands may carry reports.
  for (const feature of [NS_REPORTING, ...REPORTING_0_FEATURES]) host.discoFeatures.add(feature);
  const report = reportHandler(context);

  // XEP-0191 "User Retrieves Block List".
  host.handleIq('account', 'get', NS_BLOCKING, 'blocklist', async ({ from }) => {
    const session = router.sessions.get(from);
    if (session) interested.add(session);
    return listElement('blocklist', (await store.get(from)).entries);
  });

  // XEP-0191 "User Blocks Contact".
  host.handleIq('account', 'set', NS_BLOCKING, 'block', async ({ from, payload }) => {
    const items = itemJids(payload);
    if (items.length === 0) throw new StanzaError('bad-request', 'a block command names at least one address');
    const user = from.bare();
    const before = await store.get(user);
    if (before.with(items).size > MAX_BLOCKLIST_ITEMS) throw new StanzaError('not-allowed', `a block list holds at most ${MAX_BLOCKLIST_ITEMS} addresses`);
    await hidePresence(context, user, before, Blocklist.EMPTY.with(items));
    await store.update(user, (current) => current.with(items));
    push(router, interested, user, listElement('block', items.map(String)));
    const reports = reportsOf(payload, items, NS_BLOCKING);
    if (reports.length > 0) report(user, reports);
    return undefined;
  });

  // XEP-0191 "User Unblocks Contact" and "User Unblocks All Contacts" (no items).
  host.handleIq('account', 'set', NS_BLOCKING, 'unblock', async ({ from, payload }) => {
    const items = itemJids(payload);
    const user = from.bare();
    const { before, after } = await store.update(user, (current) => (items.length === 0 ? Blocklist.EMPTY : current.without(items)));
    push(router, interested, user, listElement('unblock', items.map(String)));
    await showPresence(context, user, before, after);
    return undefined;
  });

  host.events.on('session/closed', ({ session }) => store.forgetIfOffline(session.jid));

  for (const kind of ['message', 'presence', 'iq'] as const) {
    for (const form of ['bare', 'full'] as const) {
      host.events.on(STANZA_EVENTS[kind][form], (event) => checkInbound(event, store, lookup), ENFORCEMENT_PRIORITY, (event) => decideInbound(event, store, lookup));
    }
    host.events.on(STANZA_EVENTS[kind].pre, (event) => checkOutbound(event, store), ENFORCEMENT_PRIORITY);
  }
};

/** The addresses of the <item jid='...'/> children; a bad one fails the whole command. */
function itemJids(payload: Element): Jid[] {
  return payload.getChildren('item', NS_BLOCKING).map((item) => {
    const jid = item.attrs.jid;
    if (jid === undefined) throw new StanzaError('bad-request', 'an item needs a jid attribute');
    try {
      return parseJid(jid);
    } catch (error) {
      if (error instanceof JidMalformedError) throw new StanzaError('jid-malformed', `'${jid}' is not a valid address: ${error.message}`);
      throw error;
    }
  });
}

function listElement(name: 'blocklist' | 'block' | 'unblock', jids: readonly string[]): Element {
  return el(name, NS_BLOCKING, {}, ...jids.map((jid) => el('item', NS_BLOCKING, { jid })));
}

/** Sends a change to every resource of the user that retrieved the list. */
function push(router: Router, interested: WeakSet<BoundSession>, user: Jid, change: Element): void {
  for (const session of router.sessions.resourcesOf(user)) {
    if (!interested.has(session)) continue;
    session.send(el('iq', NS_CLIENT, { type: 'set', id: `push-${randomBytes(6).toString('base64url')}`, from: user.toString(), to: session.jid.toString() }, change.clone()));
  }
}

/**
 * Addresses that currently receive the user's presence: contacts subscribed to it (RFC 6121
 * section 3, subscription "from" or "both") and those the user sent directed presence to
 * (section 4.6).
 */
async function presenceWatchers({ storage, router }: ModuleContext, user: Jid): Promise<Jid[]> {
  const watchers = new Map<string, Jid>();
  const roster = await storage.rosters.get(user.domain, user.local!);
  for (const item of roster.items) {
    if (item.subscription === 'from' || item.subscription === 'both') addWatcher(watchers, item.jid);
  }
  for (const session of router.sessions.availableResourcesOf(user)) {
    for (const address of session.im.directedPresence) addWatcher(watchers, address);
  }
  return [...watchers.values()];
}

function addWatcher(watchers: Map<string, Jid>, address: string): void {
  const jid = tryParseJid(address);
  if (jid) watchers.set(jid.toString(), jid);
}

/**
 * XEP-0191 "User Blocks Contact": a newly blocked address that could see the user's presence
 * gets unavailable presence from each available resource (once: an address already blocked
 * got it before). Sent before the block applies, since afterwards nothing the user's server
 * sends reaches that address.
 */
async function hidePresence(context: ModuleContext, user: Jid, before: Blocklist, added: Blocklist): Promise<void> {
  const available = context.router.sessions.availableResourcesOf(user);
  if (available.length === 0) return;
  for (const watcher of await presenceWatchers(context, user)) {
    if (!added.matches(watcher) || before.matches(watcher)) continue;
    for (const session of available) {
      await context.router.route(el('presence', NS_CLIENT, { type: 'unavailable', from: session.jid.toString(), to: watcher.toString() }), { kind: 'local' });
    }
  }
}

/**
 * XEP-0191 "User Unblocks Contact": an address no longer blocked that may see the user's
 * presence gets the current presence of each available resource.
 */
async function showPresence(context: ModuleContext, user: Jid, before: Blocklist, after: Blocklist): Promise<void> {
  const available = context.router.sessions.availableResourcesOf(user);
  if (available.length === 0) return;
  const { storage } = context;
  const roster = await storage.rosters.get(user.domain, user.local!);
  for (const item of roster.items) {
    const contact = tryParseJid(item.jid);
    if ((item.subscription !== 'from' && item.subscription !== 'both') || !contact) continue;
    if (!before.matches(contact) || after.matches(contact)) continue;
    for (const session of available) {
      // A copy of its own: each read of the kept presence parses one.
      const presence = session.im.presence;
      if (!presence) continue;
      presence.attrs.from = session.jid.toString();
      presence.attrs.to = contact.toString();
      await context.router.route(presence, { kind: 'local' });
    }
  }
}
