/**
 * What an authenticated user does with jabber:iq:register (XEP-0077): see the registration,
 * change the password (section 3.3) and remove the account (section 3.2).
 */
import type { Jid } from '../../jid/jid.ts';
import type { IqRequest } from '../../router/host.ts';
import { NS_CLIENT, el, type Element } from '../../xml/element.ts';
import { StanzaError } from '../../xml/stanza-error.ts';
import type { ModuleContext } from '../context.ts';
import { NS_REGISTER, credentialsOf, usernameOf } from './fields.ts';

export function enableAccountManagement({ host, router, storage, config, logger }: ModuleContext): void {
  /** The requester's own account: a request to the host from another server's user is not ours to answer. */
  const ownAccount = ({ from }: IqRequest): string => {
    if (from.domain !== host.domain || from.local === undefined) throw new StanzaError('not-allowed', 'only accounts of this server can manage their registration here');
    return from.local;
  };

  // Section 3.1: an authenticated entity is told it is registered.
  const get = (request: IqRequest): Element => {
    const username = ownAccount(request);
    return el('query', NS_REGISTER, {}, el('registered', NS_REGISTER), el('username', NS_REGISTER, {}, username), el('password', NS_REGISTER));
  };

  const set = async (request: IqRequest): Promise<undefined> => {
    const username = ownAccount(request);
    if (request.payload.getChild('remove')) return removeAccount(request.from.bare(), request.payload);
    return changePassword(username, request.payload);
  };

  // Section 3.3: the username must be the account's own; an empty password keeps the old one.
  const changePassword = async (username: string, query: Element): Promise<undefined> => {
    if (usernameOf(query, 'bad-request') !== username) throw new StanzaError('forbidden', 'you may change only your own password');
    const credentials = credentialsOf(query, config.c2s.scram_iterations, 'bad-request');
    if (!(await storage.accounts.setCredentials(host.domain, username, credentials))) throw new StanzaError('registration-required');
    logger.info('password changed', { user: `${username}@${host.domain}` });
    return undefined;
  };

  /**
   * Section 3.2: delete the account and everything stored for it, answer, then end every
   * session of the account with a not-authorized stream error. RFC 6121 section 3.2 and 3.3:
   * the contacts learn that the subscriptions are gone.
   */
  const removeAccount = async (account: Jid, query: Element): Promise<undefined> => {
    if (query.elements().length !== 1) throw new StanzaError('bad-request', '<remove/> must be the only child of the query');
    const username = account.local!;
    const bare = account.toString();
    const roster = await storage.rosters.get(host.domain, username);
    if (!(await storage.accounts.delete(host.domain, username))) throw new StanzaError('registration-required');
    logger.info('account removed by its owner', { user: bare });
    for (const item of roster.items) {
      if (item.subscription === 'to' || item.subscription === 'both') await cancel(bare, item.jid, 'unsubscribe');
      if (item.subscription === 'from' || item.subscription === 'both') await cancel(bare, item.jid, 'unsubscribed');
    }
    // The router sends the result when this handler returns; the sessions end after it is written.
    setImmediate(() => {
      for (const session of router.sessions.resourcesOf(account)) session.terminate('not-authorized', 'this account has been removed');
    });
    return undefined;
  };

  const cancel = (from: string, to: string, type: 'unsubscribe' | 'unsubscribed'): Promise<void> =>
    router.route(el('presence', NS_CLIENT, { from, to, type }), { kind: 'local' });

  for (const scope of ['account', 'host'] as const) {
    host.handleIq(scope, 'get', NS_REGISTER, 'query', get);
    host.handleIq(scope, 'set', NS_REGISTER, 'query', set);
  }
}
