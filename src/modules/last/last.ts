/**
 * Last Activity (XEP-0012): the server's uptime for a query to the server (section 5), and for a
 * query to an account's bare JID (section 4) the seconds since the account's last resource went
 * offline, with the status of its last unavailable presence; 0 while a resource is online.
 * Only the account itself and contacts it shares its presence with may ask (section 4 and 8):
 * anyone else gets forbidden.
 */
import type { Jid } from '../../jid/jid.ts';
import type { BoundSession } from '../../router/sessions.ts';
import type { Storage } from '../../storage/types.ts';
import { el, type Element } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { FeatureModule, ModuleContext } from '../context.ts';
import { sharesPresenceWith } from '../presence/shares-presence.ts';

export const NS_LAST = 'jabber:iq:last';
const STORAGE_KEY = 'last-activity';
/** Runs before the presence feature, which forgets the resource's presence. */
const STATUS_PRIORITY = 10;

/** When the account's last resource went offline, and the status it left with. */
interface LastLogout {
  at: number;
  status: string;
}

export const lastActivityModule: FeatureModule = (context) => {
  const { host } = context;
  /** the <status/> of the unavailable presence a resource sent before it closed */
  const leavingStatus = new WeakMap<BoundSession, string>();

  // Section 5: the server's uptime: the seconds since its process started.
  host.handleIq('host', 'get', NS_LAST, 'query', () => lastQuery(Math.floor(process.uptime())));
  host.handleIq('account', 'get', NS_LAST, 'query', ({ to }) => accountLastActivity(context, to));
  host.handleIq('bare', 'get', NS_LAST, 'query', async ({ from, to }) => {
    if (!(await accountExists(context.storage, to))) throw new StanzaError('service-unavailable');
    if (!(await sharesPresenceWith(context.storage, to, from))) throw new StanzaError('forbidden', 'only contacts who see your presence may ask for your last activity');
    return accountLastActivity(context, to);
  });

  host.events.on('pre-presence', ({ stanza, session }) => {
    // RFC 6121 section 4.5.1: unavailable presence without `to` is the resource signing off.
    if (stanza.attrs.type === 'unavailable' && stanza.attrs.to === undefined) leavingStatus.set(session, stanza.getChildText('status') ?? '');
    return false;
  }, STATUS_PRIORITY);

  host.events.on('session/closed', async ({ session }) => {
    if (context.router.sessions.resourcesOf(session.jid).length > 0) return false;
    // A session ended because its account was removed leaves nothing behind.
    if (!(await accountExists(context.storage, session.jid))) return false;
    const logout: LastLogout = { at: Date.now(), status: leavingStatus.get(session) ?? '' };
    await context.storage.userData.set(session.jid.domain, session.jid.local!, STORAGE_KEY, JSON.stringify(logout));
    return false;
  });
};

/** Section 4: 0 with a resource online, else the time since the last logout (none recorded: no `seconds`). */
async function accountLastActivity({ router, storage }: ModuleContext, account: Jid): Promise<Element> {
  if (router.sessions.resourcesOf(account).length > 0) return lastQuery(0);
  const stored = await storage.userData.get(account.domain, account.local!, STORAGE_KEY);
  if (stored === undefined) return el('query', NS_LAST);
  const logout = JSON.parse(stored) as LastLogout;
  return lastQuery(Math.max(0, Math.floor((Date.now() - logout.at) / 1000)), logout.status);
}

function lastQuery(seconds: number, status = ''): Element {
  const query = el('query', NS_LAST, { seconds: String(seconds) });
  if (status !== '') query.t(status);
  return query;
}

async function accountExists(storage: Storage, jid: Jid): Promise<boolean> {
  return jid.local !== undefined && (await storage.accounts.get(jid.domain, jid.local)) !== undefined;
}
